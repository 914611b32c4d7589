//! # bump-ddpm
//!
//! Conditional diffusion models on Gaussian-bump images, and the tools to watch them learn.
//!
//! This facade re-exports the four leaf crates and owns what composes them:
//!
//! - [`config`]: experiment configuration and the `quick` / `paper` presets;
//! - [`train`]: the training loop (AdamW, warm-up + cosine, gradient clipping, EMA, checkpoints,
//!   resume, NaN guard) with evaluation at every checkpoint;
//! - [`eval`]: generation accuracy, layer-4 geometry and the two phase labels;
//! - [`report`]: PNG figures and a self-contained `report.html`.
//!
//! ```no_run
//! use bump_ddpm::config::ExperimentConfig;
//! use bump_ddpm::train::{run, RunOptions};
//!
//! let cfg = ExperimentConfig::quick();
//! let outcome = run(&cfg, &RunOptions::new("runs/example"))?;
//! println!("report at {:?}", outcome.report);
//! # Ok::<(), bump_ddpm::Error>(())
//! ```

pub use bump_analysis as analysis;
pub use bump_data as data;
pub use bump_diffusion as diffusion;
pub use bump_unet as unet;

pub mod config;
mod data_glue;
mod error;
pub mod eval;
pub mod io;
pub mod optim;
pub mod record;
pub mod report;
pub mod schedule;
pub mod train;

pub use error::{Error, Result};
