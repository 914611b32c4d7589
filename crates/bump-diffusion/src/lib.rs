//! `bump-diffusion`: DDPM noise schedules, forward noising, schedulers and seeded samplers.
//!
//! - [`schedule`]: β schedules in f64 ([`ScheduleConfig`], [`NoiseSchedule`]) with every
//!   precomputed table of Ho et al. (2020);
//! - [`forward`]: [`add_noise`] with per-sample timesteps, training targets for ε, x₀ and v,
//!   min-SNR-γ weights, seeded timestep sampling;
//! - [`noise`]: per-sample seeded Gaussian noise ([`gaussian_noise`]), so a sample never
//!   depends on its batch;
//! - [`scheduler`]: the update rules with diffusers' shape, behind the [`Scheduler`] trait
//!   (`timesteps`, `set_timesteps`, `step` with injected noise): [`DdpmScheduler`] (full and
//!   respaced), [`DdimScheduler`], [`DpmSolverPp2mScheduler`];
//! - [`sampler`]: [`SamplerConfig`] (the serialisable description of a sampler, which
//!   [`SamplerConfig::build`]s its scheduler) and [`sample`], the seeded loop over a
//!   [`Denoiser`] and a scheduler;
//! - [`oracle`]: the empirical-optimal and Gaussian-data denoisers, which prove the samplers
//!   right independently of any network.
//!
//! Conventions: timesteps are 0-based training indices `t ∈ 0..T`; `t` tensors passed to a
//! denoiser are f32 of shape (B,).
//!
//! The API speaks Candle: this crate re-exports [`candle_core`] and its [`Tensor`], [`Device`]
//! and [`DType`], so a user needs no `candle-core` of their own (and cannot pick a mismatched
//! version). Two `Result`s meet in this crate: [`Denoiser::predict`] returns
//! [`candle_core::Result`] (a network's forward pass), everything else this crate's [`Result`]
//! (whose [`Error::Candle`] wraps candle's errors, so `?` converts).
//!
//! `ScheduleConfig::default()` is the DDPM schedule of Ho et al. (2020) that the papers use:
//! linear β from 1e-4 to 0.02 ([`BetaSchedule::default`]), T = 1000, ε-prediction, no
//! zero-terminal-SNR rescale.
//!
//! # Example: sampling with a closure
//!
//! Any `FnMut(&Tensor, &Tensor, &Tensor) -> candle_core::Result<Tensor>` is a [`Denoiser`]. Here
//! the closure is the optimal ε predictor for data that is always 0.5, so DDIM and
//! DPM-Solver++(2M) both land on 0.5 from seeded noise in 10 steps:
//!
//! ```
//! use bump_diffusion::{
//!     candle_core, sample, DType, Device, NoiseSchedule, SamplerConfig, ScheduleConfig, Tensor,
//! };
//!
//! # fn main() -> bump_diffusion::Result<()> {
//! let schedule = NoiseSchedule::new(&ScheduleConfig::default())?; // linear β, T = 1000, ε
//! let alphas_cumprod = schedule.alphas_cumprod.clone();
//! // x_t = √ᾱ·x₀ + √(1 − ᾱ)·ε with x₀ = 0.5, so ε̂ = (x_t − 0.5·√ᾱ)/√(1 − ᾱ).
//! let mut denoiser = |x: &Tensor, t: &Tensor, _cond: &Tensor| -> candle_core::Result<Tensor> {
//!     let a = alphas_cumprod[t.to_vec1::<f32>()?[0] as usize]; // one t per batch in `sample`
//!     (x - 0.5 * a.sqrt())? / (1.0 - a).sqrt()
//! };
//!
//! let dev = Device::Cpu;
//! let cond = Tensor::zeros((2, 2), DType::F32, &dev)?; // (B, 2): unused by this denoiser
//! let seeds = [11, 12]; // one per sample: a sample never depends on its batch
//! for sampler in [SamplerConfig::ddim(10), SamplerConfig::dpm_solver_pp(10)] {
//!     let out = sample(&schedule, &sampler, &mut denoiser, &cond, (1, 4, 4), &seeds, None)?;
//!     assert_eq!(out.images.dims(), &[2, 1, 4, 4]);
//!     assert_eq!(out.timesteps.len(), 10);
//!     let v: Vec<f32> = out.images.flatten_all()?.to_vec1()?;
//!     assert!(v.iter().all(|p| (p - 0.5).abs() < 1e-3), "{sampler:?}: {v:?}");
//! }
//! # Ok(())
//! # }
//! ```
//!
//! # Example: stepping a scheduler by hand
//!
//! The same toy denoiser with a DPM-Solver++(2M) scheduler stepped by hand; [`sample`] runs
//! this loop with seeded noise.
//!
//! ```
//! use bump_diffusion::{
//!     gaussian_noise, Device, NoiseSchedule, SamplerConfig, ScheduleConfig, Scheduler,
//!     StepOutput, Tensor,
//! };
//!
//! # fn main() -> bump_diffusion::Result<()> {
//! let schedule = NoiseSchedule::new(&ScheduleConfig::default())?;
//! let mut scheduler = SamplerConfig::dpm_solver_pp(10).build(&schedule)?;
//! assert_eq!(scheduler.timesteps()[..3], [999, 899, 799]);
//!
//! let dev = Device::Cpu;
//! let mut x = gaussian_noise(&[1, 2], &[1, 4, 4], &dev)?; // x_T, (B, C, H, W)
//! for t in scheduler.timesteps().to_vec() {
//!     let a = schedule.alphas_cumprod[t];
//!     // ε̂ = (x_t − √ᾱ·x₀)/√(1 − ᾱ) with x₀ = 0.5.
//!     let eps = ((&x - 0.5 * a.sqrt())? / (1.0 - a).sqrt())?;
//!     let noise = if scheduler.needs_noise(t)? {
//!         Some(Tensor::randn(0f32, 1.0, x.dims(), &dev)?)
//!     } else {
//!         None
//!     };
//!     let StepOutput { prev_sample, .. } = scheduler.step(&eps, t, &x, noise.as_ref())?;
//!     x = prev_sample;
//! }
//! let v: Vec<f32> = x.flatten_all()?.to_vec1()?;
//! assert!(v.iter().all(|p| (p - 0.5).abs() < 1e-4), "{v:?}");
//! # Ok(())
//! # }
//! ```
#![warn(missing_docs)]

