//! DDIM (Song et al. 2021) with η (diffusers `DDIMScheduler`).

use super::timesteps::TimestepGrid;
use super::{predicted_x0, required_noise, step_inputs, Scheduler, Spacing, StepOutput, X0Limits};
use crate::schedule::NoiseSchedule;
use crate::{Error, Result};
use candle_core::Tensor;

/// Options of [`DdimScheduler`].
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct DdimOptions {
    /// η ∈ [0, 1]: 0 is deterministic, 1 has DDPM's posterior variance.
    pub eta: f64,
    /// Grid of [`Scheduler::set_timesteps`] (diffusers `timestep_spacing`).
    pub spacing: Spacing,
    /// Limits on x̂₀ (ε̂ is recomputed from the limited x̂₀: diffusers'
    /// `use_clipped_model_output=True`).
    pub limits: X0Limits,
}

/// DDIM from t to the next grid entry t′ (ᾱ = 1 after the last):
///
/// x_{t′} = √ᾱ_{t′}·x̂₀ + √(1 − ᾱ_{t′} − σ²)·ε̂ + σ·z,
/// σ = η·√((1 − ᾱ_{t′})/(1 − ᾱₜ)·(1 − ᾱₜ/ᾱ_{t′})),
///
/// with ε̂ = (xₜ − √ᾱₜ·x̂₀)/√(1 − ᾱₜ) from the limited x̂₀. A step needs noise when σ > 0 and it
/// is not the last (which returns x̂₀).
#[derive(Debug, Clone)]
pub struct DdimScheduler {
    schedule: NoiseSchedule,
    options: DdimOptions,
    grid: TimestepGrid,
}

impl DdimScheduler {
    /// A DDIM scheduler with `num_inference_steps` steps laid by `options.spacing`.
    ///
    /// # Errors
    /// η outside [0, 1] ([`Error::InvalidEta`]), invalid limits ([`X0Limits::validate`]) or step
    /// count ([`Scheduler::set_timesteps`]).
    pub fn new(
        schedule: &NoiseSchedule,
        num_inference_steps: usize,
        options: DdimOptions,
    ) -> Result<Self> {
        if !(0.0..=1.0).contains(&options.eta) {
            return Err(Error::InvalidEta(options.eta));
        }
        options.limits.validate()?;
        let grid = TimestepGrid::spaced(
            schedule.num_train_timesteps(),
            options.spacing,
            false,
            num_inference_steps,
        )?;
        Ok(Self::from_grid(schedule, grid, options))
    }

    /// A scheduler that visits exactly `timesteps` (strictly decreasing, each `< T`;
    /// `options.spacing` then only matters for a later [`Scheduler::set_timesteps`]).
    ///
    /// # Errors
    /// Invalid options (as [`DdimScheduler::new`]) or grid
    /// ([`check_custom_timesteps`](super::check_custom_timesteps)).
    pub fn with_timesteps(
        schedule: &NoiseSchedule,
        timesteps: &[usize],
        options: DdimOptions,
    ) -> Result<Self> {
        if !(0.0..=1.0).contains(&options.eta) {
            return Err(Error::InvalidEta(options.eta));
        }
        options.limits.validate()?;
        let grid = TimestepGrid::custom(
            schedule.num_train_timesteps(),
            options.spacing,
            false,
            timesteps,
        )?;
        Ok(Self::from_grid(schedule, grid, options))
    }

    fn from_grid(schedule: &NoiseSchedule, grid: TimestepGrid, options: DdimOptions) -> Self {
        Self {
            schedule: schedule.clone(),
            options,
            grid,
        }
    }

    /// The options.
    pub fn options(&self) -> &DdimOptions {
        &self.options
    }

    /// (ᾱ_{t′}, σ, t′) of the step at grid position `k` (t′ = `None` after the last).
    fn coefficients(&self, k: usize) -> (f64, f64, Option<usize>) {
        let ab = &self.schedule.alphas_cumprod;
        let a_t = ab[self.grid.as_slice()[k]];
        let prev = self.grid.after(k);
        let a_prev = prev.map_or(1.0, |p| ab[p]);
        let sigma = self.options.eta
            * ((1.0 - a_prev) / (1.0 - a_t) * (1.0 - a_t / a_prev))
                .max(0.0)
                .sqrt();
        (a_prev, sigma, prev)
    }
}

impl Scheduler for DdimScheduler {
    fn timesteps(&self) -> &[usize] {
        self.grid.as_slice()
    }

    fn set_timesteps(&mut self, num_inference_steps: usize) -> Result<()> {
        self.grid.respace(num_inference_steps)?;
        Ok(())
    }

    fn set_custom_timesteps(&mut self, timesteps: &[usize]) -> Result<()> {
        self.grid.set_custom(timesteps)?;
        Ok(())
    }

    fn needs_noise(&self, timestep: usize) -> Result<bool> {
        let (_, sigma, prev) = self.coefficients(self.grid.position(timestep)?);
        Ok(sigma > 0.0 && prev.is_some())
    }

    fn step(
        &mut self,
        model_output: &Tensor,
        timestep: usize,
        sample: &Tensor,
        noise: Option<&Tensor>,
    ) -> Result<StepOutput> {
        let k = self.grid.position(timestep)?;
        let (out, x) = step_inputs(model_output, sample, noise)?;
        let x0 = predicted_x0(&self.schedule, &self.options.limits, &out, timestep, &x)?;
        let a_t = self.schedule.alphas_cumprod[timestep];
        // ε consistent with the (possibly limited) x̂₀.
        let eps = ((&x - (&x0 * a_t.sqrt())?)? / (1.0 - a_t).sqrt())?;
        let (a_prev, sigma, prev) = self.coefficients(k);
        let dir = (1.0 - a_prev - sigma * sigma).max(0.0).sqrt();
        let mut prev_sample = ((&x0 * a_prev.sqrt())? + (&eps * dir)?)?;
        if sigma > 0.0 && prev.is_some() {
            let z = required_noise(noise, timestep)?;
            prev_sample = (prev_sample + (z * sigma)?)?;
        }
        Ok(StepOutput {
            prev_sample,
            pred_original_sample: x0,
        })
    }
}
