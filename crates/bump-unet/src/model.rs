//! The conditional UNet: blocks, conditioning, forward passes and activation taps.

use crate::config::{ConditionEncoding, UNetConfig};
use crate::init::{named_rng, Init, ParamBuilder};
use crate::{ops, Error, Result};
use candle_core::{bail, DType, Device, Tensor, Var};
use candle_nn::VarMap;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};
use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

const NORM_EPS: f64 = 1e-5;

/// Normalisers of the raw inputs for [`ConditionEncoding::RandomFourier`].
const FOURIER_TIME_SCALE: f64 = 1000.0;
const FOURIER_POSITION_SCALE: f64 = 32.0;

/// The name of the alias tap: the last encoder level before the bottleneck (spec §3's "layer 4").
pub const LAYER4_ALIAS: &str = "layer4";

/// Convolution with bias, through [`crate::ops::conv2d`].
struct Conv {
    weight: Tensor,
    bias: Tensor,
    padding: usize,
    stride: usize,
}

impl Conv {
    fn new(
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
    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        ops::conv2d(x, &self.weight, Some(&self.bias), self.padding, self.stride)
    }
}

/// GroupNorm with affine parameters, through [`crate::ops::group_norm`].
struct Norm {
    gamma: Tensor,
    beta: Tensor,
    groups: usize,
}

impl Norm {
    fn new(pb: &ParamBuilder, c: usize, groups: usize) -> candle_core::Result<Self> {
        Ok(Self {
            gamma: pb.get(&[c], "weight", Init::Const(1.0))?,
            beta: pb.get(&[c], "bias", Init::Const(0.0))?,
            groups,
        })
    }

    /// # Shapes
    /// (B, C, H, W) → (B, C, H, W)
    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        ops::group_norm(x, self.groups, &self.gamma, &self.beta, NORM_EPS)
    }

    /// `silu(norm(x))`.
    ///
    /// # Shapes
    /// (B, C, H, W) → (B, C, H, W)
    fn forward_silu(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        ops::group_norm_silu(x, self.groups, &self.gamma, &self.beta, NORM_EPS)
    }
}

/// Dense layer `y = x Wᵀ + b`.
struct Linear {
    weight: Tensor,
    bias: Tensor,
}

impl Linear {
    fn new(pb: &ParamBuilder, d_in: usize, d_out: usize) -> candle_core::Result<Self> {
        let init = Init::Uniform { fan_in: d_in };
        Ok(Self {
            weight: pb.get(&[d_out, d_in], "weight", init)?,
            bias: pb.get(&[d_out], "bias", init)?,
        })
    }

    /// # Shapes
    /// (B, D_in) → (B, D_out)
    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        x.matmul(&self.weight.t()?)?.broadcast_add(&self.bias)
    }
}

/// Dropout with masks from our own seeded generator (Candle's CPU RNG cannot be seeded).
struct Dropout {
    p: f32,
}

