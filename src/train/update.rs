//! One optimiser update: the mini-batch of the step, noising, the loss, backward and AdamW.

use super::{step_rng, TrainState, PURPOSE_NOISE, PURPOSE_TIMESTEPS};
use crate::config::ExperimentConfig;
use crate::optim::optimizer_step;
use crate::Result;
use bump_data::{Batches, Dataset};
use bump_diffusion::NoiseSchedule;
use candle_core::{DType, Device, Tensor};
use rand::Rng;

/// Draws the mini-batch, timesteps and noise of each step (all counter-based on the step, so a
/// resumed run draws exactly what an uninterrupted one does) and applies the update.
pub struct Updater<'a> {
    dataset: &'a Dataset,
    schedule: &'a NoiseSchedule,
    device: Device,
    seed: u64,
    grad_clip: f64,
    batch: usize,
    batches: Batches,
    steps_per_epoch: u64,
    order: (u64, Vec<usize>),
    x_buf: Vec<f32>,
    label_buf: Vec<f32>,
}

impl<'a> Updater<'a> {
    /// Prepares the shuffler and buffers (the batch is capped at the dataset size).
    pub fn new(
        cfg: &ExperimentConfig,
        dataset: &'a Dataset,
        schedule: &'a NoiseSchedule,
        device: &Device,
    ) -> Result<Self> {
        let batch = cfg.train.batch.min(dataset.len());
        let batches = Batches::new(dataset.len(), batch, cfg.train.seed)?.with_drop_last(true);
        let steps_per_epoch = batches.batches_per_epoch().max(1) as u64;
        let px = dataset.image_size();
        Ok(Self {
            dataset,
            schedule,
            device: device.clone(),
            seed: cfg.train.seed,
            grad_clip: cfg.train.grad_clip,
            batch,
            batches,
            steps_per_epoch,
            order: (u64::MAX, Vec::new()),
            x_buf: Vec::with_capacity(batch * px),
            label_buf: Vec::with_capacity(batch * 2),
        })
    }

    /// Applies the update of `state.step` at learning rate `lr` and returns its loss. A
    /// non-finite loss is returned without touching the weights; the caller stops the run.
    pub fn step(&mut self, state: &mut TrainState, lr: f64) -> Result<f64> {
        let step = state.step;
        let (batch, n, device) = (self.batch, self.dataset.n(), &self.device);
        let epoch = step / self.steps_per_epoch;
        let within = (step % self.steps_per_epoch) as usize;
        if self.order.0 != epoch {
            self.order = (epoch, self.batches.permutation(epoch));
        }
        let idx = &self.order.1[within * batch..(within + 1) * batch];
        self.dataset
            .gather(idx, &mut self.x_buf, &mut self.label_buf)?;
        let x0 = Tensor::from_slice(&self.x_buf, (batch, 1, n, n), device)?;
        let cond = Tensor::from_slice(&self.label_buf, (batch, 2), device)?;
        let t_vals = bump_diffusion::sample_timesteps(
            &mut step_rng(self.seed, PURPOSE_TIMESTEPS, step),
            batch,
            self.schedule.num_train_timesteps(),
        );
        let t = Tensor::from_iter(t_vals.iter().map(|&v| v as f32), device)?;
        let noise_seeds: Vec<u64> = {
            let mut r = step_rng(self.seed, PURPOSE_NOISE, step);
            (0..batch).map(|_| r.random::<u64>()).collect()
        };
        let noise = bump_diffusion::gaussian_noise(&noise_seeds, &[1, n, n], device)?;
        let x_t = bump_diffusion::add_noise(self.schedule, &x0, &noise, &t)?;
        let target = bump_diffusion::training_target(
            self.schedule,
            self.schedule.prediction_type(),
            &x0,
            &noise,
            &t,
        )?;
        let pred = state.model.forward_t(&x_t, &t, &cond, true)?;
        let loss = (pred - &target)?.sqr()?.mean_all()?;
        let loss_v = loss.to_dtype(DType::F64)?.to_scalar::<f64>()?;
        if !loss_v.is_finite() {
            return Ok(loss_v);
        }
        optimizer_step(&loss, &mut state.opt, &mut state.ema, lr, self.grad_clip)?;
        state.add_loss(loss_v);
        state.step += 1;
        Ok(loss_v)
    }
}
