//! Samplers over a [`Denoiser`]: DDPM, respaced DDPM, DDIM and DPM-Solver++(2M).
//!
//! All randomness comes from per-sample seeds (see [`crate::noise`]): the initial x_T of sample
//! `i` is stream 0 of `seeds[i]`, the ancestral noise of step `k` is stream `k + 1`. A sample is
//! therefore bit-identical on the CPU whatever batch it is drawn in.

use crate::forward::convert_prediction;
use crate::noise::noise_for_stream;
use crate::schedule::NoiseSchedule;
use crate::{Error, Result};
use candle_core::{DType, Tensor};
use serde::{Deserialize, Serialize};

/// A model that predicts the schedule's prediction type from (x_t, t, cond).
///
/// `t` is an f32 tensor of shape (B,) holding 0-based training timesteps; `cond` is passed
/// through unchanged. Closures `FnMut(&Tensor, &Tensor, &Tensor) -> candle_core::Result<Tensor>`
/// implement it, so any model plugs in without a newtype.
pub trait Denoiser {
    /// Predicts ε, x₀ or v (whatever the schedule says) for every sample.
    ///
    /// # Shapes
    /// - `x_t`: (B, C, H, W); `t`: (B,); `cond`: (B, …); returns (B, C, H, W).
    fn predict(&mut self, x_t: &Tensor, t: &Tensor, cond: &Tensor) -> candle_core::Result<Tensor>;
}

impl<F> Denoiser for F
where
    F: FnMut(&Tensor, &Tensor, &Tensor) -> candle_core::Result<Tensor>,
{
    fn predict(&mut self, x_t: &Tensor, t: &Tensor, cond: &Tensor) -> candle_core::Result<Tensor> {
        self(x_t, t, cond)
    }
}

/// Which update rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SamplerKind {
    /// Ancestral DDPM (respaced when `steps < T`).
    Ddpm,
    /// DDIM with η.
    Ddim,
    /// DPM-Solver++(2M) (Lu et al. 2022), data prediction, midpoint form as diffusers'
    /// `DPMSolverMultistepScheduler(algorithm_type="dpmsolver++", solver_order=2)`: first order
    /// on the first step, on the last (to σ = 0, i.e. x = x̂₀) and, with fewer than 15 steps, on
    /// the second-to-last (`lower_order_final`).
    DpmSolverPp2m,
}

/// DDPM reverse-step variance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum VarianceType {
    /// The posterior variance β̃ₜ (diffusers `fixed_small`).
    #[default]
    FixedSmall,
    /// βₜ (diffusers `fixed_large`).
    FixedLarge,
}

/// How inference timesteps are chosen from `0..T` (diffusers `timestep_spacing`).
///
/// For DPM-Solver++ the leading and linspace grids are those of diffusers'
/// `DPMSolverMultistepScheduler`: S + 1 points with the last (t = 0) dropped, e.g. leading uses
/// `⌊T/(S+1)⌋` and linspace `round(linspace(0, T−1, S+1))[..S]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Spacing {
    /// `i·⌊T/S⌋` for i = S−1, …, 0 (ends at 0).
    Leading,
    /// `round(linspace(0, T−1, S))`, reversed (starts at T − 1, ends at 0).
    Linspace,
    /// `round(T − i·T/S) − 1` for i in 0..S (starts at T − 1). Rounding is half-to-even.
    #[default]
    Trailing,
}

/// Imagen's dynamic thresholding of x̂₀ (diffusers `thresholding=True`): per sample,
/// s = clamp(quantile(|x̂₀|, p), 1, `max_value`) with torch.quantile's linear interpolation,
/// then x̂₀ ← clamp(x̂₀, −s, s)/s.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct DynamicThreshold {
    /// Quantile p in (0, 1] (Imagen: 0.995).
    pub percentile: f64,
    /// Upper bound of s (≥ 1).
    pub max_value: f64,
}

