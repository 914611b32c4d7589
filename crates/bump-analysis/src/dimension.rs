//! Dimension: PCA, participation ratio, TwoNN and Levina–Bickel.

use crate::matrix::Activations;
use crate::neighbors::{pairwise_distances, sorted_neighbors};
use crate::{Error, Result};
use faer::Side;
use serde::{Deserialize, Serialize};

/// A principal-component analysis.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pca {
    /// Variances along the principal axes (eigenvalues of the covariance, divisor N − 1),
    /// descending; at most min(N − 1, D) of them.
    pub spectrum: Vec<f64>,
    /// `spectrum` divided by its sum.
    pub explained_variance_ratio: Vec<f64>,
    /// Coordinates of each point on the first `k` axes, N×k row-major.
    pub projections: Vec<f64>,
    /// Number of projected axes k.
    pub k: usize,
}

impl Pca {
    /// The first two projected coordinates of every point (zeros where k < 2).
    pub fn projections_2d(&self) -> Vec<[f64; 2]> {
        let n = self.projections.len().checked_div(self.k).unwrap_or(0);
        (0..n)
            .map(|i| {
                let p = &self.projections[i * self.k..(i + 1) * self.k];
                [
                    p.first().copied().unwrap_or(0.0),
                    p.get(1).copied().unwrap_or(0.0),
                ]
            })
            .collect()
    }
}

/// PCA with the N×N Gram trick when D > N (X Xᵀ has the same non-zero spectrum as XᵀX), and the
/// D×D covariance otherwise.
pub fn pca(a: &Activations, k: usize) -> Result<Pca> {
    let (n, d) = (a.n(), a.d());
    if n < 2 {
        return Err(Error::TooFewPoints { n, k: 1 });
    }
    let x = a.to_mat(true);
    let denom = (n - 1) as f64;
    let rank = (n - 1).min(d);
    let k = k.min(rank);
    let (spectrum, projections) = if d > n {
        let g = &x * x.transpose();
        let evd = g
            .self_adjoint_eigen(Side::Lower)
            .map_err(|e| Error::LinearAlgebra(format!("{e:?}")))?;
        let s = evd.S().column_vector();
        let u = evd.U();
        // Ascending order from faer: walk from the top.
        let order: Vec<usize> = (0..n).rev().collect();
        let spectrum: Vec<f64> = order
            .iter()
            .take(rank)
            .map(|&i| s[i].max(0.0) / denom)
            .collect();
        let mut proj = vec![0.0; n * k];
        for (c, &i) in order.iter().take(k).enumerate() {
            let sv = s[i].max(0.0).sqrt();
            for r in 0..n {
                proj[r * k + c] = u[(r, i)] * sv;
            }
        }
        (spectrum, proj)
    } else {
        let c = x.transpose() * &x;
        let evd = c
            .self_adjoint_eigen(Side::Lower)
            .map_err(|e| Error::LinearAlgebra(format!("{e:?}")))?;
        let s = evd.S().column_vector();
        let v = evd.U();
        let order: Vec<usize> = (0..d).rev().collect();
        let spectrum: Vec<f64> = order
            .iter()
            .take(rank)
            .map(|&i| s[i].max(0.0) / denom)
            .collect();
        let mut proj = vec![0.0; n * k];
        for r in 0..n {
            for (c, &i) in order.iter().take(k).enumerate() {
                let mut acc = 0.0;
                for j in 0..d {
                    acc += x[(r, j)] * v[(j, i)];
                }
                proj[r * k + c] = acc;
            }
        }
        (spectrum, proj)
    };
    let total: f64 = spectrum.iter().sum();
    let explained_variance_ratio = spectrum
        .iter()
        .map(|v| if total > 0.0 { v / total } else { 0.0 })
        .collect();
    Ok(Pca {
        spectrum,
        explained_variance_ratio,
        projections,
        k,
    })
}

/// Participation ratio (Σλ)² / Σλ² of a spectrum: the effective number of dimensions.
pub fn participation_ratio(spectrum: &[f64]) -> f64 {
    let s: f64 = spectrum.iter().sum();
    let s2: f64 = spectrum.iter().map(|v| v * v).sum();
    if s2 > 0.0 {
        s * s / s2
    } else {
        0.0
    }
}

