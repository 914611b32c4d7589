//! The coupling statistic: when does each axis become accurate, and do the two axes of one run
//! get there together?
//!
//! For each run and axis, two onsets are read from `metrics.jsonl` (interpolated linearly between
//! the two checkpoints that bracket the crossing, so a curve shifted by s steps has its onset
//! shifted by exactly s):
//! - the **error onset**: the first step at which the axis's mean absolute centre error falls to
//!   `error_fraction` × its reference value (the error at the first checkpoint where it is
//!   measurable, else the error of a uniformly random guess);
//! - the **accuracy onset**: the first step at which the axis's accuracy at 1 px reaches
//!   `accuracy_level`.
//!
//! The run's normalised onset difference is Δ = (onset_dense − onset_sparse) / mean of the two
//! (the dense axis is the one with the smaller training spacing; x on a balanced set). Across
//! seeds, Δ gets a Student-t interval (the verdict) and a percentile bootstrap interval.

use crate::record::EvalRecord;
use crate::{Error, Result};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// An image axis.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Axis {
    /// Horizontal (columns).
    X,
    /// Vertical (rows).
    Y,
}

impl Axis {
    /// 0 for x, 1 for y.
    pub fn index(self) -> usize {
        match self {
            Self::X => 0,
            Self::Y => 1,
        }
    }

    /// The other axis.
    pub fn other(self) -> Self {
        match self {
            Self::X => Self::Y,
            Self::Y => Self::X,
        }
    }

    /// The axis with the smaller training spacing (x on a tie).
    pub fn dense(dx: f64, dy: f64) -> Self {
        if dy < dx {
            Self::Y
        } else {
            Self::X
        }
    }
}

impl std::fmt::Display for Axis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::X => "x",
            Self::Y => "y",
        })
    }
}

/// The rule's constants (ours; docs/imbalance.md).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CouplingConfig {
    /// The error onset is where the error reaches this fraction of its reference (0.25).
    pub error_fraction: f64,
    /// The accuracy onset is where the 1-px accuracy of the axis reaches this level (0.5).
    pub accuracy_level: f64,
    /// An error is measurable at a checkpoint only when at least this fraction of samples has
    /// exactly one bump (0.25); otherwise the mean is over too few, and biased, samples.
    pub min_single_share: f64,
    /// Confidence level of the intervals (0.95).
    pub confidence: f64,
    /// Bootstrap resamples of the across-seed interval (10,000).
    pub bootstrap: usize,
    /// Seed of the bootstrap.
    pub bootstrap_seed: u64,
}

impl Default for CouplingConfig {
    /// The values on each field (ours; docs/imbalance.md): error onset at 25 % of its
    /// reference, accuracy level 0.5, single share 0.25, 95 % intervals, 10,000 bootstrap
    /// resamples with seed 0.
    fn default() -> Self {
        Self {
            error_fraction: 0.25,
            accuracy_level: 0.5,
            min_single_share: 0.25,
            confidence: 0.95,
            bootstrap: 10_000,
            bootstrap_seed: 0,
        }
    }
}

impl CouplingConfig {
    /// Checks every constant; messages name the key under `prefix`.
    pub fn validate(&self, prefix: &str) -> Result<()> {
        let open01 = |key: &str, v: f64| {
            if v.is_finite() && v > 0.0 && v < 1.0 {
                Ok(())
            } else {
                Err(Error::Config(format!(
                    "{prefix}.{key} must lie in (0, 1), got {v}"
                )))
            }
        };
        open01("error_fraction", self.error_fraction)?;
        open01("accuracy_level", self.accuracy_level)?;
        open01("confidence", self.confidence)?;
        if !(self.min_single_share.is_finite() && (0.0..=1.0).contains(&self.min_single_share)) {
            return Err(Error::Config(format!(
                "{prefix}.min_single_share must lie in [0, 1], got {}",
                self.min_single_share
            )));
        }
        if self.bootstrap == 0 {
            return Err(Error::Config(format!(
                "{prefix}.bootstrap must be > 0, got 0"
            )));
        }
        Ok(())
    }
}

