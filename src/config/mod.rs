//! Experiment configuration: data, model, diffusion, training and evaluation.
//!
//! An [`ExperimentConfig`] is made of the leaf crates' own configuration types — the dataset is a
//! [`bump_data::DatasetConfig`], the model a [`bump_unet::UNetConfig`], the noise schedule a
//! [`bump_diffusion::ScheduleConfig`], the evaluation sampler a
//! [`bump_diffusion::SamplerConfig`] and the evaluation centres a [`bump_data::CentreSet`] — plus
//! the facade's [`TrainConfig`] and [`EvalConfig`].
//!
//! Configurations read and write TOML and JSON ([`ExperimentConfig::from_toml_str`],
//! [`ExperimentConfig::to_toml_string`], [`ExperimentConfig::load`], …), take `path=value`
//! overrides ([`ExperimentConfig::apply_overrides`]), and reject unknown keys, wrong types and
//! out-of-range values with messages that name the key. The presets are TOML files under
//! `configs/`, embedded in the library ([`Preset`]). Which defaults come from the papers and which
//! are ours: docs/conventions.md and the comments in `configs/*.toml`.

mod overrides;
mod preset;

pub use overrides::Override;
pub use preset::Preset;

use crate::optim::{AdamWConfig, LrDecay, LrSchedule};
pub use crate::probe::ProbeConfig;
use crate::schedule::CheckpointSchedule;
use crate::{Error, Result};
use bump_data::{CentreSet, DatasetConfig, Pattern};
use bump_diffusion::SamplerConfig;
use serde::{Deserialize, Serialize};

/// Which weights an evaluation uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EvalWeights {
    /// The optimiser's current weights.
    Raw,
    /// The exponential moving average.
    Ema,
}

impl EvalWeights {
    /// `"raw"` or `"ema"`, as written in records and config files.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Raw => "raw",
            Self::Ema => "ema",
        }
    }
}

impl std::fmt::Display for EvalWeights {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Evaluation at each checkpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvalConfig {
    /// Raw or EMA weights.
    pub weights: EvalWeights,
    /// Sampler for the generated images (bump-diffusion's own description).
    pub sampler: SamplerConfig,
    /// The evaluation conditions: a grid of centres, optionally off-lattice or restricted to a
    /// region (bump-data's own description). Default: every 2 px from 1 px (ours).
    pub centres: CentreSet,
    /// What the layer-4 probe shows the model ([`ProbeConfig`]).
    pub probe: ProbeConfig,
    /// Thresholds of the representation rule (default: the values frozen on the synthetic
    /// controls, docs/analysis.md; change them only to study the rule, e.g. with the
    /// `evaluate` example).
    #[serde(default)]
    pub classifier: bump_analysis::RepresentationThresholds,
    /// The paper's UMAP protocol (default: n_neighbors 15, min_dist 0.1, 3D, seed 1234, the
    /// seed runs written before this key existed used).
    #[serde(default = "default_umap")]
    pub umap: bump_analysis::UmapConfig,
    /// Seed of the sampler noise and of the shared probe noise image.
    pub seed: u64,
    /// Neighbourhood size k for the representation metrics.
    pub k: usize,
    /// Number of checkpoints to show as samples and embeddings in the report.
    pub snapshots: usize,
    /// Further sets of conditions sampled and scored at every checkpoint (generation only; the
    /// representation is read on `centres`), e.g. a held-out region and off-lattice points.
    /// Default none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sets: Vec<EvalSet>,
    /// Topology of layer 4 at every checkpoint (torus statistics against the ideal 3D and
    /// Clifford tori, Rips persistence), for periodic data; needs `centres` to be a full grid
    /// whose spacings divide the canvas. Default none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topology: Option<TopologyConfig>,
}

/// Settings of the per-checkpoint topology analysis (`EvalRecord::topology`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TopologyConfig {
    /// Rips persistence of the layer-4 means (subsampling above `max_points`).
    #[serde(default)]
    pub rips: bump_analysis::RipsConfig,
    /// Which bars count as prominent.
    #[serde(default)]
    pub prominence: bump_analysis::ProminenceRule,
    /// Histogram and quantile resolution of the torus statistics.
    #[serde(default)]
    pub stats: bump_analysis::TorusStatsConfig,
}

/// A named set of evaluation conditions scored at every checkpoint (`EvalRecord::sets`).
///
/// ```toml
/// [[eval.sets]]
/// name = "held_out"
/// centres = { dx = 1.0, dy = 1.0, region = { inside = { rect = { x = { lo = 12.0, hi = 20.0 }, y = { lo = 12.0, hi = 20.0 } } } } }
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvalSet {
    /// Name (letters, digits, `-`, `_`): the key of its scores in the records.
    pub name: String,
    /// The conditions.
    pub centres: CentreSet,
    /// What the model should draw at these conditions, and so which scorer judges it: `bump`
    /// (the bump scorer; default) or `sum_of_stripes` (bump-data's SOS scorer, matched to the
    /// rendering with `StripeScoreConfig::for_render`).
    #[serde(default, skip_serializing_if = "is_bump")]
    pub target: Pattern,
}

