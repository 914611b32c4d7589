//! Evaluation of one checkpoint: generation accuracy, layer-4 geometry and both phase labels.

use crate::config::{EvalWeights, ExperimentConfig};
use crate::probe::{Probe, ProbeKind};
use crate::record::{AxisMetrics, EvalRecord, SetScore, TopologyRecord};
use crate::snapshot::Snapshot;
use crate::Result;
use bump_analysis::{
    Activations, Classification, MetricConfig, Phase, ProbeAnalysis, RepresentationMetrics,
    UmapConfig, UmapReport,
};
use bump_data::{Pattern, ScoreConfig, ScoreReport, StripeScoreConfig};
use bump_diffusion::{NoiseSchedule, SamplerConfig};
use bump_unet::UNet;
use candle_core::{Device, Tensor};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};

/// Everything an evaluation needs that does not change between checkpoints.
pub struct Evaluator<'a> {
    cfg: &'a ExperimentConfig,
    schedule: &'a NoiseSchedule,
    coords: Vec<[f64; 2]>,
    grid: Option<(usize, usize)>,
    cond: Tensor,
    sampler: SamplerConfig,
    sample_seeds: Vec<u64>,
    probes: Vec<Probe>,
    score: ScoreConfig,
    /// The SOS scorer matched to the rendering, for sets whose target is `sum_of_stripes`.
    sos_score: StripeScoreConfig,
    eval_model: UNet,
    sets: Vec<ConditionSet>,
    /// Images per UNet call when the probes are read ([`crate::probe::PROBE_CHUNK`]).
    probe_chunk: usize,
}

/// Conditions sampled together: centres, their condition tensor and per-sample seeds.
struct ConditionSet {
    name: String,
    /// What should be drawn: `Bump` or `SumOfStripes` (validated in the config).
    target: Pattern,
    coords: Vec<[f64; 2]>,
    cond: Tensor,
    seeds: Vec<u64>,
}

impl ConditionSet {
    /// Seeds are `seed + i`; further sets add `set_index << 32` so no two sets share noise.
    fn new(
        name: &str,
        coords: Vec<[f64; 2]>,
        seed: u64,
        set_index: u64,
        device: &Device,
    ) -> Result<Self> {
        let flat: Vec<f32> = coords
            .iter()
            .flat_map(|c| [c[0] as f32, c[1] as f32])
            .collect();
        let cond = Tensor::from_slice(&flat, (coords.len(), 2), device)?;
        let base = seed.wrapping_add(set_index << 32);
        let seeds = (0..coords.len() as u64)
            .map(|i| base.wrapping_add(i))
            .collect();
        Ok(Self {
            name: name.into(),
            target: Pattern::Bump,
            coords,
            cond,
            seeds,
        })
    }
}

/// Result of one evaluation.
pub struct EvalOutput {
    /// Step evaluated.
    pub step: u64,
    /// Which weights were evaluated.
    pub weights: EvalWeights,
    /// Scorer report over the generated images.
    pub score: ScoreReport,
    /// Layer-4 metrics of the main probe (on the per-condition means).
    pub metrics: RepresentationMetrics,
    /// Every probe's analysis and label; the first is the main probe.
    pub probes: Vec<ProbeOutcome>,
    /// The paper's protocol on the main probe's means: 3D UMAP and OLS R² to x and y.
    pub umap: UmapReport,
    /// Representation-side phase (the main probe's label).
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
    /// Per-axis errors, accuracies and factorization.
    pub axes: AxisMetrics,
    /// Scores of the further evaluation sets, by name.
    pub sets: BTreeMap<String, SetScore>,
    /// Topology of layer 4, when configured.
    pub topology: Option<TopologyRecord>,
}

