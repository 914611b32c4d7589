//! Centre grids: full tilings, imbalanced tilings, seeded λ-subsamples, explicit lists.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::error::{check_centres, Error, Result};

/// Relative tolerance under which `extent / spacing` counts as an integer (absorbs float drift,
/// e.g. `32.0 / 0.1 = 320.00000000000006`).
pub const COUNT_TOLERANCE: f64 = 1e-9;

/// Largest number of values allowed on one grid axis (guards against absurdly small spacings).
pub const MAX_AXIS_COUNT: usize = 1 << 20;

/// Number of grid values `{0, d, 2d, …} ∩ [0, extent)`: `⌈extent/d⌉`, where a quotient within
/// [`COUNT_TOLERANCE`] (relative) of an integer counts as that integer.
pub fn axis_count(extent: f64, d: f64) -> Result<usize> {
    axis_count_from(extent, d, 0.0)
}

/// Number of grid values `{o, o + d, o + 2d, …} ∩ [o, extent)` for an offset `o ∈ [0, extent)`:
/// `⌈(extent − o)/d⌉`, where a quotient within [`COUNT_TOLERANCE`] (relative) of an integer counts
/// as that integer. [`axis_count`] is the case `o = 0`.
pub fn axis_count_from(extent: f64, d: f64, offset: f64) -> Result<usize> {
    if !(d.is_finite() && d > 0.0) {
        return Err(Error::InvalidSpacing { dx: d, dy: d });
    }
    if !(extent.is_finite() && extent > 0.0) {
        return Err(Error::ZeroSize);
    }
    if !(offset.is_finite() && offset >= 0.0 && offset < extent) {
        return Err(Error::InvalidArgument(format!(
            "grid offset must lie in [0, {extent}), got {offset}"
        )));
    }
    let q = (extent - offset) / d;
    let r = q.round();
    let count = if (q - r).abs() <= COUNT_TOLERANCE * q.max(1.0) {
        r
    } else {
        q.ceil()
    };
    if count > MAX_AXIS_COUNT as f64 {
        return Err(Error::InvalidArgument(format!(
            "spacing {d} gives {count} values on an axis of {extent}; the limit is {MAX_AXIS_COUNT}"
        )));
    }
    Ok(count as usize)
}

/// Grid values `i·d` for `i in 0..axis_count(extent, d)`. Each value is computed as `i as f64 * d`
/// (never by repeated addition), so there is no cumulative drift.
pub fn axis_values(extent: f64, d: f64) -> Result<Vec<f64>> {
    axis_values_from(extent, d, 0.0)
}

/// Grid values `o + i·d` for `i in 0..axis_count_from(extent, d, o)`, each computed as
/// `o + i as f64 * d` (no cumulative drift). With `o = 0` this is exactly [`axis_values`].
pub fn axis_values_from(extent: f64, d: f64, offset: f64) -> Result<Vec<f64>> {
    let count = axis_count_from(extent, d, offset)?;
    Ok((0..count).map(|i| offset + i as f64 * d).collect())
}

/// The y-major product of two axes: `[x, y]` for each y in `ys`, for each x in `xs`
/// (index = j·len(xs) + i), the order of every grid in this crate.
pub fn product(xs: &[f64], ys: &[f64]) -> Vec<[f64; 2]> {
    let mut out = Vec::with_capacity(xs.len() * ys.len());
    for &y in ys {
        for &x in xs {
            out.push([x, y]);
        }
    }
    out
}

/// A full tiling of `[0, n) × [0, n)` with spacing dx along x (columns) and dy along y (rows).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct GridSpec {
    /// Extent of the tiled square (N, or the latent M for an extended canvas). Default 32.
    pub n: usize,
    /// Spacing along x (columns). Default 1.0.
    pub dx: f64,
    /// Spacing along y (rows). Default 1.0.
    pub dy: f64,
}

