//! The records a run writes: one [`EvalRecord`] per evaluated checkpoint (`metrics.jsonl`) and a
//! [`RunSummary`] (`summary.json`). The field names are the documented JSON schema
//! (docs/outputs.md); tests validate written files against it.
//!
//! Records read back from their files equal, bit for bit, the records [`crate::train::run`]
//! returned: every crate of the workspace parses JSON with serde_json's `float_roundtrip`
//! (tests/records_roundtrip.rs, and the consumer crate in `.ci/consumer`, checks it).
//!
//! One name per metric: the record's [`EvalRecord::order_rho`] (the classifiers' ρ) and
//! [`EvalRecord::twonn_multiscale_dim`] are named as in `representation`; fields renamed since
//! earlier runs keep their old names as serde aliases, so older `metrics.jsonl` files still read.

use crate::config::EvalWeights;
use bump_analysis::Phase;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// serde_json's untyped JSON value, the type of [`EvalRecord::representation`] and
/// [`RunSummary::config`] (re-exported so users need no serde_json of their own).
pub use serde_json::Value;

/// serde_json writes a NaN `f64` as `null` (JSON has no NaN); this reads `null` back as NaN, so
/// a record with a metric that could not be measured (e.g. a Spearman ρ on a disconnected
/// k-NN graph, or a ratio over zero samples) survives its own file. Numbers read exactly.
fn f64_or_nan<'de, D: serde::Deserializer<'de>>(d: D) -> std::result::Result<f64, D::Error> {
    Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::NAN))
}

/// One evaluated checkpoint: a line of `metrics.jsonl`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvalRecord {
    /// Completed optimiser updates.
    pub step: u64,
    /// Mean training loss over the updates since the previous record (NaN-free; 0 at step 0).
    #[serde(deserialize_with = "f64_or_nan")]
    pub train_loss: f64,
    /// Which weights were evaluated (`"raw"` or `"ema"` in JSON).
    pub weights: EvalWeights,
    /// Fraction of samples with one bump within τ of the target on both axes.
    #[serde(deserialize_with = "f64_or_nan")]
    pub accuracy: f64,
    /// Fraction with one bump and |x̂ − μx| ≤ τ.
    #[serde(deserialize_with = "f64_or_nan")]
    pub acc_x: f64,
    /// Fraction with one bump and |ŷ − μy| ≤ τ.
    #[serde(deserialize_with = "f64_or_nan")]
    pub acc_y: f64,
    /// Accuracy at the tight tolerance (τ = 0.5 px by default).
    #[serde(deserialize_with = "f64_or_nan")]
    pub accuracy_tight: f64,
    /// Fraction of samples with two or more bumps.
    #[serde(deserialize_with = "f64_or_nan")]
    pub multi_bump_rate: f64,
    /// Fraction of samples with no bump.
    #[serde(deserialize_with = "f64_or_nan")]
    pub empty_rate: f64,
    /// Fraction with a single bump at the wrong place.
    #[serde(deserialize_with = "f64_or_nan")]
    pub single_wrong_rate: f64,
    /// Fraction with one detected bump that does not look like a bump (width or amplitude out
    /// of range; never counted correct).
    #[serde(deserialize_with = "f64_or_nan")]
    pub malformed_rate: f64,
    /// Between-condition share of layer 4's variance under the main probe (K independent inputs
    /// per condition; bias-corrected, docs/analysis.md).
    #[serde(deserialize_with = "f64_or_nan")]
    pub condition_signal: f64,
    /// The paper's protocol: OLS R² from the 3D UMAP of layer 4 (main probe, per-condition
    /// means) to the true x.
    #[serde(deserialize_with = "f64_or_nan")]
    pub umap_r2_x: f64,
    /// The same to the true y.
    #[serde(deserialize_with = "f64_or_nan")]
    pub umap_r2_y: f64,
    /// Generation-side phase from the failure mix.
    pub gen_phase: Phase,
    /// Representation-side phase from the layer-4 metrics.
    pub rep_phase: Phase,
    /// Cross-validated ridge-probe R² for μx from layer 4.
    #[serde(deserialize_with = "f64_or_nan")]
    pub r2_x: f64,
    /// Cross-validated ridge-probe R² for μy from layer 4.
    #[serde(deserialize_with = "f64_or_nan")]
    pub r2_y: f64,
    /// Trustworthiness T(k) between true centres and layer-4 activations.
    #[serde(deserialize_with = "f64_or_nan")]
    pub trustworthiness: f64,
    /// Continuity C(k).
    #[serde(deserialize_with = "f64_or_nan")]
    pub continuity: f64,
    /// Spearman ρ between true distances and layer-4 geodesic (k-NN graph) distances, or the
    /// Euclidean one when the graph is disconnected: [`bump_analysis::order_rho`], the ρ the
    /// legacy classifier uses. `representation` holds both, as `spearman_geodesic` and
    /// `spearman_euclidean`. Written as `spearman` before issue 17; that name still reads.
    #[serde(alias = "spearman", deserialize_with = "f64_or_nan")]
    pub order_rho: f64,
    /// Multiscale TwoNN intrinsic dimension of layer 4 (mean over n₁ = 3…6 of the r₂ₙ₁/rₙ₁
    /// estimate, [`bump_analysis::twonn_multiscale`]; plain TwoNN, `twonn_dim` in
    /// `representation`, reads about twice as high on lattice-sampled points). Written as
    /// `intrinsic_dim` before issue 17; that name still reads.
    #[serde(alias = "intrinsic_dim", deserialize_with = "f64_or_nan")]
    pub twonn_multiscale_dim: f64,
    /// Participation ratio of the layer-4 PCA spectrum.
    #[serde(deserialize_with = "f64_or_nan")]
    pub participation_ratio: f64,
    /// Wall-clock seconds since the run started (training + evaluation).
    #[serde(deserialize_with = "f64_or_nan")]
    pub wall_s: f64,
    /// Every representation metric of the main probe's per-condition means, by name (the
    /// fields of [`bump_analysis::RepresentationMetrics`]), plus `rep_decided_by` (the
    /// representation rule's [`bump_analysis::Classification`]) and `probes` (per probe: name,
    /// kind, timestep, `condition_signal`, `label`, and the metrics of its `means` and of one
    /// `single` sample). Kept as JSON, so a record reads back equal to what was written (NaN
    /// values, e.g. the shared-noise probe's condition signal, are `null` here); read it typed
    /// with [`EvalRecord::representation_typed`]. docs/outputs.md lists the keys.
    pub representation: Value,
    /// Per-axis measurements (errors, accuracy at each axis's own tolerance, factorization).
    /// Absent from records written before they existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub axes: Option<AxisMetrics>,
    /// Scores of the further evaluation sets (`eval.sets`), by name. Empty (and absent from
    /// the JSON) without such sets.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub sets: BTreeMap<String, SetScore>,
    /// Topology of layer 4 (`eval.topology`); absent without it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topology: Option<TopologyRecord>,
}