/// One axis's learning curve, read from a run's records.
#[derive(Debug, Clone, PartialEq)]
pub struct AxisCurve {
    /// Checkpoint steps, increasing.
    pub steps: Vec<f64>,
    /// Mean absolute error (pixels) at each step; `None` where not measurable.
    pub error: Vec<Option<f64>>,
    /// Accuracy at 1 px at each step.
    pub accuracy: Vec<f64>,
}

impl AxisCurve {
    /// The curve of `axis` in `records` (step order). Errors count only where at least
    /// `min_single_share` of the samples had one bump; records without per-axis metrics have
    /// no measurable error.
    pub fn from_records(records: &[EvalRecord], axis: Axis, min_single_share: f64) -> Self {
        let mut sorted: Vec<&EvalRecord> = records.iter().collect();
        sorted.sort_by_key(|r| r.step);
        let error = sorted
            .iter()
            .map(|r| {
                r.axes.as_ref().and_then(|a| {
                    let e = [a.err_x, a.err_y][axis.index()];
                    (a.single_share >= min_single_share).then_some(e).flatten()
                })
            })
            .collect();
        Self {
            steps: sorted.iter().map(|r| r.step as f64).collect(),
            error,
            accuracy: sorted
                .iter()
                .map(|r| [r.acc_x, r.acc_y][axis.index()])
                .collect(),
        }
    }
}

/// The first step at which `values` reaches `level` from the given side, interpolated linearly
/// between the bracketing checkpoints; `None` if it never does. A missing value counts as not
/// reached (and is not interpolated from).
pub fn first_crossing(
    steps: &[f64],
    values: &[Option<f64>],
    level: f64,
    direction: Crossing,
) -> Option<f64> {
    let reached = |v: f64| match direction {
        Crossing::Below => v <= level,
        Crossing::Above => v >= level,
    };
    let i = values.iter().position(|v| v.is_some_and(reached))?;
    let (s1, v1) = (steps[i], values[i]?);
    match i
        .checked_sub(1)
        .and_then(|j| values[j].map(|v0| (steps[j], v0)))
    {
        Some((s0, v0)) if v0 != v1 => Some(s0 + (s1 - s0) * (v0 - level) / (v0 - v1)),
        _ => Some(s1),
    }
}

/// Which way a curve crosses its level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Crossing {
    /// Falling to the level or below (errors).
    Below,
    /// Rising to the level or above (accuracies).
    Above,
}

/// The two onsets of one axis.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct AxisOnsets {
    /// The error the error onset is relative to (pixels).
    pub reference_error: f64,
    /// Whether `reference_error` was measured at the first checkpoint (`false`: no error was
    /// measurable there, and the uniform-guess error was used).
    pub reference_measured: bool,
    /// First step with error ≤ `error_fraction` × reference; `None`: not reached.
    pub error: Option<f64>,
    /// First step with 1-px accuracy ≥ `accuracy_level`; `None`: not reached.
    pub accuracy: Option<f64>,
}

/// The mean |U − μ| of a uniform guess U on `[0, extent)` over the targets μ: the error of a
/// model that puts its one bump anywhere.
pub fn chance_error(targets: &[f64], extent: f64) -> f64 {
    if targets.is_empty() || extent <= 0.0 {
        return f64::NAN;
    }
    let e = |m: f64| (m * m + (extent - m) * (extent - m)) / (2.0 * extent);
    targets.iter().map(|&m| e(m)).sum::<f64>() / targets.len() as f64
}

