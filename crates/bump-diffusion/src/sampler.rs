//! The sampling loop over a [`Denoiser`] and a [`Scheduler`], and [`SamplerConfig`], the
//! serialisable description of a sampler (DDPM, respaced DDPM, DDIM, DPM-Solver++(2M)).
//!
//! All randomness comes from per-sample seeds (see [`crate::noise`]): the initial x_T of sample
//! `i` is stream 0 of `seeds[i]`, the ancestral noise of step `k` is stream `k + 1`. A sample is
//! therefore bit-identical on the CPU whatever batch it is drawn in.

use crate::noise::noise_for_stream;
use crate::schedule::NoiseSchedule;
use crate::scheduler::{
    spaced_timesteps, AnyScheduler, DdimOptions, DdimScheduler, DdpmOptions, DdpmScheduler,
    DpmSolverPp2mOptions, DpmSolverPp2mScheduler, Scheduler, StepOutput, X0Limits,
};
use crate::{Error, Result};
use candle_core::{DType, Tensor};
use serde::{Deserialize, Serialize};

pub use crate::scheduler::{
    check_custom_timesteps, check_descending, DynamicThreshold, Spacing, VarianceType,
};

/// A model that predicts the schedule's prediction type from (x_t, t, cond).
///
/// `t` is an f32 tensor of shape (B,) holding 0-based training timesteps; `cond` is passed
/// through unchanged. Closures `FnMut(&Tensor, &Tensor, &Tensor) -> candle_core::Result<Tensor>`
/// implement it, so any model plugs in without a newtype.
pub trait Denoiser {
    /// Predicts ε, x₀ or v (whatever the schedule says) for every sample.
    ///
    /// Returns **candle's** [`candle_core::Result`], not this crate's [`crate::Result`]: a
    /// denoiser is a network's forward pass, and [`sample`] converts its errors into
    /// [`crate::Error::Candle`].
    ///
    /// # Shapes
    /// - `x_t`: (B, C, H, W); `t`: (B,); `cond`: (B, …); returns (B, C, H, W).
    fn predict(&mut self, x_t: &Tensor, t: &Tensor, cond: &Tensor) -> candle_core::Result<Tensor>;
}

impl<F> Denoiser for F
where
    F: FnMut(&Tensor, &Tensor, &Tensor) -> candle_core::Result<Tensor>,
{
    fn predict(&mut self, x_t: &Tensor, t: &Tensor, cond: &Tensor) -> candle_core::Result<Tensor> {
        self(x_t, t, cond)
    }
}

/// Which update rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SamplerKind {
    /// Ancestral DDPM (respaced when `steps < T`): [`DdpmScheduler`].
    Ddpm,
    /// DDIM with η: [`DdimScheduler`].
    Ddim,
    /// DPM-Solver++(2M) (Lu et al. 2022), data prediction, midpoint form as diffusers'
    /// `DPMSolverMultistepScheduler(algorithm_type="dpmsolver++", solver_order=2)`: first order
    /// on the first step and on the last (to σ = 0, i.e. x = x̂₀), second order on every other
    /// step whatever the number of steps: [`DpmSolverPp2mScheduler`].
    DpmSolverPp2m,
}

/// A sampler: rule, number of steps, and options. Validated against a schedule by
/// [`SamplerConfig::validate`]; [`SamplerConfig::build`] makes its [`Scheduler`].
///
/// Serialised (JSON, TOML) with these key names; unknown keys are rejected, `None` options are
/// left out and may be left out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SamplerConfig {
    /// Update rule.
    pub kind: SamplerKind,
    /// Inference steps (`None`: every training timestep).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub steps: Option<usize>,
    /// DDIM η ∈ [0, 1] (0: deterministic; 1: DDPM-like).
    pub eta: f64,
    /// Timestep spacing.
    pub spacing: Spacing,
    /// DDPM variance.
    pub variance: VarianceType,
    /// Clip x̂₀ to this range (e.g. the data range (−1, 1)).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clip_sample: Option<(f32, f32)>,
    /// Dynamic thresholding of x̂₀ (applied before `clip_sample`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dynamic_threshold: Option<DynamicThreshold>,
    /// An explicit, strictly decreasing list of training timesteps to visit. When set it
    /// overrides `steps` and `spacing` (e.g. diffusers' `steps_offset`, or non-uniform grids).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_timesteps: Option<Vec<usize>>,
}