impl EvalRecord {
    /// [`EvalRecord::representation`], typed. Records of every version read: renamed metrics
    /// through their serde aliases, `null` as NaN.
    ///
    /// # Errors
    /// The JSON error when `representation` lacks a key or holds a value of the wrong type
    /// (e.g. a hand-made record with an empty `representation`).
    pub fn representation_typed(&self) -> serde_json::Result<RepresentationRecord> {
        RepresentationRecord::deserialize(&self.representation)
    }
}

/// The typed form of [`EvalRecord::representation`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RepresentationRecord {
    /// Every metric of the main probe's per-condition means.
    #[serde(flatten)]
    pub metrics: bump_analysis::RepresentationMetrics,
    /// The representation rule's label of the main probe, and the values that decided it.
    pub rep_decided_by: bump_analysis::Classification,
    /// Every probe's outcome, by name (`noise_t999`, `real_t500`, `shared_t999`, …).
    pub probes: BTreeMap<String, ProbeRecord>,
}

/// One probe's outcome at one checkpoint, as `representation.probes` holds it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProbeRecord {
    /// The probe's name.
    pub name: String,
    /// The input family.
    pub kind: crate::probe::ProbeKind,
    /// The timestep at which layer 4 was read.
    pub timestep: u32,
    /// Between-condition share of layer 4's variance (NaN, `null` in JSON, with one input per
    /// condition).
    #[serde(deserialize_with = "f64_or_nan")]
    pub condition_signal: f64,
    /// The representation label under this probe.
    pub label: bump_analysis::Classification,
    /// Metrics of the per-condition means.
    pub means: bump_analysis::RepresentationMetrics,
    /// Metrics of one sample per condition.
    pub single: bump_analysis::RepresentationMetrics,
}

