//! The percolation account of when manifolds form (follow-up paper): training centres are
//! nodes, and two are linked when their images overlap enough.

use crate::{Error, Result};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// A (σ, d, λ) dataset and the overlap threshold.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PercolationConfig {
    /// Canvas side N (centres at 0, d, 2d, … < N on both axes).
    pub n: usize,
    /// Bump width σ.
    pub sigma: f64,
    /// Centre spacing d.
    pub spacing: f64,
    /// Probability of keeping each centre, λ ∈ [0, 1].
    pub lambda: f64,
    /// Overlap threshold (the paper uses 0.005 and 0.05).
    pub threshold: f64,
    /// Seed of the subsample. Each centre draws one uniform u from the seed and is kept when
    /// u < λ, so subsamples are nested: a larger λ keeps a superset.
    pub seed: u64,
}

impl Default for PercolationConfig {
    /// The default dataset (N = 32, σ = 1, spacing 1, λ = 1; docs/conventions.md) with the
    /// follow-up paper's lower overlap threshold 0.005, seed 0.
    fn default() -> Self {
        Self {
            n: 32,
            sigma: 1.0,
            spacing: 1.0,
            lambda: 1.0,
            threshold: 0.005,
            seed: 0,
        }
    }
}

/// Result of a percolation simulation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PercolationResult {
    /// Nodes kept.
    pub kept: usize,
    /// All lattice nodes.
    pub total: usize,
    /// Size of the largest connected cluster.
    pub largest: usize,
    /// largest / kept (0 when nothing is kept): the quantity the follow-up plots.
    pub largest_fraction: f64,
    /// largest / total (monotone in λ for nested subsamples).
    pub largest_mass_ratio: f64,
}

fn find(p: &mut [usize], mut i: usize) -> usize {
    while p[i] != i {
        p[i] = p[p[i]];
        i = p[i];
    }
    i
}

impl PercolationConfig {
    /// Sets the canvas side.
    pub fn with_n(mut self, n: usize) -> Self {
        self.n = n;
        self
    }

    /// Sets the bump width σ.
    pub fn with_sigma(mut self, sigma: f64) -> Self {
        self.sigma = sigma;
        self
    }

    /// Sets the centre spacing d.
    pub fn with_spacing(mut self, spacing: f64) -> Self {
        self.spacing = spacing;
        self
    }

    /// Sets the keep probability λ.
    pub fn with_lambda(mut self, lambda: f64) -> Self {
        self.lambda = lambda;
        self
    }

    /// Sets the overlap threshold.
    pub fn with_threshold(mut self, threshold: f64) -> Self {
        self.threshold = threshold;
        self
    }

    /// Sets the subsample seed.
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Checks n ≥ 1, σ > 0, d > 0, λ ∈ [0, 1] and threshold ∈ (0, 1).
    pub fn validate(&self) -> Result<()> {
        let finite_pos = |v: f64| v > 0.0 && v.is_finite();
        if self.n == 0 || !finite_pos(self.sigma) || !finite_pos(self.spacing) {
            return Err(Error::InvalidArgument(format!(
                "percolation needs n >= 1, sigma > 0 and spacing > 0: {self:?}"
            )));
        }
        if !((0.0..=1.0).contains(&self.lambda) && self.threshold > 0.0 && self.threshold < 1.0) {
            return Err(Error::InvalidArgument(format!(
                "lambda must lie in [0, 1] and threshold in (0, 1): {self:?}"
            )));
        }
        Ok(())
    }
}

/// Links kept centres whose normalised image overlap exp(−s²/(4σ²)) exceeds the threshold
/// (s = centre distance; the overlap ⟨a, b⟩/(‖a‖‖b‖) of two Gaussian bumps of width σ) and
/// measures the largest cluster with a union–find. Centres sit at 0, d, 2d, … < n on both axes.
pub fn percolation(cfg: &PercolationConfig) -> Result<PercolationResult> {
    cfg.validate()?;
    let per_axis = ((cfg.n as f64 / cfg.spacing) - 1e-9).ceil() as usize;
    let total = per_axis * per_axis;
    let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
    let nodes: Vec<usize> = (0..total)
        .filter(|_| rng.random::<f64>() < cfg.lambda)
        .collect();
    let kept = nodes.len();
    // Link radius: exp(−s²/(4σ²)) > θ  ⇔  s < 2σ√(−ln θ).
    let radius = 2.0 * cfg.sigma * (-cfg.threshold.ln()).sqrt();
    let reach = (radius / cfg.spacing).floor() as i64;
    let mut alive = vec![usize::MAX; total];
    for (k, &v) in nodes.iter().enumerate() {
        alive[v] = k;
    }
    let mut parent: Vec<usize> = (0..kept).collect();
    for (k, &v) in nodes.iter().enumerate() {
        let (ix, iy) = ((v % per_axis) as i64, (v / per_axis) as i64);
        for dy in -reach..=reach {
            for dx in -reach..=reach {
                let (jx, jy) = (ix + dx, iy + dy);
                if jx < 0
                    || jy < 0
                    || jx >= per_axis as i64
                    || jy >= per_axis as i64
                    || (dx == 0 && dy == 0)
                {
                    continue;
                }
                let s = cfg.spacing * ((dx * dx + dy * dy) as f64).sqrt();
                let other = alive[(jy as usize) * per_axis + jx as usize];
                if other != usize::MAX
                    && (-s * s / (4.0 * cfg.sigma * cfg.sigma)).exp() > cfg.threshold
                {
                    let (ra, rb) = (find(&mut parent, k), find(&mut parent, other));
                    if ra != rb {
                        parent[ra] = rb;
                    }
                }
            }
        }
    }
    let mut sizes = vec![0usize; kept];
    for k in 0..kept {
        let r = find(&mut parent, k);
        sizes[r] += 1;
    }
    let largest = sizes.into_iter().max().unwrap_or(0);
    Ok(PercolationResult {
        kept,
        total,
        largest,
        largest_fraction: if kept > 0 {
            largest as f64 / kept as f64
        } else {
            0.0
        },
        largest_mass_ratio: largest as f64 / total as f64,
    })
}
