//! The facade's error type.

use std::path::PathBuf;

/// Errors of the `bump-ddpm` facade.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A configuration value is invalid.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// A tensor operation failed.
    #[error(transparent)]
    Candle(candle_core::Error),
    /// The device, its driver or its memory failed (classified from candle's error wherever it
    /// arose: model, sampler, training); one line saying what to check.
    #[error(transparent)]
    Device(#[from] bump_unet::DeviceFailure),
    /// Dataset rendering or scoring failed.
    #[error(transparent)]
    Data(#[from] bump_data::Error),
    /// Schedule or sampler failed.
    #[error(transparent)]
    Diffusion(bump_diffusion::Error),
    /// Model construction or checkpoint I/O failed.
    #[error(transparent)]
    Unet(bump_unet::Error),
    /// A representation metric failed.
    #[error(transparent)]
    Analysis(#[from] bump_analysis::Error),
    /// A training checkpoint is unusable.
    #[error("checkpoint error: {0}")]
    Checkpoint(String),
    /// `--resume` found the newest checkpoint corrupt (checksum mismatch, truncated, bad
    /// header); the message names the newest intact one and how to resume from it.
    #[error("{}", corrupt_checkpoint_message(.path, .reason, .newer_corrupt, .intact))]
    CorruptCheckpoint {
        /// The newest checkpoint, which failed to load.
        path: PathBuf,
        /// Why it failed (the loader's error).
        reason: String,
        /// Other checkpoints newer than `intact` that are corrupt too (newest first).
        newer_corrupt: Vec<PathBuf>,
        /// The newest intact checkpoint (step, path), if any.
        intact: Option<(u64, PathBuf)>,
    },
    /// A file's content does not match the checksum stored in it.
    #[error(
        "checksum mismatch in {path}: the file says {expected}, its content hashes to {found}; \
         the file is corrupt"
    )]
    ChecksumMismatch {
        /// The file.
        path: PathBuf,
        /// The checksum stored in the file.
        expected: String,
        /// The checksum of the content as read.
        found: String,
    },
    /// The training loss became NaN or infinite.
    #[error(
        "training diverged at step {step}: loss = {loss}; the last good checkpoint is {last_good:?}"
    )]
    NonFiniteLoss {
        /// Step at which the loss became non-finite.
        step: u64,
        /// The offending loss value.
        loss: f64,
        /// The last checkpoint written before divergence, if any.
        last_good: Option<PathBuf>,
    },
    /// The run stopped on request ([`StopFlag`](crate::train::stop::StopFlag): SIGTERM,
    /// SIGINT, SIGUSR1/2) after writing a checkpoint of `step`; resuming continues from it
    /// bit-identically. Entry points exit with
    /// [`EXIT_INTERRUPTED`](crate::train::stop::EXIT_INTERRUPTED) (75) for it.
    #[error(
        "stopped on request at step {step}: checkpoint {checkpoint} written; resume with \
         --resume --out {run_dir}"
    )]
    Interrupted {
        /// Completed optimiser steps when the run stopped (the checkpoint's step).
        step: u64,
        /// The run directory.
        run_dir: PathBuf,
        /// The checkpoint of `step`.
        checkpoint: PathBuf,
    },
    /// A Slurm command (`sbatch`, `squeue`) failed or printed what it should not.
    #[error("{command}: {detail}")]
    Slurm {
        /// The program.
        command: String,
        /// What went wrong, with its output.
        detail: String,
    },
    /// File-system error, with the path involved.
    #[error("{path}: {source}")]
    Io {
        /// The path being read or written.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A file's content could not be parsed.
    #[error("{path}: {detail}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What is wrong, with the line where known.
        detail: String,
    },
    /// JSON (de)serialisation failed.
    #[error(transparent)]
    Json(#[from] serde_json::Error),
    /// Drawing a figure failed.
    #[error("plotting failed: {0}")]
    Plot(String),
}

fn corrupt_checkpoint_message(
    path: &std::path::Path,
    reason: &str,
    newer_corrupt: &[PathBuf],
    intact: &Option<(u64, PathBuf)>,
) -> String {
    let mut set_aside = vec![path.to_path_buf()];
    set_aside.extend(newer_corrupt.iter().cloned());
    let moves: Vec<String> = set_aside
        .iter()
        .map(|p| format!("mv {} {}.corrupt", p.display(), p.display()))
        .collect();
    match intact {
        Some((step, p)) => format!(
            "--resume refused: the newest checkpoint {} is corrupt ({reason}); the newest intact \
             checkpoint is step {step} ({}); to resume from it, set the corrupt file{} aside \
             (`{}`) and run --resume again",
            path.display(),
            p.display(),
            if set_aside.len() > 1 { "s" } else { "" },
            moves.join(" && ")
        ),
        None => format!(
            "--resume refused: the newest checkpoint {} is corrupt ({reason}) and no intact \
             checkpoint is left; start the run afresh (without --resume)",
            path.display()
        ),
    }
}

impl From<candle_core::Error> for Error {
    /// Device, driver and out-of-memory failures become [`Error::Device`].
    fn from(e: candle_core::Error) -> Self {
        match bump_unet::DeviceFailure::classify(&e) {
            Some(f) => Self::Device(f),
            None => Self::Candle(e),
        }
    }
}

impl From<bump_unet::Error> for Error {
    /// [`bump_unet::Error::Device`] becomes [`Error::Device`]; the rest stay [`Error::Unet`].
    fn from(e: bump_unet::Error) -> Self {
        match e {
            bump_unet::Error::Device(f) => Self::Device(f),
            e => Self::Unet(e),
        }
    }
}

impl From<bump_diffusion::Error> for Error {
    /// A device failure inside a sampler becomes [`Error::Device`].
    fn from(e: bump_diffusion::Error) -> Self {
        match e {
            bump_diffusion::Error::Candle(c) => match bump_unet::DeviceFailure::classify(&c) {
                Some(f) => Self::Device(f),
                None => Self::Diffusion(bump_diffusion::Error::Candle(c)),
            },
            e => Self::Diffusion(e),
        }
    }
}

/// Result alias of the facade.
pub type Result<T> = std::result::Result<T, Error>;

/// Attaches a path to an I/O error.
pub(crate) fn io_err(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Error {
    let path = path.into();
    move |source| Error::Io { path, source }
}
