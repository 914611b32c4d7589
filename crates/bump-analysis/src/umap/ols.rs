//! In-sample ordinary least squares R², the paper's score of a UMAP embedding.

use crate::{Error, Result};
use faer::diag::Diag;
use faer::dyn_stack::{MemBuffer, MemStack};
use faer::linalg::svd::{svd, svd_scratch, ComputeSvdVectors};
use faer::{Mat, Par};

/// In-sample R² of the ordinary least-squares fit, with intercept, of `y` on all columns of
/// `embedding` (the paper's "linear regression from the UMAP embedding to true x"):
/// 1 − SS_res/SS_tot, in [0, 1].
///
/// The fit is the orthogonal projection of the centred `y` onto the span of the centred
/// columns, taken from a thin SVD (`Par::Seq`), so collinear or constant columns are handled
/// (they add nothing to the span) instead of making a normal-equation system singular.
///
/// In-sample on purpose, as in the paper: with p coordinates and N points an unrelated target
/// scores about p/(N − 1) on average (0.012 for p = 3, N = 256), not 0.
///
/// # Shapes
/// `embedding`: N rows of p ≥ 1 values, `y`: N.
///
/// # Errors
/// [`Error::LengthMismatch`] for rows of unequal length or N ≠ `y.len()`, [`Error::NonFinite`],
/// [`Error::InvalidArgument`] for p = 0, N < p + 2, or a constant `y` (R² is undefined), and
/// [`Error::LinearAlgebra`] if the SVD fails.
pub fn ols_r2(embedding: &[Vec<f64>], y: &[f64]) -> Result<f64> {
    let n = embedding.len();
    if y.len() != n {
        return Err(Error::LengthMismatch(format!(
            "{} regression targets for {n} embedded points",
            y.len()
        )));
    }
    let p = embedding.first().map_or(0, Vec::len);
    if p == 0 {
        return Err(Error::InvalidArgument(
            "ols_r2 needs at least one point with at least one coordinate".into(),
        ));
    }
    if embedding.iter().any(|r| r.len() != p) {
        return Err(Error::LengthMismatch(
            "embedding rows of unequal length".into(),
        ));
    }
    if embedding.iter().flatten().any(|v| !v.is_finite()) {
        return Err(Error::NonFinite("embedding"));
    }
    if y.iter().any(|v| !v.is_finite()) {
        return Err(Error::NonFinite("regression target"));
    }
    if n < p + 2 {
        return Err(Error::InvalidArgument(format!(
            "ols_r2 with {p} coordinates and an intercept needs at least {} points, got {n}",
            p + 2
        )));
    }
    let y_mean = y.iter().sum::<f64>() / n as f64;
    let yc: Vec<f64> = y.iter().map(|v| v - y_mean).collect();
    let ss_tot: f64 = yc.iter().map(|v| v * v).sum();
    let y_scale = y.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    if ss_tot <= (f64::EPSILON * y_scale).powi(2) * n as f64 {
        return Err(Error::InvalidArgument(
            "ols_r2: the regression target is constant, so R² is undefined".into(),
        ));
    }
    let means: Vec<f64> = (0..p)
        .map(|c| embedding.iter().map(|r| r[c]).sum::<f64>() / n as f64)
        .collect();
    let x = Mat::from_fn(n, p, |r, c| embedding[r][c] - means[c]);
    let par = Par::Seq;
    let mut s = Diag::zeros(p);
    let mut u = Mat::zeros(n, p);
    let mut mem = MemBuffer::new(svd_scratch::<f64>(
        n,
        p,
        ComputeSvdVectors::Thin,
        ComputeSvdVectors::No,
        par,
        Default::default(),
    ));
    svd(
        x.as_ref(),
        s.as_mut(),
        Some(u.as_mut()),
        None,
        par,
        MemStack::new(&mut mem),
        Default::default(),
    )
    .map_err(|e| Error::LinearAlgebra(format!("ols_r2 SVD: {e:?}")))?;
    let s = s.column_vector();
    let s_max = (0..p).map(|i| s[i]).fold(0.0f64, f64::max);
    let tol = s_max * n.max(p) as f64 * f64::EPSILON;
    let mut residual = yc;
    for c in (0..p).filter(|&c| s[c] > tol) {
        let proj: f64 = (0..n).map(|r| u[(r, c)] * residual[r]).sum();
        for (r, v) in residual.iter_mut().enumerate() {
            *v -= proj * u[(r, c)];
        }
    }
    let ss_res: f64 = residual.iter().map(|v| v * v).sum();
    Ok((1.0 - ss_res / ss_tot).clamp(0.0, 1.0))
}
