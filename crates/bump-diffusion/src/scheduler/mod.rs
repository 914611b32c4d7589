//! Schedulers with diffusers' shape: a grid of inference timesteps and a `step` that turns one
//! model output at (x_t, t) into x_{t_prev}.
//!
//! - [`DdpmScheduler`]: ancestral DDPM, full (every training timestep) or respaced
//!   (diffusers `DDPMScheduler`, `set_timesteps`);
//! - [`DdimScheduler`]: DDIM with η (diffusers `DDIMScheduler`);
//! - [`DpmSolverPp2mScheduler`]: DPM-Solver++(2M) (diffusers
//!   `DPMSolverMultistepScheduler(algorithm_type="dpmsolver++", solver_order=2)`);
//! - [`AnyScheduler`]: one of the three, built from a [`crate::SamplerConfig`].
//!
//! All implement [`Scheduler`]. Randomness is never drawn inside a step: a stochastic step takes
//! its standard-normal noise as an argument, and refuses to run without it
//! ([`Error::MissingNoise`]), so the caller owns the seeds (see [`crate::noise`]).
//!
//! Arithmetic: coefficients come from the schedule's f64 tables, tensors are f32 (inputs of
//! other float dtypes are converted).

pub mod ddim;
pub mod ddpm;
pub mod dpm_solver;
pub mod timesteps;

pub use ddim::{DdimOptions, DdimScheduler};
pub use ddpm::{DdpmOptions, DdpmScheduler, VarianceType};
pub use dpm_solver::{DpmSolverPp2mOptions, DpmSolverPp2mScheduler};
pub use timesteps::{check_custom_timesteps, check_descending, spaced_timesteps, Spacing};

use crate::forward::convert_prediction;
use crate::schedule::NoiseSchedule;
use crate::{Error, Result};
use candle_core::{DType, Tensor};
use serde::{Deserialize, Serialize};

/// What one scheduler step returns (diffusers' `SchedulerOutput`).
#[derive(Debug, Clone)]
pub struct StepOutput {
    /// The sample at the next (smaller) timestep of the grid; after the last step, the final
    /// sample.
    pub prev_sample: Tensor,
    /// The predicted clean sample x̂₀ after [`X0Limits`] (dynamic thresholding, clipping).
    pub pred_original_sample: Tensor,
}

/// A sampler's update rule over a grid of inference timesteps.
///
/// Use: [`Scheduler::timesteps`] gives the descending grid; for each `t` in it, in order, call
/// the model on (x_t, t) and pass its output to [`Scheduler::step`]; `prev_sample` is the next
/// x_t. Draw standard-normal `noise` (same shape as the sample) for the steps where
/// [`Scheduler::needs_noise`] is true.
pub trait Scheduler {
    /// The inference timesteps, strictly decreasing, each a 0-based training timestep.
    fn timesteps(&self) -> &[usize];

    /// Lays a new grid of `num_inference_steps` timesteps with the scheduler's spacing, and
    /// forgets any multistep history.
    ///
    /// # Errors
    /// `num_inference_steps` outside `1..=T` ([`Error::InvalidSteps`]) or a grid with repeated
    /// points ([`Error::NotMonotone`]).
    fn set_timesteps(&mut self, num_inference_steps: usize) -> Result<()>;

    /// Visits exactly `timesteps` (strictly decreasing, each `< T`), and forgets any multistep
    /// history (diffusers `set_timesteps(timesteps=[…])`).
    ///
    /// # Errors
    /// See [`check_custom_timesteps`].
    fn set_custom_timesteps(&mut self, timesteps: &[usize]) -> Result<()>;

    /// Whether the step at `timestep` adds noise, i.e. whether [`Scheduler::step`] needs `noise`.
    ///
    /// # Errors
    /// `timestep` not in the grid ([`Error::UnknownTimestep`]).
    fn needs_noise(&self, timestep: usize) -> Result<bool>;

