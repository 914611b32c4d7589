//! Training checkpoints: the model (bump-unet's checkpoint format) plus the typed training state
//! the facade needs to resume bit-identically.

use crate::config::ExperimentConfig;
use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

/// Key of [`bump_unet::CheckpointMeta::extra`] holding the JSON of a [`TrainingCheckpoint`].
pub const TRAINING_META_KEY: &str = "training";

/// Everything besides tensors that a resumed run needs, stored as one JSON value in the
/// checkpoint's metadata (under [`TRAINING_META_KEY`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainingCheckpoint {
    /// Completed optimiser updates.
    pub step: u64,
    /// AdamW's update counter (bias correction).
    pub adam_step: u64,
    /// EMA updates applied (its warm-up depends on it).
    pub ema_updates: u64,
    /// Wall-clock seconds the run had used when the checkpoint was written.
    pub wall_s: f64,
    /// How the run draws its randomness (for a human reader; the streams are counter-based).
    pub rng: String,
    /// The run's whole configuration.
    pub experiment: ExperimentConfig,
    /// Training losses summed since the previous record, not yet reported (so a resumed run
    /// that re-evaluates this checkpoint reports the same `train_loss`). Absent in older
    /// checkpoints (then zero).
    #[serde(default)]
    pub pending_loss: PendingLoss,
}

/// Losses accumulated towards the next record's mean, stored exactly.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PendingLoss {
    /// `f64::to_bits` of the sum (bits, so the JSON round trip is exact).
    pub sum_bits: u64,
    /// Number of losses in the sum.
    pub count: u64,
}

impl TrainingCheckpoint {
    /// The RNG description written into every checkpoint of a run with this seed.
    pub fn rng_description(seed: u64, step: u64) -> String {
        format!("chacha8 counter-based: key = seed {seed} ^ purpose, stream = step {step}")
    }

    /// The bump-unet metadata carrying this state.
    pub fn to_meta(&self) -> Result<bump_unet::CheckpointMeta> {
        Ok(bump_unet::CheckpointMeta {
            step: self.step,
            seed: self.experiment.train.seed,
            extra: BTreeMap::from([(TRAINING_META_KEY.to_string(), serde_json::to_string(self)?)]),
        })
    }

    /// Reads the state back from a checkpoint's metadata. `path` names the file in errors.
    pub fn from_meta(path: &Path, meta: &bump_unet::CheckpointMeta) -> Result<Self> {
        let text = meta.extra.get(TRAINING_META_KEY).ok_or_else(|| {
            Error::Checkpoint(format!(
                "{}: no training state (metadata `{TRAINING_META_KEY}`); it was not written by \
                 bump_ddpm::train, or by a version before typed checkpoints",
                path.display()
            ))
        })?;
        let state: Self = serde_json::from_str(text).map_err(|e| {
            Error::Checkpoint(format!(
                "{}: training state is unreadable: {e}",
                path.display()
            ))
        })?;
        if state.step != meta.step {
            return Err(Error::Checkpoint(format!(
                "{}: training state says step {} but the checkpoint says step {}",
                path.display(),
                state.step,
                meta.step
            )));
        }
        Ok(state)
    }
}
