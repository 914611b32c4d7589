//! Experiment configuration: data, model, diffusion, training and evaluation, with presets.
//!
//! Every field is a plain pub field with a documented default. Which defaults come from the
//! papers and which are ours is listed in docs/conventions.md and docs/phase_sweep.md.

use crate::optim::{AdamWConfig, LrDecay, LrSchedule};
use crate::schedule::CheckpointSchedule;
use crate::{Error, Result};
use serde::{Deserialize, Serialize};

/// The training dataset: one bump per image on a tiled grid of centres.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DataConfig {
    /// Canvas side N (paper: 32).
    pub n: usize,
    /// Bump width σ in pixels.
    pub sigma: f64,
    /// Centre spacing along x (columns).
    pub dx: f64,
    /// Centre spacing along y (rows).
    pub dy: f64,
    /// Fraction of the tiling kept for training (1 = all), sampled with the run seed.
    pub lambda: f64,
}

impl Default for DataConfig {
    fn default() -> Self {
        Self {
            n: 32,
            sigma: 1.0,
            dx: 1.0,
            dy: 1.0,
            lambda: 1.0,
        }
    }
}

/// Which weights an evaluation uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EvalWeights {
    /// The optimiser's current weights.
    Raw,
    /// The exponential moving average.
    Ema,
}

/// Sampler used to generate evaluation images.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EvalSampler {
    /// Ancestral DDPM; `steps` < T respaces it.
    Ddpm,
    /// Deterministic DDIM (η = 0), trailing spacing.
    Ddim,
    /// DPM-Solver++(2M).
    Dpmpp,
}

/// Evaluation at each checkpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvalConfig {
    /// Raw or EMA weights.
    pub weights: EvalWeights,
    /// Sampler for the generated images.
    pub sampler: EvalSampler,
    /// Sampler steps (1000 with `Ddpm` is the paper's full chain).
    pub sample_steps: usize,
    /// Spacing of the evaluation grid of centres, in pixels (ours).
    pub grid_spacing: f64,
    /// Offset of the first evaluation centre from 0 (ours; off-lattice centres test interpolation).
    pub grid_offset: f64,
    /// Timesteps at which layer 4 is read (default: T − 1 only, the first reverse step).
    pub probe_timesteps: Vec<u32>,
    /// Seed of the sampler noise and of the shared probe noise image.
    pub seed: u64,
    /// Neighbourhood size k for the representation metrics.
    pub k: usize,
    /// Number of checkpoints to show as samples and embeddings in the report.
    pub snapshots: usize,
}

impl Default for EvalConfig {
    fn default() -> Self {
        Self {
            weights: EvalWeights::Ema,
            sampler: EvalSampler::Ddim,
            sample_steps: 20,
            grid_spacing: 2.0,
            grid_offset: 1.0,
            probe_timesteps: Vec::new(),
            seed: 1234,
            k: 10,
            snapshots: 5,
        }
    }
}

/// Optimisation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            steps: 2000,
            batch: 64,
            lr: 1e-4,
            warmup: 100,
            decay: LrDecay::Constant,
            adamw: AdamWConfig::default(),
            grad_clip: 1.0,
            ema_decay: 0.995,
            seed: 0,
            checkpoints: CheckpointSchedule::default(),
        }
    }
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
pub struct ExperimentConfig {
    /// Preset name this configuration started from.
    pub preset: String,
    /// Training data.
    pub data: DataConfig,
    /// The UNet.
    pub model: bump_unet::UNetConfig,
    /// The noise schedule.
    pub diffusion: bump_diffusion::ScheduleConfig,
    /// Optimisation.
    pub train: TrainConfig,
    /// Evaluation.
    pub eval: EvalConfig,
}

