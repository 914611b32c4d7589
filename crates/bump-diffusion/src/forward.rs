//! The forward (noising) process and training targets.

use crate::schedule::{NoiseSchedule, PredictionType};
use crate::{Error, Result};
use candle_core::{DType, Tensor};
use rand::Rng;

/// Per-sample coefficients `table[t_i]` as a (B, 1, …, 1) tensor broadcastable against `like`.
fn gather(table: &[f64], t: &Tensor, like: &Tensor) -> Result<Tensor> {
    let ts = timesteps(t, table.len())?;
    let b = like.dim(0)?;
    if ts.len() != b {
        return Err(Error::ShapeMismatch(format!(
            "{} timesteps for a batch of {b}",
            ts.len()
        )));
    }
    let vals: Vec<f32> = ts.iter().map(|&i| table[i] as f32).collect();
    let mut shape = vec![b];
    shape.extend(std::iter::repeat_n(1, like.rank() - 1));
    Ok(Tensor::from_vec(vals, shape, like.device())?)
}

/// Reads a (B,) timestep tensor (any numeric dtype holding integers) as indices, checked < T.
pub fn timesteps(t: &Tensor, num_train_timesteps: usize) -> Result<Vec<usize>> {
    if t.rank() != 1 {
        return Err(Error::ShapeMismatch(format!(
            "timesteps must have shape (B,), got {:?}",
            t.dims()
        )));
    }
    let v: Vec<f64> = t.to_dtype(DType::F64)?.to_vec1()?;
    v.iter()
        .map(|&x| {
            if x.fract() != 0.0 || x < 0.0 || x >= num_train_timesteps as f64 {
                Err(Error::InvalidArgument(format!(
                    "timestep {x} is not an integer in 0..{num_train_timesteps}"
                )))
            } else {
                Ok(x as usize)
            }
        })
        .collect()
}

/// x_t = √ᾱₜ·x₀ + √(1 − ᾱₜ)·ε, with one timestep per sample.
///
/// # Shapes
/// - `x0`, `noise`: (B, …) of equal shape; `t`: (B,); returns (B, …).
pub fn add_noise(
    schedule: &NoiseSchedule,
    x0: &Tensor,
    noise: &Tensor,
    t: &Tensor,
) -> Result<Tensor> {
    if x0.dims() != noise.dims() {
        return Err(Error::ShapeMismatch(format!(
            "x0 {:?} vs noise {:?}",
            x0.dims(),
            noise.dims()
        )));
    }
    let a = gather(&schedule.sqrt_alphas_cumprod, t, x0)?;
    let s = gather(&schedule.sqrt_one_minus_alphas_cumprod, t, x0)?;
    Ok((x0.broadcast_mul(&a)? + noise.broadcast_mul(&s)?)?)
}

/// The regression target for `prediction`: ε, x₀, or v = √ᾱₜ·ε − √(1 − ᾱₜ)·x₀.
///
/// # Shapes
/// - `x0`, `noise`: (B, …); `t`: (B,); returns (B, …).
pub fn training_target(
    schedule: &NoiseSchedule,
    prediction: PredictionType,
    x0: &Tensor,
    noise: &Tensor,
    t: &Tensor,
) -> Result<Tensor> {
    match prediction {
        PredictionType::Epsilon => Ok(noise.clone()),
        PredictionType::Sample => Ok(x0.clone()),
        PredictionType::VPrediction => {
            let a = gather(&schedule.sqrt_alphas_cumprod, t, x0)?;
            let s = gather(&schedule.sqrt_one_minus_alphas_cumprod, t, x0)?;
            Ok((noise.broadcast_mul(&a)? - x0.broadcast_mul(&s)?)?)
        }
    }
}

/// Converts a model output of type `from` at (x_t, t) into (x̂₀, ε̂).
///
/// # Shapes
/// - `x_t`, `output`: (B, …); `t`: (B,); returns two (B, …) tensors.
pub fn convert_prediction(
    schedule: &NoiseSchedule,
    from: PredictionType,
    x_t: &Tensor,
    output: &Tensor,
    t: &Tensor,
) -> Result<(Tensor, Tensor)> {
    let a = gather(&schedule.sqrt_alphas_cumprod, t, x_t)?;
    let s = gather(&schedule.sqrt_one_minus_alphas_cumprod, t, x_t)?;
    Ok(match from {
        PredictionType::Epsilon => {
            let x0 = (x_t - output.broadcast_mul(&s)?)?.broadcast_div(&a)?;
            (x0, output.clone())
        }
        PredictionType::Sample => {
            let eps = (x_t - output.broadcast_mul(&a)?)?.broadcast_div(&s)?;
            (output.clone(), eps)
        }
        PredictionType::VPrediction => {
            let x0 = (x_t.broadcast_mul(&a)? - output.broadcast_mul(&s)?)?;
            let eps = (x_t.broadcast_mul(&s)? + output.broadcast_mul(&a)?)?;
            (x0, eps)
        }
    })
}

/// Min-SNR-γ loss weights (Hang et al. 2023) for each sample's timestep:
/// ε: min(SNR, γ)/SNR; x₀: min(SNR, γ); v: min(SNR, γ)/(SNR + 1).
pub fn min_snr_weights(
    schedule: &NoiseSchedule,
    prediction: PredictionType,
    t: &[u32],
    gamma: f64,
) -> Result<Vec<f64>> {
    if gamma.is_nan() || gamma <= 0.0 {
        return Err(Error::InvalidArgument(format!(
            "min-SNR gamma must be > 0, got {gamma}"
        )));
    }
    t.iter()
        .map(|&ti| {
            let snr = *schedule.snr.get(ti as usize).ok_or_else(|| {
                Error::InvalidArgument(format!(
                    "timestep {ti} >= T = {}",
                    schedule.num_train_timesteps()
                ))
            })?;
            let m = snr.min(gamma);
            Ok(match prediction {
                // min(SNR, γ)/SNR → 1 as SNR → 0 (a zero-terminal-SNR step).
                PredictionType::Epsilon if snr == 0.0 => 1.0,
                PredictionType::Epsilon => m / snr,
                PredictionType::Sample => m,
                PredictionType::VPrediction => m / (snr + 1.0),
            })
        })
        .collect()
}

/// `batch` timesteps drawn uniformly from `0..num_train_timesteps` (treated as at least 1;
/// a [`NoiseSchedule`] never has T = 0).
pub fn sample_timesteps(rng: &mut impl Rng, batch: usize, num_train_timesteps: usize) -> Vec<u32> {
    (0..batch)
        .map(|_| rng.random_range(0..num_train_timesteps.max(1)) as u32)
        .collect()
}
