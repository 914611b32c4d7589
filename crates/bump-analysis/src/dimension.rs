//! Dimension: PCA, participation ratio, TwoNN and Levina–Bickel.

use crate::matrix::Activations;
use crate::neighbors::{pairwise_distances, Neighborhood};
use crate::{Error, Result};
use faer::{Mat, Side};
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
///
/// # Shapes
/// `a`: N×D → `spectrum`: min(N − 1, D), `projections`: N×min(k, N − 1, D) row-major.
pub fn pca(a: &Activations, k: usize) -> Result<Pca> {
    let (n, d) = (a.n(), a.d());
    if n < 2 {
        return Err(Error::TooFewPoints { n, k: 1 });
    }
    if d > n {
        return pca_from_gram(&a.gram(), d, k);
    }
    let x = a.to_mat(true);
    let rank = (n - 1).min(d);
    let k = k.min(rank);
    let c = x.transpose() * &x;
    let evd = c
        .self_adjoint_eigen(Side::Lower)
        .map_err(|e| Error::LinearAlgebra(format!("{e:?}")))?;
    let s = evd.S().column_vector();
    let v = evd.U();
    // faer returns ascending eigenvalues: walk from the top.
    let spectrum: Vec<f64> = (0..rank)
        .map(|r| s[d - 1 - r].max(0.0) / (n - 1) as f64)
        .collect();
    let top = Mat::from_fn(d, k, |j, c| v[(j, d - 1 - c)]);
    let proj = &x * &top;
    let projections = (0..n * k).map(|t| proj[(t / k, t % k)]).collect();
    Ok(finish_pca(spectrum, projections, k))
}

/// PCA from the centred N×N Gram matrix of points in D dimensions: the eigenvalues of G/(N − 1)
/// are the covariance spectrum, and the eigenvectors scaled by √λ(G) are the projections.
pub(crate) fn pca_from_gram(g: &Mat<f64>, d: usize, k: usize) -> Result<Pca> {
    let n = g.nrows();
    if n < 2 {
        return Err(Error::TooFewPoints { n, k: 1 });
    }
    let rank = (n - 1).min(d);
    let k = k.min(rank);
    let evd = g
        .self_adjoint_eigen(Side::Lower)
        .map_err(|e| Error::LinearAlgebra(format!("{e:?}")))?;
    let s = evd.S().column_vector();
    let u = evd.U();
    let spectrum: Vec<f64> = (0..rank)
        .map(|r| s[n - 1 - r].max(0.0) / (n - 1) as f64)
        .collect();
    let mut projections = vec![0.0; n * k];
    for c in 0..k {
        let i = n - 1 - c;
        let sv = s[i].max(0.0).sqrt();
        for r in 0..n {
            projections[r * k + c] = u[(r, i)] * sv;
        }
    }
    Ok(finish_pca(spectrum, projections, k))
}

