//! The representation rule: from K independent samples of layer 4 per condition, how much of
//! layer 4 the condition explains, whether the condition means lie on a low-dimensional sheet at
//! some scale, and whether that sheet is in the condition's order (docs/analysis.md).

use crate::dimension::ratio_dim;
use crate::matrix::{check_coords, Activations};
use crate::metrics::{compute_metrics, MetricConfig, RepresentationMetrics};
use crate::neighbors::{coord_distances, distances_from_gram, Neighborhood};
use crate::order::{check_trust, geodesic_from, spearman_from, trust_from};
use crate::phase::{Classification, Phase};
use crate::{Error, Result};
use faer::{Mat, Side};
use serde::{Deserialize, Serialize};

/// Number of points the neighbourhood sizes of [`ConditionGeometry`] are stated for: the
/// 16×16 evaluation grid the thresholds were calibrated on.
const REFERENCE_POINTS: usize = 256;

/// Neighbourhood size of the order statistics at [`REFERENCE_POINTS`] points (10, about 4 % of
/// the conditions); other grids use the same fraction.
const ORDER_K: usize = 10;

/// Neighbourhood size of the coarse order statistics at [`REFERENCE_POINTS`] points (40, about
/// 16 % of the conditions: a disc of radius ≈ 3.6 grid spacings).
const COARSE_K: usize = 40;

/// `k` at [`REFERENCE_POINTS`] points, scaled to `n` points (at least 2, and small enough for
/// trustworthiness).
fn scaled_k(k: usize, n: usize) -> usize {
    let s = ((k * n) as f64 / REFERENCE_POINTS as f64).round() as usize;
    s.max(2)
        .min((2 * n).saturating_sub(2) / 3)
        .min(n.saturating_sub(1))
}

fn check_samples(samples: &[Activations]) -> Result<(usize, usize)> {
    let first = samples
        .first()
        .ok_or_else(|| Error::InvalidArgument("need at least one sample of activations".into()))?;
    let (n, d) = (first.n(), first.d());
    if let Some(s) = samples.iter().find(|s| s.n() != n || s.d() != d) {
        return Err(Error::LengthMismatch(format!(
            "every sample must be {n}×{d}, got {}×{}",
            s.n(),
            s.d()
        )));
    }
    if n < 2 {
        return Err(Error::TooFewPoints { n, k: 1 });
    }
    Ok((n, d))
}

fn eigen(m: &Mat<f64>) -> Result<faer::linalg::solvers::SelfAdjointEigen<f64>> {
    m.self_adjoint_eigen(Side::Lower)
        .map_err(|e| Error::LinearAlgebra(format!("{e:?}")))
}

/// The part of the condition means that stands above the sample noise.
struct Resolved {
    /// Eigen-directions of the cross-sample Gram kept (above the noise edge).
    rank: usize,
    /// Their share of the between-condition variance.
    share: f64,
    /// The noise edge.
    edge: f64,
    /// Distances of the means restricted to the kept directions.
    dist: Vec<f64>,
}

/// K samples split into condition means and noise.
struct Decomposition {
    /// Per-condition means.
    means: Activations,
    /// Centred Gram matrix of the means.
    means_gram: Mat<f64>,
    /// Between-condition variance (trace): unbiased for K ≥ 2 (may be slightly negative), the
    /// plain variance of the one sample for K = 1.
    between: f64,
    /// Unbiased within-condition variance (trace; NaN for K = 1).
    within: f64,
    /// The resolved means (None for K = 1).
    resolved: Option<Resolved>,
}