/// A sampler: rule, number of steps, and options. Validated against a schedule by
/// [`SamplerConfig::validate`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SamplerConfig {
    /// Update rule.
    pub kind: SamplerKind,
    /// Inference steps (`None`: every training timestep).
    pub steps: Option<usize>,
    /// DDIM η ∈ [0, 1] (0: deterministic; 1: DDPM-like).
    pub eta: f64,
    /// Timestep spacing.
    pub spacing: Spacing,
    /// DDPM variance.
    pub variance: VarianceType,
    /// Clip x̂₀ to this range (e.g. the data range (−1, 1)).
    pub clip_sample: Option<(f32, f32)>,
    /// Dynamic thresholding of x̂₀ (applied before `clip_sample`).
    pub dynamic_threshold: Option<DynamicThreshold>,
    /// An explicit, strictly decreasing list of training timesteps to visit. When set it
    /// overrides `steps` and `spacing` (e.g. diffusers' `steps_offset`, or non-uniform grids).
    #[serde(default)]
    pub custom_timesteps: Option<Vec<usize>>,
}

impl SamplerConfig {
    fn base(kind: SamplerKind, steps: Option<usize>) -> Self {
        Self {
            kind,
            steps,
            eta: 0.0,
            spacing: Spacing::Trailing,
            variance: VarianceType::FixedSmall,
            clip_sample: None,
            dynamic_threshold: None,
            custom_timesteps: None,
        }
    }
    /// Ancestral DDPM over all T steps, fixed_small variance.
    pub fn ddpm() -> Self {
        Self::base(SamplerKind::Ddpm, None)
    }
    /// DDPM respaced to `steps` (the previous timestep is always the next array entry).
    pub fn respaced_ddpm(steps: usize) -> Self {
        Self::base(SamplerKind::Ddpm, Some(steps))
    }
    /// Deterministic DDIM (η = 0) with `steps` steps, trailing spacing.
    pub fn ddim(steps: usize) -> Self {
        Self::base(SamplerKind::Ddim, Some(steps))
    }
    /// DPM-Solver++(2M) with `steps` steps.
    pub fn dpm_solver_pp(steps: usize) -> Self {
        Self::base(SamplerKind::DpmSolverPp2m, Some(steps))
    }
    /// Sets η (DDIM).
    pub fn with_eta(mut self, eta: f64) -> Self {
        self.eta = eta;
        self
    }
    /// Sets the spacing.
    pub fn with_spacing(mut self, s: Spacing) -> Self {
        self.spacing = s;
        self
    }
    /// Sets the DDPM variance.
    pub fn with_variance(mut self, v: VarianceType) -> Self {
        self.variance = v;
        self
    }
    /// Sets x̂₀ clipping.
    pub fn with_clip_sample(mut self, range: Option<(f32, f32)>) -> Self {
        self.clip_sample = range;
        self
    }
    /// Sets dynamic thresholding.
    pub fn with_dynamic_threshold(mut self, d: Option<DynamicThreshold>) -> Self {
        self.dynamic_threshold = d;
        self
    }

    /// Visits exactly these training timesteps (strictly decreasing, each < T), overriding
    /// `steps` and `spacing`.
    pub fn with_timesteps(mut self, timesteps: Option<Vec<usize>>) -> Self {
        self.custom_timesteps = timesteps;
        self
    }

    /// Checks the options against `schedule`.
    pub fn validate(&self, schedule: &NoiseSchedule) -> Result<()> {
        let t = schedule.num_train_timesteps();
        if !(0.0..=1.0).contains(&self.eta) {
            return Err(Error::InvalidEta(self.eta));
        }
        if let Some((lo, hi)) = self.clip_sample {
            if lo.is_nan() || hi.is_nan() || lo >= hi {
                return Err(Error::InvalidArgument(format!(
                    "clip range ({lo}, {hi}) is empty"
                )));
            }
        }
        if let Some(d) = self.dynamic_threshold {
            if !(d.percentile > 0.0 && d.percentile <= 1.0 && d.max_value >= 1.0)
                || d.max_value.is_infinite()
            {
                return Err(Error::InvalidArgument(format!(
                    "bad dynamic threshold {d:?}"
                )));
            }
        }
        self.timesteps(t).map(|_| ())
    }

