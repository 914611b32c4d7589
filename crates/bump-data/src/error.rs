//! The crate's error type.

/// Errors of `bump-data`. Every bad input gets one of these; the library never panics on user input.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A width σ (or σx, σy) is not a finite positive number.
    #[error("sigma must be finite and > 0, got {0}")]
    InvalidSigma(f64),
    /// A grid spacing dx or dy is not a finite positive number.
    #[error("grid spacing must be finite and > 0, got dx = {dx}, dy = {dy}")]
    InvalidSpacing {
        /// Spacing along x (columns).
        dx: f64,
        /// Spacing along y (rows).
        dy: f64,
    },
    /// The image (or canvas) size N is zero.
    #[error("image size N must be > 0")]
    ZeroSize,
    /// A subsampling fraction λ outside (0, 1].
    #[error("subsampling fraction must lie in (0, 1], got {0}")]
    InvalidFraction(f64),
    /// A centre (label) contains NaN or ±∞.
    #[error("centre {index} is not finite: ({x}, {y})")]
    NonFiniteCentre {
        /// Position of the centre in the input list.
        index: usize,
        /// Its x (column) coordinate.
        x: f64,
        /// Its y (row) coordinate.
        y: f64,
    },
    /// A held-out region contains no centre of the input.
    #[error("the held-out region covers no centre")]
    EmptyHeldOut,
    /// A held-out region contains every centre, so the train set would be empty.
    #[error("the held-out region covers every centre: the train set would be empty")]
    EmptyTrain,
    /// An index is out of range.
    #[error("index {index} out of range for length {len}")]
    IndexOutOfRange {
        /// The offending index.
        index: usize,
        /// The valid length.
        len: usize,
    },
    /// Buffer lengths or shapes disagree.
    #[error("shape mismatch: {0}")]
    ShapeMismatch(String),
    /// A configuration value out of its allowed range. `key` names the value as the user writes
    /// it (e.g. `data.lambda`, `data.mix[1].dx`); `message` says what is allowed and what was
    /// given (e.g. "must lie in (0, 1], got 1.5").
    #[error("{key} {message}")]
    Config {
        /// The value's key, as written in a config file or a `--set` override.
        key: String,
        /// What is allowed and what was given.
        message: String,
    },
    /// Any other invalid argument or configuration value.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// A dataset file is corrupt, truncated or not in the expected layout.
    #[error("invalid dataset file: {0}")]
    InvalidFile(String),
    /// An I/O error while reading or writing a dataset file.
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
}

/// Result alias of this crate.
pub type Result<T> = std::result::Result<T, Error>;

/// An [`Error::Config`] for `key`.
pub(crate) fn config_error(key: impl Into<String>, message: impl Into<String>) -> Error {
    Error::Config {
        key: key.into(),
        message: message.into(),
    }
}

/// Returns `Err(InvalidSigma)` unless `s` is finite and > 0.
pub(crate) fn check_sigma(s: f64) -> Result<()> {
    if s.is_finite() && s > 0.0 {
        Ok(())
    } else {
        Err(Error::InvalidSigma(s))
    }
}

/// Returns `Err(NonFiniteCentre)` for the first centre holding NaN or ±∞.
pub(crate) fn check_centres(centres: &[[f64; 2]]) -> Result<()> {
    match centres
        .iter()
        .position(|c| !(c[0].is_finite() && c[1].is_finite()))
    {
        Some(index) => Err(Error::NonFiniteCentre {
            index,
            x: centres[index][0],
            y: centres[index][1],
        }),
        None => Ok(()),
    }
}
