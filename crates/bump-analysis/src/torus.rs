//! Factorization statistics of a representation on a periodic condition grid, and the ideal
//! tori to compare it with (the follow-up paper's Fig. 2–3; the statistic is ours, the paper's
//! exact test is not recovered).
//!
//! The grid is `nx × ny`, periodic in both directions, points in row-major order (y outer, x
//! inner: point `j·nx + i` has condition `(i, j)`), as everywhere in this crate.
//!
//! # Statistics
//! - Difference vectors: along x, `Δx(i, j) = r(i+1 mod nx, j) − r(i, j)`; along y,
//!   `Δy(i, j) = r(i, j+1 mod ny) − r(i, j)`; `nx·ny` of each.
//! - Three families of cosines, all pairs: **x-on-y** `cos(Δx(p), Δy(q))` for every pair of
//!   grid points (p, q), p = q included; **x-on-x** `cos(Δx(p), Δx(q))` for every unordered pair
//!   p ≠ q; **y-on-y** likewise. A difference vector shorter than `1e−12 ×` the longest of its
//!   family has no direction and is left out (counted in [`TorusStats::degenerate`]).
//! - Each family is summarised by [`CosineSummary`]: mean, mean |cos|, a histogram on
//!   `[−1, 1]` (41 bins by default: an odd count puts 0 at a bin centre, and no bin edge falls on
//!   0, ±½ or ±1) and `quantiles` of the distribution at the midpoints `(k + ½)/Q` (Q = 200).
//!
//! Cosines are invariant to rotation, translation and uniform scaling of the representation,
//! and each ideal torus's are invariant to its radii (see [`clifford_torus`], [`torus_3d`]).
//!
//! # Distance (ours)
//! [`torus_distance`] is the mean over the three families of the 1-Wasserstein distance
//! between the two cosine distributions, `W1 = ∫₀¹ |F⁻¹_a(u) − F⁻¹_b(u)| du`, evaluated on
//! the Q quantile midpoints. It lies in `[0, 2]`, is 0 for identical statistics, and is
//! continuous in the representation (a small perturbation moves it a little, unlike a histogram
//! distance whose bins can flip). On the 16×12 grid of the tests the Clifford torus is 0.175
//! from the nearer 3D torus (x on the tube: x-on-y 0.41, x-on-x 0.11, y-on-y 0). Isotropic
//! noise in the representation enters every difference vector, so the statistic separates the
//! ideals only while the steps between neighbouring conditions are well above the noise: with
//! noise of the size of a step (5 % of the radius per coordinate in 32 dimensions, 16×12 grid)
//! a noisy Clifford torus was 0.225 from the Clifford torus and 0.246 from the 3D torus.
//!
//! [`distances_to_ideals`] compares a representation with the Clifford torus and with the 3D
//! torus built on the same grid, the latter with either assignment of x and y to the 3D torus's
//! two circles, keeping the nearer.

use faer::Mat;
use serde::{Deserialize, Serialize};

use crate::matrix::Activations;
use crate::{Error, Result};

/// Default number of histogram bins on `[−1, 1]`.
pub const HISTOGRAM_BINS: usize = 41;
/// Default number of quantile midpoints Q.
pub const QUANTILES: usize = 200;

/// Summary of one family of cosines.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CosineSummary {
    /// Number of pairs.
    pub pairs: usize,
    /// Mean cosine.
    pub mean: f64,
    /// Mean |cosine|.
    pub mean_abs: f64,
    /// Counts in equal bins on `[−1, 1]` (the last bin includes 1).
    pub histogram: Vec<usize>,
    /// The distribution's quantiles at `(k + ½)/Q`, k = 0..Q.
    pub quantiles: Vec<f64>,
}

/// The three cosine families of one representation on a periodic grid.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TorusStats {
    /// Grid width (x values).
    pub nx: usize,
    /// Grid height (y values).
    pub ny: usize,
    /// Cosines between x- and y-difference vectors.
    pub x_on_y: CosineSummary,
    /// Cosines between x-difference vectors.
    pub x_on_x: CosineSummary,
    /// Cosines between y-difference vectors.
    pub y_on_y: CosineSummary,
    /// `[x, y]` difference vectors left out for having no direction.
    pub degenerate: [usize; 2],
}

