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
//! - [`score`]: the generation scorer ([`score_image`], [`score_batch`]); a stripe is never
//!   scored as a bump (it is [`FailureClass::Malformed`]), and [`score::stripe`] scores stripe
//!   images;
//! - [`noise`]: seeded Gaussian pixel noise ([`add_gaussian_noise`]) to test the scorer on
//!   imperfect images.
//!
//! Every `Default` here is documented with its values: [`RenderConfig`] (N = 32, σ = 1, dark
//! on bright, `[−1, 1]`), [`DatasetConfig`] (the same plus a 1-px full tiling), [`GridSpec`],
//! [`CentreSet`], [`ScoreConfig`] and [`StripeScoreConfig`]; docs/conventions.md says which
//! come from the papers and which are ours.
//!
//! # Example
//!
//! Render three bumps, save the dataset and load it back, add seeded noise, and score the
//! images against their centres:
//!
//! ```
//! use bump_data::{add_gaussian_noise, score_batch, Dataset, FailureClass, RenderConfig, ScoreConfig};
//!
//! # fn main() -> bump_data::Result<()> {
//! let render = RenderConfig::default().with_n(16).with_sigma(1.0); // 16×16, σ = 1 px
//! let centres = [[4.0, 5.0], [10.0, 8.0], [12.5, 3.0]]; // [μx, μy]: x = column, y = row
//! let data = Dataset::render(&render, &centres)?;
//!
//! let path = std::env::temp_dir().join(format!("bump-data-doc-{}.safetensors", std::process::id()));
//! data.save(&path)?;
//! let back = Dataset::load(&path)?;
//! std::fs::remove_file(&path).ok();
//! assert_eq!(back.images(), data.images()); // bit-identical
//! assert_eq!(back.labels(), data.labels());
//!
//! let noisy = add_gaussian_noise(back.images(), 0.05, 7)?; // std 0.05 on the [−1, 1] range
//! let targets = back.image_centres(); // labels in image pixels
//! let report = score_batch(&noisy, back.n(), &targets, &ScoreConfig::for_render(&render))?;
//! assert_eq!(report.accuracy, 1.0);
//! assert!(report.per_image.iter().all(|s| s.failure == FailureClass::Correct));
//! # Ok(())
//! # }
//! ```
#![warn(missing_docs)]

pub mod batch;
pub mod config;
pub mod dataset;
pub mod error;
pub mod grid;
pub mod noise;
pub mod render;
pub mod score;
pub mod split;

pub use batch::{Batches, EpochBatches};
pub use config::{part_seed, CentreSet, DataPart, DatasetConfig, RegionFilter};
pub use dataset::{Dataset, DatasetSpec};
pub use error::{Error, Result};
pub use grid::{explicit, subsample, subsample_indices, GridSpec};
pub use noise::{add_gaussian_noise, add_gaussian_noise_in_place};
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
