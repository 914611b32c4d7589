//! The model, optimiser and EMA of a run, started fresh or resumed from a checkpoint.

use crate::checkpoint::TrainingCheckpoint;
use crate::config::ExperimentConfig;
use crate::optim::{AdamW, Ema};
use crate::record::EvalRecord;
use crate::run_dir::{RunDir, RunFile};
use crate::{Error, Result};
use bump_unet::UNet;
use candle_core::{Device, Tensor};
use std::collections::HashMap;

/// Everything that changes while a run trains.
pub struct TrainState {
    /// The model being trained.
    pub model: UNet,
    /// Its optimiser.
    pub opt: AdamW,
    /// The EMA of its weights.
    pub ema: Ema,
    /// Completed optimiser updates.
    pub step: u64,
    /// Evaluation records so far (those of the resumed part included).
    pub records: Vec<EvalRecord>,
    /// Wall-clock seconds spent before this process started (resumed runs).
    pub wall_offset: f64,
    loss_sum: f64,
    loss_count: u64,
}

impl TrainState {
    /// A new model from the run seed, zero optimiser state.
    pub fn fresh(cfg: &ExperimentConfig, device: &Device) -> Result<Self> {
        let model = UNet::new(&cfg.model, cfg.train.seed, device)?;
        let opt = AdamW::new(model.vars(), cfg.train.adamw)?;
        let ema = Ema::new(&model.vars(), cfg.train.ema_decay)?;
        Ok(Self {
            model,
            opt,
            ema,
            step: 0,
            records: Vec::new(),
            wall_offset: 0.0,
            loss_sum: 0.0,
            loss_count: 0,
        })
    }

    /// The state of the newest checkpoint in `run_dir`, with the records up to its step.
    /// Reads only: nothing in the directory changes, whatever fails.
    ///
    /// A corrupt newest checkpoint (checksum mismatch, truncated, damaged header or tensors) is
    /// [`Error::CorruptCheckpoint`], naming the newest intact checkpoint and how to resume from
    /// it; the run never silently falls back to an older one.
    pub fn resume(cfg: &ExperimentConfig, run_dir: &RunDir, device: &Device) -> Result<Self> {
        let (step, path) = run_dir.latest_checkpoint()?.ok_or_else(|| {
            Error::Checkpoint(format!(
                "--resume: no checkpoint found in {}",
                run_dir.path(RunFile::Checkpoints).display()
            ))
        })?;
        let loaded = match run_dir.load_checkpoint(&path, device) {
            Ok(l) => l,
            Err(e) if is_corruption(&e) => {
                let (intact, newer_corrupt) = run_dir.newest_intact_checkpoint(step)?;
                return Err(Error::CorruptCheckpoint {
                    path,
                    reason: e.to_string(),
                    newer_corrupt,
                    intact,
                });
            }
            Err(e) => return Err(e),
        };
        if loaded.model.config() != &cfg.model {
            return Err(Error::Checkpoint(format!(
                "{}: the checkpoint's model configuration differs from this run's",
                path.display()
            )));
        }
        let mut state = Self::fresh(cfg, device)?;
        let weights: HashMap<String, Tensor> = loaded
            .model
            .vars()
            .into_iter()
            .map(|(n, v)| (n, v.as_tensor().clone()))
            .collect();
        state.model.load_weights(&weights)?;
        state
            .opt
            .load_state(&loaded.extras, loaded.state.adam_step)?;
        state
            .ema
            .load_state(&loaded.extras, loaded.state.ema_updates)?;
        state.step = step;
        state.wall_offset = loaded.state.wall_s;
        state.loss_sum = f64::from_bits(loaded.state.pending_loss.sum_bits);
        state.loss_count = loaded.state.pending_loss.count;
        state.records = run_dir
            .read_records()?
            .into_iter()
            .filter(|r| r.step <= step)
            .collect();
        Ok(state)
    }

    /// The typed state to store with a checkpoint at the current step.
    pub fn checkpoint(&self, cfg: &ExperimentConfig, wall_s: f64) -> TrainingCheckpoint {
        TrainingCheckpoint {
            step: self.step,
            adam_step: self.opt.step_count(),
            ema_updates: self.ema.updates(),
            wall_s,
            rng: TrainingCheckpoint::rng_description(cfg.train.seed, self.step),
            experiment: cfg.clone(),
            pending_loss: crate::checkpoint::PendingLoss {
                sum_bits: self.loss_sum.to_bits(),
                count: self.loss_count,
            },
        }
    }

    /// Counts one update's loss towards the next record's mean.
    pub fn add_loss(&mut self, loss: f64) {
        self.loss_sum += loss;
        self.loss_count += 1;
    }

    /// Mean loss since the last call (0 when no update ran), and resets it.
    pub fn take_mean_loss(&mut self) -> f64 {
        let mean = if self.loss_count > 0 {
            self.loss_sum / self.loss_count as f64
        } else {
            0.0
        };
        self.loss_sum = 0.0;
        self.loss_count = 0;
        mean
    }
}

/// Whether a checkpoint load failed because the file's content is damaged (as opposed to a
/// missing file, a newer schema or another model configuration).
fn is_corruption(e: &Error) -> bool {
    use bump_unet::Error as U;
    matches!(
        e,
        Error::Unet(
            U::ChecksumMismatch { .. }
                | U::TruncatedFile { .. }
                | U::CorruptHeader { .. }
                | U::MissingTensor { .. }
                | U::ShapeMismatch { .. }
                | U::InvalidConfig(_)
        ) | Error::Checkpoint(_)
    )
}