/// The topology of the main probe's per-condition means at one checkpoint (docs/followup.md):
/// torus statistics of the difference vectors on the periodic grid, their distances to the
/// ideal 4D Clifford and 3D tori built on the same grid, and Rips persistence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TopologyRecord {
    /// Mean W1 distance of the cosine distributions to the Clifford torus's (0 = identical).
    #[serde(deserialize_with = "f64_or_nan")]
    pub clifford_distance: f64,
    /// The same to the 3D torus (the nearer assignment of x and y to its circles).
    #[serde(deserialize_with = "f64_or_nan")]
    pub torus_3d_distance: f64,
    /// Whether that assignment puts x on the tube circle.
    pub torus_3d_x_on_tube: bool,
    /// Mean |cos| between x- and y-difference vectors (0 on a Clifford torus).
    #[serde(deserialize_with = "f64_or_nan")]
    pub x_on_y_mean_abs: f64,
    /// Mean cos between x-difference vectors.
    #[serde(deserialize_with = "f64_or_nan")]
    pub x_on_x_mean: f64,
    /// Mean cos between y-difference vectors.
    #[serde(deserialize_with = "f64_or_nan")]
    pub y_on_y_mean: f64,
    /// Prominent `[H0, H1]` features (2 H1 loops on a torus).
    pub prominent: [usize; 2],
    /// The filtration's scale (enclosing radius of the points used).
    #[serde(deserialize_with = "f64_or_nan")]
    pub scale: f64,
    /// The ten most persistent finite H1 bars `[birth, death]`.
    pub h1: Vec<[f64; 2]>,
    /// The ten most persistent finite H0 bars `[birth, death]`.
    pub h0: Vec<[f64; 2]>,
}

/// Generation scores of one evaluation set at one checkpoint (same definitions as the record's
/// own fields, on that set's conditions; for a set whose target is `sum_of_stripes` see
/// [`SetScore::of_sos`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SetScore {
    /// Conditions in the set.
    pub count: usize,
    /// One well-formed bump within τ (1 px) on both axes.
    #[serde(deserialize_with = "f64_or_nan")]
    pub accuracy: f64,
    /// One well-formed bump within τ along x.
    #[serde(deserialize_with = "f64_or_nan")]
    pub acc_x: f64,
    /// One well-formed bump within τ along y.
    #[serde(deserialize_with = "f64_or_nan")]
    pub acc_y: f64,
    /// Accuracy at the tight tolerance (0.5 px).
    #[serde(deserialize_with = "f64_or_nan")]
    pub accuracy_tight: f64,
    /// Two or more bumps.
    #[serde(deserialize_with = "f64_or_nan")]
    pub multi_bump_rate: f64,
    /// No bump.
    #[serde(deserialize_with = "f64_or_nan")]
    pub empty_rate: f64,
    /// One well-formed bump at the wrong place.
    #[serde(deserialize_with = "f64_or_nan")]
    pub single_wrong_rate: f64,
    /// One bump that does not look like the data's.
    #[serde(deserialize_with = "f64_or_nan")]
    pub malformed_rate: f64,
    /// Mean |x̂ − μx| over single-bump samples (pixels); `None` without any.
    pub err_x: Option<f64>,
    /// Mean |ŷ − μy| over single-bump samples (pixels); `None` without any.
    pub err_y: Option<f64>,
}

impl SetScore {
    /// The summary of an SOS scorer report, in the bump vocabulary: `multi_bump_rate` holds
    /// the wrong-stripe-count rate, `single_wrong_rate` the right count with a stripe outside
    /// τ (misplaced), and `err_x`/`err_y` the mean stripe-position errors.
    pub fn of_sos(r: &bump_data::SosReport) -> Self {
        Self {
            count: r.count,
            accuracy: r.accuracy,
            acc_x: r.acc_x,
            acc_y: r.acc_y,
            accuracy_tight: r.accuracy_tight,
            multi_bump_rate: r.wrong_count_rate,
            empty_rate: r.empty_rate,
            single_wrong_rate: r.misplaced_rate,
            malformed_rate: r.malformed_rate,
            err_x: r.mean_abs_dx,
            err_y: r.mean_abs_dy,
        }
    }

    /// The generation label of this score: [`bump_analysis::classify_generation`] with its
    /// default thresholds on the score's failure mix (the rule every record and set uses).
    pub fn classify_generation(&self) -> bump_analysis::Classification {
        bump_analysis::classify_generation(
            &bump_analysis::GenerationMix {
                accuracy: self.accuracy,
                multi_bump_rate: self.multi_bump_rate,
                empty_rate: self.empty_rate,
                single_wrong_rate: self.single_wrong_rate,
            },
            &bump_analysis::GenerationThresholds::default(),
        )
    }

