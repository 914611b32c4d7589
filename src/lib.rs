//! # bump-ddpm
//!
//! Conditional diffusion models on Gaussian-bump images, and the tools to watch them learn.
//!
//! This facade re-exports the four leaf crates and owns what composes them:
//!
//! - [`config`]: experiment configuration (TOML/JSON files, `path=value` overrides) and the
//!   embedded `quick` / `paper` presets;
//! - [`cli`]: the command line shared by every experiment entry point (`--preset`, `--config`,
//!   `--set`, `--print-config`, `--out`, `--resume`, `--device`);
//! - [`run_dir`]: [`RunDir`], the one owner of a run directory's files; [`checkpoint`]: the typed
//!   training state inside checkpoints;
//! - [`train`]: the training loop (AdamW, warm-up + cosine, gradient clipping, EMA, checkpoints,
//!   resume, NaN guard) with evaluation at every checkpoint;
//! - [`eval`]: generation accuracy, layer-4 geometry and the two phase labels;
//! - [`probe`]: what the model is shown when layer 4 is read;
//! - [`reevaluate`]: the checkpoints of a finished run evaluated again (another probe, sampler,
//!   grid or classifier) without retraining;
//! - [`report`]: PNG figures and a self-contained `report.html`;
//! - [`sweep`]: grids of configurations (a TOML spec) run as cells by a local or Slurm backend,
//!   merged into one results table with heatmaps.
//!
//! docs/architecture.md shows how these fit together and where a new experiment plugs in.
//!
//! ```no_run
//! use bump_ddpm::config::{ExperimentConfig, Override};
//! use bump_ddpm::train::{run, RunOptions};
//!
//! let mut cfg = ExperimentConfig::quick();
//! cfg.apply_overrides(&["data.sigma=2.0".parse::<Override>()?])?;
//! let outcome = run(&cfg, &RunOptions::new("runs/example"))?;
//! println!("report at {:?}", outcome.report);
//! # Ok::<(), bump_ddpm::Error>(())
//! ```

pub use bump_analysis as analysis;
pub use bump_data as data;
pub use bump_diffusion as diffusion;
pub use bump_unet as unet;

pub mod checkpoint;
pub mod cli;
pub mod compose;
pub mod config;
mod error;
pub mod eval;
pub mod experiment;
pub mod imbalance;
pub mod io;
pub mod optim;
pub mod probe;
pub mod record;
pub mod reevaluate;
pub mod report;
pub mod run_dir;
pub mod schedule;
pub mod seed_curves;
pub mod snapshot;
pub mod stripes;
pub mod sweep;
pub mod torus;
pub mod train;

pub use config::{ExperimentConfig, Preset};
pub use error::{Error, Result};
pub use run_dir::RunDir;