fn decompose(samples: &[Activations]) -> Result<Decomposition> {
    let (n, d) = check_samples(samples)?;
    let k = samples.len();
    let kf = k as f64;
    let mut mean = vec![0.0; n * d];
    for s in samples {
        for (m, v) in mean.iter_mut().zip(s.as_slice()) {
            *m += v / kf;
        }
    }
    let means = Activations::from_f64(&mean, n, d)?;
    let means_gram = means.gram();
    if k == 1 {
        let between = (0..n).map(|i| means_gram[(i, i)]).sum::<f64>() / (n - 1) as f64;
        return Ok(Decomposition {
            means,
            means_gram,
            between,
            within: f64::NAN,
            resolved: None,
        });
    }
    let mut within = 0.0;
    for s in samples {
        for (v, m) in s.as_slice().iter().zip(&mean) {
            within += (v - m) * (v - m);
        }
    }
    within /= (n * (k - 1)) as f64;
    // Cross-sample Gram Ĝ = Σ_{k≠l} X̃_k X̃_lᵀ / (K(K − 1)) = (K² M̃M̃ᵀ − Σ_k X̃_k X̃_kᵀ) / (K(K − 1)),
    // each sample centred on its own mean (a shift shared by all conditions of a sample is
    // noise). Its expectation is the Gram matrix of the true condition means.
    let centred: Vec<Mat<f64>> = samples.iter().map(|s| s.to_mat(true)).collect();
    let mut self_gram = Mat::<f64>::zeros(n, n);
    for x in &centred {
        self_gram += x * x.transpose();
    }
    let cross = Mat::from_fn(n, n, |i, j| {
        (kf * kf * means_gram[(i, j)] - self_gram[(i, j)]) / (kf * (kf - 1.0))
    });
    let trace: f64 = (0..n).map(|i| cross[(i, i)]).sum();
    let between = trace / (n - 1) as f64;
    let resolved = resolve(&cross, &centred, trace)?;
    Ok(Decomposition {
        means,
        means_gram,
        between,
        within,
        resolved: Some(resolved),
    })
}

/// Keeps the eigen-directions of the cross-sample Gram `cross` that stand above the noise.
///
/// The noise edge is measured on the data's own noise: Helmert contrasts of the K samples,
/// c_j = (Σ_{i<j} X̃_i − j X̃_j)/√(j(j + 1)), carry no condition signal and, for independent
/// Gaussian noise, are independent with the noise covariance of one sample; the symmetrised
/// cross product of two of them, scaled by √(2/(K(K − 1))), has the same entry variance as the
/// noise part of Ĝ. The edge is the largest eigenvalue over the pairs of the first three
/// contrasts (K ≥ 3). For K = 2 the noise part of Ĝ is symmetric in distribution, and the edge
/// is the magnitude of Ĝ's most negative eigenvalue.
fn resolve(cross: &Mat<f64>, centred: &[Mat<f64>], trace: f64) -> Result<Resolved> {
    let n = cross.nrows();
    let k = centred.len();
    let kf = k as f64;
    let evd = eigen(cross)?;
    let s = evd.S().column_vector();
    let u = evd.U();
    let edge = if k >= 3 {
        let d = centred[0].ncols();
        let contrasts: Vec<Mat<f64>> = (1..k.min(4))
            .map(|j| {
                let mut c = Mat::<f64>::zeros(n, d);
                for x in &centred[..j] {
                    c += x;
                }
                c -= &centred[j] * (j as f64);
                c * (1.0 / ((j * (j + 1)) as f64).sqrt())
            })
            .collect();
        let scale = 0.5 * (2.0 / (kf * (kf - 1.0))).sqrt();
        let mut edge = 0.0f64;
        for a in 0..contrasts.len() {
            for b in a + 1..contrasts.len() {
                let pq = &contrasts[a] * contrasts[b].transpose();
                let null = Mat::from_fn(n, n, |i, j| scale * (pq[(i, j)] + pq[(j, i)]));
                let ns = eigen(&null)?;
                edge = edge.max(ns.S().column_vector()[n - 1]);
            }
        }
        edge
    } else {
        (-s[0]).max(0.0)
    };
    // faer's eigenvalues ascend: the kept ones are the top of the list.
    let kept: Vec<usize> = (0..n).rev().take_while(|&i| s[i] > edge).collect();
    let share = if trace > 0.0 {
        kept.iter().map(|&i| s[i]).sum::<f64>() / trace
    } else {
        0.0
    };
    let g = Mat::from_fn(n, n, |i, j| {
        kept.iter()
            .map(|&t| s[t] * u[(i, t)] * u[(j, t)])
            .sum::<f64>()
    });
    Ok(Resolved {
        rank: kept.len(),
        share,
        edge,
        dist: distances_from_gram(&g),
    })
}

