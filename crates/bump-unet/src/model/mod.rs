//! The conditional UNet: the [`UNet`] type, its construction from a [`UNetConfig`], its weights,
//! the forward passes and the activation taps.
//!
//! - [`layers`]: conv, GroupNorm, dense and dropout layers over [`crate::ops`];
//! - [`blocks`]: the conditioned residual block, self-attention and a resolution level;
//! - [`condition`]: the (t, μx, μy) encoder and the optional shared MLP.

mod blocks;
mod condition;
mod layers;

use self::blocks::{Attention, Level, ResBlock};
use self::condition::Conditioning;
use self::layers::{Conv, Norm};
use crate::config::UNetConfig;
use crate::init::{named_rng, ParamBuilder};
use crate::{ops, Error, Result};
use candle_core::{bail, DType, Device, Tensor, Var};
use candle_nn::VarMap;
use rand_chacha::ChaCha8Rng;
use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

/// The name of the alias tap: the last encoder level before the bottleneck (spec §3's "layer 4").
pub const LAYER4_ALIAS: &str = "layer4";

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
    condition: Conditioning,
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
        let condition = Conditioning::new(&pb, cfg)?;
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
            varmap,
            condition,
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
        Ok(self.run(x, t, cond, train, &[], false)?.0)
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
        Ok(self.run(x, t, cond, false, taps, false)?)
    }

    /// The activations of the requested layers only (evaluation mode): the forward pass stops
    /// as soon as the last of them is computed, so reading `layer4` costs the encoder alone
    /// (well under half of a full pass). Values are bit-identical to
    /// [`UNet::forward_with_taps`]'.
    ///
    /// # Shapes
    /// As in [`UNet::forward_with_taps`].
    pub fn activations(
        &self,
        x: &Tensor,
        t: &Tensor,
        cond: &Tensor,
        taps: &[&str],
    ) -> Result<BTreeMap<String, Tensor>> {
        let names = self.tap_names();
        if let Some(bad) = taps.iter().find(|n| !names.iter().any(|k| k == *n)) {
            return Err(Error::UnknownTap {
                name: bad.to_string(),
                available: names,
            });
        }
        Ok(self.run(x, t, cond, false, taps, true)?.1)
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

    /// With `stop_early`, returns as soon as every requested tap is filled; the first element
    /// is then the activation reached so far, not the prediction.
    ///
    /// # Shapes
    /// Same as [`UNet::forward_with_taps`].
    fn run(
        &self,
        x: &Tensor,
        t: &Tensor,
        cond: &Tensor,
        train: bool,
        taps: &[&str],
        stop_early: bool,
    ) -> candle_core::Result<(Tensor, BTreeMap<String, Tensor>)> {
        self.check_inputs(x, t, cond)?;
        let dtype = self.stem.weight.dtype();
        let (x, t, cond) = (
            x.to_dtype(dtype)?,
            t.to_dtype(dtype)?,
            cond.to_dtype(dtype)?,
        );
        let mut out = BTreeMap::new();
        let tap = |out: &mut BTreeMap<String, Tensor>, name: &str, v: &Tensor| {
            if taps.contains(&name) {
                out.insert(name.to_string(), v.clone());
            }
        };
        let c = self.condition.forward(&t, &cond)?;
        let rng = &self.dropout_rng;
        let levels = self.down.len();
        let mut h = self.stem.forward(&x)?;
        let mut skips = Vec::with_capacity(levels);
        for (l, level) in self.down.iter().enumerate() {
            if l > 0 {
                h = self.downsample[l - 1].forward(&h)?;
            }
            h = level.forward(h, &c, rng, train)?;
            tap(&mut out, &format!("down{l}"), &h);
            if l + 1 == levels {
                tap(&mut out, LAYER4_ALIAS, &h);
            }
            if stop_early && out.len() == taps.len() {
                return Ok((h, out));
            }
            skips.push(h.clone());
        }
        h = self.mid.0.forward(&h, &c, rng, train)?;
        if let Some(a) = &self.mid.1 {
            h = a.forward(&h)?;
        }
        h = self.mid.2.forward(&h, &c, rng, train)?;
        tap(&mut out, "bottleneck", &h);
        if stop_early && out.len() == taps.len() {
            return Ok((h, out));
        }
        for (i, level) in self.up.iter().enumerate() {
            let l = levels - 1 - i;
            let skip = skips
                .pop()
                .ok_or_else(|| candle_core::Error::Msg("skip stack empty".into()))?;
            h = level.forward(Tensor::cat(&[&h, &skip], 1)?, &c, rng, train)?;
            tap(&mut out, &format!("up{l}"), &h);
            if l > 0 {
                h = self.upsample[i].forward(&ops::upsample_nearest2x(&h)?)?;
            }
        }
        let y = self.out_conv.forward(&self.out_norm.forward_silu(&h)?)?;
        Ok((y, out))
    }
}