impl SamplerConfig {
    fn base(kind: SamplerKind, steps: Option<usize>) -> Self {
        Self {
            kind,
            steps,
            eta: 0.0,
            spacing: Spacing::Trailing,
            variance: VarianceType::FixedSmall,
            clip_sample: None,
            dynamic_threshold: None,
            custom_timesteps: None,
        }
    }
    /// Ancestral DDPM over all T steps, fixed_small variance.
    pub fn ddpm() -> Self {
        Self::base(SamplerKind::Ddpm, None)
    }
    /// DDPM respaced to `steps` (the previous timestep is always the next array entry).
    pub fn respaced_ddpm(steps: usize) -> Self {
        Self::base(SamplerKind::Ddpm, Some(steps))
    }
    /// Deterministic DDIM (η = 0) with `steps` steps, trailing spacing.
    pub fn ddim(steps: usize) -> Self {
        Self::base(SamplerKind::Ddim, Some(steps))
    }
    /// DPM-Solver++(2M) with `steps` steps.
    pub fn dpm_solver_pp(steps: usize) -> Self {
        Self::base(SamplerKind::DpmSolverPp2m, Some(steps))
    }
    /// Sets η (DDIM).
    pub fn with_eta(mut self, eta: f64) -> Self {
        self.eta = eta;
        self
    }
    /// Sets the spacing.
    pub fn with_spacing(mut self, s: Spacing) -> Self {
        self.spacing = s;
        self
    }
    /// Sets the DDPM variance.
    pub fn with_variance(mut self, v: VarianceType) -> Self {
        self.variance = v;
        self
    }
    /// Sets x̂₀ clipping.
    pub fn with_clip_sample(mut self, range: Option<(f32, f32)>) -> Self {
        self.clip_sample = range;
        self
    }
    /// Sets dynamic thresholding.
    pub fn with_dynamic_threshold(mut self, d: Option<DynamicThreshold>) -> Self {
        self.dynamic_threshold = d;
        self
    }

    /// Visits exactly these training timesteps (strictly decreasing, each < T), overriding
    /// `steps` and `spacing`.
    pub fn with_timesteps(mut self, timesteps: Option<Vec<usize>>) -> Self {
        self.custom_timesteps = timesteps;
        self
    }

    /// The x̂₀ limits (`clip_sample`, `dynamic_threshold`).
    pub fn limits(&self) -> X0Limits {
        X0Limits {
            clip_sample: self.clip_sample,
            dynamic_threshold: self.dynamic_threshold,
        }
    }

    /// Checks the options against `schedule`.
    ///
    /// # Errors
    /// η outside [0, 1] ([`Error::InvalidEta`]), bad limits ([`X0Limits::validate`]) or a bad
    /// grid ([`SamplerConfig::timesteps`]).
    pub fn validate(&self, schedule: &NoiseSchedule) -> Result<()> {
        if !(0.0..=1.0).contains(&self.eta) {
            return Err(Error::InvalidEta(self.eta));
        }
        self.limits().validate()?;
        self.timesteps(schedule.num_train_timesteps()).map(|_| ())
    }

    /// The descending inference timesteps for T training timesteps.
    ///
    /// Rounding is half-to-even and the products are formed in numpy's order, so the grids
    /// equal diffusers' `timestep_spacing` grids exactly ([`spaced_timesteps`]; DPM-Solver++
    /// uses the multistep grids).
    ///
    /// # Errors
    /// `t = 0`, a step count outside `1..=t`, or a bad custom grid
    /// ([`check_custom_timesteps`]).
    pub fn timesteps(&self, t: usize) -> Result<Vec<usize>> {
        if t == 0 {
            return Err(Error::ZeroTimesteps);
        }
        if let Some(ts) = &self.custom_timesteps {
            check_custom_timesteps(ts, t)?;
            return Ok(ts.clone());
        }
        spaced_timesteps(
            self.spacing,
            t,
            self.steps.unwrap_or(t),
            self.kind == SamplerKind::DpmSolverPp2m,
        )
    }

    /// The scheduler this configuration describes, on `schedule`, with its grid laid
    /// ([`SamplerConfig::timesteps`]).
    ///
    /// # Errors
    /// See [`SamplerConfig::validate`].
    pub fn build(&self, schedule: &NoiseSchedule) -> Result<AnyScheduler> {
        self.validate(schedule)?;
        let steps = self.steps.unwrap_or(schedule.num_train_timesteps());
        let limits = self.limits();
        let custom = self.custom_timesteps.as_deref();
        Ok(match self.kind {
            SamplerKind::Ddpm => {
                let o = DdpmOptions {
                    variance: self.variance,
                    spacing: self.spacing,
                    limits,
                };
                AnyScheduler::Ddpm(match custom {
                    Some(ts) => DdpmScheduler::with_timesteps(schedule, ts, o)?,
                    None => DdpmScheduler::new(schedule, steps, o)?,
                })
            }
            SamplerKind::Ddim => {
                let o = DdimOptions {
                    eta: self.eta,
                    spacing: self.spacing,
                    limits,
                };
                AnyScheduler::Ddim(match custom {
                    Some(ts) => DdimScheduler::with_timesteps(schedule, ts, o)?,
                    None => DdimScheduler::new(schedule, steps, o)?,
                })
            }
            SamplerKind::DpmSolverPp2m => {
                let o = DpmSolverPp2mOptions {
                    spacing: self.spacing,
                    limits,
                };
                AnyScheduler::DpmSolverPp2m(match custom {
                    Some(ts) => DpmSolverPp2mScheduler::with_timesteps(schedule, ts, o)?,
                    None => DpmSolverPp2mScheduler::new(schedule, steps, o)?,
                })
            }
        })
    }
}

