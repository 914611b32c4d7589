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
//!
//! The API speaks Candle: this crate re-exports [`candle_core`] and [`candle_nn`], and at its
//! root the types its signatures use ([`Tensor`], [`Device`], [`DType`], [`Var`], [`VarMap`]),
//! so a user needs no Candle dependency of their own. Two `Result`s meet here: the forward
//! passes ([`UNet::forward`], [`UNet::forward_t`]) return [`candle_core::Result`], so the model
//! plugs into Candle code and into `bump_diffusion::Denoiser`; everything else returns this
//! crate's [`Result`], whose [`Error`] wraps candle's errors (so `?` converts).
//!
//! `UNetConfig::default()` is the CPU-sized [`UNetConfig::tiny`] preset, **not** the paper's
//! model; ask for [`UNetConfig::paper`] to reproduce the papers.
//!
//! # Example
//!
//! Build the tiny model, read layer 4 with [`UNet::forward_with_taps`], save a checkpoint and
//! load it back to the same predictions:
//!
//! ```
//! use bump_unet::{
//!     load_checkpoint, save_checkpoint, CheckpointMeta, Device, Tensor, UNet, UNetConfig,
//!     LAYER4_ALIAS,
//! };
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let dev = Device::Cpu;
//! let net = UNet::new(&UNetConfig::tiny(), 0, &dev)?; // weights seeded by 0
//! let x = Tensor::randn(0f32, 1.0, (2, 1, 16, 16), &dev)?; // (B, C, H, W)
//! let t = Tensor::new(&[10f32, 500.0], &dev)?; // (B,) timestep indices
//! let cond = Tensor::new(&[[4f32, 5.0], [12.0, 11.0]], &dev)?; // (B, 2): (μx, μy) in pixels
//!
//! let (eps, taps) = net.forward_with_taps(&x, &t, &cond, &[LAYER4_ALIAS])?;
//! assert_eq!(eps.dims(), &[2, 1, 16, 16]);
//! // tiny: widths 16-32-32 at 16 → 8 → 4 px; layer 4 is the last encoder level.
//! assert_eq!(taps[LAYER4_ALIAS].dims(), &[2, 32, 4, 4]);
//!
//! let path = std::env::temp_dir().join(format!("bump-unet-doc-{}.safetensors", std::process::id()));
//! let meta = CheckpointMeta { step: 7, seed: 0, ..Default::default() };
//! save_checkpoint(&path, &net, &meta, &[])?; // atomic, with a checksum
//! let (back, meta_back, _extras) = load_checkpoint(&path, &dev)?;
//! std::fs::remove_file(&path)?;
//! assert_eq!(meta_back.step, 7);
//! assert_eq!(back.config(), net.config());
//! let again = back.forward(&x, &t, &cond)?;
//! let diff = (eps - again)?.abs()?.max_all()?.to_scalar::<f32>()?;
//! assert_eq!(diff, 0.0); // the same weights, bit for bit
//! # Ok(())
//! # }
//! ```

/// The Candle this crate is built on.
pub use candle_core;
pub use candle_core::{DType, Device, Tensor, Var};
/// Candle's neural-network crate (the model's parameters live in its [`VarMap`]).
pub use candle_nn;
pub use candle_nn::VarMap;

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
