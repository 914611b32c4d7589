//! `bump-unet`: the conditional UNet ε-predictor of the bump-diffusion papers on Candle.
//!
//! - [`UNetConfig`] (with the [`UNetConfig::paper`] and [`UNetConfig::tiny`] presets) describes
//!   the architecture and the (t, μx, μy) [`ConditionEncoding`];
//! - [`UNet`] builds it with seeded weights, predicts ε, and exposes activation taps;
//! - [`checkpoint`] saves and loads models with metadata in safetensors files, atomically;
//! - [`device`](mod@device) picks a compiled-in device;
//! - [`ops`] holds the tensor ops the model uses (fast custom CPU kernels behind a stable API).
//! - `alloc` (feature `mimalloc`) gives binaries and benches mimalloc with freed memory kept
//!   mapped; the library itself never sets a global allocator.
//!
//! Architecture and checkpoint format: docs/unet.md.

#[cfg(feature = "mimalloc")]
pub mod alloc;
pub mod checkpoint;
pub mod config;
pub mod device;
mod init;
mod model;
pub mod ops;

pub use checkpoint::{
    load_checkpoint, save_checkpoint, write_file_atomic, write_safetensors_atomic, CheckpointMeta,
    SCHEMA_VERSION,
};
pub use config::{ConditionEncoding, FrequencyRange, UNetConfig};
pub use device::{compiled_devices, device, DeviceKind};
pub use model::{UNet, LAYER4_ALIAS};

use std::path::PathBuf;

/// Errors of this crate.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An input argument was invalid.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// A [`UNetConfig`] field is invalid.
    #[error("invalid UNet configuration: {0}")]
    InvalidConfig(String),
    /// A tensor operation failed.
    #[error(transparent)]
    Candle(#[from] candle_core::Error),
    /// An activation tap name is not one of [`UNet::tap_names`].
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