/// Distance between two [`TorusStats`]: the W1 distance per family and their mean.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TorusDistance {
    /// W1 between the x-on-y distributions.
    pub x_on_y: f64,
    /// W1 between the x-on-x distributions.
    pub x_on_x: f64,
    /// W1 between the y-on-y distributions.
    pub y_on_y: f64,
    /// Mean of the three.
    pub mean: f64,
}

/// A representation's distances to the two ideal tori on its grid.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct IdealDistances {
    /// To the 4D Clifford torus.
    pub clifford: TorusDistance,
    /// To the 3D torus, with the nearer of the two assignments of x and y to its circles.
    pub torus_3d: TorusDistance,
    /// Whether that nearer assignment puts x on the tube circle (θ) rather than around the axis.
    pub torus_3d_x_on_tube: bool,
}

/// Settings of [`torus_stats`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TorusStatsConfig {
    /// Histogram bins on `[−1, 1]`. Default [`HISTOGRAM_BINS`].
    pub bins: usize,
    /// Quantile midpoints Q. Default [`QUANTILES`].
    pub quantiles: usize,
}

impl Default for TorusStatsConfig {
    /// [`HISTOGRAM_BINS`] bins and [`QUANTILES`] quantile midpoints (ours; docs/followup-instruments.md).
    fn default() -> Self {
        Self {
            bins: HISTOGRAM_BINS,
            quantiles: QUANTILES,
        }
    }
}

fn check_grid(nx: usize, ny: usize) -> Result<()> {
    if nx < 3 || ny < 3 {
        return Err(Error::InvalidArgument(format!(
            "a periodic grid needs at least 3 values per axis, got {nx}×{ny}"
        )));
    }
    Ok(())
}

/// The 4D Clifford torus on the `nx × ny` grid: point `(i, j)` is
/// `(cos θᵢ, sin θᵢ, cos φⱼ, sin φⱼ)` with `θᵢ = 2πi/nx`, `φⱼ = 2πj/ny`. Its x- and
/// y-differences lie in orthogonal planes, so every x-on-y cosine is 0.
///
/// # Shapes
/// returns `(nx·ny) × 4`, row-major grid order.
///
/// # Errors
/// `nx < 3` or `ny < 3`.
pub fn clifford_torus(nx: usize, ny: usize) -> Result<Activations> {
    check_grid(nx, ny)?;
    let mut rows = Vec::with_capacity(nx * ny * 4);
    for j in 0..ny {
        let phi = std::f64::consts::TAU * j as f64 / ny as f64;
        for i in 0..nx {
            let theta = std::f64::consts::TAU * i as f64 / nx as f64;
            rows.extend([theta.cos(), theta.sin(), phi.cos(), phi.sin()]);
        }
    }
    Activations::from_f64(&rows, nx * ny, 4)
}

/// The 3D torus of revolution on the `nx × ny` grid:
/// `((R + r cos θ) cos φ, (R + r cos θ) sin φ, r sin θ)`, with x on the circle around the axis
/// (`φᵢ = 2πi/nx`) and y on the tube (`θⱼ = 2πj/ny`), or the other way round when
/// `x_on_tube`. Its cosine statistics do not depend on R and r (the chord directions do not).
///
/// # Shapes
/// returns `(nx·ny) × 3`, row-major grid order.
///
/// # Errors
/// `nx < 3` or `ny < 3`, or radii that are not finite with `R > r > 0`.
pub fn torus_3d(
    nx: usize,
    ny: usize,
    big_r: f64,
    small_r: f64,
    x_on_tube: bool,
) -> Result<Activations> {
    check_grid(nx, ny)?;
    if !(small_r.is_finite() && big_r.is_finite() && small_r > 0.0 && big_r > small_r) {
        return Err(Error::InvalidArgument(format!(
            "3D torus radii must be finite with R > r > 0, got R = {big_r}, r = {small_r}"
        )));
    }
    let mut rows = Vec::with_capacity(nx * ny * 3);
    for j in 0..ny {
        let v = std::f64::consts::TAU * j as f64 / ny as f64;
        for i in 0..nx {
            let u = std::f64::consts::TAU * i as f64 / nx as f64;
            let (phi, theta) = if x_on_tube { (v, u) } else { (u, v) };
            let ring = big_r + small_r * theta.cos();
            rows.extend([ring * phi.cos(), ring * phi.sin(), small_r * theta.sin()]);
        }
    }
    Activations::from_f64(&rows, nx * ny, 3)
}