    /// The descending inference timesteps for T training timesteps.
    ///
    /// Rounding is half-to-even and the products are formed in numpy's order, so the grids
    /// equal diffusers' `timestep_spacing` grids exactly.
    pub fn timesteps(&self, t: usize) -> Result<Vec<usize>> {
        if t == 0 {
            return Err(Error::ZeroTimesteps);
        }
        if let Some(ts) = &self.custom_timesteps {
            if ts.is_empty() || ts.len() > t {
                return Err(Error::InvalidSteps {
                    steps: ts.len(),
                    max: t,
                });
            }
            check_descending(ts)?;
            if ts[0] >= t {
                return Err(Error::InvalidArgument(format!(
                    "custom timestep {} is not below T = {t}",
                    ts[0]
                )));
            }
            return Ok(ts.clone());
        }
        let s = self.steps.unwrap_or(t);
        if s == 0 || s > t {
            return Err(Error::InvalidSteps { steps: s, max: t });
        }
        // diffusers' multistep solvers (DPMSolverMultistepScheduler) lay S + 1 points for the
        // leading and linspace grids and drop the last one (t = 0): the final step then goes from
        // the smallest grid point straight to σ = 0 instead of taking a second-order step onto
        // t = 0, which is badly conditioned (a tiny previous step against a large last one).
        let n = match self.kind {
            SamplerKind::DpmSolverPp2m => s + 1,
            _ => s,
        };
        let ts: Vec<usize> = match self.spacing {
            // diffusers: (arange(0, n) * (T // n)).round()[::-1]
            Spacing::Leading => {
                let ratio = t / n;
                (0..n).rev().take(s).map(|i| i * ratio).collect()
            }
            // diffusers: linspace(0, T − 1, n).round()[::-1]
            Spacing::Linspace => {
                let step = if n == 1 {
                    0.0
                } else {
                    (t - 1) as f64 / (n - 1) as f64
                };
                (0..n)
                    .rev()
                    .take(s)
                    .map(|i| {
                        if n > 1 && i + 1 == n {
                            t - 1 // numpy's linspace sets the endpoint exactly
                        } else {
                            (i as f64 * step).round_ties_even() as usize
                        }
                    })
                    .collect()
            }
            // diffusers: round(arange(T, 0, −T/S)) − 1
            Spacing::Trailing => {
                let ratio = t as f64 / s as f64;
                (0..s)
                    .map(|i| {
                        ((t as f64 - i as f64 * ratio).round_ties_even() as usize).saturating_sub(1)
                    })
                    .collect()
            }
        };
        check_descending(&ts)?;
        Ok(ts)
    }
}

/// Fails unless `ts` is strictly decreasing.
pub fn check_descending(ts: &[usize]) -> Result<()> {
    match (1..ts.len()).find(|&i| ts[i] >= ts[i - 1]) {
        Some(i) => Err(Error::NotMonotone {
            what: "inference timesteps",
            index: i,
        }),
        None => Ok(()),
    }
}

/// What the per-step callback sees.
pub struct StepInfo<'a> {
    /// 0-based step index.
    pub step: usize,
    /// The training timestep of this step.
    pub t: usize,
    /// The state entering this step, (B, C, H, W).
    pub x_t: &'a Tensor,
    /// The predicted clean sample at this step, (B, C, H, W).
    pub pred_x0: &'a Tensor,
}

/// Samples and the seeds that made them.
#[derive(Debug, Clone)]
pub struct SampleOutput {
    /// (B, C, H, W).
    pub images: Tensor,
    /// The per-sample seeds (record them with every output).
    pub seeds: Vec<u64>,
    /// The inference timesteps used, descending.
    pub timesteps: Vec<usize>,
}