    /// One update from `timestep` to the next grid entry (or to the end, after the last one).
    ///
    /// `noise` is standard-normal noise of the sample's shape, used only where
    /// [`Scheduler::needs_noise`] is true (ignored elsewhere).
    ///
    /// # Shapes
    /// - `model_output`, `sample`, `noise`: (B, …) of equal shape; returns two (B, …) tensors.
    ///
    /// # Errors
    /// Shapes that disagree or a sample without a batch dimension ([`Error::ShapeMismatch`]),
    /// `timestep` not in the grid ([`Error::UnknownTimestep`]), a multistep solver stepped out of
    /// order ([`Error::StepOutOfOrder`]), a stochastic step without noise
    /// ([`Error::MissingNoise`]).
    fn step(
        &mut self,
        model_output: &Tensor,
        timestep: usize,
        sample: &Tensor,
        noise: Option<&Tensor>,
    ) -> Result<StepOutput>;
}

/// Imagen's dynamic thresholding of x̂₀ (diffusers `thresholding=True`): per sample,
/// s = clamp(quantile(|x̂₀|, p), 1, `max_value`) with torch.quantile's linear interpolation,
/// then x̂₀ ← clamp(x̂₀, −s, s)/s.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DynamicThreshold {
    /// Quantile p in (0, 1] (Imagen: 0.995).
    pub percentile: f64,
    /// Upper bound of s (≥ 1).
    pub max_value: f64,
}

/// Limits on the predicted x̂₀, applied in this order: dynamic thresholding, then clipping.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct X0Limits {
    /// Clip x̂₀ to this range (diffusers `clip_sample=True`, `clip_sample_range=r`: (−r, r)).
    pub clip_sample: Option<(f32, f32)>,
    /// Dynamic thresholding (diffusers `thresholding=True`).
    pub dynamic_threshold: Option<DynamicThreshold>,
}

impl X0Limits {
    /// Checks that the clip range is non-empty and the threshold's p ∈ (0, 1] and
    /// `max_value` ∈ [1, ∞).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] naming the bad value.
    pub fn validate(&self) -> Result<()> {
        if let Some((lo, hi)) = self.clip_sample {
            if lo.is_nan() || hi.is_nan() || lo >= hi {
                return Err(Error::InvalidArgument(format!(
                    "clip range ({lo}, {hi}) is empty: it needs lo < hi"
                )));
            }
        }
        if let Some(d) = self.dynamic_threshold {
            if !(d.percentile > 0.0 && d.percentile <= 1.0 && d.max_value >= 1.0)
                || d.max_value.is_infinite()
            {
                return Err(Error::InvalidArgument(format!(
                    "bad dynamic threshold {d:?}: percentile must lie in (0, 1] and max_value in [1, inf)"
                )));
            }
        }
        Ok(())
    }

    /// Applies the limits to `x0`.
    ///
    /// # Shapes
    /// - `x0`: (B, …); returns (B, …).
    ///
    /// # Errors
    /// A rank-0 `x0` ([`Error::ShapeMismatch`]).
    pub fn apply(&self, x0: &Tensor) -> Result<Tensor> {
        let mut x0 = x0.clone();
        if x0.rank() == 0 {
            return Err(Error::ShapeMismatch(
                "x0 must have a batch dimension".into(),
            ));
        }
        if let Some(d) = self.dynamic_threshold {
            let b = x0.dim(0)?;
            let flat: Vec<Vec<f32>> = x0.flatten_from(1)?.to_vec2()?;
            let mut scales = Vec::with_capacity(b);
            for row in &flat {
                let mut a: Vec<f32> = row.iter().map(|v| v.abs()).collect();
                a.sort_by(f32::total_cmp);
                // Linear interpolation between order statistics, as torch.quantile (diffusers).
                let pos = d.percentile * (a.len().max(1) - 1) as f64;
                let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
                let q = match (a.get(lo), a.get(hi)) {
                    (Some(&l), Some(&h)) => l as f64 + (h as f64 - l as f64) * (pos - lo as f64),
                    _ => 1.0,
                };
                scales.push(q.clamp(1.0, d.max_value) as f32);
            }
            let mut shape = vec![b];
            shape.extend(std::iter::repeat_n(1, x0.rank() - 1));
            let s = Tensor::from_vec(scales, shape, x0.device())?;
            x0 = x0
                .broadcast_minimum(&s)?
                .broadcast_maximum(&s.neg()?)?
                .broadcast_div(&s)?;
        }
        if let Some((lo, hi)) = self.clip_sample {
            x0 = x0.clamp(lo, hi)?;
        }
        Ok(x0)
    }
}