/// The Candle this crate is built on (its [`Tensor`], [`Device`] and [`DType`] are re-exported
/// at the crate root).
pub use candle_core;
pub use candle_core::{DType, Device, Tensor};

pub mod forward;
pub mod noise;
pub mod oracle;
pub mod sampler;
pub mod schedule;
pub mod scheduler;

pub use forward::{
    add_noise, convert_prediction, min_snr_weights, sample_timesteps, training_target,
};
pub use noise::{gaussian_noise, gaussian_noise_vec};
pub use sampler::{limit_x0, sample, Denoiser, SampleOutput, SamplerConfig, SamplerKind, StepInfo};
pub use schedule::{
    BetaSchedule, NoiseSchedule, PredictionType, ScheduleConfig, MAX_TRAIN_TIMESTEPS,
};
pub use scheduler::{
    AnyScheduler, DdimOptions, DdimScheduler, DdpmOptions, DdpmScheduler, DpmSolverPp2mOptions,
    DpmSolverPp2mScheduler, DynamicThreshold, Scheduler, Spacing, StepOutput, VarianceType,
    X0Limits,
};

/// Errors of this crate.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The number of training timesteps T is zero.
    #[error("the number of training timesteps must be > 0")]
    ZeroTimesteps,
    /// A β value is outside (0, 1) or not finite.
    #[error("beta[{index}] = {value} is outside (0, 1)")]
    BetaOutOfRange {
        /// Position in the schedule.
        index: usize,
        /// The offending value.
        value: f64,
    },
    /// A sequence that must be monotone is not.
    #[error("{what} must be monotone: element {index} breaks the order")]
    NotMonotone {
        /// Which sequence.
        what: &'static str,
        /// First offending index.
        index: usize,
    },
    /// More inference steps than training timesteps (or zero).
    #[error("inference steps must lie in 1..={max}, got {steps}")]
    InvalidSteps {
        /// Steps asked for.
        steps: usize,
        /// The number of training timesteps T.
        max: usize,
    },
    /// η outside [0, 1].
    #[error("eta must lie in [0, 1], got {0}")]
    InvalidEta(f64),
    /// Shapes of inputs disagree.
    #[error("shape mismatch: {0}")]
    ShapeMismatch(String),
    /// Zero terminal SNR with ε-prediction is singular at t = T − 1.
    #[error("zero terminal SNR cannot be combined with epsilon prediction (x0 is undefined at the last step)")]
    ZeroSnrWithEpsilon,
    /// A stochastic scheduler step was called without noise.
    #[error("the step at timestep {timestep} adds noise: pass standard-normal noise of the sample's shape")]
    MissingNoise {
        /// The step's training timestep.
        timestep: usize,
    },
    /// A scheduler was stepped at a timestep that is not in its grid.
    #[error("timestep {timestep} is not one of the scheduler's {count} inference timesteps ({first} down to {last})")]
    UnknownTimestep {
        /// The timestep asked for.
        timestep: usize,
        /// The grid's first (largest) timestep.
        first: usize,
        /// The grid's last (smallest) timestep.
        last: usize,
        /// The number of grid timesteps.
        count: usize,
    },
    /// A multistep scheduler was stepped out of grid order.
    #[error("timestep {timestep} is out of order: the next step must be at {expected:?} (or at the first grid timestep, to start again)")]
    StepOutOfOrder {
        /// The timestep asked for.
        timestep: usize,
        /// The timestep of the next step in the grid (`None` after the last step).
        expected: Option<usize>,
    },
    /// Any other invalid argument.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// A tensor operation failed.
    #[error(transparent)]
    Candle(#[from] candle_core::Error),
}

/// Result alias of this crate.
pub type Result<T> = std::result::Result<T, Error>;