/// Applies the x̂₀ limits of `cfg`: dynamic thresholding first, then `clip_sample`. The samplers
/// call it on every predicted x̂₀ (and recompute ε from the limited x̂₀).
///
/// # Shapes
/// - `x0`: (B, …); returns (B, …).
pub fn limit_x0(x0: &Tensor, cfg: &SamplerConfig) -> Result<Tensor> {
    let mut x0 = x0.clone();
    if x0.rank() == 0 {
        return Err(Error::ShapeMismatch(
            "x0 must have a batch dimension".into(),
        ));
    }
    if let Some(d) = cfg.dynamic_threshold {
        let b = x0.dim(0)?;
        let flat: Vec<Vec<f32>> = x0.flatten_from(1)?.to_vec2()?;
        let mut scales = Vec::with_capacity(b);
        for row in &flat {
            let mut a: Vec<f32> = row.iter().map(|v| v.abs()).collect();
            a.sort_by(f32::total_cmp);
            // Linear interpolation between order statistics, as torch.quantile (diffusers).
            let pos = d.percentile * (a.len().max(1) - 1) as f64;
            let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
            let q = match (a.get(lo), a.get(hi)) {
                (Some(&l), Some(&h)) => l as f64 + (h as f64 - l as f64) * (pos - lo as f64),
                _ => 1.0,
            };
            scales.push(q.clamp(1.0, d.max_value) as f32);
        }
        let mut shape = vec![b];
        shape.extend(std::iter::repeat_n(1, x0.rank() - 1));
        let s = Tensor::from_vec(scales, shape, x0.device())?;
        x0 = x0
            .broadcast_minimum(&s)?
            .broadcast_maximum(&s.neg()?)?
            .broadcast_div(&s)?;
    }
    if let Some((lo, hi)) = cfg.clip_sample {
        x0 = x0.clamp(lo, hi)?;
    }
    Ok(x0)
}

