//! Noise schedules in f64 and their precomputed tables.

use crate::{Error, Result};
use serde::{Deserialize, Serialize};

/// What the denoiser predicts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum PredictionType {
    /// The added noise ε (Ho et al. 2020).
    #[default]
    Epsilon,
    /// The clean sample x₀.
    Sample,
    /// v = √ᾱ·ε − √(1−ᾱ)·x₀ (Salimans & Ho 2022).
    VPrediction,
}

/// The family of β schedules.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", deny_unknown_fields)]
pub enum BetaSchedule {
    /// diffusers `linear`: βₜ = β_start + (β_end − β_start)·t/(T−1).
    Linear {
        /// β₀.
        beta_start: f64,
        /// β_{T−1}.
        beta_end: f64,
    },
    /// lucidrains `linear_beta_schedule`: the linear schedule with both ends scaled by 1000/T,
    /// so that schedules with other T keep the same total noise.
    LinearRescaled {
        /// β₀ at T = 1000.
        beta_start: f64,
        /// β_{T−1} at T = 1000.
        beta_end: f64,
    },
    /// diffusers `scaled_linear`: βₜ = (√β_start + (√β_end − √β_start)·t/(T−1))².
    ScaledLinear {
        /// β₀.
        beta_start: f64,
        /// β_{T−1}.
        beta_end: f64,
    },
    /// Nichol & Dhariwal cosine (diffusers `squaredcos_cap_v2`):
    /// ᾱ(s) = cos²((s/T + 0.008)/1.008 · π/2), βₜ = min(1 − ᾱ((t+1))/ᾱ(t), max_beta).
    /// Computed in floating point throughout (candle-transformers' integer division made 999 of
    /// 1000 betas zero).
    Cosine {
        /// Upper clip of β (default 0.999).
        max_beta: f64,
    },
    /// GeoDiff / diffusers `sigmoid`: βₜ = sigmoid(linspace(−6, 6, T))·(β_end − β_start) + β_start.
    SigmoidBeta {
        /// Lower end.
        beta_start: f64,
        /// Upper end.
        beta_end: f64,
    },
    /// lucidrains `sigmoid_beta_schedule` (a sigmoid on ᾱ): with s = start, e = end, τ = tau,
    /// f(u) = (−sigmoid((u(e−s)+s)/τ) + sigmoid(e/τ)) / (sigmoid(e/τ) − sigmoid(s/τ)) on
    /// u ∈ linspace(0, 1, T+1), ᾱ(u) = f(u)/f(0), βₜ = clip(1 − ᾱ(u_{t+1})/ᾱ(u_t), 0, 0.999).
    SigmoidAlphaBar {
        /// s (default −3).
        start: f64,
        /// e (default 3).
        end: f64,
        /// τ (default 1).
        tau: f64,
    },
    /// An explicit, non-decreasing β array of length T.
    Custom {
        /// The betas.
        betas: Vec<f64>,
    },
}

impl Default for BetaSchedule {
    /// `Linear { beta_start: 1e-4, beta_end: 0.02 }`: the DDPM schedule of Ho et al. (2020),
    /// which the papers train with (diffusers' `linear`, `DDPMScheduler`'s defaults).
    fn default() -> Self {
        Self::Linear {
            beta_start: 1e-4,
            beta_end: 0.02,
        }
    }
}

/// A noise schedule: family, T, prediction type and the optional zero-terminal-SNR rescale.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduleConfig {
    /// The β family.
    pub beta_schedule: BetaSchedule,
    /// Number of training timesteps T (default 1000).
    pub num_train_timesteps: usize,
    /// What the model predicts (default ε).
    pub prediction_type: PredictionType,
    /// Rescale to zero terminal SNR (Lin et al. 2024). Rejected with ε-prediction.
    pub rescale_zero_terminal_snr: bool,
}

impl Default for ScheduleConfig {
    /// The papers' DDPM setting (Ho et al. 2020; diffusers' `DDPMScheduler` defaults):
    /// [`BetaSchedule::default`] (linear β 1e-4 → 0.02), T = 1000 training timesteps,
    /// ε-prediction, no zero-terminal-SNR rescale.
    fn default() -> Self {
        Self {
            beta_schedule: BetaSchedule::default(),
            num_train_timesteps: 1000,
            prediction_type: PredictionType::Epsilon,
            rescale_zero_terminal_snr: false,
        }
    }
}

impl ScheduleConfig {
    /// Sets the β family.
    pub fn with_beta_schedule(mut self, b: BetaSchedule) -> Self {
        self.beta_schedule = b;
        self
    }
    /// Sets T.
    pub fn with_num_train_timesteps(mut self, t: usize) -> Self {
        self.num_train_timesteps = t;
        self
    }
    /// Sets the prediction type.
    pub fn with_prediction_type(mut self, p: PredictionType) -> Self {
        self.prediction_type = p;
        self
    }
    /// Turns the zero-terminal-SNR rescale on or off.
    pub fn with_zero_terminal_snr(mut self, on: bool) -> Self {
        self.rescale_zero_terminal_snr = on;
        self
    }
}

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