/// What the per-step callback sees.
pub struct StepInfo<'a> {
    /// 0-based step index.
    pub step: usize,
    /// The training timestep of this step.
    pub t: usize,
    /// The state entering this step, (B, C, H, W).
    pub x_t: &'a Tensor,
    /// The predicted clean sample at this step, (B, C, H, W).
    pub pred_x0: &'a Tensor,
}

/// Samples and the seeds that made them.
#[derive(Debug, Clone)]
pub struct SampleOutput {
    /// (B, C, H, W).
    pub images: Tensor,
    /// The per-sample seeds (record them with every output).
    pub seeds: Vec<u64>,
    /// The inference timesteps used, descending.
    pub timesteps: Vec<usize>,
}

/// Applies the x̂₀ limits of `cfg`: dynamic thresholding first, then `clip_sample`
/// ([`X0Limits::apply`]). The schedulers call it on every predicted x̂₀ (and DDIM recomputes ε
/// from the limited x̂₀).
///
/// # Shapes
/// - `x0`: (B, …); returns (B, …).
pub fn limit_x0(x0: &Tensor, cfg: &SamplerConfig) -> Result<Tensor> {
    cfg.limits().apply(x0)
}

/// Draws one sample per row of `cond`, seeded by `seeds`: a loop over the [`Scheduler`] that
/// `cfg` builds ([`SamplerConfig::build`]).
///
/// Each step calls `denoiser` once on the whole batch with `t` = the step's training timestep
/// (f32, shape (B,)), passes its output to [`Scheduler::step`] (which converts it to x̂₀ by the
/// schedule's prediction type and applies [`limit_x0`]), calls `callback` with the limited x̂₀,
/// and moves to the next entry of the timestep array (never to a timestep computed from a
/// formula). The last step returns the mean of the final update (DDPM: the posterior mean; DDIM
/// and DPM-Solver++: x̂₀), with no noise added.
///
/// Noise: x_T of sample `i` is stream 0 of `seeds[i]` and the noise of step `k` is stream
/// `k + 1` ([`crate::noise::gaussian_noise_vec`]), drawn only for steps where
/// [`Scheduler::needs_noise`]; sample `i` is bit-identical on the CPU whatever the batch size,
/// its position, or the other seeds and conditions in the batch (provided the denoiser treats
/// rows independently).
///
/// # Shapes
/// - `cond`: (B, …) with B = `seeds.len()`, passed to the denoiser unchanged;
/// - `sample_shape` = (C, H, W); the denoiser sees x_t (B, C, H, W) and t (B,) and must
///   return (B, C, H, W);
/// - returns images of shape (B, C, H, W) (f32, on `cond`'s device).
///
/// # Errors
/// Invalid `cfg` ([`SamplerConfig::validate`]), no seeds, an empty sample shape, `cond`'s batch
/// ≠ `seeds.len()`, a denoiser output of the wrong shape, or a failing denoiser.
pub fn sample<D: Denoiser + ?Sized>(
    schedule: &NoiseSchedule,
    cfg: &SamplerConfig,
    denoiser: &mut D,
    cond: &Tensor,
    sample_shape: (usize, usize, usize),
    seeds: &[u64],
    mut callback: Option<&mut dyn FnMut(&StepInfo)>,
) -> Result<SampleOutput> {
    let mut scheduler = cfg.build(schedule)?;
    let b = seeds.len();
    if b == 0 {
        return Err(Error::InvalidArgument("no seeds: nothing to sample".into()));
    }
    if cond.rank() == 0 || cond.dim(0)? != b {
        return Err(Error::ShapeMismatch(format!(
            "cond has shape {:?} but {b} seeds were given",
            cond.dims()
        )));
    }
    let (c, h, w) = sample_shape;
    if c * h * w == 0 {
        return Err(Error::InvalidArgument(format!(
            "sample shape {sample_shape:?} has no elements"
        )));
    }
    let dev = cond.device().clone();
    let ts = scheduler.timesteps().to_vec();
    let mut x = noise_for_stream(seeds, 0, &[c, h, w], &dev)?;
    for (k, &t) in ts.iter().enumerate() {
        let tt = Tensor::full(t as f32, b, &dev)?;
        // Detached: a sampler never needs gradients, and keeping the graph would chain every
        // step's activations to the final sample.
        let out = denoiser
            .predict(&x, &tt, cond)?
            .detach()
            .to_dtype(DType::F32)?;
        if out.dims() != x.dims() {
            return Err(Error::ShapeMismatch(format!(
                "denoiser returned {:?} for input {:?}",
                out.dims(),
                x.dims()
            )));
        }
        let noise = if scheduler.needs_noise(t)? {
            Some(noise_for_stream(seeds, k as u64 + 1, &[c, h, w], &dev)?)
        } else {
            None
        };
        let StepOutput {
            prev_sample,
            pred_original_sample,
        } = scheduler.step(&out, t, &x, noise.as_ref())?;
        if let Some(cb) = callback.as_deref_mut() {
            cb(&StepInfo {
                step: k,
                t,
                x_t: &x,
                pred_x0: &pred_original_sample,
            });
        }
        x = prev_sample;
    }
    Ok(SampleOutput {
        images: x,
        seeds: seeds.to_vec(),
        timesteps: ts,
    })
}
