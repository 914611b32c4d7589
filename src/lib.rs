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
//! The rest: [`record`] (the records a run writes), [`eval`]'s [`snapshot`]s, [`schedule`]
//! (which steps are checkpointed), [`optim`] (AdamW, EMA, learning-rate schedule), [`io`]
//! (atomic writes); the multi-run experiments [`compose`], [`imbalance`], [`stripes`] and
//! [`torus`] over [`experiment`]'s plumbing, with [`seed_curves`] figures.
//!
//! docs/architecture.md shows how these fit together and where a new experiment plugs in.
//!
//! The API speaks Candle: [`candle_core`] and [`candle_nn`] are re-exported, and at the root
//! [`Tensor`], [`Device`], [`DType`] and [`VarMap`], so a user needs no Candle of their own;
//! [`record::Value`] is serde_json's JSON value. Records read back from `metrics.jsonl` equal,
//! bit for bit, those [`train::run`] returned (serde_json's `float_roundtrip` is on).
//!
//! # Example
//!
//! A micro training run (the tiny UNet on a 16×16 canvas, 4 steps, evaluated at steps 0 and
//! 4; seconds in a release build), read back from its directory:
//!
//! ```
//! use bump_ddpm::config::ExperimentConfig;
//! use bump_ddpm::data::CentreSet;
//! use bump_ddpm::diffusion::SamplerConfig;
//! use bump_ddpm::schedule::CheckpointSchedule;
//! use bump_ddpm::train::{run, RunOptions};
//! use bump_ddpm::unet::UNetConfig;
//! use bump_ddpm::RunDir;
//!
//! # fn main() -> bump_ddpm::Result<()> {
//! let mut cfg = ExperimentConfig::quick(); // the CPU preset, made micro:
//! cfg.data.n = 16;
//! (cfg.data.dx, cfg.data.dy) = (2.0, 2.0); // 8 × 8 training bumps
//! cfg.model = UNetConfig::tiny();
//! cfg.train.steps = 4;
//! cfg.train.batch = 8;
//! cfg.train.warmup = 2;
//! cfg.train.checkpoints = CheckpointSchedule { log_spaced: false, every: 4, ..Default::default() };
//! cfg.eval.sampler = SamplerConfig::ddim(3).with_clip_sample(Some((-1.0, 1.0)));
//! cfg.eval.centres = CentreSet { dx: 3.0, dy: 3.0, offset: [1.0, 1.0], region: None };
//! cfg.eval.k = 5;
//!
//! let dir = std::env::temp_dir().join(format!("bump-ddpm-doc-{}", std::process::id()));
//! let mut opts = RunOptions::new(&dir); // CPU, fresh run
//! opts.progress = false;
//! let outcome = run(&cfg, &opts)?;
//! assert_eq!(outcome.run_dir.root(), dir.as_path()); // where the run went
//!
//! // Everything is in the directory: the records (exactly), the summary, the report.
//! let run_dir = RunDir::new(&dir);
//! let records = run_dir.read_records()?;
//! assert_eq!(records.iter().map(|r| r.step).collect::<Vec<_>>(), [0, 4]);
//! assert_eq!(records, outcome.records);
//! assert_eq!(run_dir.read_summary()?.steps, 4);
//! assert!(outcome.report.is_some_and(|p| p.is_file()));
//! println!("step 4: accuracy {}, layer 4 in phase {}", records[1].accuracy, records[1].rep_phase);
//! # std::fs::remove_dir_all(&dir).ok();
//! # Ok(())
//! # }
//! ```
//!
//! From the command line the same is `cargo run --release --example phase_sweep -- --preset
//! quick --set train.steps=4 …`; configurations can also be read from TOML and changed with
//! `path=value` overrides ([`config::Override`]).

pub use bump_analysis as analysis;
pub use bump_data as data;
pub use bump_diffusion as diffusion;
pub use bump_unet as unet;

/// The Candle this crate is built on.
pub use candle_core;
pub use candle_core::{DType, Device, Tensor};
/// Candle's neural-network crate (the model's parameters live in its [`VarMap`]).
pub use candle_nn;
pub use candle_nn::VarMap;

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
pub mod sampler_curve;
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
