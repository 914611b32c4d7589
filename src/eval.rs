//! Evaluation of one checkpoint: generation accuracy, layer-4 geometry and both phase labels.

use crate::config::{EvalWeights, ExperimentConfig};
use crate::record::EvalRecord;
use crate::snapshot::Snapshot;
use crate::Result;
use bump_analysis::{Activations, Classification, MetricConfig, Phase, RepresentationMetrics};
use bump_data::{ScoreConfig, ScoreReport};
use bump_diffusion::{NoiseSchedule, SamplerConfig};
use bump_unet::UNet;
use candle_core::{Device, Tensor};
use std::collections::HashMap;

/// Everything an evaluation needs that does not change between checkpoints.
pub struct Evaluator<'a> {
    cfg: &'a ExperimentConfig,
    schedule: &'a NoiseSchedule,
    device: Device,
    coords: Vec<[f64; 2]>,
    grid: Option<(usize, usize)>,
    cond: Tensor,
    sampler: SamplerConfig,
    sample_seeds: Vec<u64>,
    probe_noise: Tensor,
    probe_timesteps: Vec<u32>,
    score: ScoreConfig,
    eval_model: UNet,
}

/// Result of one evaluation.
pub struct EvalOutput {
    /// Step evaluated.
    pub step: u64,
    /// Which weights were evaluated.
    pub weights: EvalWeights,
    /// Scorer report over the generated images.
    pub score: ScoreReport,
    /// Layer-4 metrics at the main probe timestep.
    pub metrics: RepresentationMetrics,
    /// Metrics at extra probe timesteps, keyed by t.
    pub extra_metrics: Vec<(u32, RepresentationMetrics)>,
    /// Representation-side phase.
    pub rep: Classification,
    /// Generation-side phase.
    pub gen: Classification,
    /// Generated images (model range), one per condition, row-major.
    pub samples: Vec<f32>,
    /// Canvas side.
    pub n: usize,
    /// Model value range of the images `(lo, hi)`.
    pub range: (f32, f32),
    /// Centres of the conditions.
    pub coords: Vec<[f64; 2]>,
    /// 2D PCA of layer 4.
    pub pca: Vec<[f64; 2]>,
    /// 2D Isomap of layer 4.
    pub isomap: Option<Vec<[f64; 2]>>,
}

impl<'a> Evaluator<'a> {
    /// Prepares the grid, the sampler and the shared probe noise.
    pub fn new(
        cfg: &'a ExperimentConfig,
        schedule: &'a NoiseSchedule,
        device: &Device,
    ) -> Result<Self> {
        let n = cfg.data.n;
        let extent = cfg.data.extent();
        let coords = cfg.eval.centres.centres(extent)?;
        let grid = cfg.eval.centres.grid_shape(extent)?;
        let flat: Vec<f32> = coords
            .iter()
            .flat_map(|c| [c[0] as f32, c[1] as f32])
            .collect();
        let cond = Tensor::from_slice(&flat, (coords.len(), 2), device)?;
        let t_total = schedule.num_train_timesteps();
        let sampler = cfg.eval.sampler.clone();
        sampler.validate(schedule)?;
        let sample_seeds: Vec<u64> = (0..coords.len() as u64)
            .map(|i| cfg.eval.seed.wrapping_add(i))
            .collect();
        let probe_noise =
            bump_diffusion::gaussian_noise(&[cfg.eval.seed ^ 0xC0FFEE], &[1, n, n], device)?;
        let mut probe_timesteps = cfg.eval.probe_timesteps.clone();
        if probe_timesteps.is_empty() {
            probe_timesteps.push(t_total as u32 - 1);
        }
        let eval_model = UNet::new(&cfg.model, cfg.train.seed, device)?;
        Ok(Self {
            cfg,
            schedule,
            device: device.clone(),
            coords,
            grid,
            cond,
            sampler,
            sample_seeds,
            probe_noise,
            probe_timesteps,
            score: cfg.data.score_config(),
            eval_model,
        })
    }

