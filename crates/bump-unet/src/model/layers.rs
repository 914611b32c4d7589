//! Thin layers over [`crate::ops`]: convolution, GroupNorm, dense and dropout, each holding only
//! its parameters (created through a [`ParamBuilder`]) and hyper-parameters.

use crate::init::{Init, ParamBuilder};
use crate::ops;
use candle_core::{Device, Tensor};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use std::sync::Mutex;

/// ε of every GroupNorm.
pub(super) const NORM_EPS: f64 = 1e-5;

/// Convolution with bias, through [`crate::ops::conv2d`].
pub(super) struct Conv {
    pub(super) weight: Tensor,
    pub(super) bias: Tensor,
    padding: usize,
    stride: usize,
}

impl Conv {
    pub(super) fn new(
        pb: &ParamBuilder,
        c_in: usize,
        c_out: usize,
        k: usize,
        stride: usize,
    ) -> candle_core::Result<Self> {
        let fan_in = c_in * k * k;
        Ok(Self {
            weight: pb.get(&[c_out, c_in, k, k], "weight", Init::Uniform { fan_in })?,
            bias: pb.get(&[c_out], "bias", Init::Uniform { fan_in })?,
            padding: k / 2,
            stride,
        })
    }

    /// # Shapes
    /// (B, C_in, H, W) → (B, C_out, H / stride, W / stride)
    pub(super) fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        ops::conv2d(x, &self.weight, Some(&self.bias), self.padding, self.stride)
    }
}

/// GroupNorm with affine parameters, through [`crate::ops::group_norm`].
pub(super) struct Norm {
    pub(super) gamma: Tensor,
    pub(super) beta: Tensor,
    pub(super) groups: usize,
}

impl Norm {
    pub(super) fn new(pb: &ParamBuilder, c: usize, groups: usize) -> candle_core::Result<Self> {
        Ok(Self {
            gamma: pb.get(&[c], "weight", Init::Const(1.0))?,
            beta: pb.get(&[c], "bias", Init::Const(0.0))?,
            groups,
        })
    }

    /// # Shapes
    /// (B, C, H, W) → (B, C, H, W)
    pub(super) fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        ops::group_norm(x, self.groups, &self.gamma, &self.beta, NORM_EPS)
    }

    /// `silu(norm(x))`.
    ///
    /// # Shapes
    /// (B, C, H, W) → (B, C, H, W)
    pub(super) fn forward_silu(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        ops::group_norm_silu(x, self.groups, &self.gamma, &self.beta, NORM_EPS)
    }
}

/// Dense layer `y = x Wᵀ + b`.
pub(super) struct Linear {
    pub(super) weight: Tensor,
    pub(super) bias: Tensor,
}

impl Linear {
    pub(super) fn new(pb: &ParamBuilder, d_in: usize, d_out: usize) -> candle_core::Result<Self> {
        let init = Init::Uniform { fan_in: d_in };
        Ok(Self {
            weight: pb.get(&[d_out, d_in], "weight", init)?,
            bias: pb.get(&[d_out], "bias", init)?,
        })
    }

    /// # Shapes
    /// (B, D_in) → (B, D_out)
    pub(super) fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        x.matmul(&self.weight.t()?)?.broadcast_add(&self.bias)
    }
}

/// Dropout with masks from our own seeded generator (Candle's CPU RNG cannot be seeded).
pub(super) struct Dropout {
    pub(super) p: f32,
}

impl Dropout {
    /// # Shapes
    /// any → same
    pub(super) fn forward(
        &self,
        x: &Tensor,
        rng: &Mutex<ChaCha8Rng>,
        train: bool,
    ) -> candle_core::Result<Tensor> {
        if !train || self.p == 0.0 {
            return Ok(x.clone());
        }
        let keep = 1.0 - self.p;
        let scale = 1.0 / keep;
        let n = x.elem_count();
        let mask: Vec<f32> = {
            let mut rng = rng
                .lock()
                .map_err(|_| candle_core::Error::Msg("dropout generator lock poisoned".into()))?;
            (0..n)
                .map(|_| {
                    if rng.random::<f32>() < keep {
                        scale
                    } else {
                        0.0
                    }
                })
                .collect()
        };
        let mask = Tensor::from_vec(mask, x.shape(), &Device::Cpu)?
            .to_device(x.device())?
            .to_dtype(x.dtype())?;
        x * mask
    }
}