/// S_B/(S_B + W), clamped to [0, 1]; 0 when nothing varies beyond round-off relative to the
/// data's mean squared row norm `scale`.
fn signal_from(between: f64, within: f64, scale: f64) -> f64 {
    let b = between.max(0.0);
    if b + within > 1e-24 * scale {
        (b / (b + within)).clamp(0.0, 1.0)
    } else {
        // Nothing varies at all: the condition explains nothing.
        0.0
    }
}

/// Mean squared row norm over all samples (the scale of round-off in the variances).
fn mean_square(samples: &[Activations]) -> f64 {
    let n: usize = samples.iter().map(Activations::n).sum();
    samples
        .iter()
        .flat_map(|s| s.as_slice())
        .map(|v| v * v)
        .sum::<f64>()
        / n.max(1) as f64
}

/// The fraction of layer 4's variance that the condition explains, from K ≥ 2 independent
/// samples per condition: `samples[k]` is the B×D activation matrix of sample k, conditions in
/// the same order in every sample.
///
/// With m_i the mean of condition i over its K samples, the within-condition variance
/// W = Σ_{i,k} ‖x_ik − m_i‖² / (B(K − 1)) is unbiased, but the variance of the means across
/// conditions is not: a K-sample mean still carries 1/K of the within-condition variance, so
/// its expectation is S_B + W/K. The between-condition variance S_B is therefore estimated
/// from products of *different* samples only,
///
/// d̂²ᵢⱼ = mean over k ≠ l of (x_ik − x_jk)·(x_il − x_jl) = (K²‖m_i − m_j‖² − Σ_k ‖x_ik − x_jk‖²) / (K(K − 1)),
/// S_B = Σ_{i≠j} d̂²ᵢⱼ / (2B(B − 1)),
///
/// which is unbiased for the variance of the true condition means whenever samples k ≠ l are
/// independent, whether or not the noise of a sample is shared by all conditions (a shared
/// shift cancels in x_ik − x_jk but counts in W). With noise independent per condition it
/// equals the one-way ANOVA estimate S_M − W/K up to O(W/(BK)), where S_M is the variance of
/// the means. The result is S_B / (S_B + W), the intraclass correlation of one sample (traces
/// over the D features), clamped to [0, 1]; 0 when nothing varies at all (beyond round-off).
///
/// # Errors
/// Fewer than two samples ([`Error::InvalidArgument`]: with one sample the split is not
/// identifiable), samples of unequal shape, fewer than two conditions.
pub fn condition_signal_fraction(samples: &[Activations]) -> Result<f64> {
    if samples.len() < 2 {
        return Err(Error::InvalidArgument(format!(
            "the condition signal needs K >= 2 independent samples per condition, got {}",
            samples.len()
        )));
    }
    let (n, d) = check_samples(samples)?;
    let kf = samples.len() as f64;
    let mut mean = vec![0.0; n * d];
    for s in samples {
        for (m, v) in mean.iter_mut().zip(s.as_slice()) {
            *m += v / kf;
        }
    }
    let mut within = 0.0;
    for s in samples {
        for (v, m) in s.as_slice().iter().zip(&mean) {
            within += (v - m) * (v - m);
        }
    }
    within /= n as f64 * (kf - 1.0);
    // Σ_{i≠j} d̂²ᵢⱼ = 2B·tr(Ĝ) for the centred cross-sample Gram Ĝ, and
    // tr(Ĝ) = (K² tr(M̃M̃ᵀ) − Σ_k tr(X̃_k X̃_kᵀ)) / (K(K − 1)): only squared norms are needed.
    let col_means = |v: &[f64]| {
        let mut c = vec![0.0; d];
        for row in v.chunks_exact(d) {
            c.iter_mut().zip(row).for_each(|(a, b)| *a += b / n as f64);
        }
        c
    };
    let centred_sq = |v: &[f64]| {
        let c = col_means(v);
        v.chunks_exact(d)
            .map(|row| {
                row.iter()
                    .zip(&c)
                    .map(|(a, b)| (a - b) * (a - b))
                    .sum::<f64>()
            })
            .sum::<f64>()
    };
    let mean_sq = centred_sq(&mean);
    let self_sq: f64 = samples.iter().map(|s| centred_sq(s.as_slice())).sum();
    let between = (kf * kf * mean_sq - self_sq) / (kf * (kf - 1.0)) / (n - 1) as f64;
    Ok(signal_from(between, within, mean_square(samples)))
}