impl ExperimentConfig {
    /// Checks every field once, before any work starts.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(Error::Config(m));
        let d = &self.data;
        let positive = |v: f64| v > 0.0 && v.is_finite();
        if d.n == 0 || !positive(d.sigma) || !positive(d.dx) || !positive(d.dy) {
            return bad(format!("data: need n > 0 and sigma, dx, dy > 0, got {d:?}"));
        }
        if !(d.lambda > 0.0 && d.lambda <= 1.0) {
            return bad(format!("data.lambda must lie in (0, 1], got {}", d.lambda));
        }
        let t = &self.train;
        if t.batch == 0 {
            return bad("train.batch must be > 0".into());
        }
        if !(t.lr > 0.0 && t.lr.is_finite()) {
            return bad(format!("train.lr must be a positive number, got {}", t.lr));
        }
        if t.grad_clip.is_nan() || t.grad_clip < 0.0 {
            return bad("train.grad_clip must be >= 0".into());
        }
        if !(0.0..1.0).contains(&t.ema_decay) {
            return bad(format!(
                "train.ema_decay must lie in [0, 1), got {}",
                t.ema_decay
            ));
        }
        let e = &self.eval;
        if !positive(e.grid_spacing)
            || e.grid_offset.is_nan()
            || e.grid_offset < 0.0
            || e.grid_offset >= d.n as f64
        {
            return bad("eval: grid_spacing must be > 0 and grid_offset in [0, n)".into());
        }
        if e.sample_steps == 0 {
            return bad("eval.sample_steps must be > 0".into());
        }
        self.model.validate()?;
        Ok(())
    }

    /// The `paper` preset: the paper-scale model and data (for a GPU or a long CPU run).
    pub fn paper() -> Self {
        Self {
            preset: "paper".into(),
            data: DataConfig::default(),
            model: bump_unet::UNetConfig::paper(),
            diffusion: bump_diffusion::ScheduleConfig::default(),
            train: TrainConfig {
                steps: 50_000,
                batch: 64,
                lr: 1e-4,
                warmup: 500,
                checkpoints: CheckpointSchedule {
                    log_spaced: true,
                    every: 2500,
                },
                ..TrainConfig::default()
            },
            eval: EvalConfig {
                sampler: EvalSampler::Ddpm,
                sample_steps: 1000,
                ..EvalConfig::default()
            },
        }
    }

    /// The `quick` preset: tells the whole A → B → C story on a 2-core CPU in minutes.
    ///
    /// Differences from `paper` (docs/phase_sweep.md gives the measurements behind them):
    /// v-prediction instead of ε (the ε loss weights x₀ errors at high noise by SNR ≈ 10⁻³, so
    /// the condition → position map is learned very slowly), a 272 k-parameter UNet with the
    /// paper's three down/up levels (widths 16-32-32-32, attention at 4×4), σ = 1.5, AdamW
    /// 2e-3, batch 64, 1,200 steps, raw weights and DDIM-20 for evaluation.
    pub fn quick() -> Self {
        let model = bump_unet::UNetConfig::tiny()
            .with_widths(16, vec![1, 2, 2, 2])
            .with_attention(vec![3], 2);
        Self {
            preset: "quick".into(),
            data: DataConfig {
                n: 32,
                sigma: 1.5,
                dx: 1.0,
                dy: 1.0,
                lambda: 1.0,
            },
            model,
            diffusion: bump_diffusion::ScheduleConfig::default()
                .with_prediction_type(bump_diffusion::PredictionType::VPrediction),
            train: TrainConfig {
                steps: 1200,
                batch: 64,
                lr: 2e-3,
                warmup: 20,
                decay: LrDecay::Constant,
                grad_clip: 1.0,
                checkpoints: CheckpointSchedule {
                    log_spaced: true,
                    every: 200,
                },
                ..TrainConfig::default()
            },
            eval: EvalConfig {
                weights: EvalWeights::Raw,
                ..EvalConfig::default()
            },
        }
    }

    /// A preset by name (`quick` or `paper`).
    pub fn preset(name: &str) -> Result<Self> {
        match name {
            "quick" => Ok(Self::quick()),
            "paper" => Ok(Self::paper()),
            other => Err(Error::Config(format!(
                "unknown preset `{other}`; expected `quick` or `paper`"
            ))),
        }
    }
}