    /// The summary of a scorer report.
    pub fn of(r: &bump_data::ScoreReport) -> Self {
        Self {
            count: r.count,
            accuracy: r.accuracy,
            acc_x: r.acc_x,
            acc_y: r.acc_y,
            accuracy_tight: r.accuracy_tight,
            multi_bump_rate: r.multi_bump_rate,
            empty_rate: r.empty_rate,
            single_wrong_rate: r.single_wrong_rate,
            malformed_rate: r.malformed_rate,
            err_x: r.mean_abs_dx,
            err_y: r.mean_abs_dy,
        }
    }
}

/// Per-axis measurements of one checkpoint: what the imbalance experiment compares between x
/// and y (docs/imbalance.md). Errors need no tolerance; the accuracies use half of each axis's
/// training spacing, so a bump at the neighbouring training value along that axis is rejected.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AxisMetrics {
    /// Fraction of samples with exactly one bump (malformed included): the population of the
    /// mean errors.
    #[serde(deserialize_with = "f64_or_nan")]
    pub single_share: f64,
    /// Mean |x̂ − μx| (pixels) over single-bump samples; `None` when there are none.
    pub err_x: Option<f64>,
    /// Mean |ŷ − μy| (pixels) over single-bump samples; `None` when there are none.
    pub err_y: Option<f64>,
    /// The per-axis tolerances `[τx, τy]` of `acc_half_*`: half the training spacings dx, dy.
    pub tau_half: [f64; 2],
    /// Fraction of all samples with one well-formed bump and |x̂ − μx| ≤ τx.
    #[serde(deserialize_with = "f64_or_nan")]
    pub acc_half_x: f64,
    /// Fraction of all samples with one well-formed bump and |ŷ − μy| ≤ τy.
    #[serde(deserialize_with = "f64_or_nan")]
    pub acc_half_y: f64,
    /// Factorization of the main probe's per-condition means on the evaluation grid (principal
    /// angles between the x- and y-difference subspaces, metric off-diagonal, parallelogram
    /// error); `None` when the evaluation centres are not a grid of at least 3 × 3.
    pub factorization: Option<bump_analysis::FactorizationMetrics>,
}

/// Step at which each phase was first observed.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PhaseOnsets {
    /// First step labelled A.
    pub a: Option<u64>,
    /// First step labelled B.
    pub b: Option<u64>,
    /// First step labelled C.
    pub c: Option<u64>,
}

impl PhaseOnsets {
    /// Records `phase` at `step` if it is the first sighting.
    pub fn observe(&mut self, phase: Phase, step: u64) {
        let slot = match phase {
            Phase::A => &mut self.a,
            Phase::B => &mut self.b,
            Phase::C => &mut self.c,
        };
        if slot.is_none() {
            *slot = Some(step);
        }
    }

    /// Onsets computed from a list of (phase, step) observations in step order.
    pub fn from_records<'a>(records: impl IntoIterator<Item = (&'a Phase, u64)>) -> Self {
        let mut out = Self::default();
        for (p, s) in records {
            out.observe(*p, s);
        }
        out
    }
}

/// `summary.json`: the whole run at a glance.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunSummary {
    /// The full experiment configuration.
    pub config: serde_json::Value,
    /// The master seed.
    pub seed: u64,
    /// Completed optimiser updates.
    pub steps: u64,
    /// Total wall-clock seconds (this process; a resumed run adds the earlier part).
    #[serde(deserialize_with = "f64_or_nan")]
    pub wall_s: f64,
    /// Accuracy at the last evaluated checkpoint.
    #[serde(deserialize_with = "f64_or_nan")]
    pub final_accuracy: f64,
    /// Representation phase at the last evaluated checkpoint.
    pub final_rep_phase: Phase,
    /// Generation phase at the last evaluated checkpoint.
    pub final_gen_phase: Phase,
    /// First step at which each representation phase appeared.
    pub rep_phase_onsets: PhaseOnsets,
    /// First step at which each generation phase appeared.
    pub gen_phase_onsets: PhaseOnsets,
    /// Fraction of checkpoints where the two phase labels agree.
    #[serde(deserialize_with = "f64_or_nan")]
    pub phase_agreement: f64,
    /// Model parameter count.
    pub parameters: usize,
    /// Path of the final checkpoint.
    pub final_checkpoint: String,
}
