//! The input matrix type.

use crate::{Error, Result};
use faer::Mat;

/// N points × D features, row-major, f64.
#[derive(Debug, Clone, PartialEq)]
pub struct Activations {
    data: Vec<f64>,
    n: usize,
    d: usize,
}

impl Activations {
    /// From row-major f64 values; errors on length mismatch or NaN/Inf.
    pub fn from_f64(data: &[f64], n: usize, d: usize) -> Result<Self> {
        if data.len() != n * d || n == 0 || d == 0 {
            return Err(Error::LengthMismatch(format!(
                "{} values for {n}×{d}",
                data.len()
            )));
        }
        if data.iter().any(|v| !v.is_finite()) {
            return Err(Error::NonFinite("activations"));
        }
        Ok(Self {
            data: data.to_vec(),
            n,
            d,
        })
    }

    /// From row-major f32 values (converted to f64).
    pub fn from_f32(data: &[f32], n: usize, d: usize) -> Result<Self> {
        let v: Vec<f64> = data.iter().map(|&x| x as f64).collect();
        Self::from_f64(&v, n, d)
    }

    /// From rows.
    pub fn from_rows(rows: &[Vec<f64>]) -> Result<Self> {
        let d = rows.first().map_or(0, Vec::len);
        if rows.iter().any(|r| r.len() != d) {
            return Err(Error::LengthMismatch("rows of unequal length".into()));
        }
        let flat: Vec<f64> = rows.iter().flatten().copied().collect();
        Self::from_f64(&flat, rows.len(), d)
    }

    /// Number of points N.
    pub fn n(&self) -> usize {
        self.n
    }

    /// Feature dimension D.
    pub fn d(&self) -> usize {
        self.d
    }

    /// Row `i`.
    pub fn row(&self, i: usize) -> &[f64] {
        &self.data[i * self.d..(i + 1) * self.d]
    }

    /// The raw row-major values.
    pub fn as_slice(&self) -> &[f64] {
        &self.data
    }

    /// The rows picked by `idx`, in that order.
    pub fn select(&self, idx: &[usize]) -> Self {
        let mut data = Vec::with_capacity(idx.len() * self.d);
        for &i in idx {
            data.extend_from_slice(self.row(i));
        }
        Self {
            data,
            n: idx.len(),
            d: self.d,
        }
    }

    /// As a faer matrix, with the column means subtracted when `center`.
    pub(crate) fn to_mat(&self, center: bool) -> Mat<f64> {
        let means = if center {
            self.column_means()
        } else {
            vec![0.0; self.d]
        };
        Mat::from_fn(self.n, self.d, |i, j| self.data[i * self.d + j] - means[j])
    }

    /// The Gram matrix of the centred rows, N×N: Gᵢⱼ = (xᵢ − x̄)·(xⱼ − x̄). Distances, kernel
    /// ridge, the Gram-trick PCA and the factorization metrics all derive from it, so the suite
    /// touches the D-dimensional data once.
    pub(crate) fn gram(&self) -> Mat<f64> {
        let x = self.to_mat(true);
        &x * x.transpose()
    }

    /// Column means.
    pub fn column_means(&self) -> Vec<f64> {
        let mut m = vec![0.0; self.d];
        for i in 0..self.n {
            for (mj, v) in m.iter_mut().zip(self.row(i)) {
                *mj += v;
            }
        }
        m.iter_mut().for_each(|v| *v /= self.n as f64);
        m
    }
}

/// Checks `coords` against `n` and for finiteness.
pub(crate) fn check_coords(coords: &[[f64; 2]], n: usize) -> Result<()> {
    if coords.len() != n {
        return Err(Error::LengthMismatch(format!(
            "{} coordinates for {n} points",
            coords.len()
        )));
    }
    if coords.iter().flatten().any(|v| !v.is_finite()) {
        return Err(Error::NonFinite("coordinates"));
    }
    Ok(())
}