/// The cosine statistics of a representation on a periodic `nx × ny` grid (see the
/// [module docs](self)).
///
/// # Shapes
/// `x`: `(nx·ny) × D`, row-major grid order (y outer, x inner).
///
/// # Errors
/// A grid smaller than 3×3 or not matching N, a config with fewer than 1 bin or quantile, or a
/// family with no pair left (e.g. a constant representation).
pub fn torus_stats(
    x: &Activations,
    nx: usize,
    ny: usize,
    cfg: &TorusStatsConfig,
) -> Result<TorusStats> {
    check_grid(nx, ny)?;
    if x.n() != nx * ny {
        return Err(Error::GridMismatch { nx, ny, n: x.n() });
    }
    if cfg.bins == 0 || cfg.quantiles == 0 {
        return Err(Error::InvalidArgument(format!(
            "bins and quantiles must be >= 1, got {} and {}",
            cfg.bins, cfg.quantiles
        )));
    }
    let m = nx * ny;
    let d = x.d();
    let diff = |step: &dyn Fn(usize, usize) -> usize| {
        Mat::from_fn(m, d, |p, k| {
            let (i, j) = (p % nx, p / nx);
            x.row(step(i, j))[k] - x.row(p)[k]
        })
    };
    let dx = unit_rows(diff(&|i, j| j * nx + (i + 1) % nx));
    let dy = unit_rows(diff(&|i, j| ((j + 1) % ny) * nx + i));
    let degenerate = [m - dx.ncols_kept, m - dy.ncols_kept];
    let xy = &dx.mat * dy.mat.transpose();
    let xx = &dx.mat * dx.mat.transpose();
    let yy = &dy.mat * dy.mat.transpose();
    let mut c_xy = Vec::with_capacity(m * m);
    for p in dx.kept.iter() {
        for q in dy.kept.iter() {
            c_xy.push(xy[(*p, *q)]);
        }
    }
    let upper = |g: &Mat<f64>, kept: &[usize]| {
        let mut v = Vec::with_capacity(kept.len() * kept.len() / 2);
        for (a, &p) in kept.iter().enumerate() {
            for &q in &kept[a + 1..] {
                v.push(g[(p, q)]);
            }
        }
        v
    };
    let c_xx = upper(&xx, &dx.kept);
    let c_yy = upper(&yy, &dy.kept);
    Ok(TorusStats {
        nx,
        ny,
        x_on_y: summarise(c_xy, cfg, "x-on-y")?,
        x_on_x: summarise(c_xx, cfg, "x-on-x")?,
        y_on_y: summarise(c_yy, cfg, "y-on-y")?,
        degenerate,
    })
}

/// Difference vectors normalised to unit length; rows without a direction are zeroed and left
/// out of `kept`.
struct UnitRows {
    mat: Mat<f64>,
    kept: Vec<usize>,
    ncols_kept: usize,
}

fn unit_rows(mut m: Mat<f64>) -> UnitRows {
    let norms: Vec<f64> = (0..m.nrows())
        .map(|p| {
            (0..m.ncols())
                .map(|k| m[(p, k)] * m[(p, k)])
                .sum::<f64>()
                .sqrt()
        })
        .collect();
    let longest = norms.iter().copied().fold(0.0, f64::max);
    let mut kept = Vec::new();
    for (p, &nrm) in norms.iter().enumerate() {
        let ok = nrm > 1e-12 * longest && nrm > 0.0;
        for k in 0..m.ncols() {
            m[(p, k)] = if ok { m[(p, k)] / nrm } else { 0.0 };
        }
        if ok {
            kept.push(p);
        }
    }
    let ncols_kept = kept.len();
    UnitRows {
        mat: m,
        kept,
        ncols_kept,
    }
}

