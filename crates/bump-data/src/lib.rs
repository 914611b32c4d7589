//! `bump-data`: Gaussian-bump datasets and a scorer for generated bump images.
//!
//! Pure Rust, no tensor framework: images are plain `f32` buffers (`[len, N, N]`, row-major)
//! with `[μx, μy]` labels, so any framework can consume them.
//!
//! Conventions (also in `docs/conventions.md`): x = column, y = row, pixel centres at integer
//! coordinates `0..N-1`, origin top-left, `index = y * N + x`. Default pixel formula
//! `v = 1 − exp(−r²/(2σ²))` (dark bump on bright background) mapped to `u = 2v − 1 ∈ [−1, 1]`.
//!
//! - [`config`]: serializable descriptions of a training set ([`DatasetConfig`]) and of an
//!   evaluation centre set ([`CentreSet`]).
//! - [`render`]: the renderer ([`RenderConfig`], [`Pattern`], [`ExtendedCanvas`]).
//! - [`grid`]: centre grids ([`GridSpec`], λ-subsampling, explicit lists).
//! - [`split`](mod@split): held-out (train, test) splits ([`HeldOut`]).
//! - [`dataset`]: [`Dataset`] with safetensors save/load.
//! - [`batch`]: seeded shuffled mini-batches ([`Batches`]).
//! - [`score`]: the generation scorer ([`score_image`], [`score_batch`]).
#![warn(missing_docs)]

pub mod batch;
pub mod config;
pub mod dataset;
pub mod error;
pub mod grid;
pub mod render;
pub mod score;
pub mod split;

pub use batch::{Batches, EpochBatches};
pub use config::{part_seed, CentreSet, DataPart, DatasetConfig, RegionFilter};
pub use dataset::{Dataset, DatasetSpec};
pub use error::{Error, Result};
pub use grid::{explicit, subsample, subsample_indices, GridSpec};
pub use render::{
    render_bumps_max, render_image, render_into, ExtendedCanvas, Pattern, Polarity, RenderConfig,
    Sigma,
};
pub use score::stripe::{
    score_sos_batch, score_sos_image, score_stripe_batch, score_stripe_image, DetectedOrientation,
    Orientation, SosFailure, SosImageScore, SosReport, StripeFailure, StripeFit, StripeImageScore,
    StripeReport, StripeScoreConfig, StripeTarget,
};
pub use score::{
    score_batch, score_image, FailureClass, ImageScore, ScoreConfig, ScoreReport, TOLERANCE_SLACK,
};
pub use split::{split, Corner, Edge, HeldOut, Interval, Section, Split};
