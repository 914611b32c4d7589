//! Factorization: are x and y encoded separately?

use crate::matrix::Activations;
use crate::{Error, Result};
use faer::{Mat, Side};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// Factorization metrics on grid-arranged activations. For a perfectly factorized map
/// f(x, y) = g(x) + h(y) with g and h in orthogonal subspaces all three are 0.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FactorizationMetrics {
    /// Mean |G_xy| / √(G_xx G_yy) of the metric tensor G = JᵀJ from central differences at
    /// interior grid points: the cosine between the x and y tangent vectors.
    #[serde(deserialize_with = "crate::serde_nan::f64_or_nan")]
    pub metric_offdiag_ratio: f64,
    /// Mean ‖f(x₁,y₁) + f(x₂,y₂) − f(x₁,y₂) − f(x₂,y₁)‖ / ‖f(x₁,y₁) − f(x₂,y₂)‖ over random
    /// rectangles of the grid.
    #[serde(deserialize_with = "crate::serde_nan::f64_or_nan")]
    pub parallelogram_error: f64,
    /// Cosines of the principal angles between the top-r subspaces spanned by x-differences and
    /// by y-differences (0: orthogonal), descending; r is the configured rank, or less where a
    /// subspace has lower rank (empty if the activations do not vary along an axis).
    pub principal_cosines: Vec<f64>,
    /// Mean of `principal_cosines`.
    #[serde(deserialize_with = "crate::serde_nan::f64_or_nan")]
    pub mean_principal_cosine: f64,
}

fn sub(a: &[f64], b: &[f64]) -> Vec<f64> {
    a.iter().zip(b).map(|(x, y)| x - y).collect()
}
fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Computes [`FactorizationMetrics`]; point (ix, iy) is row `iy·nx + ix`. `rank` bounds the
/// dimension of each difference subspace (directions with less than 1e-10 of the leading
/// difference variance are dropped, so a rank-1 factor is compared as a line); `seed` draws
/// the 2,000 random rectangles of the parallelogram error.
///
/// # Shapes
/// `a`: N×D with N = nx·ny.
pub fn factorization(
    a: &Activations,
    grid: (usize, usize),
    rank: usize,
    seed: u64,
) -> Result<FactorizationMetrics> {
    check_grid(a.n(), grid)?;
    factorization_with_gram(a, &a.gram(), grid, rank, seed)
}

/// Checks that the grid matches N and is at least 3×3 (central differences need neighbours).
pub(crate) fn check_grid(n: usize, (nx, ny): (usize, usize)) -> Result<()> {
    if nx * ny != n {
        return Err(Error::GridMismatch { nx, ny, n });
    }
    if nx < 3 || ny < 3 {
        return Err(Error::InvalidArgument(
            "factorization needs a grid of at least 3×3".into(),
        ));
    }
    Ok(())
}

