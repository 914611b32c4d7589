//! The error type of `bump-unet`.

use std::path::PathBuf;

/// Errors of this crate.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An input argument was invalid.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// A [`UNetConfig`](crate::UNetConfig) field is invalid.
    #[error("invalid UNet configuration: {0}")]
    InvalidConfig(String),
    /// A tensor operation failed (device, driver and out-of-memory failures are
    /// [`Error::Device`] instead: the `From` conversion classifies them).
    #[error(transparent)]
    Candle(candle_core::Error),
    /// The device, its driver or its memory failed; one line saying what to check.
    #[error(transparent)]
    Device(#[from] crate::device::DeviceFailure),
    /// An activation tap name is not one of [`UNet::tap_names`](crate::UNet::tap_names).
    #[error("unknown activation tap `{name}`; available: {available:?}")]
    UnknownTap {
        /// The name asked for.
        name: String,
        /// The names the model provides.
        available: Vec<String>,
    },
    /// A weight map names a tensor the model does not have.
    #[error("tensor `{name}` is not a parameter of this model")]
    UnknownTensor {
        /// The unexpected name.
        name: String,
    },
    /// A tensor the model needs is absent.
    #[error("missing tensor `{name}`")]
    MissingTensor {
        /// The parameter name.
        name: String,
    },
    /// A tensor has the wrong shape for the model.
    #[error("tensor `{name}` has shape {found:?}, the model needs {expected:?}")]
    ShapeMismatch {
        /// The parameter name.
        name: String,
        /// Shape the model expects.
        expected: Vec<usize>,
        /// Shape found.
        found: Vec<usize>,
    },
    /// Reading or writing a file failed.
    #[error("I/O error on {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
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
    /// The file ends before the data its header announces.
    #[error("truncated checkpoint {path}: {detail}")]
    TruncatedFile {
        /// The file.
        path: PathBuf,
        /// What is missing.
        detail: String,
    },
    /// The safetensors header or our metadata in it cannot be parsed.
    #[error("corrupt checkpoint header in {path}: {detail}")]
    CorruptHeader {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },
    /// The checkpoint was written by a newer schema than this build reads.
    #[error("checkpoint schema version {found} is newer than the supported {supported}; upgrade bump-unet")]
    NewerSchema {
        /// Version in the file.
        found: u32,
        /// Newest version this build reads.
        supported: u32,
    },
    /// A tensor name is used twice (e.g. an extra tensor shadows a parameter).
    #[error("duplicate tensor name `{name}`")]
    DuplicateTensor {
        /// The name.
        name: String,
    },
    /// A device was asked for that this build does not include.
    #[error("{device} support is not compiled in; rebuild with `--features {feature}`")]
    FeatureNotEnabled {
        /// The device family, e.g. "CUDA".
        device: &'static str,
        /// The cargo feature that enables it.
        feature: &'static str,
    },
}

/// Result alias of this crate.
pub type Result<T> = std::result::Result<T, Error>;

impl From<candle_core::Error> for Error {
    /// Device, driver and out-of-memory failures become [`Error::Device`] (one line, with what
    /// to check); every other candle error stays [`Error::Candle`].
    fn from(e: candle_core::Error) -> Self {
        match crate::device::DeviceFailure::classify(&e) {
            Some(f) => Self::Device(f),
            None => Self::Candle(e),
        }
    }
}