/// The dimension of the resolved condition means at one neighbourhood scale.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ScaleDim {
    /// Smallest TwoNN rank n₁ of the window.
    pub lo: usize,
    /// Largest TwoNN rank n₁ of the window (the ratio reaches rank 2·hi).
    pub hi: usize,
    /// Mean over n₁ = lo..=hi of ln 2 / mean ln(r_{2n₁} / r_{n₁}).
    pub dim: f64,
}

/// The geometry of the per-condition means that [`classify_representation`] reads.
///
/// **Order** is measured on the plain K-sample means against the true centres: neighbourhood
/// preservation in both directions (trustworthiness penalises false neighbours, i.e. folds;
/// continuity penalises lost neighbours, i.e. tears) at a fine and a coarse scale. Noise spread
/// over many features mostly adds a constant to all distances, so these survive it well.
///
/// **Sheet** evidence is label-free and measured on the *resolved* means: the eigen-directions of
/// the cross-sample Gram matrix (products of different samples only, whose expectation is the
/// Gram matrix of the true condition means) that stand above a noise edge measured on
/// within-condition contrasts (see `resolve` in the source). Local dimension on raw means is
/// inflated by the noise (every distance gains the same offset, so r_{2n}/r_n → 1), and on
/// unbiased squared distances it is deflated (noise makes small distances vanish); restricted
/// to the resolved directions, a noisy sheet reads ≈ 2 again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConditionGeometry {
    /// Whether the sheet statistics were measured on noise-resolved means (K ≥ 2); for K = 1
    /// they are measured on the one sample.
    pub denoised: bool,
    /// Fine neighbourhood size k (10 at B = 256, scaled in proportion to B).
    pub k: usize,
    /// Coarse neighbourhood size (40 at B = 256, scaled in proportion to B).
    pub k_coarse: usize,
    /// Trustworthiness T(k), true centres → means.
    pub trustworthiness: f64,
    /// Continuity C(k).
    pub continuity: f64,
    /// T at the coarse neighbourhood.
    pub trustworthiness_coarse: f64,
    /// C at the coarse neighbourhood.
    pub continuity_coarse: f64,
    /// The order score: the smallest of the four values above.
    pub order: f64,
    /// Spearman ρ between true distances and geodesic distances along the means' symmetric
    /// k-NN graph, at the smallest of k, 2k, 4k that connects it (NaN if none does). Reported;
    /// the rule does not read it (on the controls it cannot tell a noisy sheet folded at high
    /// frequency, which is ordered, from a folded or torn one).
    pub geodesic_rho: f64,
    /// The neighbourhood size that connected the geodesic graph (0 if none did).
    pub geodesic_k: usize,
    /// Eigen-directions of the cross-sample Gram above the noise edge (None for K = 1).
    pub resolved_rank: Option<usize>,
    /// Their share of the between-condition variance (NaN for K = 1). Low when the condition
    /// signal is spread over many directions each buried in the noise.
    pub resolved_share: f64,
    /// The noise edge (variance units of the Gram matrix; NaN for K = 1).
    pub noise_edge: f64,
    /// Multiscale TwoNN dimension of the resolved means in dyadic windows n₁ ∈ [s, 2s],
    /// s = 2, 4, 8, … while 4s ≤ B/4: from the nearest neighbours out to a quarter of the
    /// conditions.
    pub sheet_dims: Vec<ScaleDim>,
    /// The smallest of `sheet_dims`: the dimension at the flattest scale (0 when the resolved
    /// means collapse to a point).
    pub sheet_dim: f64,
}