impl Default for GridSpec {
    /// The papers' full 1-px tiling of the default 32 × 32 canvas: n = 32, dx = dy = 1.
    fn default() -> Self {
        Self {
            n: 32,
            dx: 1.0,
            dy: 1.0,
        }
    }
}

impl GridSpec {
    /// Balanced grid, dx = dy = d.
    pub fn square(n: usize, d: f64) -> Self {
        Self { n, dx: d, dy: d }
    }
    /// Grid with separate spacings (imbalanced when dx ≠ dy).
    pub fn new(n: usize, dx: f64, dy: f64) -> Self {
        Self { n, dx, dy }
    }
    /// Sets the extent.
    pub fn with_n(mut self, n: usize) -> Self {
        self.n = n;
        self
    }
    /// Sets dx.
    pub fn with_dx(mut self, dx: f64) -> Self {
        self.dx = dx;
        self
    }
    /// Sets dy.
    pub fn with_dy(mut self, dy: f64) -> Self {
        self.dy = dy;
        self
    }

    /// Checks n > 0 and dx, dy finite > 0.
    pub fn validate(&self) -> Result<()> {
        if self.n == 0 {
            return Err(Error::ZeroSize);
        }
        if !(self.dx.is_finite() && self.dx > 0.0 && self.dy.is_finite() && self.dy > 0.0) {
            return Err(Error::InvalidSpacing {
                dx: self.dx,
                dy: self.dy,
            });
        }
        Ok(())
    }

    /// (number of x values, number of y values) = (⌈n/dx⌉, ⌈n/dy⌉).
    pub fn counts(&self) -> Result<(usize, usize)> {
        self.validate()?;
        Ok((
            axis_count(self.n as f64, self.dx)?,
            axis_count(self.n as f64, self.dy)?,
        ))
    }

    /// Number of centres ⌈n/dx⌉·⌈n/dy⌉.
    pub fn num_centres(&self) -> Result<usize> {
        let (cx, cy) = self.counts()?;
        Ok(cx * cy)
    }

    /// All centres `[μx, μy] = [i·dx, j·dy]`, y-major: index = j·⌈n/dx⌉ + i.
    pub fn centres(&self) -> Result<Vec<[f64; 2]>> {
        self.validate()?;
        let xs = axis_values(self.n as f64, self.dx)?;
        let ys = axis_values(self.n as f64, self.dy)?;
        Ok(product(&xs, &ys))
    }
}

/// Size of a λ-subsample of `len` items: `round(λ·len)`, at least 1 when `len > 0`.
pub fn subsample_size(len: usize, lambda: f64) -> Result<usize> {
    if !(lambda.is_finite() && lambda > 0.0 && lambda <= 1.0) {
        return Err(Error::InvalidFraction(lambda));
    }
    if len == 0 {
        return Ok(0);
    }
    Ok(((lambda * len as f64).round() as usize).clamp(1, len))
}

/// Seeded uniform subsample without replacement of `round(λ·len)` indices (at least 1), sorted ascending.
pub fn subsample_indices(len: usize, lambda: f64, seed: u64) -> Result<Vec<usize>> {
    let k = subsample_size(len, lambda)?;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut idx = rand::seq::index::sample(&mut rng, len, k).into_vec();
    idx.sort_unstable();
    Ok(idx)
}

/// Seeded λ-subsample of a centre list, keeping the original order.
pub fn subsample(centres: &[[f64; 2]], lambda: f64, seed: u64) -> Result<Vec<[f64; 2]>> {
    check_centres(centres)?;
    Ok(subsample_indices(centres.len(), lambda, seed)?
        .into_iter()
        .map(|i| centres[i])
        .collect())
}

/// An explicit list of centres, validated (every coordinate finite).
pub fn explicit(centres: &[[f64; 2]]) -> Result<Vec<[f64; 2]>> {
    check_centres(centres)?;
    Ok(centres.to_vec())
}