impl<'a> Evaluator<'a> {
    /// Prepares the grid, the sampler and the shared probe noise.
    pub fn new(
        cfg: &'a ExperimentConfig,
        schedule: &'a NoiseSchedule,
        device: &Device,
    ) -> Result<Self> {
        let extent = cfg.data.extent();
        let coords = cfg.eval.centres.centres(extent)?;
        let grid = cfg.eval.centres.grid_shape(extent)?;
        let main = ConditionSet::new("main", coords.clone(), cfg.eval.seed, 0, device)?;
        let (cond, sample_seeds) = (main.cond, main.seeds);
        let sampler = cfg.eval.sampler.clone();
        sampler.validate(schedule)?;
        let sets = cfg
            .eval
            .sets
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let centres = s.centres.centres(extent)?;
                let mut set =
                    ConditionSet::new(&s.name, centres, cfg.eval.seed, i as u64 + 1, device)?;
                set.target = s.target;
                Ok(set)
            })
            .collect::<Result<Vec<_>>>()?;
        let probes = crate::probe::build_probes(cfg, schedule, &coords, device)?;
        let eval_model = UNet::new(&cfg.model, cfg.train.seed, device)?;
        Ok(Self {
            cfg,
            schedule,
            coords,
            grid,
            cond,
            sampler,
            sample_seeds,
            probes,
            score: cfg.data.score_config(),
            sos_score: StripeScoreConfig::for_render(
                &cfg.data.render_config(),
                Pattern::SumOfStripes,
            ),
            eval_model,
            sets,
            probe_chunk: crate::probe::PROBE_CHUNK,
        })
    }

    /// Sets how many images one UNet call takes when the probes are read (default
    /// [`crate::probe::PROBE_CHUNK`]): a memory bound, not a measurement setting — the readings
    /// differ only by the float blocking of the batched products. A chunk of exactly the number
    /// of conditions is one call per probe sample, as [`Probe::read`]. Non-zero by type, so a
    /// bad chunk cannot reach [`Evaluator::evaluate`].
    pub fn with_probe_chunk(mut self, chunk: std::num::NonZeroUsize) -> Self {
        self.probe_chunk = chunk.get();
        self
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

        // 1. Generate one image per condition and score it; then the further sets.
        let (samples, score) = self.generate(net, &self.coords, &self.cond, &self.sample_seeds)?;
        let sets = self
            .sets
            .iter()
            .map(|set| {
                let score = match set.target {
                    Pattern::SumOfStripes => {
                        let samples = self.sample(net, &set.cond, &set.seeds)?;
                        let targets = self.pixel_targets(&set.coords);
                        SetScore::of_sos(&bump_data::score_sos_batch(
                            &samples,
                            n,
                            &targets,
                            &self.sos_score,
                        )?)
                    }
                    _ => SetScore::of(&self.generate(net, &set.coords, &set.cond, &set.seeds)?.1),
                };
                Ok((set.name.clone(), score))
            })
            .collect::<Result<BTreeMap<_, _>>>()?;

        // 2. Layer 4 under every probe; the first is the main one.
        let probes = self.read_probes(net)?;
        let main = probes
            .first()
            .ok_or_else(|| crate::Error::Config("no probe".into()))?;
        let means = mean_activations(&main.samples)?;
        let umap = bump_analysis::umap_r2(&means, &self.coords, &self.umap_config())?;
        let gen = SetScore::of(&score).classify_generation();
        let pca = bump_analysis::pca(&means, 2)?.projections_2d();
        let isomap = bump_analysis::isomap_2d(&means, self.cfg.eval.k).ok();
        let rep = main.label.clone();
        let metrics = main.analysis.means.clone();
        let axes = self.axis_metrics(&score, &means)?;
        let topology = self.topology(&means)?;
        let probes = probes.into_iter().map(ProbeOutcome::from).collect();
        Ok(EvalOutput {
            step,
            weights: if weights.is_some() {
                EvalWeights::Ema
            } else {
                EvalWeights::Raw
            },
            score,
            metrics,
            probes,
            umap,
            rep,
            gen,
            samples,
            n,
            range: self.cfg.data.range,
            coords: self.coords.clone(),
            pca,
            isomap,
            axes,
            sets,
            topology,
        })
    }
}

