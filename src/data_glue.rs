//! Builds the training set from a [`DataConfig`](crate::config::DataConfig).

use crate::config::DataConfig;
use crate::Result;
use bump_data::{Dataset, GridSpec, RenderConfig, Sigma};

/// The renderer settings of the training set (model range [-1, 1], authors' polarity).
pub fn render_config(cfg: &DataConfig) -> RenderConfig {
    RenderConfig {
        n: cfg.n,
        sigma: Sigma::Spherical(cfg.sigma),
        ..RenderConfig::default()
    }
}

/// Renders the tiled (and optionally λ-subsampled) training set.
pub fn build_dataset(cfg: &DataConfig, subsample_seed: u64) -> Result<Dataset> {
    let mut centres = GridSpec::new(cfg.n, cfg.dx, cfg.dy).centres()?;
    if cfg.lambda < 1.0 {
        centres = bump_data::subsample(&centres, cfg.lambda, subsample_seed)?;
    }
    Ok(Dataset::render(&render_config(cfg), &centres)?)
}