/// One of the three schedulers, as built from a [`crate::SamplerConfig`]
/// ([`crate::SamplerConfig::build`]).
#[derive(Debug, Clone)]
pub enum AnyScheduler {
    /// DDPM, full or respaced.
    Ddpm(DdpmScheduler),
    /// DDIM.
    Ddim(DdimScheduler),
    /// DPM-Solver++(2M).
    DpmSolverPp2m(DpmSolverPp2mScheduler),
}

impl AnyScheduler {
    /// The scheduler `cfg` describes, on `schedule` (same as [`crate::SamplerConfig::build`]).
    ///
    /// # Errors
    /// Invalid options ([`crate::SamplerConfig::validate`]).
    pub fn from_config(schedule: &NoiseSchedule, cfg: &crate::SamplerConfig) -> Result<Self> {
        cfg.build(schedule)
    }

    fn inner(&self) -> &dyn Scheduler {
        match self {
            Self::Ddpm(s) => s,
            Self::Ddim(s) => s,
            Self::DpmSolverPp2m(s) => s,
        }
    }

    fn inner_mut(&mut self) -> &mut dyn Scheduler {
        match self {
            Self::Ddpm(s) => s,
            Self::Ddim(s) => s,
            Self::DpmSolverPp2m(s) => s,
        }
    }
}

impl Scheduler for AnyScheduler {
    fn timesteps(&self) -> &[usize] {
        self.inner().timesteps()
    }
    fn set_timesteps(&mut self, num_inference_steps: usize) -> Result<()> {
        self.inner_mut().set_timesteps(num_inference_steps)
    }
    fn set_custom_timesteps(&mut self, timesteps: &[usize]) -> Result<()> {
        self.inner_mut().set_custom_timesteps(timesteps)
    }
    fn needs_noise(&self, timestep: usize) -> Result<bool> {
        self.inner().needs_noise(timestep)
    }
    fn step(
        &mut self,
        model_output: &Tensor,
        timestep: usize,
        sample: &Tensor,
        noise: Option<&Tensor>,
    ) -> Result<StepOutput> {
        self.inner_mut().step(model_output, timestep, sample, noise)
    }
}

/// Checks the step inputs and converts them to f32.
fn step_inputs(
    model_output: &Tensor,
    sample: &Tensor,
    noise: Option<&Tensor>,
) -> Result<(Tensor, Tensor)> {
    if sample.rank() == 0 {
        return Err(Error::ShapeMismatch(
            "the sample must have a batch dimension, got a scalar".into(),
        ));
    }
    if model_output.dims() != sample.dims() {
        return Err(Error::ShapeMismatch(format!(
            "model output has shape {:?} but the sample has {:?}",
            model_output.dims(),
            sample.dims()
        )));
    }
    if let Some(z) = noise {
        if z.dims() != sample.dims() {
            return Err(Error::ShapeMismatch(format!(
                "noise has shape {:?} but the sample has {:?}",
                z.dims(),
                sample.dims()
            )));
        }
    }
    Ok((
        model_output.to_dtype(DType::F32)?,
        sample.to_dtype(DType::F32)?,
    ))
}

/// x̂₀ from the model output by the schedule's prediction type, then limited.
fn predicted_x0(
    schedule: &NoiseSchedule,
    limits: &X0Limits,
    model_output: &Tensor,
    timestep: usize,
    sample: &Tensor,
) -> Result<Tensor> {
    let b = sample.dim(0)?;
    let tt = Tensor::full(timestep as f32, b, sample.device())?;
    let (x0, _) = convert_prediction(
        schedule,
        schedule.prediction_type(),
        sample,
        model_output,
        &tt,
    )?;
    limits.apply(&x0)
}

/// The noise of a stochastic step, or [`Error::MissingNoise`].
fn required_noise(noise: Option<&Tensor>, timestep: usize) -> Result<Tensor> {
    noise
        .ok_or(Error::MissingNoise { timestep })?
        .to_dtype(DType::F32)
        .map_err(Error::from)
}