impl EvalOutput {
    /// The `metrics.jsonl` line for this evaluation.
    pub fn record(&self, step: u64, train_loss: f64, wall_s: f64) -> EvalRecord {
        let m = &self.metrics;
        let mut rep = serde_json::to_value(m).unwrap_or(serde_json::Value::Null);
        if let serde_json::Value::Object(map) = &mut rep {
            map.insert(
                "rep_decided_by".into(),
                serde_json::to_value(&self.rep).unwrap_or_default(),
            );
            let probes: serde_json::Map<String, serde_json::Value> = self
                .probes
                .iter()
                .map(|p| {
                    (
                        p.name.clone(),
                        serde_json::to_value(p).unwrap_or(serde_json::Value::Null),
                    )
                })
                .collect();
            map.insert("probes".into(), serde_json::Value::Object(probes));
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
            malformed_rate: self.score.malformed_rate,
            condition_signal: self.probes.first().map_or(f64::NAN, |p| p.condition_signal),
            umap_r2_x: self.umap.r2_x,
            umap_r2_y: self.umap.r2_y,
            gen_phase: self.gen.phase,
            rep_phase: self.rep.phase,
            r2_x: m.r2_x,
            r2_y: m.r2_y,
            trustworthiness: m.trustworthiness,
            continuity: m.continuity,
            order_rho: bump_analysis::order_rho(m),
            twonn_multiscale_dim: m.twonn_multiscale_dim,
            participation_ratio: m.participation_ratio,
            wall_s,
            representation: rep,
            axes: Some(self.axes.clone()),
            sets: self.sets.clone(),
            topology: self.topology.clone(),
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
            umap: Some(
                self.umap
                    .embedding
                    .iter()
                    .map(|r| [r[0], r[1], r[2]])
                    .collect(),
            ),
            samples: self.samples[..keep.min(self.samples.len())].to_vec(),
        }
    }

    /// The phase pair (representation, generation).
    pub fn phases(&self) -> (Phase, Phase) {
        (self.rep.phase, self.gen.phase)
    }
}

/// One probe's result at one checkpoint.
#[derive(Debug, Clone, Serialize)]
pub struct ProbeOutcome {
    /// `noise_t999`, `real_t500`, `shared_t999`, ….
    pub name: String,
    /// The input family.
    pub kind: ProbeKind,
    /// The timestep.
    pub timestep: u32,
    /// Between-condition share of layer 4's variance (NaN with one sample per condition).
    pub condition_signal: f64,
    /// The representation label under this probe, and what decided it.
    pub label: Classification,
    /// Metrics of the per-condition means.
    pub means: RepresentationMetrics,
    /// Metrics of one sample per condition.
    pub single: RepresentationMetrics,
}

/// A probe's activations and their analysis, before the activations are dropped.
struct ProbeReading {
    name: String,
    kind: ProbeKind,
    timestep: u32,
    samples: Vec<Activations>,
    analysis: ProbeAnalysis,
    label: Classification,
}

impl From<ProbeReading> for ProbeOutcome {
    fn from(r: ProbeReading) -> Self {
        Self {
            name: r.name,
            kind: r.kind,
            timestep: r.timestep,
            condition_signal: r.analysis.condition_signal,
            label: r.label,
            means: r.analysis.means,
            single: r.analysis.single,
        }
    }
}

