//! Factorization: are x and y encoded separately?

use crate::matrix::Activations;
use crate::{Error, Result};
use faer::Mat;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// Factorization metrics on grid-arranged activations. For a perfectly factorized map
/// f(x, y) = g(x) + h(y) with g and h in orthogonal subspaces all three are 0.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FactorizationMetrics {
    /// Mean |G_xy| / √(G_xx G_yy) of the metric tensor G = JᵀJ from central differences at
    /// interior grid points: the cosine between the x and y tangent vectors.
    pub metric_offdiag_ratio: f64,
    /// Mean ‖f(x₁,y₁) + f(x₂,y₂) − f(x₁,y₂) − f(x₂,y₁)‖ / ‖f(x₁,y₁) − f(x₂,y₂)‖ over random
    /// rectangles of the grid.
    pub parallelogram_error: f64,
    /// Cosines of the principal angles between the top-r subspaces spanned by x-differences and
    /// by y-differences (0: orthogonal), descending.
    pub principal_cosines: Vec<f64>,
    /// Mean of `principal_cosines`.
    pub mean_principal_cosine: f64,
}

fn sub(a: &[f64], b: &[f64]) -> Vec<f64> {
    a.iter().zip(b).map(|(x, y)| x - y).collect()
}
fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Computes [`FactorizationMetrics`]; point (ix, iy) is row `iy·nx + ix`.
pub fn factorization(
    a: &Activations,
    grid: (usize, usize),
    rank: usize,
    seed: u64,
) -> Result<FactorizationMetrics> {
    let (nx, ny) = grid;
    if nx * ny != a.n() {
        return Err(Error::GridMismatch { nx, ny, n: a.n() });
    }
    if nx < 3 || ny < 3 {
        return Err(Error::InvalidArgument(
            "factorization needs a grid of at least 3×3".into(),
        ));
    }
    let f = |ix: usize, iy: usize| a.row(iy * nx + ix);
    // Metric tensor from central differences.
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
        let num: Vec<f64> = (0..a.d())
            .map(|k| f(x1, y1)[k] + f(x2, y2)[k] - f(x1, y2)[k] - f(x2, y1)[k])
            .collect();
        let den = sub(f(x1, y1), f(x2, y2));
        let dn = dot(&den, &den).sqrt();
        if dn > 0.0 {
            para += dot(&num, &num).sqrt() / dn;
            pc += 1;
        }
    }
    // Principal angles between difference subspaces.
    let dx: Vec<Vec<f64>> = (0..ny)
        .flat_map(|iy| (0..nx - 1).map(move |ix| (ix, iy)))
        .map(|(ix, iy)| sub(f(ix + 1, iy), f(ix, iy)))
        .collect();
    let dy: Vec<Vec<f64>> = (0..ny - 1)
        .flat_map(|iy| (0..nx).map(move |ix| (ix, iy)))
        .map(|(ix, iy)| sub(f(ix, iy + 1), f(ix, iy)))
        .collect();
    let basis = |rows: &[Vec<f64>]| -> Result<Mat<f64>> {
        let m = Mat::from_fn(a.d(), rows.len(), |i, j| rows[j][i]);
        let svd = m
            .thin_svd()
            .map_err(|e| Error::LinearAlgebra(format!("{e:?}")))?;
        let r = rank.min(rows.len()).min(a.d()).max(1);
        let u = svd.U();
        Ok(Mat::from_fn(a.d(), r, |i, j| u[(i, j)]))
    };
    let (ux, uy) = (basis(&dx)?, basis(&dy)?);
    let cross = ux.transpose() * &uy;
    let principal_cosines: Vec<f64> = cross
        .singular_values()
        .map_err(|e| Error::LinearAlgebra(format!("{e:?}")))?
        .into_iter()
        .map(|v| v.min(1.0))
        .collect();
    let mean_principal_cosine =
        principal_cosines.iter().sum::<f64>() / principal_cosines.len().max(1) as f64;
    Ok(FactorizationMetrics {
        metric_offdiag_ratio: ratio_sum / count.max(1) as f64,
        parallelogram_error: para / pc.max(1) as f64,
        principal_cosines,
        mean_principal_cosine,
    })
}