/// Everything the representation rule measures on one probe.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProbeAnalysis {
    /// Samples per condition K.
    pub samples: usize,
    /// Fraction of the variance the condition explains ([`condition_signal_fraction`]). With
    /// K = 1 it is not identifiable: NaN, except 0 when the single sample does not vary across
    /// conditions at all.
    pub condition_signal: f64,
    /// Between-condition variance (trace; unbiased for K ≥ 2, clamped at 0; for K = 1 the plain
    /// variance of the sample across conditions, noise included).
    pub between_variance: f64,
    /// Within-condition variance (trace; NaN for K = 1).
    pub within_variance: f64,
    /// The geometry the rule reads.
    pub geometry: ConditionGeometry,
    /// The full metric suite on the per-condition means (plain means).
    pub means: RepresentationMetrics,
    /// The full metric suite on sample 0 alone.
    pub single: RepresentationMetrics,
}

/// Dyadic TwoNN windows s..=2s, s = 2, 4, …, while the ratio's far rank 4s stays within B/4.
fn sheet_windows(n: usize) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut s = 2;
    while 4 * s <= n / 4 {
        out.push((s, 2 * s));
        s *= 2;
    }
    if out.is_empty() {
        out.push((1, 1));
    }
    out
}

fn geometry(dec: Decomposition, coords: &[[f64; 2]]) -> Result<ConditionGeometry> {
    let n = coords.len();
    let k = scaled_k(ORDER_K, n);
    let k_coarse = scaled_k(COARSE_K, n);
    check_trust(n, k)?;
    check_trust(n, k_coarse)?;
    if n < 3 {
        return Err(Error::TooFewPoints { n, k: 2 });
    }
    let acts = Neighborhood::new(distances_from_gram(&dec.means_gram), n);
    let truth = Neighborhood::new(coord_distances(coords), n);
    let trustworthiness = trust_from(&truth, &acts, k);
    let continuity = trust_from(&acts, &truth, k);
    let trustworthiness_coarse = trust_from(&truth, &acts, k_coarse);
    let continuity_coarse = trust_from(&acts, &truth, k_coarse);
    let order = trustworthiness
        .min(continuity)
        .min(trustworthiness_coarse)
        .min(continuity_coarse);
    let mut geodesic_rho = f64::NAN;
    let mut geodesic_k = 0;
    for gk in [k, 2 * k, 4 * k] {
        if gk >= n {
            break;
        }
        match geodesic_from(&acts, gk) {
            Ok(geo) => {
                geodesic_rho = spearman_from(&truth, &geo, k).0;
                geodesic_k = gk;
                break;
            }
            Err(Error::Disconnected { .. }) => continue,
            Err(e) => return Err(e),
        }
    }
    let (denoised, resolved_rank, resolved_share, noise_edge, sheet) = match dec.resolved {
        Some(r) => (
            true,
            Some(r.rank),
            r.share,
            r.edge,
            Neighborhood::new(r.dist, n),
        ),
        None => (false, None, f64::NAN, f64::NAN, acts),
    };
    let sheet_dims: Vec<ScaleDim> = sheet_windows(n)
        .into_iter()
        .filter(|&(_, hi)| 2 * hi < n)
        .map(|(lo, hi)| ScaleDim {
            lo,
            hi,
            dim: (lo..=hi).map(|n1| ratio_dim(&sheet, n1)).sum::<f64>() / (hi - lo + 1) as f64,
        })
        .collect();
    let sheet_dim = sheet_dims
        .iter()
        .map(|s| s.dim)
        .fold(f64::INFINITY, f64::min);
    Ok(ConditionGeometry {
        denoised,
        k,
        k_coarse,
        trustworthiness,
        continuity,
        trustworthiness_coarse,
        continuity_coarse,
        order,
        geodesic_rho,
        geodesic_k,
        resolved_rank,
        resolved_share,
        noise_edge,
        sheet_dims,
        sheet_dim,
    })
}

/// The condition signal and the geometry the rule reads, without the two full metric suites
/// (what [`analyze_probe`] computes first; the controls use it directly).
pub(crate) fn decision_statistics(
    samples: &[Activations],
    coords: &[[f64; 2]],
) -> Result<(f64, f64, f64, ConditionGeometry, Activations)> {
    let (n, _) = check_samples(samples)?;
    check_coords(coords, n)?;
    let dec = decompose(samples)?;
    let k = samples.len();
    let scale = mean_square(samples);
    let condition_signal = if k >= 2 {
        signal_from(dec.between, dec.within, scale)
    } else if dec.between <= 1e-24 * scale {
        0.0
    } else {
        f64::NAN
    };
    let (between, within) = (dec.between.max(0.0), dec.within);
    let means = dec.means.clone();
    let geometry = geometry(dec, coords)?;
    Ok((condition_signal, between, within, geometry, means))
}