impl AxisOnsets {
    /// The onsets of one axis's curve; `chance` is the error used as reference when the first
    /// checkpoint has no measurable error.
    pub fn of(curve: &AxisCurve, chance: f64, cfg: &CouplingConfig) -> Self {
        let first = curve.error.first().copied().flatten();
        let reference_error = first.unwrap_or(chance);
        let accuracy: Vec<Option<f64>> = curve.accuracy.iter().map(|&a| Some(a)).collect();
        Self {
            reference_error,
            reference_measured: first.is_some(),
            error: first_crossing(
                &curve.steps,
                &curve.error,
                cfg.error_fraction * reference_error,
                Crossing::Below,
            ),
            accuracy: first_crossing(&curve.steps, &accuracy, cfg.accuracy_level, Crossing::Above),
        }
    }
}

/// (onset_dense − onset_sparse) / mean of the two; `None` if either is missing or both are 0.
pub fn normalised_difference(dense: Option<f64>, sparse: Option<f64>) -> Option<f64> {
    let (d, s) = (dense?, sparse?);
    let mean = 0.5 * (d + s);
    (mean > 0.0).then(|| (d - s) / mean)
}

/// One run's onsets and normalised differences.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunCoupling {
    /// Dataset name (`imbalanced`, `mirror`, `balanced`, …).
    pub dataset: String,
    /// Master seed of the run.
    pub seed: u64,
    /// The axis with the smaller training spacing.
    pub dense_axis: Axis,
    /// Onsets along x.
    pub x: AxisOnsets,
    /// Onsets along y.
    pub y: AxisOnsets,
    /// Δ from the error onsets.
    pub delta_error: Option<f64>,
    /// Δ from the accuracy onsets.
    pub delta_accuracy: Option<f64>,
}

impl RunCoupling {
    /// Onsets and Δ of one run. `chance` is the uniform-guess error per axis
    /// ([`chance_error`] over the evaluation centres).
    pub fn of(
        dataset: &str,
        seed: u64,
        dense_axis: Axis,
        records: &[EvalRecord],
        chance: [f64; 2],
        cfg: &CouplingConfig,
    ) -> Self {
        let onsets = |axis: Axis| {
            let curve = AxisCurve::from_records(records, axis, cfg.min_single_share);
            AxisOnsets::of(&curve, chance[axis.index()], cfg)
        };
        let (x, y) = (onsets(Axis::X), onsets(Axis::Y));
        let (dense, sparse) = match dense_axis {
            Axis::X => (x, y),
            Axis::Y => (y, x),
        };
        Self {
            dataset: dataset.to_string(),
            seed,
            dense_axis,
            x,
            y,
            delta_error: normalised_difference(dense.error, sparse.error),
            delta_accuracy: normalised_difference(dense.accuracy, sparse.accuracy),
        }
    }
}

/// What an interval of Δ says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// The interval covers 0: no detectable difference between the axes.
    Coupled,
    /// The interval lies below 0: the densely tiled axis is learned first.
    DenseFirst,
    /// The interval lies above 0: the sparsely tiled axis is learned first.
    SparseFirst,
    /// Fewer than two runs reached both onsets.
    Undetermined,
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Coupled => "coupled",
            Self::DenseFirst => "dense axis first",
            Self::SparseFirst => "sparse axis first",
            Self::Undetermined => "undetermined",
        })
    }
}

/// Across-seed summary of Δ.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeltaSummary {
    /// Runs with both onsets.
    pub n: usize,
    /// Runs without both onsets (an axis never reached its level).
    pub missing: usize,
    /// Mean Δ (`None` when n = 0).
    pub mean: Option<f64>,
    /// Sample standard deviation (`None` when n < 2).
    pub sd: Option<f64>,
    /// Student-t interval of the mean at the configured confidence (`None` when n < 2).
    pub t_interval: Option<[f64; 2]>,
    /// Percentile bootstrap interval of the mean over runs (`None` when n < 2; coarse for few
    /// seeds: three values have ten distinct resamples).
    pub bootstrap_interval: Option<[f64; 2]>,
    /// From the t interval.
    pub verdict: Verdict,
}

