//! The condition encoder: (t, μx, μy) → the conditioning vector every residual block projects.

use super::layers::Linear;
use crate::config::{ConditionEncoding, UNetConfig};
use crate::init::{named_rng, ParamBuilder};
use crate::{Error, Result};
use candle_core::Tensor;
use rand_distr::{Distribution, Normal};

/// Normalisers of the raw inputs for [`ConditionEncoding::RandomFourier`].
const FOURIER_TIME_SCALE: f64 = 1000.0;
const FOURIER_POSITION_SCALE: f64 = 32.0;

/// Maps (t, μx, μy) to the conditioning vector.
enum CondEncoder {
    Sinusoidal {
        time: Vec<f32>,
        position: Vec<f32>,
    },
    Raw {
        time_scale: f64,
        position_scale: f64,
    },
    Fourier {
        time: Vec<f32>,
        position_x: Vec<f32>,
        position_y: Vec<f32>,
    },
}

impl CondEncoder {
    fn new(enc: &ConditionEncoding) -> Result<Self> {
        Ok(match enc {
            ConditionEncoding::Sinusoidal {
                dim,
                time,
                position,
            } => Self::Sinusoidal {
                time: time
                    .frequencies(dim / 2)
                    .iter()
                    .map(|&f| f as f32)
                    .collect(),
                position: position
                    .frequencies(dim / 2)
                    .iter()
                    .map(|&f| f as f32)
                    .collect(),
            },
            ConditionEncoding::RawScalars {
                time_scale,
                position_scale,
            } => Self::Raw {
                time_scale: *time_scale,
                position_scale: *position_scale,
            },
            ConditionEncoding::RandomFourier { dim, scale, seed } => {
                let normal = Normal::new(0.0, *scale)
                    .map_err(|e| Error::InvalidConfig(format!("random Fourier scale: {e}")))?;
                let draw = |name: &str, unit: f64| -> Vec<f32> {
                    let mut rng = named_rng(*seed, name);
                    (0..dim / 2)
                        .map(|_| (std::f64::consts::TAU * normal.sample(&mut rng) / unit) as f32)
                        .collect()
                };
                Self::Fourier {
                    time: draw("fourier.t", FOURIER_TIME_SCALE),
                    position_x: draw("fourier.x", FOURIER_POSITION_SCALE),
                    position_y: draw("fourier.y", FOURIER_POSITION_SCALE),
                }
            }
        })
    }

    /// `[sin(ω p), cos(ω p)]` for every frequency.
    ///
    /// # Shapes
    /// - `p`: (B,); returns (B, 2·len(freqs))
    fn sincos(p: &Tensor, freqs: &[f32]) -> candle_core::Result<Tensor> {
        let f = Tensor::from_slice(freqs, (1, freqs.len()), p.device())?;
        let arg = p.unsqueeze(1)?.broadcast_mul(&f)?;
        Tensor::cat(&[arg.sin()?, arg.cos()?], 1)
    }

    /// # Shapes
    /// - `t`: (B,), `cond`: (B, 2); returns (B, output_dim)
    fn forward(&self, t: &Tensor, cond: &Tensor) -> candle_core::Result<Tensor> {
        let mx = cond.narrow(1, 0, 1)?.squeeze(1)?;
        let my = cond.narrow(1, 1, 1)?.squeeze(1)?;
        match self {
            Self::Sinusoidal { time, position } => Tensor::cat(
                &[
                    Self::sincos(t, time)?,
                    Self::sincos(&mx, position)?,
                    Self::sincos(&my, position)?,
                ],
                1,
            ),
            Self::Raw {
                time_scale,
                position_scale,
            } => Tensor::stack(
                &[
                    (t / *time_scale)?,
                    (mx / *position_scale)?,
                    (my / *position_scale)?,
                ],
                1,
            ),
            Self::Fourier {
                time,
                position_x,
                position_y,
            } => Tensor::cat(
                &[
                    Self::sincos(t, time)?,
                    Self::sincos(&mx, position_x)?,
                    Self::sincos(&my, position_y)?,
                ],
                1,
            ),
        }
    }
}

/// The conditioning shared by every residual block: the encoding of (t, μx, μy), through the
/// optional shared `Linear → SiLU → Linear` ([`UNetConfig::cond_mlp_width`]), then SiLU.
pub(super) struct Conditioning {
    encoder: CondEncoder,
    mlp: Option<(Linear, Linear)>,
}

impl Conditioning {
    /// The encoder of `cfg.condition` and, when `cfg.cond_mlp_width` is set, the MLP's
    /// parameters `cond_mlp.0.*` and `cond_mlp.1.*`.
    pub(super) fn new(pb: &ParamBuilder, cfg: &UNetConfig) -> Result<Self> {
        let mlp = match cfg.cond_mlp_width {
            Some(w) => Some((
                Linear::new(&pb.pp("cond_mlp.0"), cfg.condition.output_dim(), w)?,
                Linear::new(&pb.pp("cond_mlp.1"), w, w)?,
            )),
            None => None,
        };
        Ok(Self {
            encoder: CondEncoder::new(&cfg.condition)?,
            mlp,
        })
    }

    /// The conditioning vector after its SiLU.
    ///
    /// # Shapes
    /// - `t`: (B,), `cond`: (B, 2); returns (B, cond_dim)
    pub(super) fn forward(&self, t: &Tensor, cond: &Tensor) -> candle_core::Result<Tensor> {
        let mut c = self.encoder.forward(t, cond)?;
        if let Some((l0, l1)) = &self.mlp {
            c = l1.forward(&candle_nn::ops::silu(&l0.forward(&c)?)?)?;
        }
        candle_nn::ops::silu(&c)
    }
}