fn linspace(a: f64, b: f64, n: usize) -> Vec<f64> {
    if n == 1 {
        return vec![a];
    }
    (0..n)
        .map(|i| a + (b - a) * i as f64 / (n - 1) as f64)
        .collect()
}

/// The β array of a family for T steps (before validation and rescaling).
pub fn betas_for(schedule: &BetaSchedule, t: usize) -> Vec<f64> {
    match schedule {
        BetaSchedule::Linear {
            beta_start,
            beta_end,
        } => linspace(*beta_start, *beta_end, t),
        BetaSchedule::LinearRescaled {
            beta_start,
            beta_end,
        } => {
            let scale = 1000.0 / t as f64;
            linspace(scale * beta_start, scale * beta_end, t)
        }
        BetaSchedule::ScaledLinear {
            beta_start,
            beta_end,
        } => linspace(beta_start.sqrt(), beta_end.sqrt(), t)
            .into_iter()
            .map(|b| b * b)
            .collect(),
        BetaSchedule::Cosine { max_beta } => {
            let abar = |s: f64| {
                ((s / t as f64 + 0.008) / 1.008 * std::f64::consts::FRAC_PI_2)
                    .cos()
                    .powi(2)
            };
            (0..t)
                .map(|i| (1.0 - abar((i + 1) as f64) / abar(i as f64)).min(*max_beta))
                .collect()
        }
        BetaSchedule::SigmoidBeta {
            beta_start,
            beta_end,
        } => linspace(-6.0, 6.0, t)
            .into_iter()
            .map(|x| sigmoid(x) * (beta_end - beta_start) + beta_start)
            .collect(),
        BetaSchedule::SigmoidAlphaBar { start, end, tau } => {
            let (vs, ve) = (sigmoid(start / tau), sigmoid(end / tau));
            let f = |u: f64| (-sigmoid((u * (end - start) + start) / tau) + ve) / (ve - vs);
            let u = linspace(0.0, 1.0, t + 1);
            let f0 = f(u[0]);
            let abar: Vec<f64> = u.iter().map(|&x| f(x) / f0).collect();
            (0..t)
                .map(|i| (1.0 - abar[i + 1] / abar[i]).clamp(0.0, 0.999))
                .collect()
        }
        BetaSchedule::Custom { betas } => betas.clone(),
    }
}

/// A validated schedule with its precomputed tables (all f64, index = training timestep).
#[derive(Debug, Clone, PartialEq)]
pub struct NoiseSchedule {
    config: ScheduleConfig,
    /// βₜ.
    pub betas: Vec<f64>,
    /// αₜ = 1 − βₜ.
    pub alphas: Vec<f64>,
    /// ᾱₜ = ∏_{s≤t} α_s.
    pub alphas_cumprod: Vec<f64>,
    /// ᾱ_{t−1}, with ᾱ₋₁ = 1.
    pub alphas_cumprod_prev: Vec<f64>,
    /// √ᾱₜ.
    pub sqrt_alphas_cumprod: Vec<f64>,
    /// √(1 − ᾱₜ).
    pub sqrt_one_minus_alphas_cumprod: Vec<f64>,
    /// Posterior variance β̃ₜ = βₜ (1 − ᾱ_{t−1}) / (1 − ᾱₜ).
    pub posterior_variance: Vec<f64>,
    /// log β̃ₜ with β̃₀ replaced by β̃₁ (β̃₀ = 0), as in Ho et al.'s code.
    pub posterior_log_variance_clipped: Vec<f64>,
    /// Posterior-mean coefficient of x₀: βₜ √ᾱ_{t−1} / (1 − ᾱₜ).
    pub posterior_mean_coef1: Vec<f64>,
    /// Posterior-mean coefficient of xₜ: (1 − ᾱ_{t−1}) √αₜ / (1 − ᾱₜ).
    pub posterior_mean_coef2: Vec<f64>,
    /// Signal-to-noise ratio SNRₜ = ᾱₜ / (1 − ᾱₜ).
    pub snr: Vec<f64>,
}

/// The largest `num_train_timesteps` a schedule accepts (DDPM uses 1,000; its tables cost
/// ~100 bytes per timestep).
pub const MAX_TRAIN_TIMESTEPS: usize = 1_000_000;