/// Analyses one probe: `samples[k]` is the B×D layer-4 activation matrix of independent sample
/// k (K ≥ 1), conditions in the same order in every sample, `coords` their true centres and
/// `grid` = (nx, ny) their grid shape (row iy·nx + ix) when they form one.
///
/// - `condition_signal`: [`condition_signal_fraction`] for K ≥ 2. For K = 1 (one noise image
///   shared by every condition) it is not identifiable: NaN, and [`classify_representation`]
///   then decides from geometry alone; 0 when the one sample does not vary across conditions.
/// - `geometry`: order of the plain means and sheet statistics of the noise-resolved means
///   ([`ConditionGeometry`]), the values the rule reads.
/// - `means`, `single`: the full [`compute_metrics`] suite on the plain per-condition means and
///   on sample 0, with `cfg`.
///
/// Cost: K + 4 products of B×D by D×B matrices and five B×B eigendecompositions on top of the
/// two suites.
///
/// # Errors
/// No samples, samples of unequal shape, coordinates or grid that do not match B, non-finite
/// coordinates, too few conditions for the neighbourhoods (as [`compute_metrics`]: B must
/// exceed 2·max(`cfg.k`, …); the rule's own coarse neighbourhood needs B ≥ 64), or an invalid
/// `cfg`.
pub fn analyze_probe(
    samples: &[Activations],
    coords: &[[f64; 2]],
    grid: Option<(usize, usize)>,
    cfg: &MetricConfig,
) -> Result<ProbeAnalysis> {
    cfg.validate()?;
    let (condition_signal, between_variance, within_variance, geometry, means) =
        decision_statistics(samples, coords)?;
    let means = compute_metrics(&means, coords, grid, cfg)?;
    let single = compute_metrics(&samples[0], coords, grid, cfg)?;
    Ok(ProbeAnalysis {
        samples: samples.len(),
        condition_signal,
        between_variance,
        within_variance,
        geometry,
        means,
        single,
    })
}

/// Thresholds of [`classify_representation`]. `Default` holds the values calibrated on the
/// synthetic controls ([`crate::controls`]; docs/analysis.md) and frozen before the rule was
/// applied to any further real run.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RepresentationThresholds {
    /// Condition signal below which layer 4 is A: the condition explains little of it.
    /// Frozen at 0.070: the calibration grid's optimal range on the controls' calibration
    /// split was [0.055, 0.090], between the suite's 5 % and 10 % signal levels (the truth cut
    /// is 0.075 of the population value).
    pub signal_min: f64,
    /// Order score ([`ConditionGeometry::order`]) at or above which the sheet is ordered: C.
    /// Frozen at 0.810: optimal range [0.79, 0.83], between the best-ordered B control
    /// (25 % of labels deranged, 0.78) and the worst-ordered C controls (the 4-px sinusoidal
    /// encoding under noise, 0.83).
    pub order_min: f64,
    /// Largest sheet dimension ([`ConditionGeometry::sheet_dim`]) that counts as a
    /// low-dimensional sheet: B rather than A when the order fails. Frozen at 2.65: optimal
    /// range [2.60, 2.70], between noisy 2D sheets (≤ 2.56) and random codes in a 3D subspace
    /// (≥ 2.73).
    pub sheet_dim_max: f64,
    /// Smallest share of the condition signal the resolved directions must carry for the
    /// sheet to count ([`ConditionGeometry::resolved_share`]; not applied for K = 1). Frozen
    /// at 0.55: optimal range [0.15, 0.95], between full-rank random codes buried in
    /// anisotropic noise (0.10) and every B control (≥ 0.98).
    pub resolved_share_min: f64,
}

