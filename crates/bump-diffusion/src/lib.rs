//! `bump-diffusion`: DDPM noise schedules, forward noising and seeded samplers.
//!
//! - [`schedule`]: β schedules in f64 ([`ScheduleConfig`], [`NoiseSchedule`]) with every
//!   precomputed table of Ho et al. (2020);
//! - [`forward`]: [`add_noise`] with per-sample timesteps, training targets for ε, x₀ and v,
//!   min-SNR-γ weights, seeded timestep sampling;
//! - [`noise`]: per-sample seeded Gaussian noise ([`gaussian_noise`]), so a sample never
//!   depends on its batch;
//! - [`sampler`]: DDPM (fixed_small / fixed_large), respaced DDPM, DDIM and DPM-Solver++(2M)
//!   over the [`Denoiser`] trait;
//! - [`oracle`]: the empirical-optimal and Gaussian-data denoisers, which prove the samplers
//!   right independently of any network.
//!
//! Conventions: timesteps are 0-based training indices `t ∈ 0..T`; `t` tensors passed to a
//! denoiser are f32 of shape (B,).
#![warn(missing_docs)]

pub mod forward;
pub mod noise;
pub mod oracle;
pub mod sampler;
pub mod schedule;

pub use forward::{
    add_noise, convert_prediction, min_snr_weights, sample_timesteps, training_target,
};
pub use noise::{gaussian_noise, gaussian_noise_vec};
pub use sampler::{
    limit_x0, sample, Denoiser, DynamicThreshold, SampleOutput, SamplerConfig, SamplerKind,
    Spacing, StepInfo, VarianceType,
};
pub use schedule::{BetaSchedule, NoiseSchedule, PredictionType, ScheduleConfig};

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
    /// Any other invalid argument.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// A tensor operation failed.
    #[error(transparent)]
    Candle(#[from] candle_core::Error),
}

/// Result alias of this crate.
pub type Result<T> = std::result::Result<T, Error>;