fn is_bump(p: &Pattern) -> bool {
    *p == Pattern::Bump
}

impl EvalSet {
    /// A named set of centres, scored as bumps.
    pub fn new(name: &str, centres: CentreSet) -> Self {
        Self {
            name: name.into(),
            centres,
            target: Pattern::Bump,
        }
    }

    /// Scores the set as `target` instead (`bump` or `sum_of_stripes`).
    pub fn with_target(mut self, target: Pattern) -> Self {
        self.target = target;
        self
    }
}

/// Whether `name` is usable as a key and a directory-name component.
pub(crate) fn is_plain_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

fn default_umap() -> bump_analysis::UmapConfig {
    bump_analysis::UmapConfig::default().with_seed(1234)
}

/// Optimisation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainConfig {
    /// Optimiser updates.
    pub steps: u64,
    /// Images per update.
    pub batch: usize,
    /// Peak learning rate.
    pub lr: f64,
    /// Linear warm-up steps.
    pub warmup: u64,
    /// After warm-up.
    pub decay: LrDecay,
    /// AdamW settings.
    pub adamw: AdamWConfig,
    /// Global gradient-norm clip (0 disables).
    pub grad_clip: f64,
    /// EMA decay.
    pub ema_decay: f64,
    /// Master seed: weights, shuffling, timesteps and noise all derive from it.
    pub seed: u64,
    /// Which steps get a checkpoint and an evaluation.
    pub checkpoints: CheckpointSchedule,
}

impl TrainConfig {
    /// The learning-rate schedule these settings describe.
    pub fn lr_schedule(&self) -> LrSchedule {
        LrSchedule {
            peak: self.lr,
            warmup: self.warmup,
            decay: self.decay,
            total: self.steps,
        }
    }
}

/// A whole experiment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExperimentConfig {
    /// Name of the experiment (the preset it started from, or your own); it names default
    /// output directories.
    #[serde(alias = "preset")]
    pub name: String,
    /// Training data.
    pub data: DatasetConfig,
    /// The UNet.
    pub model: bump_unet::UNetConfig,
    /// The noise schedule.
    pub diffusion: bump_diffusion::ScheduleConfig,
    /// Optimisation.
    pub train: TrainConfig,
    /// Evaluation.
    pub eval: EvalConfig,
    /// The imbalance experiment's datasets, seeds and coupling rule (`examples/imbalance`);
    /// absent from single-run configurations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub imbalance: Option<crate::imbalance::ImbalanceConfig>,
    /// The composition experiment's held-out cases, seeds and rule (`examples/compose`);
    /// absent from single-run configurations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compose: Option<crate::compose::ComposeConfig>,
    /// The torus experiment's seeds (`examples/torus`); absent from single-run configurations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub torus: Option<crate::torus::TorusConfig>,
    /// The data-efficiency experiment's fractions and seeds (`examples/stripes`); absent from
    /// single-run configurations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stripes: Option<crate::stripes::StripesConfig>,
}

/// A configuration error naming the key, as a user writes it in a file or `--set`.
fn bad<T>(key: &str, message: impl std::fmt::Display) -> Result<T> {
    Err(Error::Config(format!("{key} {message}")))
}

fn finite_positive(v: f64) -> bool {
    v.is_finite() && v > 0.0
}

impl ExperimentConfig {
    /// A built-in preset (`quick` or `paper`; see [`Preset`]).
    pub fn preset(preset: Preset) -> Self {
        preset.config()
    }

    /// The `quick` preset: tells the A → B → C story on a 2-core CPU in about a quarter of an
    /// hour (`configs/quick.toml`).
    pub fn quick() -> Self {
        Preset::Quick.config()
    }

    /// The `paper` preset: paper-scale model and data, for a GPU (`configs/paper.toml`).
    pub fn paper() -> Self {
        Preset::Paper.config()
    }

    /// Checks every field once, before any work starts. Messages name the key and the allowed
    /// range.
    pub fn validate(&self) -> Result<()> {
        if self.name.trim().is_empty() {
            return bad("name", "must not be empty");
        }
        if self.name.contains(['/', '\\']) {
            return bad(
                "name",
                format!("must not contain path separators, got {:?}", self.name),
            );
        }
        self.data
            .validate()
            .map_err(|e| Error::Config(e.to_string()))?;
        self.model
            .validate()
            .map_err(|e| Error::Config(format!("model: {e}")))?;
        let schedule = bump_diffusion::NoiseSchedule::new(&self.diffusion)?;
        self.validate_train()?;
        self.validate_eval(&schedule)?;
        if let Some(imb) = &self.imbalance {
            imb.validate()?;
        }
        if let Some(comp) = &self.compose {
            comp.validate()?;
        }
        if let Some(t) = &self.torus {
            t.validate()?;
        }
        if let Some(s) = &self.stripes {
            s.validate()?;
        }
        Ok(())
    }