impl Default for RepresentationThresholds {
    /// The values frozen by calibration on the synthetic controls (ours; docs/analysis.md):
    /// `signal_min` 0.070, `order_min` 0.810, `sheet_dim_max` 2.65, `resolved_share_min` 0.55.
    fn default() -> Self {
        Self {
            signal_min: 0.070,
            order_min: 0.810,
            sheet_dim_max: 2.65,
            resolved_share_min: 0.55,
        }
    }
}

/// The label alone (no strings): the calibration grid search evaluates it millions of times.
pub(crate) fn phase_of(signal: f64, g: &ConditionGeometry, t: &RepresentationThresholds) -> Phase {
    let share_ok = g.resolved_share.is_nan() || g.resolved_share >= t.resolved_share_min;
    if signal < t.signal_min {
        Phase::A
    } else if g.order >= t.order_min {
        Phase::C
    } else if g.sheet_dim <= t.sheet_dim_max && share_ok {
        Phase::B
    } else {
        Phase::A
    }
}

/// [`classify_representation`] on the decision statistics alone.
pub(crate) fn classify_statistics(
    signal: f64,
    g: &ConditionGeometry,
    t: &RepresentationThresholds,
) -> Classification {
    let decided_by = vec![
        ("condition_signal".to_string(), signal),
        ("order".to_string(), g.order),
        ("sheet_dim".to_string(), g.sheet_dim),
        ("resolved_share".to_string(), g.resolved_share),
    ];
    let sheet_share_ok = g.resolved_share.is_nan() || g.resolved_share >= t.resolved_share_min;
    let signal_note = if signal.is_nan() {
        "condition signal not identifiable from one sample; geometry alone: "
    } else {
        ""
    };
    let (phase, reason) = if signal < t.signal_min {
        (
            Phase::A,
            format!(
                "the condition explains {:.1} % of the variance (< {:.1} %)",
                100.0 * signal,
                100.0 * t.signal_min
            ),
        )
    } else if g.order >= t.order_min {
        (
            Phase::C,
            format!(
                "{signal_note}ordered: neighbourhoods preserved both ways at k = {} and {} (order {:.3} ≥ {})",
                g.k, g.k_coarse, g.order, t.order_min
            ),
        )
    } else if g.sheet_dim <= t.sheet_dim_max && sheet_share_ok {
        (
            Phase::B,
            format!(
                "{signal_note}a low-dimensional sheet (dimension {:.2} ≤ {} at its flattest scale) not in the condition's order (order {:.3} < {})",
                g.sheet_dim, t.sheet_dim_max, g.order, t.order_min
            ),
        )
    } else if g.sheet_dim <= t.sheet_dim_max {
        (
            Phase::A,
            format!(
                "{signal_note}disordered, and the resolved directions carry only {:.0} % of the condition signal (< {:.0} %): no sheet resolved",
                100.0 * g.resolved_share,
                100.0 * t.resolved_share_min
            ),
        )
    } else {
        (
            Phase::A,
            format!(
                "{signal_note}disordered, and no low-dimensional sheet at any scale (dimension {:.2} > {})",
                g.sheet_dim, t.sheet_dim_max
            ),
        )
    };
    debug_assert_eq!(phase, phase_of(signal, g, t));
    Classification {
        phase,
        decided_by,
        reason,
    }
}

/// The representation rule. Each label has a geometric meaning that does not depend on how
/// the probe grid samples the sheet:
///
/// 1. **A** if the condition signal is below `signal_min`: the condition explains little of
///    layer 4 (skipped when it is not identifiable, K = 1).
/// 2. **C** if the order score is at least `order_min`: the per-condition means keep the
///    conditions' neighbourhoods, both ways, at a fine and a coarse scale — an ordered sheet,
///    however curved or folded at the grid's resolution.
/// 3. **B** if the resolved means have dimension at most `sheet_dim_max` at some scale and the
///    resolved directions carry at least `resolved_share_min` of the condition signal: a
///    low-dimensional sheet (or curve) carrying the condition, not in its order.
/// 4. **A** otherwise: no low-dimensional sheet at any scale.
///
/// `decided_by` lists `condition_signal`, `order`, `sheet_dim` and `resolved_share`.
pub fn classify_representation(p: &ProbeAnalysis, t: &RepresentationThresholds) -> Classification {
    classify_statistics(p.condition_signal, &p.geometry, t)
}