fn neighbor_distances(a: &Activations, kmax: usize) -> Result<Vec<Vec<f64>>> {
    let n = a.n();
    if n <= kmax {
        return Err(Error::TooFewPoints { n, k: kmax });
    }
    let dist = pairwise_distances(a);
    let nb = sorted_neighbors(&dist, n);
    Ok((0..n)
        .map(|i| nb[i][..kmax].iter().map(|&j| dist[i * n + j]).collect())
        .collect())
}

/// TwoNN (Facco et al. 2017), maximum-likelihood form: d = N / Σᵢ ln(r₂ᵢ / r₁ᵢ). Points with a
/// zero first-neighbour distance (duplicates) are skipped.
///
/// On lattice-sampled data r₂ ≈ r₁ and the estimate diverges; use [`twonn_scaled`] there.
pub fn twonn(a: &Activations) -> Result<f64> {
    twonn_scaled(a, 1)
}

/// The TwoNN ratio taken at neighbour ranks n₁ and 2n₁ (Gride, Denti et al. 2022, point
/// estimate): d = ln 2 / mean ln(r_{2n₁} / r_{n₁}). With n₁ > 1 it looks past the lattice scale
/// of grid-sampled data, where plain TwoNN's r₂/r₁ is ≈ 1. n₁ = 1 is [`twonn`].
pub fn twonn_scaled(a: &Activations, n1: usize) -> Result<f64> {
    if n1 == 0 {
        return Err(Error::InvalidArgument("n1 must be >= 1".into()));
    }
    let nd = neighbor_distances(a, 2 * n1)?;
    let logs: Vec<f64> = nd
        .iter()
        .filter(|r| r[n1 - 1] > 0.0)
        .map(|r| (r[2 * n1 - 1] / r[n1 - 1]).ln())
        .collect();
    let mean = logs.iter().sum::<f64>() / logs.len().max(1) as f64;
    if n1 == 1 {
        // MLE for the Pareto law of μ = r₂/r₁: d = N / Σ ln μ.
        return Ok(if mean > 0.0 {
            1.0 / mean
        } else {
            f64::INFINITY
        });
    }
    Ok(if mean > 0.0 {
        std::f64::consts::LN_2 / mean
    } else {
        f64::INFINITY
    })
}

/// Multiscale TwoNN: the mean of [`twonn_scaled`] over n₁ = `lo..=hi`. On lattice-sampled
/// manifolds single ranks land on distance shells of the lattice (r₈/r₄ = √2 on a square
/// grid, but r₁₀/r₅ = √2 too and r₁₂/r₆ = √5/√2 … ); averaging over a few consecutive ranks
/// smooths the shells out. Our choice for the phase classifier: n₁ = 3…6.
pub fn twonn_multiscale(a: &Activations, lo: usize, hi: usize) -> Result<f64> {
    if lo == 0 || hi < lo {
        return Err(Error::InvalidArgument(format!(
            "need 1 <= lo <= hi, got {lo}..={hi}"
        )));
    }
    let nd = neighbor_distances(a, 2 * hi)?;
    let mut sum = 0.0;
    for n1 in lo..=hi {
        let logs: Vec<f64> = nd
            .iter()
            .filter(|r| r[n1 - 1] > 0.0)
            .map(|r| (r[2 * n1 - 1] / r[n1 - 1]).ln())
            .collect();
        let mean = logs.iter().sum::<f64>() / logs.len().max(1) as f64;
        sum += if mean > 0.0 {
            std::f64::consts::LN_2 / mean
        } else {
            f64::INFINITY
        };
    }
    Ok(sum / (hi - lo + 1) as f64)
}

/// Levina–Bickel MLE intrinsic dimension with k neighbours, averaged over points (with the
/// MacKay–Ghahramani correction: the inverse of the mean of inverses).
pub fn levina_bickel(a: &Activations, k: usize) -> Result<f64> {
    if k < 2 {
        return Err(Error::InvalidArgument("Levina–Bickel needs k >= 2".into()));
    }
    let nd = neighbor_distances(a, k)?;
    let mut inv_sum = 0.0;
    let mut count = 0usize;
    for r in &nd {
        let tk = r[k - 1];
        if tk <= 0.0 || r[0] <= 0.0 {
            continue;
        }
        let s: f64 = r[..k - 1].iter().map(|&tj| (tk / tj).ln()).sum::<f64>() / (k - 1) as f64;
        inv_sum += s;
        count += 1;
    }
    Ok(if inv_sum > 0.0 {
        count as f64 / inv_sum
    } else {
        f64::INFINITY
    })
}
