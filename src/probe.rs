//! The layer-4 probe: which inputs the model is shown when its representation is read.
//!
//! The model sees noise (at the first reverse step) or noisy images, never one fixed image. The
//! probe therefore shows it, per condition c and timestep t, K independent seeded inputs:
//!
//! - [`ProbeKind::Noise`]: K independent N(0, I) images, as at the start of sampling;
//! - [`ProbeKind::Real`]: K noised real images x_t = √ᾱ_t·x₀(c) + √(1−ᾱ_t)·ε, x₀(c) the
//!   training image of condition c (what the model sees during training);
//! - [`ProbeKind::Shared`]: one noise image shared by every condition (the former probe). It makes
//!   layer 4 a deterministic function of the condition, so it can only measure the condition's
//!   path through the network, not how much of layer 4 the condition explains.
//!
//! From the K samples per condition bump-analysis measures the condition signal fraction and the
//! geometry of the per-condition means and of single samples (docs/analysis.md).

use crate::config::ExperimentConfig;
use crate::{Error, Result};
use bump_analysis::Activations;
use bump_diffusion::NoiseSchedule;
use bump_unet::{UNet, LAYER4_ALIAS};
use candle_core::{Device, Tensor};
use serde::{Deserialize, Serialize};

/// What the probe shows the model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProbeConfig {
    /// Independent inputs per condition (K ≥ 2 for the condition signal; ours: 4).
    pub samples: usize,
    /// Timesteps at which layer 4 is read; empty: T − 1, T/2 and T/10 (ours). The first one is
    /// the main probe, whose label is the record's `rep_phase`.
    #[serde(default)]
    pub timesteps: Vec<u32>,
    /// Also read layer 4 on noised real images (at every timestep).
    pub real_images: bool,
    /// Also read layer 4 with the former shared noise image (first timestep only).
    pub shared_noise: bool,
}

impl Default for ProbeConfig {
    /// K = 4 inputs per condition at T − 1, T/2 and T/10, with the real-image and shared-noise
    /// probes on (all ours; docs/analysis.md).
    fn default() -> Self {
        Self {
            samples: 4,
            timesteps: Vec::new(),
            real_images: true,
            shared_noise: true,
        }
    }
}

impl ProbeConfig {
    /// The timesteps actually probed for a schedule of `t_total` training timesteps.
    pub fn timesteps_for(&self, t_total: usize) -> Vec<u32> {
        if !self.timesteps.is_empty() {
            return self.timesteps.clone();
        }
        let t = t_total as u32;
        let mut out = vec![t - 1, t / 2, t / 10];
        out.dedup();
        out
    }

    /// Checks the values against the schedule; messages name `eval.probe.*`.
    pub fn validate(&self, t_total: usize) -> Result<()> {
        if self.samples < 2 || self.samples > 64 {
            return Err(Error::Config(format!(
                "eval.probe.samples must lie in 2..=64 (the condition signal needs two or more), got {}",
                self.samples
            )));
        }
        if let Some(&t) = self.timesteps.iter().find(|&&t| t as usize >= t_total) {
            return Err(Error::Config(format!(
                "eval.probe.timesteps must lie in 0..{t_total} (the training timesteps), got {t}"
            )));
        }
        Ok(())
    }
}

/// The input family of a probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProbeKind {
    /// Independent noise images per condition.
    Noise,
    /// Noised real images per condition.
    Real,
    /// One noise image shared by every condition.
    Shared,
}

/// One probe: a kind at a timestep, with its K input batches.
pub struct Probe {
    /// The input family.
    pub kind: ProbeKind,
    /// The timestep.
    pub timestep: u32,
    inputs: Vec<Tensor>,
}

impl Probe {
    /// `noise_t999`, `real_t500`, `shared_t999`: the probe's name in records and reports.
    pub fn name(&self) -> String {
        let kind = match self.kind {
            ProbeKind::Noise => "noise",
            ProbeKind::Real => "real",
            ProbeKind::Shared => "shared",
        };
        format!("{kind}_t{}", self.timestep)
    }

    /// Number of samples per condition.
    pub fn samples(&self) -> usize {
        self.inputs.len()
    }

