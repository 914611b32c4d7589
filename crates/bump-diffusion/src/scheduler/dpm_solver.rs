//! DPM-Solver++(2M) (Lu et al. 2022), as diffusers'
//! `DPMSolverMultistepScheduler(algorithm_type="dpmsolver++", solver_order=2)`.

use super::timesteps::TimestepGrid;
use super::{predicted_x0, step_inputs, Scheduler, Spacing, StepOutput, X0Limits};
use crate::schedule::NoiseSchedule;
use crate::{Error, Result};
use candle_core::Tensor;

/// Options of [`DpmSolverPp2mScheduler`].
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct DpmSolverPp2mOptions {
    /// Grid of [`Scheduler::set_timesteps`] (diffusers `timestep_spacing`; leading and linspace
    /// use the multistep grids, see [`Spacing`]).
    pub spacing: Spacing,
    /// Limits on the data prediction x̂₀ (diffusers has only `thresholding`; clipping to (−1, 1)
    /// equals its thresholding with `sample_max_value=1`).
    pub limits: X0Limits,
}

/// DPM-Solver++(2M), data prediction, midpoint form, deterministic.
///
/// With λ = log(√ᾱ/√(1−ᾱ)), a step from s (the current grid entry) to t (the next) with
/// h = λₜ − λₛ is
///
/// x_t = (σₜ/σₛ)·xₛ − αₜ(e^{−h} − 1)·D₀ − ½·αₜ(e^{−h} − 1)·D₁,
/// D₀ = x̂₀(s), D₁ = (x̂₀(s) − x̂₀(s₋))/r₀, r₀ = (λₛ − λ_{s₋})/h,
///
/// where s₋ is the previous grid entry. The step is first order (no D₁ term) on the first step
/// (no history yet) and on the last, which goes to σ = 0 (diffusers' default
/// `final_sigmas_type="zero"`) and so returns x̂₀. Every other step is second order, at any
/// number of steps: diffusers' `lower_order_final` lowers only the final step (already first
/// order here) and its `lower_order_second` only lowers third order to second, which a
/// second-order solver never uses.
///
/// The solver keeps x̂₀ and λ of the previous step, so steps must follow the grid in order; a
/// step at the first grid entry starts a new trajectory.
#[derive(Debug, Clone)]
pub struct DpmSolverPp2mScheduler {
    schedule: NoiseSchedule,
    options: DpmSolverPp2mOptions,
    grid: TimestepGrid,
    /// The grid position the next step must have (0 also restarts).
    next: usize,
    /// x̂₀ and λ of the previous step.
    history: Option<(Tensor, f64)>,
}

impl DpmSolverPp2mScheduler {
    /// A DPM-Solver++(2M) scheduler with `num_inference_steps` steps laid by `options.spacing`
    /// on the multistep grids.
    ///
    /// # Errors
    /// Invalid limits ([`X0Limits::validate`]) or step count ([`Scheduler::set_timesteps`]).
    pub fn new(
        schedule: &NoiseSchedule,
        num_inference_steps: usize,
        options: DpmSolverPp2mOptions,
    ) -> Result<Self> {
        options.limits.validate()?;
        let grid = TimestepGrid::spaced(
            schedule.num_train_timesteps(),
            options.spacing,
            true,
            num_inference_steps,
        )?;
        Ok(Self::from_grid(schedule, grid, options))
    }

    /// A scheduler that visits exactly `timesteps` (strictly decreasing, each `< T`;
    /// `options.spacing` then only matters for a later [`Scheduler::set_timesteps`]).
    ///
    /// # Errors
    /// Invalid options (as [`DpmSolverPp2mScheduler::new`]) or grid
    /// ([`check_custom_timesteps`](super::check_custom_timesteps)).
    pub fn with_timesteps(
        schedule: &NoiseSchedule,
        timesteps: &[usize],
        options: DpmSolverPp2mOptions,
    ) -> Result<Self> {
        options.limits.validate()?;
        let grid = TimestepGrid::custom(
            schedule.num_train_timesteps(),
            options.spacing,
            true,
            timesteps,
        )?;
        Ok(Self::from_grid(schedule, grid, options))
    }

    fn from_grid(
        schedule: &NoiseSchedule,
        grid: TimestepGrid,
        options: DpmSolverPp2mOptions,
    ) -> Self {
        Self {
            schedule: schedule.clone(),
            options,
            grid,
            next: 0,
            history: None,
        }
    }

    /// The options.
    pub fn options(&self) -> &DpmSolverPp2mOptions {
        &self.options
    }

    fn lambda(&self, t: usize) -> f64 {
        let a = self.schedule.alphas_cumprod[t];
        0.5 * (a / (1.0 - a)).ln()
    }
}

impl Scheduler for DpmSolverPp2mScheduler {
    fn timesteps(&self) -> &[usize] {
        self.grid.as_slice()
    }

    fn set_timesteps(&mut self, num_inference_steps: usize) -> Result<()> {
        self.grid.respace(num_inference_steps)?;
        self.next = 0;
        self.history = None;
        Ok(())
    }

    fn set_custom_timesteps(&mut self, timesteps: &[usize]) -> Result<()> {
        self.grid.set_custom(timesteps)?;
        self.next = 0;
        self.history = None;
        Ok(())
    }

    fn needs_noise(&self, timestep: usize) -> Result<bool> {
        self.grid.position(timestep).map(|_| false)
    }

    fn step(
        &mut self,
        model_output: &Tensor,
        timestep: usize,
        sample: &Tensor,
        noise: Option<&Tensor>,
    ) -> Result<StepOutput> {
        let k = self.grid.position(timestep)?;
        if k == 0 {
            self.history = None;
        } else if k != self.next {
            return Err(Error::StepOutOfOrder {
                timestep,
                expected: self.grid.as_slice().get(self.next).copied(),
            });
        }
        let (out, x) = step_inputs(model_output, sample, noise)?;
        let x0 = predicted_x0(&self.schedule, &self.options.limits, &out, timestep, &x)?;
        let ab = &self.schedule.alphas_cumprod;
        let l_s = self.lambda(timestep);
        let prev_sample = match self.grid.after(k) {
            // The last step goes to σ = 0, where the first-order update is x = x̂₀.
            None => x0.clone(),
            Some(p) => {
                let h = self.lambda(p) - l_s;
                let (sig_s, sig_t) = ((1.0 - ab[timestep]).sqrt(), (1.0 - ab[p]).sqrt());
                let alpha_t = ab[p].sqrt();
                let em1 = (-h).exp() - 1.0;
                let first = ((&x * (sig_t / sig_s))? - (&x0 * (alpha_t * em1))?)?;
                match &self.history {
                    Some((d_prev, l_prev)) => {
                        let r0 = (l_s - l_prev) / h;
                        let d1 = ((&x0 - d_prev)? / r0)?;
                        (first - (d1 * (0.5 * alpha_t * em1))?)?
                    }
                    None => first,
                }
            }
        };
        self.history = Some((x0.clone(), l_s));
        self.next = k + 1;
        Ok(StepOutput {
            prev_sample,
            pred_original_sample: x0,
        })
    }
}
