//! Oracle denoisers with closed-form optimal predictions: they prove samplers right without a
//! network, and give a memorising baseline the papers lack.

use crate::sampler::Denoiser;
use crate::schedule::{NoiseSchedule, PredictionType};
use crate::{Error, Result};
use candle_core::{DType, Tensor};

fn to_output(pred: PredictionType, a: f64, x_t: &[f32], x0: &[f64]) -> Vec<f32> {
    let (sa, s1) = (a.sqrt(), (1.0 - a).sqrt());
    x_t.iter()
        .zip(x0)
        .map(|(&x, &x0)| {
            let eps = (x as f64 - sa * x0) / s1;
            (match pred {
                PredictionType::Epsilon => eps,
                PredictionType::Sample => x0,
                PredictionType::VPrediction => sa * eps - s1 * x0,
            }) as f32
        })
        .collect()
}

fn rows(t: &Tensor) -> candle_core::Result<Vec<Vec<f32>>> {
    t.to_dtype(DType::F32)?.flatten_from(1)?.to_vec2()
}

/// The (B,) timesteps of a denoiser call as checked indices.
fn batch_timesteps(
    schedule: &NoiseSchedule,
    t: &Tensor,
    b: usize,
) -> candle_core::Result<Vec<usize>> {
    let ts = crate::forward::timesteps(t, schedule.num_train_timesteps())
        .map_err(|e| candle_core::Error::Msg(e.to_string()))?;
    if ts.len() != b {
        candle_core::bail!("{} timesteps for a batch of {b}", ts.len());
    }
    Ok(ts)
}

/// The exact posterior mean E[x₀ | x_t] under the empirical distribution of a finite training
/// set: a softmax over −‖x_t − √ᾱ·xᵢ‖² / (2(1 − ᾱ)) of the training images. Conditional when
/// labels are given: only images whose label equals the sample's condition take part.
pub struct EmpiricalOracle {
    schedule: NoiseSchedule,
    data: Vec<Vec<f64>>,
    labels: Option<Vec<Vec<f32>>>,
}

impl EmpiricalOracle {
    /// Unconditional oracle over `data` (M × D, each row a flattened training sample).
    pub fn new(schedule: NoiseSchedule, data: Vec<Vec<f32>>) -> Result<Self> {
        if data.is_empty() || data.iter().any(|r| r.len() != data[0].len()) {
            return Err(Error::InvalidArgument(
                "training set must be non-empty with equal-length rows".into(),
            ));
        }
        Ok(Self {
            schedule,
            data: data
                .into_iter()
                .map(|r| r.into_iter().map(f64::from).collect())
                .collect(),
            labels: None,
        })
    }

    /// Conditional oracle: `labels[i]` is the condition of `data[i]`.
    pub fn conditional(
        schedule: NoiseSchedule,
        data: Vec<Vec<f32>>,
        labels: Vec<Vec<f32>>,
    ) -> Result<Self> {
        if labels.len() != data.len() {
            return Err(Error::ShapeMismatch(format!(
                "{} labels for {} samples",
                labels.len(),
                data.len()
            )));
        }
        let mut s = Self::new(schedule, data)?;
        s.labels = Some(labels);
        Ok(s)
    }

    /// E[x₀ | x_t] for one flattened sample at training timestep `t`. With `cond = None`, or on
    /// an unconditional oracle, every training image takes part; otherwise only those whose
    /// label equals `cond` (to 1e-6), and an unmatched condition is an error.
    pub fn posterior_mean(&self, x_t: &[f32], t: usize, cond: Option<&[f32]>) -> Result<Vec<f64>> {
        let a = *self.schedule.alphas_cumprod.get(t).ok_or_else(|| {
            Error::InvalidArgument(format!(
                "timestep {t} >= T = {}",
                self.schedule.num_train_timesteps()
            ))
        })?;
        if x_t.len() != self.data[0].len() {
            return Err(Error::ShapeMismatch(format!(
                "sample has {} values, training images have {}",
                x_t.len(),
                self.data[0].len()
            )));
        }
        let (sa, var) = (a.sqrt(), 1.0 - a);
        let members: Vec<usize> = match (&self.labels, cond) {
            (Some(labels), Some(c)) => (0..labels.len())
                .filter(|&i| {
                    labels[i].len() == c.len()
                        && labels[i].iter().zip(c).all(|(a, b)| (a - b).abs() < 1e-6)
                })
                .collect(),
            _ => (0..self.data.len()).collect(),
        };
        if members.is_empty() {
            return Err(Error::InvalidArgument(format!(
                "no training sample has condition {cond:?}"
            )));
        }
        let logits: Vec<f64> = members
            .iter()
            .map(|&i| {
                let d2: f64 = self.data[i]
                    .iter()
                    .zip(x_t)
                    .map(|(&xi, &x)| (x as f64 - sa * xi).powi(2))
                    .sum();
                -d2 / (2.0 * var)
            })
            .collect();
        let mx = logits.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let w: Vec<f64> = logits.iter().map(|l| (l - mx).exp()).collect();
        let z: f64 = w.iter().sum();
        let mut mean = vec![0.0; x_t.len()];
        for (wi, &i) in w.iter().zip(&members) {
            for (m, &xi) in mean.iter_mut().zip(&self.data[i]) {
                *m += wi / z * xi;
            }
        }
        Ok(mean)
    }
}