impl Dropout {
    /// # Shapes
    /// any → same
    fn forward(
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

/// Pre-activation residual block with the conditioning added after the first conv:
/// `skip(x) + conv2(drop(gn_silu2(conv1(gn_silu1(x)) + proj(c))))`, `proj = Linear` applied to
/// `silu(c)` (spec §2: SiLU → Linear, added in every residual block).
struct ResBlock {
    norm1: Norm,
    conv1: Conv,
    cond_proj: Linear,
    norm2: Norm,
    dropout: Dropout,
    conv2: Conv,
    skip: Option<Conv>,
}

impl ResBlock {
    fn new(
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
    fn forward(
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
struct Attention {
    norm: Norm,
    qkv: Conv,
    proj: Conv,
    heads: usize,
}

impl Attention {
    fn new(pb: &ParamBuilder, cfg: &UNetConfig, c: usize) -> candle_core::Result<Self> {
        Ok(Self {
            norm: Norm::new(&pb.pp("norm"), c, cfg.norm_groups)?,
            qkv: Conv::new(&pb.pp("qkv"), c, 3 * c, 1, 1)?,
            proj: Conv::new(&pb.pp("proj"), c, c, 1, 1)?,
            heads: cfg.attention_heads,
        })
    }

    /// # Shapes
    /// (B, C, H, W) → (B, C, H, W)
    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
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
struct Level {
    res: Vec<ResBlock>,
    attn: Option<Attention>,
}

impl Level {
    /// # Shapes
    /// (B, C_in, H, W) → (B, C_level, H, W)
    fn forward(
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

/// The conditional UNet ε-predictor.
///
/// Parameters live in a [`VarMap`] as [`Var`]s named like `down.1.res.0.conv1.weight`; they
/// are created from ChaCha8 streams keyed by the seed and the name, so the same seed gives
/// bit-identical weights. See docs/unet.md for the layout.
pub struct UNet {
    config: UNetConfig,
    seed: u64,
    device: Device,
    varmap: VarMap,
    cond_encoder: CondEncoder,
    cond_mlp: Option<(Linear, Linear)>,
    stem: Conv,
    down: Vec<Level>,
    downsample: Vec<Conv>,
    mid: (ResBlock, Option<Attention>, ResBlock),
    up: Vec<Level>,
    upsample: Vec<Conv>,
    out_norm: Norm,
    out_conv: Conv,
    dropout_rng: Mutex<ChaCha8Rng>,
}

impl std::fmt::Debug for UNet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UNet")
            .field("config", &self.config)
            .field("seed", &self.seed)
            .field("device", &self.device)
            .finish_non_exhaustive()
    }
}

impl UNet {
    /// Builds the model with weights drawn from `seed` (PyTorch-default Kaiming-uniform for
    /// conv and linear layers, γ = 1 and β = 0 for GroupNorm).
    pub fn new(config: &UNetConfig, seed: u64, device: &Device) -> Result<Self> {
        config.validate()?;
        let varmap = VarMap::new();
        let pb = ParamBuilder {
            varmap: &varmap,
            seed,
            device,
            prefix: String::new(),
        };
        let cfg = config;
        let cond_mlp = match cfg.cond_mlp_width {
            Some(w) => Some((
                Linear::new(&pb.pp("cond_mlp.0"), cfg.condition.output_dim(), w)?,
                Linear::new(&pb.pp("cond_mlp.1"), w, w)?,
            )),
            None => None,
        };
        let levels = cfg.levels();
        let stem = Conv::new(&pb.pp("stem"), cfg.in_channels, cfg.base_channels, 3, 1)?;
        let mut down = Vec::with_capacity(levels);
        let mut downsample = Vec::new();
        let mut c_prev = cfg.base_channels;
        for l in 0..levels {
            let pl = pb.pp(format!("down.{l}"));
            if l > 0 {
                downsample.push(Conv::new(&pl.pp("downsample"), c_prev, c_prev, 3, 2)?);
            }
            let c = cfg.level_channels(l);
            let mut res = Vec::with_capacity(cfg.res_blocks);
            for i in 0..cfg.res_blocks {
                let c_in = if i == 0 { c_prev } else { c };
                res.push(ResBlock::new(&pl.pp(format!("res.{i}")), cfg, c_in, c)?);
            }
            let attn = if cfg.attention_levels.contains(&l) {
                Some(Attention::new(&pl.pp("attn"), cfg, c)?)
            } else {
                None
            };
            down.push(Level { res, attn });
            c_prev = c;
        }
        let c_mid = c_prev;
        let pm = pb.pp("mid");
        let mid = (
            ResBlock::new(&pm.pp("res.0"), cfg, c_mid, c_mid)?,
            if cfg.mid_attention {
                Some(Attention::new(&pm.pp("attn"), cfg, c_mid)?)
            } else {
                None
            },
            ResBlock::new(&pm.pp("res.1"), cfg, c_mid, c_mid)?,
        );
        // Decoder, built deepest first; `up[i]` is level `levels − 1 − i`.
        let mut up = Vec::with_capacity(levels);
        let mut upsample = Vec::new();
        for l in (0..levels).rev() {
            let pl = pb.pp(format!("up.{l}"));
            let c = cfg.level_channels(l);
            let mut res = Vec::with_capacity(cfg.res_blocks);
            for i in 0..cfg.res_blocks {
                let c_in = if i == 0 { c_prev + c } else { c };
                res.push(ResBlock::new(&pl.pp(format!("res.{i}")), cfg, c_in, c)?);
            }
            let attn = if cfg.attention_levels.contains(&l) {
                Some(Attention::new(&pl.pp("attn"), cfg, c)?)
            } else {
                None
            };
            up.push(Level { res, attn });
            // The conv after the ×2 upsampling also reduces to the next level's width, so the
            // most expensive (full-resolution) convs run on the narrow width.
            c_prev = c;
            if l > 0 {
                c_prev = cfg.level_channels(l - 1);
                upsample.push(Conv::new(&pl.pp("upsample"), c, c_prev, 3, 1)?);
            }
        }
        let out_norm = Norm::new(&pb.pp("out.norm"), c_prev, cfg.norm_groups)?;
        let out_conv = Conv::new(&pb.pp("out.conv"), c_prev, cfg.out_channels, 3, 1)?;
        Ok(Self {
            config: cfg.clone(),
            seed,
            device: device.clone(),
            cond_encoder: CondEncoder::new(&cfg.condition)?,
            varmap,
            cond_mlp,
            stem,
            down,
            downsample,
            mid,
            up,
            upsample,
            out_norm,
            out_conv,
            dropout_rng: Mutex::new(named_rng(seed, "dropout")),
        })
    }

    /// The configuration this model was built from.
    pub fn config(&self) -> &UNetConfig {
        &self.config
    }

    /// The seed the initial weights were drawn from.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// The device the parameters live on.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// The underlying [`VarMap`] (e.g. for `candle_nn` optimisers).
    pub fn varmap(&self) -> &VarMap {
        &self.varmap
    }

    /// Every trainable parameter with its name, sorted by name.
    pub fn vars(&self) -> Vec<(String, Var)> {
        let map = match self.varmap.data().lock() {
            Ok(m) => m,
            Err(poisoned) => poisoned.into_inner(),
        };
        let mut v: Vec<(String, Var)> = map.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    }

    /// Number of scalar parameters.
    pub fn parameter_count(&self) -> usize {
        self.vars().iter().map(|(_, v)| v.elem_count()).sum()
    }

    /// Deep copies of every parameter, by name (e.g. to initialise an EMA).
    pub fn snapshot_weights(&self) -> Result<HashMap<String, Tensor>> {
        self.vars()
            .into_iter()
            .map(|(k, v)| Ok((k, v.as_tensor().copy()?)))
            .collect()
    }

    /// An independent copy (own parameters, same config, seed, device and weights), e.g. an
    /// EMA model to evaluate next to the one being trained.
    pub fn try_clone(&self) -> Result<Self> {
        let copy = Self::new(&self.config, self.seed, &self.device)?;
        copy.load_weights(&self.snapshot_weights()?)?;
        Ok(copy)
    }

    /// Overwrites every parameter with the tensor of the same name.
    ///
    /// The map must hold exactly the model's parameter names with matching shapes; tensors
    /// are converted to f32 and moved to the model's device.
    pub fn load_weights(&self, weights: &HashMap<String, Tensor>) -> Result<()> {
        let vars = self.vars();
        let known: HashMap<&str, &Var> = vars.iter().map(|(k, v)| (k.as_str(), v)).collect();
        let mut unknown: Vec<&String> = weights
            .keys()
            .filter(|k| !known.contains_key(k.as_str()))
            .collect();
        if !unknown.is_empty() {
            unknown.sort();
            return Err(Error::UnknownTensor {
                name: unknown[0].clone(),
            });
        }
        // Check everything before writing anything, so a failed load leaves the model intact.
        for (name, var) in &vars {
            let t = weights
                .get(name)
                .ok_or_else(|| Error::MissingTensor { name: name.clone() })?;
            if t.dims() != var.dims() {
                return Err(Error::ShapeMismatch {
                    name: name.clone(),
                    expected: var.dims().to_vec(),
                    found: t.dims().to_vec(),
                });
            }
        }
        for (name, var) in &vars {
            let t = &weights[name];
            var.set(&t.to_dtype(DType::F32)?.to_device(&self.device)?)?;
        }
        Ok(())
    }

    /// Every tap name [`UNet::forward_with_taps`] accepts, in forward order, plus the alias
    /// [`LAYER4_ALIAS`].
    ///
    /// `down{l}` is the output of encoder level `l` (after its residual blocks and attention,
    /// before the next downsampling); `bottleneck` the output of the middle blocks; `up{l}`
    /// the output of decoder level `l` (before its upsampling); `layer4` = `down{L−1}`.
    pub fn tap_names(&self) -> Vec<String> {
        let l = self.config.levels();
        (0..l)
            .map(|i| format!("down{i}"))
            .chain(["bottleneck".to_string()])
            .chain((0..l).rev().map(|i| format!("up{i}")))
            .chain([LAYER4_ALIAS.to_string()])
            .collect()
    }

    /// Predicts ε in evaluation mode (no dropout).
    ///
    /// # Shapes
    /// - `x`: (B, in_channels, H, W), H and W divisible by [`UNetConfig::size_divisor`]
    /// - `t`: (B,) f32, the integer diffusion-step index
    /// - `cond`: (B, 2) f32, (μx, μy) in pixels
    /// - returns (B, out_channels, H, W)
    pub fn forward(&self, x: &Tensor, t: &Tensor, cond: &Tensor) -> candle_core::Result<Tensor> {
        self.forward_t(x, t, cond, false)
    }

    /// Predicts ε; `train` turns dropout on (masks come from a generator seeded by the model
    /// seed, so a fixed sequence of calls is reproducible).
    ///
    /// # Shapes
    /// Same as [`UNet::forward`].
    pub fn forward_t(
        &self,
        x: &Tensor,
        t: &Tensor,
        cond: &Tensor,
        train: bool,
    ) -> candle_core::Result<Tensor> {
        Ok(self.run(x, t, cond, train, &[])?.0)
    }

    /// Predicts ε (evaluation mode) and returns the activations of the requested layers.
    ///
    /// See [`UNet::tap_names`] for the names; `layer4` is the last encoder level before the
    /// bottleneck. Unknown names give [`Error::UnknownTap`].
    ///
    /// # Shapes
    /// - inputs and prediction as in [`UNet::forward`]
    /// - `down{l}`, `up{l}`: (B, base·mult\[l\], H / 2^l, W / 2^l)
    /// - `bottleneck`, `layer4`: (B, base·mult\[L−1\], H / 2^(L−1), W / 2^(L−1))
    pub fn forward_with_taps(
        &self,
        x: &Tensor,
        t: &Tensor,
        cond: &Tensor,
        taps: &[&str],
    ) -> Result<(Tensor, BTreeMap<String, Tensor>)> {
        let names = self.tap_names();
        if let Some(bad) = taps.iter().find(|n| !names.iter().any(|k| k == *n)) {
            return Err(Error::UnknownTap {
                name: bad.to_string(),
                available: names,
            });
        }
        Ok(self.run(x, t, cond, false, taps)?)
    }

    /// The conditioning vector after its SiLU, shared by every residual block.
    ///
    /// # Shapes
    /// - `t`: (B,), `cond`: (B, 2); returns (B, cond_dim)
    fn condition(&self, t: &Tensor, cond: &Tensor) -> candle_core::Result<Tensor> {
        let mut c = self.cond_encoder.forward(t, cond)?;
        if let Some((l0, l1)) = &self.cond_mlp {
            c = l1.forward(&candle_nn::ops::silu(&l0.forward(&c)?)?)?;
        }
        candle_nn::ops::silu(&c)
    }

    fn check_inputs(&self, x: &Tensor, t: &Tensor, cond: &Tensor) -> candle_core::Result<()> {
        let cfg = &self.config;
        let (b, c, h, w) = x.dims4()?;
        let div = cfg.size_divisor();
        if c != cfg.in_channels || h % div != 0 || w % div != 0 || h == 0 || w == 0 {
            bail!(
                "UNet input must be (B, {}, H, W) with H, W > 0 divisible by {div}, got {:?}",
                cfg.in_channels,
                x.dims()
            );
        }
        if t.dims() != [b] || cond.dims() != [b, 2] {
            bail!(
                "UNet expects t: ({b},) and cond: ({b}, 2), got {:?} and {:?}",
                t.dims(),
                cond.dims()
            );
        }
        Ok(())
    }

    /// # Shapes
    /// Same as [`UNet::forward_with_taps`].
    fn run(
        &self,
        x: &Tensor,
        t: &Tensor,
        cond: &Tensor,
        train: bool,
        taps: &[&str],
    ) -> candle_core::Result<(Tensor, BTreeMap<String, Tensor>)> {
        self.check_inputs(x, t, cond)?;
        let dtype = self.stem.weight.dtype();
        let (x, t, cond) = (
            x.to_dtype(dtype)?,
            t.to_dtype(dtype)?,
            cond.to_dtype(dtype)?,
        );
        let mut out = BTreeMap::new();
        let mut tap = |name: &str, v: &Tensor| {
            if taps.contains(&name) {
                out.insert(name.to_string(), v.clone());
            }
        };
        let c = self.condition(&t, &cond)?;
        let rng = &self.dropout_rng;
        let levels = self.down.len();
        let mut h = self.stem.forward(&x)?;
        let mut skips = Vec::with_capacity(levels);
        for (l, level) in self.down.iter().enumerate() {
            if l > 0 {
                h = self.downsample[l - 1].forward(&h)?;
            }
            h = level.forward(h, &c, rng, train)?;
            tap(&format!("down{l}"), &h);
            if l + 1 == levels {
                tap(LAYER4_ALIAS, &h);
            }
            skips.push(h.clone());
        }
        h = self.mid.0.forward(&h, &c, rng, train)?;
        if let Some(a) = &self.mid.1 {
            h = a.forward(&h)?;
        }
        h = self.mid.2.forward(&h, &c, rng, train)?;
        tap("bottleneck", &h);
        for (i, level) in self.up.iter().enumerate() {
            let l = levels - 1 - i;
            let skip = skips
                .pop()
                .ok_or_else(|| candle_core::Error::Msg("skip stack empty".into()))?;
            h = level.forward(Tensor::cat(&[&h, &skip], 1)?, &c, rng, train)?;
            tap(&format!("up{l}"), &h);
            if l > 0 {
                h = self.upsample[i].forward(&ops::upsample_nearest2x(&h)?)?;
            }
        }
        let y = self.out_conv.forward(&self.out_norm.forward_silu(&h)?)?;
        Ok((y, out))
    }
}