    /// Layer 4 for every input batch: `K` activation matrices of B × D, conditions in order, one
    /// forward pass per input batch. An evaluation reads every probe at once with
    /// [`read_probes`], which batches the passes of all probes together.
    pub fn read(&self, net: &UNet, cond: &Tensor) -> Result<Vec<Activations>> {
        let b = cond.dims()[0];
        let t = Tensor::full(self.timestep as f32, b, cond.device())?;
        self.inputs
            .iter()
            .map(|x| {
                let taps = net.activations(x, &t, cond, &[LAYER4_ALIAS])?;
                let l4 = taps.get(LAYER4_ALIAS).ok_or_else(|| {
                    Error::Config("the model did not return the layer4 tap".into())
                })?;
                let v: Vec<f32> = l4.flatten_all()?.to_vec1()?;
                Ok(Activations::from_f32(&v, b, l4.elem_count() / b)?)
            })
            .collect()
    }
}

/// Images per UNet call when every probe is read together ([`read_probes`]): four passes of the
/// quick preset's 256 conditions. On 2 cores the layer-4 passes of the quick model cost ≈ 7 %
/// less CPU time per image in calls of 1,024 than of 256, and no less beyond; the chunk keeps
/// the activations of one call (a few hundred MB at 32 × 32) bounded whatever the number of
/// probes (docs/performance.md, "Evaluation bench").
pub const PROBE_CHUNK: usize = 1024;

/// Layer 4 under every probe, all probes' forward passes batched together: the K input batches
/// of every probe are laid end to end with their timesteps and the conditions `cond`, run through
/// the network `chunk` images per call (rounded down to whole passes of B images when `chunk` ≥
/// B), and the rows are split back per probe and sample.
///
/// The same measurement as [`Probe::read`] per probe (every image is its own forward pass; only
/// the float blocking of the batched matrix products may differ): `out[p][k]` is probe `p`'s
/// sample `k`, B × D, conditions in order.
///
/// # Shapes
/// `cond`: (B, 2); every probe input (B, C, H, W); each result B × D (D = layer 4's C·H·W).
///
/// # Errors
/// `chunk` = 0, no conditions, inputs that do not match B, or the model's own errors.
pub fn read_probes(
    probes: &[Probe],
    net: &UNet,
    cond: &Tensor,
    chunk: usize,
) -> Result<Vec<Vec<Activations>>> {
    if chunk == 0 {
        return Err(Error::Config(
            "the probe chunk must be at least 1 image per call, got 0".into(),
        ));
    }
    let b = cond.dims().first().copied().unwrap_or(0);
    if b == 0 {
        return Err(Error::Config(format!(
            "the probes need at least one condition, got cond of shape {:?}",
            cond.dims()
        )));
    }
    // Every forward pass of every probe, in order: (input batch, timestep).
    let passes: Vec<(&Tensor, u32)> = probes
        .iter()
        .flat_map(|p| p.inputs.iter().map(move |x| (x, p.timestep)))
        .collect();
    if let Some((x, _)) = passes.iter().find(|(x, _)| x.dims().first() != Some(&b)) {
        return Err(Error::Config(format!(
            "a probe input has shape {:?}, expected {b} conditions",
            x.dims()
        )));
    }
    // Calls hold whole passes once a chunk reaches one: every image then keeps its place in the
    // batch it had in its own pass, so the products block the same way (on the quick preset
    // the record is then bit-identical to one call per pass).
    let chunk = if chunk >= b { chunk / b * b } else { chunk };
    let total = passes.len() * b;
    let mut rows: Vec<f32> = Vec::new();
    let mut d = 0;
    for start in (0..total).step_by(chunk) {
        let end = start.saturating_add(chunk).min(total);
        // The chunk's images, which may straddle passes: pieces of consecutive passes.
        let (mut xs, mut cs, mut ts) = (Vec::new(), Vec::new(), Vec::with_capacity(end - start));
        let mut i = start;
        while i < end {
            let (pass, lo) = (i / b, i % b);
            let len = (b - lo).min(end - i);
            let (x, t) = passes[pass];
            xs.push(x.narrow(0, lo, len)?);
            cs.push(cond.narrow(0, lo, len)?);
            ts.extend(std::iter::repeat_n(t as f32, len));
            i += len;
        }
        let x = Tensor::cat(&xs, 0)?;
        let c = Tensor::cat(&cs, 0)?;
        let t = Tensor::from_vec(ts, end - start, cond.device())?;
        let taps = net.activations(&x, &t, &c, &[LAYER4_ALIAS])?;
        let l4 = taps
            .get(LAYER4_ALIAS)
            .ok_or_else(|| Error::Config("the model did not return the layer4 tap".into()))?;
        d = l4.elem_count() / (end - start);
        if rows.is_empty() {
            rows.reserve_exact(total * d);
        }
        rows.extend(l4.flatten_all()?.to_vec1::<f32>()?);
    }
    let mut out = Vec::with_capacity(probes.len());
    let mut pass = 0;
    for p in probes {
        let samples = (0..p.inputs.len())
            .map(|k| {
                let at = (pass + k) * b * d;
                Ok(Activations::from_f32(&rows[at..at + b * d], b, d)?)
            })
            .collect::<Result<Vec<_>>>()?;
        pass += p.inputs.len();
        out.push(samples);
    }
    Ok(out)
}

