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
    Candle(#[from] candle_core::Error),
    /// Dataset rendering or scoring failed.
    #[error(transparent)]
    Data(#[from] bump_data::Error),
    /// Schedule or sampler failed.
    #[error(transparent)]
    Diffusion(#[from] bump_diffusion::Error),
    /// Model construction or checkpoint I/O failed.
    #[error(transparent)]
    Unet(#[from] bump_unet::Error),
    /// A representation metric failed.
    #[error(transparent)]
    Analysis(#[from] bump_analysis::Error),
    /// A training checkpoint is unusable.
    #[error("checkpoint error: {0}")]
    Checkpoint(String),
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

/// Result alias of the facade.
pub type Result<T> = std::result::Result<T, Error>;

/// Attaches a path to an I/O error.
pub(crate) fn io_err(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Error {
    let path = path.into();
    move |source| Error::Io { path, source }
}
