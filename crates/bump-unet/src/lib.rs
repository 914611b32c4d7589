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
mod error;
mod init;
mod model;
pub mod ops;

pub use checkpoint::{
    load_checkpoint, save_checkpoint, write_file_atomic, write_file_atomic_with,
    write_safetensors_atomic, CheckpointMeta, Integrity, SCHEMA_VERSION,
};
pub use config::{ConditionEncoding, FrequencyRange, UNetConfig};
pub use device::{compiled_devices, device, DeviceFailure, DeviceKind};
pub use model::{UNet, LAYER4_ALIAS};

pub use error::{Error, Result};
