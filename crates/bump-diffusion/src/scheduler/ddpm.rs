//! Ancestral DDPM (Ho et al. 2020), full or respaced (diffusers `DDPMScheduler`).

use super::timesteps::TimestepGrid;
use super::{predicted_x0, required_noise, step_inputs, Scheduler, Spacing, StepOutput, X0Limits};
use crate::schedule::NoiseSchedule;
use crate::Result;
use candle_core::Tensor;
use serde::{Deserialize, Serialize};

/// DDPM reverse-step variance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum VarianceType {
    /// The posterior variance β̃ₜ (diffusers `fixed_small`).
    #[default]
    FixedSmall,
    /// βₜ (diffusers `fixed_large`).
    FixedLarge,
}

/// Options of [`DdpmScheduler`].
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct DdpmOptions {
    /// Reverse-step variance (diffusers `variance_type`).
    pub variance: VarianceType,
    /// Grid of [`Scheduler::set_timesteps`] (diffusers `timestep_spacing`).
    pub spacing: Spacing,
    /// Limits on x̂₀.
    pub limits: X0Limits,
}

/// Ancestral DDPM over a grid of timesteps; with fewer steps than T it is respaced: each step
/// goes from t to the next grid entry t′ with ᾱ_{t′} in place of ᾱ_{t−1}, i.e. with
/// α = ᾱₜ/ᾱ_{t′}, β = 1 − α:
///
/// x_{t′} = β·√ᾱ_{t′}/(1−ᾱₜ)·x̂₀ + (1−ᾱ_{t′})·√α/(1−ᾱₜ)·xₜ + σ·z,
/// σ² = β·(1−ᾱ_{t′})/(1−ᾱₜ) (fixed_small) or β (fixed_large).
///
/// The last step goes to ᾱ = 1 and returns the posterior mean, without noise; every other step
/// needs noise.
#[derive(Debug, Clone)]
pub struct DdpmScheduler {
    schedule: NoiseSchedule,
    options: DdpmOptions,
    grid: TimestepGrid,
}

impl DdpmScheduler {
    /// A DDPM scheduler with `num_inference_steps` steps laid by `options.spacing`
    /// (`num_inference_steps = T` visits every training timestep, whatever the spacing).
    ///
    /// # Errors
    /// Invalid limits ([`X0Limits::validate`]) or step count ([`Scheduler::set_timesteps`]).
    pub fn new(
        schedule: &NoiseSchedule,
        num_inference_steps: usize,
        options: DdpmOptions,
    ) -> Result<Self> {
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
    /// Invalid options (as [`DdpmScheduler::new`]) or grid
    /// ([`check_custom_timesteps`](super::check_custom_timesteps)).
    pub fn with_timesteps(
        schedule: &NoiseSchedule,
        timesteps: &[usize],
        options: DdpmOptions,
    ) -> Result<Self> {
        options.limits.validate()?;
        let grid = TimestepGrid::custom(
            schedule.num_train_timesteps(),
            options.spacing,
            false,
            timesteps,
        )?;
        Ok(Self::from_grid(schedule, grid, options))
    }

    fn from_grid(schedule: &NoiseSchedule, grid: TimestepGrid, options: DdpmOptions) -> Self {
        Self {
            schedule: schedule.clone(),
            options,
            grid,
        }
    }

    /// The options.
    pub fn options(&self) -> &DdpmOptions {
        &self.options
    }
}

impl Scheduler for DdpmScheduler {
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
        Ok(self.grid.position(timestep)? + 1 < self.grid.as_slice().len())
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
        let ab = &self.schedule.alphas_cumprod;
        let a_t = ab[timestep];
        let prev = self.grid.after(k);
        let a_prev = prev.map_or(1.0, |p| ab[p]);
        let alpha = a_t / a_prev;
        let beta = 1.0 - alpha;
        let c1 = beta * a_prev.sqrt() / (1.0 - a_t);
        let c2 = (1.0 - a_prev) * alpha.sqrt() / (1.0 - a_t);
        let mean = ((&x0 * c1)? + (&x * c2)?)?;
        let prev_sample = match prev {
            None => mean,
            Some(_) => {
                let var = match self.options.variance {
                    VarianceType::FixedSmall => beta * (1.0 - a_prev) / (1.0 - a_t),
                    VarianceType::FixedLarge => beta,
                };
                let z = required_noise(noise, timestep)?;
                (mean + (z * var.max(0.0).sqrt())?)?
            }
        };
        Ok(StepOutput {
            prev_sample,
            pred_original_sample: x0,
        })
    }
}