fn summarise(mut c: Vec<f64>, cfg: &TorusStatsConfig, family: &str) -> Result<CosineSummary> {
    if c.is_empty() {
        return Err(Error::InvalidArgument(format!(
            "no {family} pair has two difference vectors with a direction (constant representation?)"
        )));
    }
    c.iter_mut().for_each(|v| *v = v.clamp(-1.0, 1.0));
    let pairs = c.len();
    let mean = c.iter().sum::<f64>() / pairs as f64;
    let mean_abs = c.iter().map(|v| v.abs()).sum::<f64>() / pairs as f64;
    let mut histogram = vec![0usize; cfg.bins];
    for &v in &c {
        let b = (((v + 1.0) / 2.0) * cfg.bins as f64).floor() as usize;
        histogram[b.min(cfg.bins - 1)] += 1;
    }
    c.sort_by(f64::total_cmp);
    let quantiles = (0..cfg.quantiles)
        .map(|k| {
            let u = (k as f64 + 0.5) / cfg.quantiles as f64;
            c[((u * pairs as f64).floor() as usize).min(pairs - 1)]
        })
        .collect();
    Ok(CosineSummary {
        pairs,
        mean,
        mean_abs,
        histogram,
        quantiles,
    })
}

/// W1 distance between two cosine summaries (mean |difference| of their quantiles).
///
/// # Errors
/// Quantile counts that differ.
pub fn cosine_w1(a: &CosineSummary, b: &CosineSummary) -> Result<f64> {
    if a.quantiles.len() != b.quantiles.len() {
        return Err(Error::LengthMismatch(format!(
            "{} against {} quantiles",
            a.quantiles.len(),
            b.quantiles.len()
        )));
    }
    Ok(a.quantiles
        .iter()
        .zip(&b.quantiles)
        .map(|(u, v)| (u - v).abs())
        .sum::<f64>()
        / a.quantiles.len() as f64)
}

/// Distance between two sets of torus statistics (see the [module docs](self)).
///
/// # Errors
/// Quantile counts that differ.
pub fn torus_distance(a: &TorusStats, b: &TorusStats) -> Result<TorusDistance> {
    let x_on_y = cosine_w1(&a.x_on_y, &b.x_on_y)?;
    let x_on_x = cosine_w1(&a.x_on_x, &b.x_on_x)?;
    let y_on_y = cosine_w1(&a.y_on_y, &b.y_on_y)?;
    Ok(TorusDistance {
        x_on_y,
        x_on_x,
        y_on_y,
        mean: (x_on_y + x_on_x + y_on_y) / 3.0,
    })
}

/// Statistics of a representation and its distances to the Clifford torus and to the 3D torus
/// (radii 2 and 1; the statistics do not depend on them) on the same grid.
///
/// # Shapes
/// `x`: `(nx·ny) × D`, row-major grid order.
///
/// # Errors
/// As [`torus_stats`].
pub fn distances_to_ideals(
    x: &Activations,
    nx: usize,
    ny: usize,
    cfg: &TorusStatsConfig,
) -> Result<(TorusStats, IdealDistances)> {
    let stats = torus_stats(x, nx, ny, cfg)?;
    let clifford = torus_distance(&stats, &torus_stats(&clifford_torus(nx, ny)?, nx, ny, cfg)?)?;
    let around = torus_distance(
        &stats,
        &torus_stats(&torus_3d(nx, ny, 2.0, 1.0, false)?, nx, ny, cfg)?,
    )?;
    let tube = torus_distance(
        &stats,
        &torus_stats(&torus_3d(nx, ny, 2.0, 1.0, true)?, nx, ny, cfg)?,
    )?;
    let x_on_tube = tube.mean < around.mean;
    Ok((
        stats,
        IdealDistances {
            clifford,
            torus_3d: if x_on_tube { tube } else { around },
            torus_3d_x_on_tube: x_on_tube,
        },
    ))
}
