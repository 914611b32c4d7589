//! The low-dimensional curve and the SGD layout (steps 4–5 of [`umap`](super::umap)).

use super::graph::Edges;
use crate::{Error, Result};
use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// (a, b) of 1/(1 + a x^{2b}) least-squares fitted to 1 for x < `min_dist` and
/// exp(−(x − `min_dist`)/`spread`) above, on 300 evenly spaced x in [0, 3·`spread`]
/// (umap-learn's `find_ab_params`, which calls scipy's `curve_fit` from (1, 1)).
///
/// Levenberg–Marquardt from (1, 1) with the analytic Jacobian. Written here because it is a
/// two-parameter fit with a 2×2 normal system: the maintained LM crate (`levenberg-marquardt`)
/// would bring in nalgebra for it.
pub(super) fn fit_ab(min_dist: f64, spread: f64) -> Result<(f64, f64)> {
    const POINTS: usize = 300;
    let stop = 3.0 * spread;
    let xs: Vec<f64> = (0..POINTS)
        .map(|i| stop * i as f64 / (POINTS - 1) as f64)
        .collect();
    let ys: Vec<f64> = xs
        .iter()
        .map(|&x| {
            if x < min_dist {
                1.0
            } else {
                (-(x - min_dist) / spread).exp()
            }
        })
        .collect();
    let cost = |a: f64, b: f64| -> f64 {
        xs.iter()
            .zip(&ys)
            .map(|(&x, &y)| (1.0 / (1.0 + a * x.powf(2.0 * b)) - y).powi(2))
            .sum()
    };
    let (mut a, mut b) = (1.0f64, 1.0f64);
    let mut c = cost(a, b);
    let mut lambda = 1e-3;
    for _ in 0..1000 {
        // Normal equations JᵀJ δ = −Jᵀr of the residuals r = f − y.
        let (mut jaa, mut jab, mut jbb, mut ga, mut gb) = (0.0, 0.0, 0.0, 0.0, 0.0);
        for (&x, &y) in xs.iter().zip(&ys) {
            let (u, ln_x) = if x > 0.0 {
                (x.powf(2.0 * b), x.ln())
            } else {
                (0.0, 0.0)
            };
            let den = 1.0 + a * u;
            let r = 1.0 / den - y;
            let da = -u / (den * den);
            let db = -2.0 * a * u * ln_x / (den * den);
            jaa += da * da;
            jab += da * db;
            jbb += db * db;
            ga += da * r;
            gb += db * r;
        }
        let (maa, mbb) = (jaa * (1.0 + lambda), jbb * (1.0 + lambda));
        let det = maa * mbb - jab * jab;
        if !(det.is_finite() && det > 0.0) {
            lambda *= 10.0;
            if lambda > 1e12 {
                break;
            }
            continue;
        }
        let step_a = (-ga * mbb + gb * jab) / det;
        let step_b = (-gb * maa + ga * jab) / det;
        let (ta, tb) = (a + step_a, b + step_b);
        let tc = if ta > 0.0 && tb > 0.0 {
            cost(ta, tb)
        } else {
            f64::INFINITY
        };
        if tc <= c {
            let small = step_a.abs() <= 1e-13 * a.abs() && step_b.abs() <= 1e-13 * b.abs();
            (a, b, c) = (ta, tb, tc);
            lambda = (lambda / 10.0).max(1e-15);
            if small {
                break;
            }
        } else {
            lambda *= 10.0;
            if lambda > 1e12 {
                break;
            }
        }
    }
    if a.is_finite() && b.is_finite() && a > 0.0 && b > 0.0 {
        Ok((a, b))
    } else {
        Err(Error::LinearAlgebra(format!(
            "UMAP curve fit for min_dist = {min_dist}, spread = {spread} gave a = {a}, b = {b}"
        )))
    }
}

/// Parameters of the SGD epochs.
pub(super) struct Sgd {
    /// Curve parameter a.
    pub a: f64,
    /// Curve parameter b.
    pub b: f64,
    /// Repulsion strength γ.
    pub gamma: f64,
    /// Initial learning rate.
    pub alpha: f64,
    /// Negative samples per positive sample.
    pub negative_sample_rate: usize,
    /// Epochs.
    pub n_epochs: usize,
}

/// Squared distance between rows `j` and `k` of the N×`dim` row-major `emb`.
#[inline]
fn dist2(emb: &[f64], j: usize, k: usize, dim: usize) -> f64 {
    let (p, q) = (&emb[j * dim..(j + 1) * dim], &emb[k * dim..(k + 1) * dim]);
    p.iter().zip(q).map(|(u, v)| (u - v) * (u - v)).sum()
}

/// umap-learn's `optimize_layout_euclidean` with `move_other`, run sequentially: edge e is
/// sampled every n_epochs/(n_epochs·wₑ/max w) epochs, and each time pushes its head away from
/// `negative_sample_rate` per sample of uniformly drawn vertices.
pub(super) fn optimize(
    emb: &mut [f64],
    n: usize,
    dim: usize,
    edges: &Edges,
    p: &Sgd,
    rng: &mut ChaCha8Rng,
) {
    let n_epochs = p.n_epochs as f64;
    let w_max = edges.weight.iter().copied().fold(0.0, f64::max);
    let epochs_per_sample: Vec<f64> = edges
        .weight
        .iter()
        .map(|&w| {
            let samples = n_epochs * (w / w_max);
            if samples > 0.0 {
                n_epochs / samples
            } else {
                -1.0
            }
        })
        .collect();
    let rate = p.negative_sample_rate as f64;
    let epochs_per_negative: Vec<f64> = epochs_per_sample.iter().map(|e| e / rate).collect();
    let mut next_sample = epochs_per_sample.clone();
    let mut next_negative = epochs_per_negative.clone();
    let (a, b, two_ab, two_gamma_b) = (p.a, p.b, 2.0 * p.a * p.b, 2.0 * p.gamma * p.b);
    let clip = |v: f64| v.clamp(-4.0, 4.0);
    let mut alpha = p.alpha;
    for epoch in 0..p.n_epochs {
        let now = epoch as f64;
        for e in 0..epochs_per_sample.len() {
            if next_sample[e] > now {
                continue;
            }
            let (j, k) = (edges.head[e], edges.tail[e]);
            let d2 = dist2(emb, j, k, dim);
            let attract = if d2 > 0.0 {
                let d2b = d2.powf(b);
                -two_ab * (d2b / d2) / (a * d2b + 1.0)
            } else {
                0.0
            };
            for d in 0..dim {
                let g = clip(attract * (emb[j * dim + d] - emb[k * dim + d])) * alpha;
                emb[j * dim + d] += g;
                emb[k * dim + d] -= g;
            }
            next_sample[e] += epochs_per_sample[e];
            if p.negative_sample_rate == 0 {
                continue;
            }
            // Saturating cast: a negative count is 0.
            let n_neg = ((now - next_negative[e]) / epochs_per_negative[e]) as usize;
            for _ in 0..n_neg {
                let k = rng.random_range(0..n);
                let d2 = dist2(emb, j, k, dim);
                if d2 <= 0.0 {
                    // The head itself, or a coincident point: no direction to push along.
                    continue;
                }
                let repel = two_gamma_b / ((0.001 + d2) * (a * d2.powf(b) + 1.0));
                for d in 0..dim {
                    emb[j * dim + d] += clip(repel * (emb[j * dim + d] - emb[k * dim + d])) * alpha;
                }
            }
            next_negative[e] += n_neg as f64 * epochs_per_negative[e];
        }
        alpha = p.alpha * (1.0 - now / n_epochs);
    }
}