/// Draws one sample per row of `cond`, seeded by `seeds`.
///
/// Each step calls `denoiser` once on the whole batch with `t` = the step's training timestep
/// (f32, shape (B,)), converts its output to x̂₀ by the schedule's prediction type, applies
/// [`limit_x0`], recomputes ε̂ from the limited x̂₀, calls `callback`, and moves to the next
/// entry of the timestep array (never to a timestep computed from a formula). The last step
/// returns the mean of the final update (DDPM: the posterior mean; DDIM and DPM-Solver++: x̂₀),
/// with no noise added.
///
/// Noise: x_T of sample `i` is stream 0 of `seeds[i]` and the noise of step `k` is stream
/// `k + 1` ([`crate::noise::gaussian_noise_vec`]); sample `i` is bit-identical on the CPU
/// whatever the batch size, its position, or the other seeds and conditions in the batch
/// (provided the denoiser treats rows independently).
///
/// # Shapes
/// - `cond`: (B, …) with B = `seeds.len()`, passed to the denoiser unchanged;
/// - `sample_shape` = (C, H, W); the denoiser sees x_t (B, C, H, W) and t (B,) and must
///   return (B, C, H, W);
/// - returns images of shape (B, C, H, W) (f32, on `cond`'s device).
///
/// # Errors
/// Invalid `cfg` ([`SamplerConfig::validate`]), no seeds, an empty sample shape, `cond`'s batch
/// ≠ `seeds.len()`, a denoiser output of the wrong shape, or a failing denoiser.
pub fn sample<D: Denoiser + ?Sized>(
    schedule: &NoiseSchedule,
    cfg: &SamplerConfig,
    denoiser: &mut D,
    cond: &Tensor,
    sample_shape: (usize, usize, usize),
    seeds: &[u64],
    mut callback: Option<&mut dyn FnMut(&StepInfo)>,
) -> Result<SampleOutput> {
    cfg.validate(schedule)?;
    let b = seeds.len();
    if b == 0 {
        return Err(Error::InvalidArgument("no seeds: nothing to sample".into()));
    }
    if cond.rank() == 0 || cond.dim(0)? != b {
        return Err(Error::ShapeMismatch(format!(
            "cond has shape {:?} but {b} seeds were given",
            cond.dims()
        )));
    }
    let (c, h, w) = sample_shape;
    if c * h * w == 0 {
        return Err(Error::InvalidArgument(format!(
            "sample shape {sample_shape:?} has no elements"
        )));
    }
    let dev = cond.device().clone();
    let ts = cfg.timesteps(schedule.num_train_timesteps())?;
    let ab = &schedule.alphas_cumprod;
    let pred_type = schedule.prediction_type();
    let mut x = noise_for_stream(seeds, 0, &[c, h, w], &dev)?;
    let mut prev_x0: Option<(Tensor, f64)> = None; // DPM-Solver++: D and λ of the previous step
    let lambda = |t: usize| 0.5 * (ab[t] / (1.0 - ab[t])).ln();
    for (k, &t) in ts.iter().enumerate() {
        let tt = Tensor::full(t as f32, b, &dev)?;
        // Detached: a sampler never needs gradients, and keeping the graph would chain every
        // step's activations to the final sample.
        let out = denoiser
            .predict(&x, &tt, cond)?
            .detach()
            .to_dtype(DType::F32)?;
        if out.dims() != x.dims() {
            return Err(Error::ShapeMismatch(format!(
                "denoiser returned {:?} for input {:?}",
                out.dims(),
                x.dims()
            )));
        }
        let (x0, _) = convert_prediction(schedule, pred_type, &x, &out, &tt)?;
        let x0 = limit_x0(&x0, cfg)?;
        if let Some(cb) = callback.as_deref_mut() {
            cb(&StepInfo {
                step: k,
                t,
                x_t: &x,
                pred_x0: &x0,
            });
        }
        let a_t = ab[t];
        // ε consistent with the (possibly clipped) x̂₀.
        let eps = ((&x - (&x0 * a_t.sqrt())?)? / (1.0 - a_t).sqrt())?;
        let prev = ts.get(k + 1).copied();
        let a_prev = prev.map_or(1.0, |p| ab[p]);
        x = match cfg.kind {
            SamplerKind::Ddpm => {
                let alpha = a_t / a_prev;
                let beta = 1.0 - alpha;
                let c1 = beta * a_prev.sqrt() / (1.0 - a_t);
                let c2 = (1.0 - a_prev) * alpha.sqrt() / (1.0 - a_t);
                let mean = ((&x0 * c1)? + (&x * c2)?)?;
                match prev {
                    None => mean,
                    Some(_) => {
                        let var = match cfg.variance {
                            VarianceType::FixedSmall => beta * (1.0 - a_prev) / (1.0 - a_t),
                            VarianceType::FixedLarge => beta,
                        };
                        let z = noise_for_stream(seeds, k as u64 + 1, &[c, h, w], &dev)?;
                        (mean + (z * var.max(0.0).sqrt())?)?
                    }
                }
            }
            SamplerKind::Ddim => {
                let sigma = cfg.eta
                    * ((1.0 - a_prev) / (1.0 - a_t) * (1.0 - a_t / a_prev))
                        .max(0.0)
                        .sqrt();
                let dir = (1.0 - a_prev - sigma * sigma).max(0.0).sqrt();
                let mut nx = ((&x0 * a_prev.sqrt())? + (&eps * dir)?)?;
                if sigma > 0.0 && prev.is_some() {
                    let z = noise_for_stream(seeds, k as u64 + 1, &[c, h, w], &dev)?;
                    nx = (nx + (z * sigma)?)?;
                }
                nx
            }
            SamplerKind::DpmSolverPp2m => match prev {
                // The last step goes to σ = 0, where the first-order update is x = x̂₀.
                None => x0.clone(),
                Some(p) => {
                    let (l_s, l_t) = (lambda(t), lambda(p));
                    let h = l_t - l_s;
                    let (sig_s, sig_t) = ((1.0 - a_t).sqrt(), (1.0 - ab[p]).sqrt());
                    let alpha_t = ab[p].sqrt();
                    let em1 = (-h).exp() - 1.0;
                    let first = ((&x * (sig_t / sig_s))? - (&x0 * (alpha_t * em1))?)?;
                    // diffusers' lower_order_final: with fewer than 15 steps the second-to-last
                    // step is first order too (the last one always is: it lands on σ = 0).
                    let lower_order_second = k + 2 == ts.len() && ts.len() < 15;
                    match prev_x0.as_ref().filter(|_| !lower_order_second) {
                        Some((d_prev, l_prev)) => {
                            let r0 = (l_s - l_prev) / h;
                            let d1 = ((&x0 - d_prev)? / r0)?;
                            (first - (d1 * (0.5 * alpha_t * em1))?)?
                        }
                        None => first,
                    }
                }
            },
        };
        prev_x0 = Some((x0, lambda(t)));
    }
    Ok(SampleOutput {
        images: x,
        seeds: seeds.to_vec(),
        timesteps: ts,
    })
}
