//! The UNet's building blocks: the conditioned residual block, self-attention, and a resolution
//! level (residual blocks, then optional attention) of the encoder or decoder.

use super::layers::{Conv, Dropout, Linear, Norm, NORM_EPS};
use crate::config::UNetConfig;
use crate::init::ParamBuilder;
use crate::ops;
use candle_core::Tensor;
use rand_chacha::ChaCha8Rng;
use std::sync::Mutex;

/// Pre-activation residual block with the conditioning added after the first conv:
/// `skip(x) + conv2(drop(gn_silu2(conv1(gn_silu1(x)) + proj(c))))`, `proj = Linear` applied to
/// `silu(c)` (spec §2: SiLU → Linear, added in every residual block).
pub(super) struct ResBlock {
    norm1: Norm,
    conv1: Conv,
    cond_proj: Linear,
    norm2: Norm,
    dropout: Dropout,
    conv2: Conv,
    skip: Option<Conv>,
}

impl ResBlock {
    pub(super) fn new(
        pb: &ParamBuilder,
        cfg: &UNetConfig,
        c_in: usize,
        c_out: usize,
    ) -> candle_core::Result<Self> {
        Ok(Self {
            norm1: Norm::new(&pb.pp("norm1"), c_in, cfg.norm_groups)?,
            conv1: Conv::new(&pb.pp("conv1"), c_in, c_out, 3, 1)?,
            cond_proj: Linear::new(&pb.pp("cond_proj"), cfg.cond_dim(), c_out)?,
            norm2: Norm::new(&pb.pp("norm2"), c_out, cfg.norm_groups)?,
            dropout: Dropout { p: cfg.dropout },
            conv2: Conv::new(&pb.pp("conv2"), c_out, c_out, 3, 1)?,
            skip: if c_in != c_out {
                Some(Conv::new(&pb.pp("skip"), c_in, c_out, 1, 1)?)
            } else {
                None
            },
        })
    }

    /// The block's parameters for [`ops::res_block`].
    fn params(&self) -> ops::ResBlockParams {
        let pair = |a: &Tensor, b: &Tensor| (a.clone(), b.clone());
        ops::ResBlockParams {
            norm1: pair(&self.norm1.gamma, &self.norm1.beta),
            conv1: pair(&self.conv1.weight, &self.conv1.bias),
            cond_proj: pair(&self.cond_proj.weight, &self.cond_proj.bias),
            norm2: pair(&self.norm2.gamma, &self.norm2.beta),
            conv2: pair(&self.conv2.weight, &self.conv2.bias),
            skip: self.skip.as_ref().map(|s| pair(&s.weight, &s.bias)),
            groups: self.norm1.groups,
            eps: NORM_EPS,
        }
    }

    /// # Shapes
    /// - `x`: (B, C_in, H, W); `silu_c`: (B, D_cond), already passed through SiLU
    /// - returns (B, C_out, H, W)
    pub(super) fn forward(
        &self,
        x: &Tensor,
        silu_c: &Tensor,
        rng: &Mutex<ChaCha8Rng>,
        train: bool,
    ) -> candle_core::Result<Tensor> {
        if !train || self.dropout.p == 0.0 {
            // Without dropout the block is one op (fused on the CPU).
            return ops::res_block(x, silu_c, &self.params());
        }
        ops::res_block_with_mid(x, silu_c, &self.params(), |h| {
            self.dropout.forward(&h, rng, train)
        })
    }
}

/// Multi-head self-attention over the H·W positions, pre-norm, with a residual connection.
pub(super) struct Attention {
    norm: Norm,
    qkv: Conv,
    proj: Conv,
    heads: usize,
}

impl Attention {
    pub(super) fn new(pb: &ParamBuilder, cfg: &UNetConfig, c: usize) -> candle_core::Result<Self> {
        Ok(Self {
            norm: Norm::new(&pb.pp("norm"), c, cfg.norm_groups)?,
            qkv: Conv::new(&pb.pp("qkv"), c, 3 * c, 1, 1)?,
            proj: Conv::new(&pb.pp("proj"), c, c, 1, 1)?,
            heads: cfg.attention_heads,
        })
    }

    /// # Shapes
    /// (B, C, H, W) → (B, C, H, W)
    pub(super) fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let (b, c, h, w) = x.dims4()?;
        let (heads, hd, n) = (self.heads, c / self.heads, h * w);
        let qkv = self.qkv.forward(&self.norm.forward(x)?)?;
        // (B, 3, heads, hd, N): channel order of the 1×1 conv output is [q | k | v], head-major.
        let qkv = qkv.reshape((b, 3, heads, hd, n))?;
        let part = |i: usize| -> candle_core::Result<Tensor> {
            qkv.narrow(1, i, 1)?.reshape((b * heads, hd, n))
        };
        let q = part(0)?.transpose(1, 2)?.contiguous()?; // (BH, N, hd)
        let k = part(1)?.contiguous()?; // (BH, hd, N)
        let v = part(2)?.transpose(1, 2)?.contiguous()?; // (BH, N, hd)

        // softmax(q·k / √hd) over the keys, (BH, N, N), the scaling fused into the softmax.
        let attn = ops::scaled_softmax_last_dim(&q.matmul(&k)?, 1.0 / (hd as f64).sqrt())?;
        let out = attn.matmul(&v)?; // (BH, N, hd)
        let out = out.transpose(1, 2)?.contiguous()?.reshape((b, c, h, w))?;
        x + self.proj.forward(&out)?
    }
}

/// One resolution level of the encoder or decoder.
pub(super) struct Level {
    pub(super) res: Vec<ResBlock>,
    pub(super) attn: Option<Attention>,
}

impl Level {
    /// # Shapes
    /// (B, C_in, H, W) → (B, C_level, H, W)
    pub(super) fn forward(
        &self,
        mut h: Tensor,
        silu_c: &Tensor,
        rng: &Mutex<ChaCha8Rng>,
        train: bool,
    ) -> candle_core::Result<Tensor> {
        for r in &self.res {
            h = r.forward(&h, silu_c, rng, train)?;
        }
        match &self.attn {
            Some(a) => a.forward(&h),
            None => Ok(h),
        }
    }
}