impl NoiseSchedule {
    /// Builds and validates the schedule.
    pub fn new(config: &ScheduleConfig) -> Result<Self> {
        let t = config.num_train_timesteps;
        if t == 0 {
            return Err(Error::ZeroTimesteps);
        }
        // The schedule holds several f64 tables of length T: bound T before allocating them.
        if t > MAX_TRAIN_TIMESTEPS {
            return Err(Error::InvalidArgument(format!(
                "num_train_timesteps must lie in 1..={MAX_TRAIN_TIMESTEPS}, got {t}"
            )));
        }
        if let BetaSchedule::Custom { betas } = &config.beta_schedule {
            if betas.len() != t {
                return Err(Error::InvalidArgument(format!(
                    "custom betas have length {}, but num_train_timesteps = {t}",
                    betas.len()
                )));
            }
            if let Some(i) = (1..betas.len()).find(|&i| betas[i] < betas[i - 1]) {
                return Err(Error::NotMonotone {
                    what: "custom betas",
                    index: i,
                });
            }
        }
        if config.rescale_zero_terminal_snr && config.prediction_type == PredictionType::Epsilon {
            return Err(Error::ZeroSnrWithEpsilon);
        }
        if config.rescale_zero_terminal_snr && t < 2 {
            return Err(Error::InvalidArgument(
                "the zero-terminal-SNR rescale needs T >= 2".into(),
            ));
        }
        match &config.beta_schedule {
            BetaSchedule::Cosine { max_beta } if !(*max_beta > 0.0 && *max_beta < 1.0) => {
                return Err(Error::InvalidArgument(format!(
                    "cosine max_beta must lie in (0, 1), got {max_beta}"
                )));
            }
            BetaSchedule::SigmoidAlphaBar { start, end, tau }
                if !(start.is_finite() && end.is_finite() && start < end && *tau > 0.0) =>
            {
                return Err(Error::InvalidArgument(format!(
                    "sigmoid-on-alpha-bar needs finite start < end and tau > 0, got ({start}, {end}, {tau})"
                )));
            }
            _ => {}
        }
        let mut betas = betas_for(&config.beta_schedule, t);
        for (i, &b) in betas.iter().enumerate() {
            if !(b > 0.0 && b < 1.0 && b.is_finite()) {
                return Err(Error::BetaOutOfRange { index: i, value: b });
            }
        }
        if config.rescale_zero_terminal_snr {
            betas = rescale_zero_terminal_snr(&betas);
        }
        Ok(Self::from_betas(config.clone(), betas))
    }

    fn from_betas(config: ScheduleConfig, betas: Vec<f64>) -> Self {
        let alphas: Vec<f64> = betas.iter().map(|b| 1.0 - b).collect();
        let mut alphas_cumprod = Vec::with_capacity(betas.len());
        let mut p = 1.0;
        for a in &alphas {
            p *= a;
            alphas_cumprod.push(p);
        }
        let alphas_cumprod_prev: Vec<f64> = std::iter::once(1.0)
            .chain(alphas_cumprod[..alphas_cumprod.len() - 1].iter().copied())
            .collect();
        let n = betas.len();
        let mut posterior_variance = Vec::with_capacity(n);
        let mut coef1 = Vec::with_capacity(n);
        let mut coef2 = Vec::with_capacity(n);
        for i in 0..n {
            let (ab, abp) = (alphas_cumprod[i], alphas_cumprod_prev[i]);
            posterior_variance.push(betas[i] * (1.0 - abp) / (1.0 - ab));
            coef1.push(betas[i] * abp.sqrt() / (1.0 - ab));
            coef2.push((1.0 - abp) * alphas[i].sqrt() / (1.0 - ab));
        }
        let first = if n > 1 {
            posterior_variance[1]
        } else {
            posterior_variance[0]
        };
        let posterior_log_variance_clipped = std::iter::once(first.ln())
            .chain(posterior_variance[1..].iter().map(|v| v.ln()))
            .collect();
        Self {
            sqrt_alphas_cumprod: alphas_cumprod.iter().map(|a| a.sqrt()).collect(),
            sqrt_one_minus_alphas_cumprod: alphas_cumprod
                .iter()
                .map(|a| (1.0 - a).sqrt())
                .collect(),
            snr: alphas_cumprod.iter().map(|a| a / (1.0 - a)).collect(),
            config,
            betas,
            alphas,
            alphas_cumprod,
            alphas_cumprod_prev,
            posterior_variance,
            posterior_log_variance_clipped,
            posterior_mean_coef1: coef1,
            posterior_mean_coef2: coef2,
        }
    }

    /// T.
    pub fn num_train_timesteps(&self) -> usize {
        self.betas.len()
    }

    /// The configuration this schedule was built from.
    pub fn config(&self) -> &ScheduleConfig {
        &self.config
    }

    /// The prediction type.
    pub fn prediction_type(&self) -> PredictionType {
        self.config.prediction_type
    }
}

/// Lin et al. (2024), Algorithm 1: shift and scale √ᾱ so that √ᾱ_{T−1} = 0 and √ᾱ₀ is unchanged.
fn rescale_zero_terminal_snr(betas: &[f64]) -> Vec<f64> {
    let mut p = 1.0;
    let mut sqrt_ab: Vec<f64> = betas
        .iter()
        .map(|b| {
            p *= 1.0 - b;
            p.sqrt()
        })
        .collect();
    let (first, last) = (sqrt_ab[0], sqrt_ab[sqrt_ab.len() - 1]);
    for v in sqrt_ab.iter_mut() {
        *v = (*v - last) * first / (first - last);
    }
    let ab: Vec<f64> = sqrt_ab.iter().map(|v| v * v).collect();
    let mut out = Vec::with_capacity(ab.len());
    out.push(1.0 - ab[0]);
    for i in 1..ab.len() {
        out.push(1.0 - ab[i] / ab[i - 1]);
    }
    out
}