impl DeltaSummary {
    /// Summarises per-run Δ values (`None`: that run missed an onset).
    pub fn of(deltas: &[Option<f64>], cfg: &CouplingConfig) -> Result<Self> {
        let values: Vec<f64> = deltas.iter().flatten().copied().collect();
        let n = values.len();
        let missing = deltas.len() - n;
        let spread = crate::experiment::Spread::of(&values, cfg.confidence)?;
        let mean = spread.mean;
        let (Some(sd), Some(t_interval)) = (spread.sd, spread.interval) else {
            // Fewer than two values: no spread, no interval, no verdict.
            return Ok(Self {
                n,
                missing,
                mean,
                sd: None,
                t_interval: None,
                bootstrap_interval: None,
                verdict: Verdict::Undetermined,
            });
        };
        let verdict = if t_interval[1] < 0.0 {
            Verdict::DenseFirst
        } else if t_interval[0] > 0.0 {
            Verdict::SparseFirst
        } else {
            Verdict::Coupled
        };
        Ok(Self {
            n,
            missing,
            mean,
            sd: Some(sd),
            t_interval: Some(t_interval),
            bootstrap_interval: Some(bootstrap_mean_interval(&values, cfg)),
            verdict,
        })
    }
}

/// Percentile interval of the mean of `values` under resampling with replacement.
fn bootstrap_mean_interval(values: &[f64], cfg: &CouplingConfig) -> [f64; 2] {
    let mut rng = ChaCha8Rng::seed_from_u64(cfg.bootstrap_seed);
    let n = values.len();
    let mut means: Vec<f64> = (0..cfg.bootstrap)
        .map(|_| (0..n).map(|_| values[rng.random_range(0..n)]).sum::<f64>() / n as f64)
        .collect();
    means.sort_by(f64::total_cmp);
    let alpha = (1.0 - cfg.confidence) / 2.0;
    let at = |q: f64| means[((q * (means.len() - 1) as f64).round() as usize).min(means.len() - 1)];
    [at(alpha), at(1.0 - alpha)]
}

/// Across-seed summary of one dataset.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DatasetCoupling {
    /// Dataset name.
    pub dataset: String,
    /// Training spacings `[dx, dy]`.
    pub spacing: [f64; 2],
    /// The axis with the smaller spacing.
    pub dense_axis: Axis,
    /// Δ from the error onsets.
    pub delta_error: DeltaSummary,
    /// Δ from the accuracy onsets.
    pub delta_accuracy: DeltaSummary,
    /// Mean error onset of x and y over the runs that reached it.
    pub mean_error_onset: [Option<f64>; 2],
    /// Mean accuracy onset of x and y over the runs that reached it.
    pub mean_accuracy_onset: [Option<f64>; 2],
}

impl DatasetCoupling {
    /// Summarises the runs of one dataset.
    pub fn of(
        dataset: &str,
        spacing: [f64; 2],
        runs: &[RunCoupling],
        cfg: &CouplingConfig,
    ) -> Result<Self> {
        let mean_of = |f: &dyn Fn(&RunCoupling) -> Option<f64>| {
            let v: Vec<f64> = runs.iter().filter_map(f).collect();
            (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
        };
        Ok(Self {
            dataset: dataset.to_string(),
            spacing,
            dense_axis: Axis::dense(spacing[0], spacing[1]),
            delta_error: DeltaSummary::of(
                &runs.iter().map(|r| r.delta_error).collect::<Vec<_>>(),
                cfg,
            )?,
            delta_accuracy: DeltaSummary::of(
                &runs.iter().map(|r| r.delta_accuracy).collect::<Vec<_>>(),
                cfg,
            )?,
            mean_error_onset: [mean_of(&|r| r.x.error), mean_of(&|r| r.y.error)],
            mean_accuracy_onset: [mean_of(&|r| r.x.accuracy), mean_of(&|r| r.y.accuracy)],
        })
    }
}