/// [`factorization`] given the centred Gram matrix of `a` (for the principal angles).
pub(crate) fn factorization_with_gram(
    a: &Activations,
    g: &Mat<f64>,
    (nx, ny): (usize, usize),
    rank: usize,
    seed: u64,
) -> Result<FactorizationMetrics> {
    let idx = |ix: usize, iy: usize| iy * nx + ix;
    let f = |ix: usize, iy: usize| a.row(idx(ix, iy));
    // Metric tensor from central differences. Computed on the rows themselves (not through G):
    // the exact zeros of a factorized map must stay zeros.
    let mut ratio_sum = 0.0;
    let mut count = 0usize;
    for iy in 1..ny - 1 {
        for ix in 1..nx - 1 {
            let jx = sub(f(ix + 1, iy), f(ix - 1, iy));
            let jy = sub(f(ix, iy + 1), f(ix, iy - 1));
            let (gxx, gyy, gxy) = (dot(&jx, &jx), dot(&jy, &jy), dot(&jx, &jy));
            if gxx > 0.0 && gyy > 0.0 {
                ratio_sum += gxy.abs() / (gxx * gyy).sqrt();
                count += 1;
            }
        }
    }
    // Parallelogram error over random rectangles.
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut para = 0.0;
    let mut pc = 0usize;
    for _ in 0..2000 {
        let (x1, x2) = (rng.random_range(0..nx), rng.random_range(0..nx));
        let (y1, y2) = (rng.random_range(0..ny), rng.random_range(0..ny));
        if x1 == x2 || y1 == y2 {
            continue;
        }
        let (p11, p22, p12, p21) = (f(x1, y1), f(x2, y2), f(x1, y2), f(x2, y1));
        let num: f64 = (0..a.d())
            .map(|k| (p11[k] + p22[k] - p12[k] - p21[k]).powi(2))
            .sum();
        let den = sub(p11, p22);
        let dn = dot(&den, &den).sqrt();
        if dn > 0.0 {
            para += num.sqrt() / dn;
            pc += 1;
        }
    }
    // Principal angles between the subspaces spanned by x-differences and by y-differences.
    // Difference vectors are combinations of rows, so every inner product between them is a
    // combination of entries of G, and the subspaces come from eigen-decompositions of the
    // (small) Gram matrices of the differences instead of SVDs of D-dimensional matrices.
    let dx: Vec<(usize, usize)> = (0..ny)
        .flat_map(|iy| (0..nx - 1).map(move |ix| (idx(ix + 1, iy), idx(ix, iy))))
        .collect();
    let dy: Vec<(usize, usize)> = (0..ny - 1)
        .flat_map(|iy| (0..nx).map(move |ix| (idx(ix, iy + 1), idx(ix, iy))))
        .collect();
    let inner = |p: (usize, usize), q: (usize, usize)| {
        g[(p.0, q.0)] - g[(p.0, q.1)] - g[(p.1, q.0)] + g[(p.1, q.1)]
    };
    let basis = |diffs: &[(usize, usize)]| -> Result<(Mat<f64>, Vec<f64>)> {
        let m = Mat::from_fn(diffs.len(), diffs.len(), |i, j| inner(diffs[i], diffs[j]));
        let evd = m
            .self_adjoint_eigen(Side::Lower)
            .map_err(|e| Error::LinearAlgebra(format!("{e:?}")))?;
        let (s, u) = (evd.S().column_vector(), evd.U());
        let len = diffs.len();
        let top = s[len - 1].max(0.0);
        let r = (0..rank.min(len))
            .take_while(|&c| top > 0.0 && s[len - 1 - c] > 1e-10 * top)
            .count();
        let coef = Mat::from_fn(len, r, |i, c| u[(i, len - 1 - c)]);
        let sv = (0..r).map(|c| s[len - 1 - c].sqrt()).collect();
        Ok((coef, sv))
    };
    let ((vx, sx), (vy, sy)) = (basis(&dx)?, basis(&dy)?);
    let principal_cosines: Vec<f64> = if sx.is_empty() || sy.is_empty() {
        Vec::new()
    } else {
        // Uₓᵀ U_y = Sₓ⁻¹ Vₓᵀ (Dₓ D_yᵀ) V_y S_y⁻¹ with Uₓ = Dₓᵀ Vₓ Sₓ⁻¹.
        let cross = Mat::from_fn(dx.len(), dy.len(), |i, j| inner(dx[i], dy[j]));
        let c = vx.transpose() * &cross * &vy;
        let c = Mat::from_fn(sx.len(), sy.len(), |i, j| c[(i, j)] / (sx[i] * sy[j]));
        c.singular_values()
            .map_err(|e| Error::LinearAlgebra(format!("{e:?}")))?
            .into_iter()
            .map(|v| v.clamp(0.0, 1.0))
            .collect()
    };
    let mean_principal_cosine =
        principal_cosines.iter().sum::<f64>() / principal_cosines.len().max(1) as f64;
    Ok(FactorizationMetrics {
        metric_offdiag_ratio: ratio_sum / count.max(1) as f64,
        parallelogram_error: para / pc.max(1) as f64,
        principal_cosines,
        mean_principal_cosine,
    })
}