impl Evaluator<'_> {
    fn umap_config(&self) -> UmapConfig {
        self.cfg.eval.umap
    }

    /// Torus statistics and Rips persistence of the means, when `eval.topology` is set (the
    /// configuration guarantees a full periodic grid).
    fn topology(&self, means: &Activations) -> Result<Option<TopologyRecord>> {
        let (Some(topo), Some((nx, ny))) = (&self.cfg.eval.topology, self.grid) else {
            return Ok(None);
        };
        let (stats, ideal) = bump_analysis::distances_to_ideals(means, nx, ny, &topo.stats)?;
        let rips = bump_analysis::rips_persistence(means, &topo.rips)?;
        let top = |d: &bump_analysis::PersistenceDiagram| {
            d.pairs
                .iter()
                .take(10)
                .map(|p| [p.birth, p.death])
                .collect()
        };
        Ok(Some(TopologyRecord {
            clifford_distance: ideal.clifford.mean,
            torus_3d_distance: ideal.torus_3d.mean,
            torus_3d_x_on_tube: ideal.torus_3d_x_on_tube,
            x_on_y_mean_abs: stats.x_on_y.mean_abs,
            x_on_x_mean: stats.x_on_x.mean,
            y_on_y_mean: stats.y_on_y.mean,
            prominent: rips.prominent(&topo.prominence),
            scale: rips.scale,
            h1: top(&rips.h1),
            h0: top(&rips.h0),
        }))
    }

    /// Samples one image per condition (seeded per sample) and scores it against its centre.
    fn generate(
        &self,
        net: &UNet,
        coords: &[[f64; 2]],
        cond: &Tensor,
        seeds: &[u64],
    ) -> Result<(Vec<f32>, ScoreReport)> {
        let samples = self.sample(net, cond, seeds)?;
        let targets = self.pixel_targets(coords);
        let score = bump_data::score_batch(&samples, self.cfg.data.n, &targets, &self.score)?;
        Ok((samples, score))
    }

    /// Samples one image per condition (seeded per sample), `[B, N, N]` flattened.
    fn sample(&self, net: &UNet, cond: &Tensor, seeds: &[u64]) -> Result<Vec<f32>> {
        let n = self.cfg.data.n;
        let mut denoiser = |x: &Tensor, t: &Tensor, c: &Tensor| net.forward(x, t, c);
        let out = bump_diffusion::sample(
            self.schedule,
            &self.sampler,
            &mut denoiser,
            cond,
            (1, n, n),
            seeds,
            None,
        )?;
        Ok(out.images.flatten_all()?.to_vec1()?)
    }

    /// The scorer's targets: conditions are labels (latent units on an extended canvas); the
    /// scorer sees pixels.
    fn pixel_targets(&self, coords: &[[f64; 2]]) -> Vec<[f32; 2]> {
        let canvas = self.cfg.data.canvas();
        coords
            .iter()
            .map(|&c| canvas.map_or(c, |cv| cv.latent_to_image(c)))
            .map(|c| [c[0] as f32, c[1] as f32])
            .collect()
    }

    /// Per-axis errors and accuracies from the scores, and the factorization of the main
    /// probe's means when the evaluation centres form a grid.
    fn axis_metrics(&self, score: &ScoreReport, means: &Activations) -> Result<AxisMetrics> {
        let tau_half = [self.cfg.data.dx / 2.0, self.cfg.data.dy / 2.0];
        let [acc_half_x, acc_half_y] = score.axis_accuracy(tau_half)?;
        let factorization = match self.grid {
            Some(grid) if grid.0 >= 3 && grid.1 >= 3 => Some(bump_analysis::factorization(
                means,
                grid,
                MetricConfig::default().factor_rank,
                self.cfg.eval.seed,
            )?),
            _ => None,
        };
        Ok(AxisMetrics {
            single_share: if score.count == 0 {
                0.0
            } else {
                score.single_count as f64 / score.count as f64
            },
            err_x: score.mean_abs_dx,
            err_y: score.mean_abs_dy,
            tau_half,
            acc_half_x,
            acc_half_y,
            factorization,
        })
    }

    /// Reads and analyses layer 4 under every probe; the forward passes of all probes run
    /// together ([`crate::probe::read_probes`]).
    fn read_probes(&self, net: &UNet) -> Result<Vec<ProbeReading>> {
        let mcfg = MetricConfig {
            k: self.cfg.eval.k,
            ..MetricConfig::default()
        };
        let thresholds = self.cfg.eval.classifier;
        let readings = crate::probe::read_probes(&self.probes, net, &self.cond, self.probe_chunk)?;
        self.probes
            .iter()
            .zip(readings)
            .map(|(probe, samples)| {
                let analysis =
                    bump_analysis::analyze_probe(&samples, &self.coords, self.grid, &mcfg)?;
                let label = bump_analysis::classify_representation(&analysis, &thresholds);
                Ok(ProbeReading {
                    name: probe.name(),
                    kind: probe.kind,
                    timestep: probe.timestep,
                    samples,
                    analysis,
                    label,
                })
            })
            .collect()
    }
}

/// The per-condition mean of K activation matrices of equal shape.
fn mean_activations(samples: &[Activations]) -> Result<Activations> {
    let first = samples
        .first()
        .ok_or_else(|| crate::Error::Config("a probe needs at least one sample".into()))?;
    let mut sum = vec![0.0f64; first.n() * first.d()];
    for a in samples {
        for (s, v) in sum.iter_mut().zip(a.as_slice()) {
            *s += v;
        }
    }
    let k = samples.len() as f64;
    sum.iter_mut().for_each(|s| *s /= k);
    Ok(Activations::from_f64(&sum, first.n(), first.d())?)
}