/// Seeds of the probe's noise: one per (purpose, sample k, condition b), independent of the
/// sampler's seeds.
fn probe_seed(seed: u64, purpose: u64, k: usize, b: usize) -> u64 {
    let mix = purpose
        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .wrapping_add((k as u64) << 32)
        .wrapping_add(b as u64);
    seed ^ 0xC0FF_EE00_0000_0000 ^ mix.wrapping_mul(0xBF58_476D_1CE4_E5B9)
}

/// Builds every probe of `cfg.eval.probe` for the evaluation conditions `coords` (labels).
pub fn build_probes(
    cfg: &ExperimentConfig,
    schedule: &NoiseSchedule,
    coords: &[[f64; 2]],
    device: &Device,
) -> Result<Vec<Probe>> {
    let p = &cfg.eval.probe;
    let n = cfg.data.n;
    let b = coords.len();
    let timesteps = p.timesteps_for(schedule.num_train_timesteps());
    let noise = |purpose: u64, k: usize| -> Result<Tensor> {
        let seeds: Vec<u64> = (0..b)
            .map(|i| probe_seed(cfg.eval.seed, purpose, k, i))
            .collect();
        Ok(bump_diffusion::gaussian_noise(&seeds, &[1, n, n], device)?)
    };
    let noises: Vec<Tensor> = (0..p.samples).map(|k| noise(1, k)).collect::<Result<_>>()?;
    let mut probes: Vec<Probe> = timesteps
        .iter()
        .map(|&t| Probe {
            kind: ProbeKind::Noise,
            timestep: t,
            inputs: noises.clone(),
        })
        .collect();
    if p.real_images {
        let x0 = real_images(cfg, coords, device)?;
        // One set of K noises serves every timestep (as the noise probes share `noises`).
        let real_noises: Vec<Tensor> =
            (0..p.samples).map(|k| noise(2, k)).collect::<Result<_>>()?;
        for &t in &timesteps {
            let tt = Tensor::full(t as f32, b, device)?;
            let inputs = real_noises
                .iter()
                .map(|e| Ok(bump_diffusion::add_noise(schedule, &x0, e, &tt)?))
                .collect::<Result<_>>()?;
            probes.push(Probe {
                kind: ProbeKind::Real,
                timestep: t,
                inputs,
            });
        }
    }
    if p.shared_noise {
        // The former probe: one image (the seed it always used), broadcast to every condition.
        let one = bump_diffusion::gaussian_noise(&[cfg.eval.seed ^ 0xC0FFEE], &[1, n, n], device)?;
        probes.push(Probe {
            kind: ProbeKind::Shared,
            timestep: timesteps[0],
            inputs: vec![one.broadcast_as((b, 1, n, n))?.contiguous()?],
        });
    }
    Ok(probes)
}

/// The training image of every condition (label units; the data's main pattern).
fn real_images(cfg: &ExperimentConfig, coords: &[[f64; 2]], device: &Device) -> Result<Tensor> {
    let render = cfg.data.render_config();
    let canvas = cfg.data.canvas();
    let n = cfg.data.n;
    let mut pixels = Vec::with_capacity(coords.len() * n * n);
    for &c in coords {
        let centre = canvas.map_or(c, |cv| cv.latent_to_image(c));
        pixels.extend(bump_data::render_image(&render, cfg.data.pattern, centre)?);
    }
    Ok(Tensor::from_vec(pixels, (coords.len(), 1, n, n), device)?)
}
