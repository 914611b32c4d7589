//! # bump-ddpm
//!
//! Facade of the bump-ddpm workspace: re-exports the leaf crates and owns training,
//! evaluation, experiments and reports.

pub use bump_analysis as analysis;
pub use bump_data as data;
pub use bump_diffusion as diffusion;
pub use bump_unet as unet;