    /// Evaluates `model`, or `weights` (e.g. the EMA) loaded into a copy of it.
    pub fn evaluate(
        &self,
        model: &UNet,
        weights: Option<&HashMap<String, Tensor>>,
        step: u64,
    ) -> Result<EvalOutput> {
        let net = match weights {
            Some(w) => {
                self.eval_model.load_weights(w)?;
                &self.eval_model
            }
            None => model,
        };
        let n = self.cfg.data.n;
        let b = self.coords.len();

        // 1. Generate one image per condition and score it.
        let mut denoiser = |x: &Tensor, t: &Tensor, c: &Tensor| net.forward(x, t, c);
        let out = bump_diffusion::sample(
            self.schedule,
            &self.sampler,
            &mut denoiser,
            &self.cond,
            (1, n, n),
            &self.sample_seeds,
            None,
        )?;
        let samples: Vec<f32> = out.images.flatten_all()?.to_vec1()?;
        // Conditions are labels (latent units on an extended canvas); the scorer sees pixels.
        let canvas = self.cfg.data.canvas();
        let targets: Vec<[f32; 2]> = self
            .coords
            .iter()
            .map(|&c| canvas.map_or(c, |cv| cv.latent_to_image(c)))
            .map(|c| [c[0] as f32, c[1] as f32])
            .collect();
        let score = bump_data::score_batch(&samples, n, &targets, &self.score)?;

        // 2-3. Layer 4 at the shared noise image and the probe timesteps.
        let x = self.probe_noise.broadcast_as((b, 1, n, n))?.contiguous()?;
        let mcfg = MetricConfig {
            k: self.cfg.eval.k,
            ..MetricConfig::default()
        };
        let mut main: Option<(RepresentationMetrics, Activations)> = None;
        let mut extra_metrics = Vec::new();
        for (i, &tp) in self.probe_timesteps.iter().enumerate() {
            let t = Tensor::full(tp as f32, b, &self.device)?;
            let (_, taps) = net.forward_with_taps(&x, &t, &self.cond, &["layer4"])?;
            let l4 = taps.get("layer4").ok_or_else(|| {
                crate::Error::Config("the model did not return the layer4 tap".into())
            })?;
            let d = l4.elem_count() / b;
            let v: Vec<f32> = l4.flatten_all()?.to_vec1()?;
            let acts = Activations::from_f32(&v, b, d)?;
            let m = bump_analysis::compute_metrics(&acts, &self.coords, self.grid, &mcfg)?;
            if i == 0 {
                main = Some((m, acts));
            } else {
                extra_metrics.push((tp, m));
            }
        }
        let (metrics, acts) =
            main.ok_or_else(|| crate::Error::Config("no probe timestep".into()))?;
        let rep = bump_analysis::classify(&metrics, &bump_analysis::PhaseThresholds::default());
        let gen = bump_analysis::classify_generation(
            &bump_analysis::GenerationMix {
                accuracy: score.accuracy,
                multi_bump_rate: score.multi_bump_rate,
                empty_rate: score.empty_rate,
                single_wrong_rate: score.single_wrong_rate,
            },
            &bump_analysis::GenerationThresholds::default(),
        );
        let pca = bump_analysis::pca(&acts, 2)?.projections_2d();
        let isomap = bump_analysis::isomap_2d(&acts, self.cfg.eval.k).ok();
        Ok(EvalOutput {
            step,
            weights: if weights.is_some() {
                EvalWeights::Ema
            } else {
                EvalWeights::Raw
            },
            score,
            metrics,
            extra_metrics,
            rep,
            gen,
            samples,
            n,
            range: self.cfg.data.range,
            coords: self.coords.clone(),
            pca,
            isomap,
        })
    }
}

impl EvalOutput {
    /// The `metrics.jsonl` line for this evaluation.
    pub fn record(&self, step: u64, train_loss: f64, wall_s: f64) -> EvalRecord {
        let m = &self.metrics;
        let mut rep = serde_json::to_value(m).unwrap_or(serde_json::Value::Null);
        if let serde_json::Value::Object(map) = &mut rep {
            for (t, em) in &self.extra_metrics {
                map.insert(
                    format!("at_t{t}"),
                    serde_json::to_value(em).unwrap_or(serde_json::Value::Null),
                );
            }
            map.insert(
                "rep_decided_by".into(),
                serde_json::to_value(&self.rep).unwrap_or_default(),
            );
        }
        EvalRecord {
            step,
            train_loss,
            weights: self.weights,
            accuracy: self.score.accuracy,
            acc_x: self.score.acc_x,
            acc_y: self.score.acc_y,
            accuracy_tight: self.score.accuracy_tight,
            multi_bump_rate: self.score.multi_bump_rate,
            empty_rate: self.score.empty_rate,
            single_wrong_rate: self.score.single_wrong_rate,
            gen_phase: self.gen.phase,
            rep_phase: self.rep.phase,
            r2_x: m.r2_x,
            r2_y: m.r2_y,
            trustworthiness: m.trustworthiness,
            continuity: m.continuity,
            spearman: bump_analysis::order_rho(m),
            intrinsic_dim: m.intrinsic_dim,
            participation_ratio: m.participation_ratio,
            wall_s,
            representation: rep,
        }
    }

    /// The snapshot behind the report's pictures (at most [`Snapshot::MAX_IMAGES`] images).
    pub fn snapshot(&self) -> Snapshot {
        let keep = Snapshot::MAX_IMAGES.min(self.coords.len()) * self.n * self.n;
        Snapshot {
            step: self.step,
            n: self.n,
            range: self.range,
            coords: self.coords.clone(),
            pca: self.pca.clone(),
            isomap: self.isomap.clone(),
            samples: self.samples[..keep.min(self.samples.len())].to_vec(),
        }
    }

    /// The phase pair (representation, generation).
    pub fn phases(&self) -> (Phase, Phase) {
        (self.rep.phase, self.gen.phase)
    }
}