fn finish_pca(spectrum: Vec<f64>, projections: Vec<f64>, k: usize) -> Pca {
    let total: f64 = spectrum.iter().sum();
    let explained_variance_ratio = spectrum
        .iter()
        .map(|v| if total > 0.0 { v / total } else { 0.0 })
        .collect();
    Pca {
        spectrum,
        explained_variance_ratio,
        projections,
        k,
    }
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

fn neighborhood(a: &Activations, kmax: usize) -> Result<Neighborhood> {
    let n = a.n();
    if n <= kmax {
        return Err(Error::TooFewPoints { n, k: kmax });
    }
    Ok(Neighborhood::new(pairwise_distances(a), n))
}

/// TwoNN (Facco et al. 2017), maximum-likelihood form: d = N / Σᵢ ln(r₂ᵢ / r₁ᵢ). Points with a
/// zero first-neighbour distance (duplicates) are skipped.
///
/// On lattice-sampled data r₂ ≈ r₁ and the estimate diverges (∞ when every r₂ = r₁); use
/// [`twonn_multiscale`] there. A cloud of duplicated points has dimension 0.
pub fn twonn(a: &Activations) -> Result<f64> {
    twonn_scaled(a, 1)
}

/// The TwoNN ratio taken at neighbour ranks n₁ and 2n₁ (the ratio of Gride, Denti et al. 2022):
/// d = ln 2 / mean ln(r_{2n₁} / r_{n₁}) for n₁ > 1, and plain [`twonn`] for n₁ = 1.
///
/// ln 2 is the calibration for a regular lattice, where r_k ∝ √k exactly (k points fill a
/// disc of area ∝ k); the evaluation grids are lattices. On Poisson (randomly) sampled data the
/// unbiased constant is H_{2n₁−1} − H_{n₁−1} instead (0.78 at n₁ = 3, 0.74 at n₁ = 6), so there
/// this reads low by a factor of 0.88–0.94.
pub fn twonn_scaled(a: &Activations, n1: usize) -> Result<f64> {
    if n1 == 0 {
        return Err(Error::InvalidArgument("n1 must be >= 1".into()));
    }
    Ok(ratio_dim(&neighborhood(a, 2 * n1)?, n1))
}

/// Multiscale TwoNN: the mean of [`twonn_scaled`] over n₁ = `lo..=hi`. On lattice-sampled
/// manifolds plain TwoNN sees r₂ ≈ r₁ (the four nearest lattice neighbours are equidistant) and
/// diverges; single larger ranks land on distance shells of the lattice; averaging over a few
/// consecutive ranks smooths the shells out. Our choice for the phase classifier: n₁ = 3…6.
pub fn twonn_multiscale(a: &Activations, lo: usize, hi: usize) -> Result<f64> {
    check_scales(lo, hi)?;
    Ok(multiscale_dim(&neighborhood(a, 2 * hi)?, lo, hi))
}

fn check_scales(lo: usize, hi: usize) -> Result<()> {
    if lo == 0 || hi < lo {
        return Err(Error::InvalidArgument(format!(
            "need 1 <= lo <= hi, got {lo}..={hi}"
        )));
    }
    Ok(())
}

/// [`twonn_scaled`] on precomputed neighbours (requires N > 2n₁).
pub(crate) fn ratio_dim(nb: &Neighborhood, n1: usize) -> f64 {
    let mut sum = 0.0;
    let mut count = 0usize;
    for i in 0..nb.n {
        let r: Vec<f64> = nb.knn_distances(i, 2 * n1).collect();
        if r[n1 - 1] > 0.0 {
            sum += (r[2 * n1 - 1] / r[n1 - 1]).ln();
            count += 1;
        }
    }
    if count == 0 {
        // Every point has duplicates out to rank n₁: the cloud is a set of points, dimension 0.
        return 0.0;
    }
    let mean = sum / count as f64;
    let constant = if n1 == 1 {
        // MLE for the Pareto law of μ = r₂/r₁: d = N / Σ ln μ.
        1.0
    } else {
        std::f64::consts::LN_2
    };
    if mean > 0.0 {
        constant / mean
    } else {
        f64::INFINITY
    }
}

/// [`twonn_multiscale`] on precomputed neighbours (requires N > 2·hi).
pub(crate) fn multiscale_dim(nb: &Neighborhood, lo: usize, hi: usize) -> f64 {
    (lo..=hi).map(|n1| ratio_dim(nb, n1)).sum::<f64>() / (hi - lo + 1) as f64
}

/// Levina–Bickel MLE intrinsic dimension with k neighbours, averaged over points (with the
/// MacKay–Ghahramani correction: the inverse of the mean of inverses).
pub fn levina_bickel(a: &Activations, k: usize) -> Result<f64> {
    if k < 2 {
        return Err(Error::InvalidArgument("Levina–Bickel needs k >= 2".into()));
    }
    Ok(levina_bickel_dim(&neighborhood(a, k)?, k))
}

/// [`levina_bickel`] on precomputed neighbours (requires N > k ≥ 2).
pub(crate) fn levina_bickel_dim(nb: &Neighborhood, k: usize) -> f64 {
    let mut inv_sum = 0.0;
    let mut count = 0usize;
    for i in 0..nb.n {
        let r: Vec<f64> = nb.knn_distances(i, k).collect();
        let tk = r[k - 1];
        if tk <= 0.0 || r[0] <= 0.0 {
            continue;
        }
        inv_sum += r[..k - 1].iter().map(|&tj| (tk / tj).ln()).sum::<f64>() / (k - 1) as f64;
        count += 1;
    }
    if count == 0 {
        0.0
    } else if inv_sum > 0.0 {
        count as f64 / inv_sum
    } else {
        f64::INFINITY
    }
}