    fn validate_train(&self) -> Result<()> {
        let t = &self.train;
        if t.steps == 0 {
            return bad("train.steps", "must be > 0, got 0");
        }
        if t.batch == 0 {
            return bad("train.batch", "must be > 0, got 0");
        }
        if !finite_positive(t.lr) {
            return bad(
                "train.lr",
                format!("must be a finite number > 0, got {}", t.lr),
            );
        }
        if t.grad_clip.is_nan() || t.grad_clip < 0.0 || t.grad_clip.is_infinite() {
            return bad(
                "train.grad_clip",
                format!(
                    "must be a finite number >= 0 (0 disables), got {}",
                    t.grad_clip
                ),
            );
        }
        if !(0.0..1.0).contains(&t.ema_decay) {
            return bad(
                "train.ema_decay",
                format!("must lie in [0, 1), got {}", t.ema_decay),
            );
        }
        let a = &t.adamw;
        for (key, v) in [("beta1", a.beta1), ("beta2", a.beta2)] {
            if !(0.0..1.0).contains(&v) {
                return bad(
                    &format!("train.adamw.{key}"),
                    format!("must lie in [0, 1), got {v}"),
                );
            }
        }
        if !finite_positive(a.eps) {
            return bad(
                "train.adamw.eps",
                format!("must be a finite number > 0, got {}", a.eps),
            );
        }
        if !(a.weight_decay.is_finite() && a.weight_decay >= 0.0) {
            return bad(
                "train.adamw.weight_decay",
                format!("must be a finite number >= 0, got {}", a.weight_decay),
            );
        }
        if let LrDecay::Cosine { min_ratio } = t.decay {
            if !(0.0..=1.0).contains(&min_ratio) {
                return bad(
                    "train.decay.cosine.min_ratio",
                    format!("must lie in [0, 1], got {min_ratio}"),
                );
            }
        }
        Ok(())
    }

    fn validate_eval(&self, schedule: &bump_diffusion::NoiseSchedule) -> Result<()> {
        let e = &self.eval;
        e.sampler
            .validate(schedule)
            .map_err(|err| Error::Config(format!("eval.sampler: {err}")))?;
        e.centres
            .validate(self.data.extent())
            .map_err(|err| Error::Config(format!("eval.centres: {err}")))?;
        let count = e
            .centres
            .centres(self.data.extent())
            .map_err(|err| Error::Config(format!("eval.centres: {err}")))?
            .len();
        if count <= e.k {
            return bad(
                "eval.k",
                format!(
                    "must be smaller than the number of evaluation centres ({count}), got {}",
                    e.k
                ),
            );
        }
        if e.k == 0 {
            return bad("eval.k", "must be > 0, got 0");
        }
        e.umap
            .validate_for(count)
            .map_err(|err| Error::Config(format!("eval.umap: {err}")))?;
        for (i, set) in e.sets.iter().enumerate() {
            let key = format!("eval.sets[{i}]");
            if !is_plain_name(&set.name) {
                return bad(
                    &format!("{key}.name"),
                    format!(
                        "must be non-empty letters, digits, '-' or '_', got {:?}",
                        set.name
                    ),
                );
            }
            if e.sets[..i].iter().any(|o| o.name == set.name) {
                return bad(
                    &format!("{key}.name"),
                    format!("must be unique, got {:?} twice", set.name),
                );
            }
            set.centres
                .validate_at(&format!("{key}.centres"), self.data.extent())
                .map_err(|err| Error::Config(err.to_string()))?;
            if !matches!(set.target, Pattern::Bump | Pattern::SumOfStripes) {
                return bad(
                    &format!("{key}.target"),
                    format!(
                        "must be \"bump\" or \"sum_of_stripes\" (the patterns a scorer judges \
                         as a whole image), got {}",
                        serde_json::to_string(&set.target).unwrap_or_default()
                    ),
                );
            }
        }
        if e.topology.is_some() {
            let extent = self.data.extent() as f64;
            let c = &e.centres;
            let grid = c
                .grid_shape(self.data.extent())
                .map_err(|err| Error::Config(format!("eval.centres: {err}")))?;
            let covers = |d: f64, n: usize| (d * n as f64 - extent).abs() < 1e-9;
            match grid {
                Some((nx, ny)) if nx >= 3 && ny >= 3 && covers(c.dx, nx) && covers(c.dy, ny) => {}
                _ => {
                    return bad(
                        "eval.topology",
                        format!(
                            "needs eval.centres to be a full grid of at least 3 x 3 whose spacings \
                             divide the canvas ({extent}), got dx = {}, dy = {}{}",
                            c.dx,
                            c.dy,
                            if c.region.is_some() { " with a region" } else { "" }
                        ),
                    )
                }
            }
        }
        e.probe.validate(schedule.num_train_timesteps())
    }
}