impl Denoiser for EmpiricalOracle {
    fn predict(&mut self, x_t: &Tensor, t: &Tensor, cond: &Tensor) -> candle_core::Result<Tensor> {
        let xs = rows(x_t)?;
        let ts = batch_timesteps(&self.schedule, t, xs.len())?;
        let cs = if self.labels.is_some() {
            let cs = rows(cond)?;
            if cs.len() != xs.len() {
                candle_core::bail!("{} conditions for a batch of {}", cs.len(), xs.len());
            }
            Some(cs)
        } else {
            None
        };
        let mut out = Vec::with_capacity(xs.len() * xs.first().map_or(0, Vec::len));
        for (i, x) in xs.iter().enumerate() {
            let ti = ts[i];
            let m = self
                .posterior_mean(x, ti, cs.as_ref().map(|c| c[i].as_slice()))
                .map_err(|e| candle_core::Error::Msg(e.to_string()))?;
            out.extend(to_output(
                self.schedule.prediction_type(),
                self.schedule.alphas_cumprod[ti],
                x,
                &m,
            ));
        }
        Tensor::from_vec(out, x_t.dims(), x_t.device())
    }
}

/// The optimal denoiser for data ~ N(m, diag(s²)):
/// E[x₀ | x_t] = m + √ᾱ·s² / (ᾱ·s² + 1 − ᾱ) · (x_t − √ᾱ·m), per dimension.
pub struct GaussianOracle {
    schedule: NoiseSchedule,
    mean: Vec<f64>,
    var: Vec<f64>,
}

impl GaussianOracle {
    /// Data mean `mean` and per-dimension variance `var` (> 0).
    pub fn new(schedule: NoiseSchedule, mean: Vec<f64>, var: Vec<f64>) -> Result<Self> {
        if mean.is_empty()
            || mean.len() != var.len()
            || var.iter().any(|v| !(v.is_finite() && *v > 0.0))
            || mean.iter().any(|m| !m.is_finite())
        {
            return Err(Error::InvalidArgument(
                "mean and variance must be finite, non-empty, of equal length, variance > 0".into(),
            ));
        }
        Ok(Self {
            schedule,
            mean,
            var,
        })
    }
}

impl Denoiser for GaussianOracle {
    fn predict(&mut self, x_t: &Tensor, t: &Tensor, _cond: &Tensor) -> candle_core::Result<Tensor> {
        let xs = rows(x_t)?;
        let ts = batch_timesteps(&self.schedule, t, xs.len())?;
        let mut out = Vec::new();
        for (i, x) in xs.iter().enumerate() {
            if x.len() != self.mean.len() {
                candle_core::bail!(
                    "sample has {} dims, oracle has {}",
                    x.len(),
                    self.mean.len()
                );
            }
            let a = self.schedule.alphas_cumprod[ts[i]];
            let sa = a.sqrt();
            let m: Vec<f64> = x
                .iter()
                .enumerate()
                .map(|(d, &xv)| {
                    let g = sa * self.var[d] / (a * self.var[d] + 1.0 - a);
                    self.mean[d] + g * (xv as f64 - sa * self.mean[d])
                })
                .collect();
            out.extend(to_output(self.schedule.prediction_type(), a, x, &m));
        }
        Tensor::from_vec(out, x_t.dims(), x_t.device())
    }
}
