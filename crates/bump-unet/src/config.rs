//! The UNet's configuration: architecture, conditioning and presets.
//!
//! The serde types here reject unknown keys (`deny_unknown_fields`), so a misspelt key in a
//! TOML or JSON config file is an error naming it rather than a silently ignored setting. They
//! round-trip through JSON (checkpoints store the config as JSON) and TOML (config files).

use crate::{Error, Result};
use serde::{Deserialize, Serialize};

/// A geometric range of sinusoid periods, in the units of the encoded quantity
/// (training-step index for t, pixels for μx and μy).
///
/// The `k`-th of `n` frequencies is `ω_k = 2π / P_k` with
/// `P_k = min_period · (max_period / min_period)^(k / (n − 1))`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FrequencyRange {
    /// Shortest period (highest frequency).
    pub min_period: f64,
    /// Longest period (lowest frequency).
    pub max_period: f64,
}

impl FrequencyRange {
    /// The transformer timestep range: ω from 1 down to 1/10000 (spec §2's formula).
    pub fn transformer() -> Self {
        Self {
            min_period: std::f64::consts::TAU,
            max_period: std::f64::consts::TAU * 10_000.0,
        }
    }

    /// Our default for pixel coordinates on a 32-pixel canvas: periods from 4 px (resolves
    /// sub-pixel shifts) to 256 px (monotone across the whole canvas). The transformer range
    /// wastes most of its frequencies on periods far longer than the canvas.
    pub fn pixels() -> Self {
        Self {
            min_period: 4.0,
            max_period: 256.0,
        }
    }

    /// The `n` angular frequencies of this range, highest first.
    pub fn frequencies(&self, n: usize) -> Vec<f64> {
        (0..n)
            .map(|k| {
                let frac = if n > 1 {
                    k as f64 / (n - 1) as f64
                } else {
                    0.0
                };
                let period = self.min_period * (self.max_period / self.min_period).powf(frac);
                std::f64::consts::TAU / period
            })
            .collect()
    }

    fn validate(&self, what: &str) -> Result<()> {
        let ok = self.min_period.is_finite()
            && self.max_period.is_finite()
            && self.min_period > 0.0
            && self.max_period >= self.min_period;
        if ok {
            Ok(())
        } else {
            Err(Error::InvalidConfig(format!(
                "{what}: need 0 < min_period <= max_period, got {self:?}"
            )))
        }
    }
}

/// How the timestep t and the bump centre (μx, μy) are encoded before the per-block
/// SiLU → Linear projections.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", deny_unknown_fields)]
pub enum ConditionEncoding {
    /// `[sin(ω_k p), cos(ω_k p)]` for each of t, μx, μy (spec §2), concatenated:
    /// `3 · dim` features. `dim` is per component and must be even.
    Sinusoidal {
        /// Features per component (half sines, half cosines).
        dim: usize,
        /// Frequencies for t, in training-step units.
        time: FrequencyRange,
        /// Frequencies for μx and μy, in pixels.
        position: FrequencyRange,
    },
    /// The three scalars `t / time_scale`, `μx / position_scale`, `μy / position_scale`.
    RawScalars {
        /// Divisor for t (e.g. the number of diffusion steps).
        time_scale: f64,
        /// Divisor for μ (e.g. the canvas side).
        position_scale: f64,
    },
    /// Random Fourier features `[sin(2π b_k v), cos(2π b_k v)]` per component with
    /// `b_k ~ N(0, scale²)` drawn from ChaCha8(`seed`) and `v` = t / 1000 or μ / 32:
    /// `3 · dim` features. `dim` is per component and must be even.
    RandomFourier {
        /// Features per component (half sines, half cosines).
        dim: usize,
        /// Standard deviation of the frequencies, in cycles per unit of `v`.
        scale: f64,
        /// Seed of the frequencies (independent of the weight seed).
        seed: u64,
    },
}

impl ConditionEncoding {
    /// Sinusoidal encoding with `dim` features per component and the default ranges.
    pub fn sinusoidal(dim: usize) -> Self {
        Self::Sinusoidal {
            dim,
            time: FrequencyRange::transformer(),
            position: FrequencyRange::pixels(),
        }
    }

    /// Width of the concatenated encoding of (t, μx, μy).
    pub fn output_dim(&self) -> usize {
        match self {
            Self::Sinusoidal { dim, .. } | Self::RandomFourier { dim, .. } => 3 * dim,
            Self::RawScalars { .. } => 3,
        }
    }

    fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(Error::InvalidConfig(m));
        match self {
            Self::Sinusoidal {
                dim,
                time,
                position,
            } => {
                if *dim == 0 || dim % 2 != 0 {
                    return bad(format!("condition.dim must be even and > 0, got {dim}"));
                }
                time.validate("condition.time")?;
                position.validate("condition.position")
            }
            Self::RawScalars {
                time_scale,
                position_scale,
            } => {
                let pos = |v: f64| v.is_finite() && v > 0.0;
                if pos(*time_scale) && pos(*position_scale) {
                    Ok(())
                } else {
                    bad("condition: raw-scalar scales must be finite and > 0".into())
                }
            }
            Self::RandomFourier { dim, scale, .. } => {
                if *dim == 0 || dim % 2 != 0 {
                    return bad(format!("condition.dim must be even and > 0, got {dim}"));
                }
                if !(scale.is_finite() && *scale > 0.0) {
                    return bad(format!("condition.scale must be > 0, got {scale}"));
                }
                Ok(())
            }
        }
    }
}

impl Default for ConditionEncoding {
    /// Sinusoidal, 256 features per component: the paper preset's conditioning
    /// ([`UNetConfig::tiny`] uses 32).
    fn default() -> Self {
        Self::sinusoidal(256)
    }
}

/// Architecture of the conditional UNet.
///
/// Level `l` of `L = channel_mults.len()` works at resolution `H / 2^l` with
/// `base_channels · channel_mults[l]` channels; there are `L − 1` downsamplings and as many
/// upsamplings. See docs/unet.md for the block diagram.
///
/// Serde: unknown keys are rejected; `cond_mlp_width` may be omitted (or, in JSON, `null`) for
/// `None`. JSON output writes `None` as `null` (as every schema-1 checkpoint has); TOML has no
/// null, and the `toml` serializer leaves `None` fields out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UNetConfig {
    /// Image channels in.
    pub in_channels: usize,
    /// Channels predicted (ε has as many as the image).
    pub out_channels: usize,
    /// Width of the stem and of level 0 before the multiplier.
    pub base_channels: usize,
    /// Width multiplier per level; its length is the number of levels.
    pub channel_mults: Vec<usize>,
    /// Residual blocks per level, in the encoder and in the decoder.
    pub res_blocks: usize,
    /// Levels (0-based) that end with a self-attention block, in encoder and decoder.
    pub attention_levels: Vec<usize>,
    /// Whether the bottleneck has a self-attention block between its two residual blocks.
    pub mid_attention: bool,
    /// Attention heads; must divide every attended level's width.
    pub attention_heads: usize,
    /// GroupNorm groups; must divide every width.
    pub norm_groups: usize,
    /// Dropout probability inside residual blocks (training only).
    pub dropout: f32,
    /// Encoding of (t, μx, μy).
    pub condition: ConditionEncoding,
    /// When set, a shared `Linear → SiLU → Linear` of this width maps the encoding before the
    /// per-block projections. `None` is the spec §2 injection (encoding → SiLU → Linear per block).
    // No `skip_serializing_if`: checkpoints keep writing `"cond_mlp_width": null`, which the
    // PyTorch peer (benches/peer/bump_unet.py) indexes; `toml` skips `None` fields by itself.
    #[serde(default)]
    pub cond_mlp_width: Option<usize>,
}

impl Default for UNetConfig {
    /// The [`UNetConfig::tiny`] preset (widths 16-32-32, a CPU-sized model), **not** the
    /// paper-scale [`UNetConfig::paper`]: a default has to build and train quickly anywhere.
    /// Ask for [`UNetConfig::paper`] explicitly to reproduce the papers' architecture.
    fn default() -> Self {
        Self::tiny()
    }
}

impl UNetConfig {
    /// The paper-scale model (spec §3): 32 → 16 → 8 → 4 with widths 64-128-256-256, three
    /// down- and three upsamplings, self-attention after each down and up level below full
    /// resolution, two residual blocks per level, sinusoidal conditioning with 256 features
    /// per component.
    pub fn paper() -> Self {
        Self {
            in_channels: 1,
            out_channels: 1,
            base_channels: 64,
            channel_mults: vec![1, 2, 4, 4],
            res_blocks: 2,
            attention_levels: vec![1, 2, 3],
            mid_attention: false,
            attention_heads: 4,
            norm_groups: 32,
            dropout: 0.0,
            condition: ConditionEncoding::sinusoidal(256),
            cond_mlp_width: None,
        }
    }

    /// A CPU-sized model: widths 16-32-32 at 32 → 16 → 8, one residual block per level,
    /// attention only at the lowest resolution.
    pub fn tiny() -> Self {
        Self {
            in_channels: 1,
            out_channels: 1,
            base_channels: 16,
            channel_mults: vec![1, 2, 2],
            res_blocks: 1,
            attention_levels: vec![2],
            mid_attention: false,
            attention_heads: 2,
            norm_groups: 8,
            dropout: 0.0,
            condition: ConditionEncoding::sinusoidal(32),
            cond_mlp_width: None,
        }
    }

    /// Sets the input and output channels.
    pub fn with_channels(mut self, in_channels: usize, out_channels: usize) -> Self {
        self.in_channels = in_channels;
        self.out_channels = out_channels;
        self
    }

    /// Sets the base width and the per-level multipliers.
    pub fn with_widths(mut self, base_channels: usize, channel_mults: Vec<usize>) -> Self {
        self.base_channels = base_channels;
        self.channel_mults = channel_mults;
        self
    }

    /// Sets the residual blocks per level.
    pub fn with_res_blocks(mut self, res_blocks: usize) -> Self {
        self.res_blocks = res_blocks;
        self
    }

    /// Sets the attended levels and the head count.
    pub fn with_attention(mut self, levels: Vec<usize>, heads: usize) -> Self {
        self.attention_levels = levels;
        self.attention_heads = heads;
        self
    }

    /// Turns the bottleneck attention on or off.
    pub fn with_mid_attention(mut self, on: bool) -> Self {
        self.mid_attention = on;
        self
    }

    /// Sets the GroupNorm group count.
    pub fn with_norm_groups(mut self, groups: usize) -> Self {
        self.norm_groups = groups;
        self
    }

    /// Sets the dropout probability.
    pub fn with_dropout(mut self, p: f32) -> Self {
        self.dropout = p;
        self
    }

    /// Sets the condition encoding.
    pub fn with_condition(mut self, condition: ConditionEncoding) -> Self {
        self.condition = condition;
        self
    }

    /// Sets (or removes) the shared conditioning MLP.
    pub fn with_cond_mlp_width(mut self, width: Option<usize>) -> Self {
        self.cond_mlp_width = width;
        self
    }

    /// Number of resolution levels.
    pub fn levels(&self) -> usize {
        self.channel_mults.len()
    }

    /// Width of level `l`.
    pub fn level_channels(&self, l: usize) -> usize {
        self.base_channels * self.channel_mults[l]
    }

    /// The factor image sides must be divisible by: `2^(levels − 1)`.
    pub fn size_divisor(&self) -> usize {
        1 << self.levels().saturating_sub(1)
    }

    /// Forward FLOPs per image (2 per multiply-add) of the convolutions and attention matmuls
    /// for an H×W input: every conv (stem, residual, skip, down/upsampling, attention
    /// projections, output) plus QKᵀ and AV (2·N²·C each) per attention block. GroupNorm,
    /// activations and the conditioning linears (< 1 % of the total) are not counted.
    ///
    /// Equals what [`crate::ops::conv_flops`] counts during a forward pass, plus the attention
    /// matmuls (checked in the tests).
    pub fn forward_flops(&self, h: usize, w: usize) -> u64 {
        let conv = |c_in: usize, c_out: usize, k: usize, hw: usize| -> u64 {
            2 * (c_in * c_out * k * k * hw) as u64
        };
        let hw = |l: usize| (h >> l) * (w >> l);
        let res = |c_in: usize, c: usize, hw: usize| -> u64 {
            conv(c_in, c, 3, hw)
                + conv(c, c, 3, hw)
                + if c_in != c { conv(c_in, c, 1, hw) } else { 0 }
        };
        let attn = |c: usize, hw: usize| -> u64 {
            conv(c, 3 * c, 1, hw) + conv(c, c, 1, hw) + 4 * (hw * hw * c) as u64
        };
        let levels = self.levels();
        let mut total = conv(self.in_channels, self.base_channels, 3, hw(0));
        let mut c_prev = self.base_channels;
        for l in 0..levels {
            if l > 0 {
                total += conv(c_prev, c_prev, 3, hw(l));
            }
            let c = self.level_channels(l);
            for i in 0..self.res_blocks {
                total += res(if i == 0 { c_prev } else { c }, c, hw(l));
            }
            if self.attention_levels.contains(&l) {
                total += attn(c, hw(l));
            }
            c_prev = c;
        }
        let deepest = hw(levels - 1);
        total += 2 * res(c_prev, c_prev, deepest);
        if self.mid_attention {
            total += attn(c_prev, deepest);
        }
        for l in (0..levels).rev() {
            let c = self.level_channels(l);
            for i in 0..self.res_blocks {
                total += res(if i == 0 { c_prev + c } else { c }, c, hw(l));
            }
            if self.attention_levels.contains(&l) {
                total += attn(c, hw(l));
            }
            c_prev = c;
            if l > 0 {
                c_prev = self.level_channels(l - 1);
                total += conv(c, c_prev, 3, hw(l - 1));
            }
        }
        total + conv(c_prev, self.out_channels, 3, hw(0))
    }

    /// Width of the conditioning vector each block projects from.
    pub fn cond_dim(&self) -> usize {
        self.cond_mlp_width
            .unwrap_or_else(|| self.condition.output_dim())
    }

    /// Checks every field; all constructors of [`crate::UNet`] call this.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(Error::InvalidConfig(m));
        if self.in_channels == 0 || self.out_channels == 0 || self.base_channels == 0 {
            return bad("in_channels, out_channels and base_channels must be > 0".into());
        }
        if self.channel_mults.is_empty() || self.channel_mults.len() > 8 {
            return bad(format!(
                "channel_mults must have 1 to 8 levels, got {:?}",
                self.channel_mults
            ));
        }
        if self.channel_mults.contains(&0) {
            return bad("channel_mults must all be > 0".into());
        }
        if self.res_blocks == 0 {
            return bad("res_blocks must be > 0".into());
        }
        if self.norm_groups == 0 {
            return bad("norm_groups must be > 0".into());
        }
        let widths: Vec<usize> = (0..self.levels())
            .map(|l| self.level_channels(l))
            .chain([self.base_channels])
            .collect();
        if let Some(w) = widths.iter().find(|&&w| w % self.norm_groups != 0) {
            return bad(format!(
                "norm_groups = {} must divide every width; {w} is not divisible",
                self.norm_groups
            ));
        }
        if let Some(l) = self.attention_levels.iter().find(|&&l| l >= self.levels()) {
            return bad(format!(
                "attention level {l} does not exist ({} levels)",
                self.levels()
            ));
        }
        let attended = self
            .attention_levels
            .iter()
            .map(|&l| self.level_channels(l))
            .chain(
                self.mid_attention
                    .then(|| self.level_channels(self.levels() - 1)),
            );
        for w in attended {
            if self.attention_heads == 0 || w % self.attention_heads != 0 {
                return bad(format!(
                    "attention_heads = {} must be > 0 and divide the attended width {w}",
                    self.attention_heads
                ));
            }
        }
        if !(0.0..1.0).contains(&self.dropout) {
            return bad(format!("dropout must lie in [0, 1), got {}", self.dropout));
        }
        if self.cond_mlp_width == Some(0) {
            return bad("cond_mlp_width must be > 0 when set".into());
        }
        self.condition.validate()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_validate() {
        UNetConfig::paper().validate().unwrap();
        UNetConfig::tiny().validate().unwrap();
    }

    #[test]
    fn invalid_fields_are_rejected() {
        let cases = [
            UNetConfig::tiny().with_norm_groups(5),
            UNetConfig::tiny().with_attention(vec![3], 2),
            UNetConfig::tiny().with_attention(vec![2], 3),
            UNetConfig::tiny().with_dropout(1.0),
            UNetConfig::tiny().with_widths(16, vec![]),
            UNetConfig::tiny().with_res_blocks(0),
            UNetConfig::tiny().with_condition(ConditionEncoding::sinusoidal(7)),
            UNetConfig::tiny().with_cond_mlp_width(Some(0)),
        ];
        for c in cases {
            assert!(
                matches!(c.validate(), Err(Error::InvalidConfig(_))),
                "{c:?}"
            );
        }
    }

    #[test]
    fn frequency_range_endpoints() {
        let f = FrequencyRange::pixels().frequencies(5);
        assert!((f[0] - std::f64::consts::TAU / 4.0).abs() < 1e-12);
        assert!((f[4] - std::f64::consts::TAU / 256.0).abs() < 1e-12);
        // Geometric: constant ratio between neighbours.
        let r = f[1] / f[0];
        for w in f.windows(2) {
            assert!((w[1] / w[0] - r).abs() < 1e-12);
        }
    }

    #[test]
    fn config_json_round_trip() {
        let c = UNetConfig::paper().with_condition(ConditionEncoding::RandomFourier {
            dim: 16,
            scale: 3.0,
            seed: 9,
        });
        let s = serde_json::to_string(&c).unwrap();
        assert_eq!(serde_json::from_str::<UNetConfig>(&s).unwrap(), c);
    }

    fn toml_cases() -> Vec<UNetConfig> {
        vec![
            UNetConfig::paper(),
            UNetConfig::tiny(),
            UNetConfig::tiny()
                .with_widths(16, vec![1, 2, 2, 2])
                .with_attention(vec![3], 2),
            // `Some` width (a scalar after the `condition` table) and the other encodings.
            UNetConfig::tiny()
                .with_cond_mlp_width(Some(32))
                .with_dropout(0.1)
                .with_condition(ConditionEncoding::RandomFourier {
                    dim: 16,
                    scale: 3.0,
                    seed: 9,
                }),
            UNetConfig::tiny().with_condition(ConditionEncoding::RawScalars {
                time_scale: 1000.0,
                position_scale: 32.0,
            }),
        ]
    }

    #[test]
    fn config_toml_round_trip() {
        for c in toml_cases() {
            let s = toml::to_string(&c).unwrap();
            let back: UNetConfig = toml::from_str(&s).unwrap();
            assert_eq!(back, c, "value -> TOML -> value\n{s}");
            assert_eq!(toml::to_string(&back).unwrap(), s, "TOML -> value -> TOML");
        }
    }

    /// The TOML a config file holds for the tiny preset: `cond_mlp_width = None` is absent
    /// (TOML has no null), and the text survives a parse and re-serialisation unchanged.
    #[test]
    fn tiny_toml_text_is_stable() {
        let text = r#"in_channels = 1
out_channels = 1
base_channels = 16
channel_mults = [1, 2, 2]
res_blocks = 1
attention_levels = [2]
mid_attention = false
attention_heads = 2
norm_groups = 8
dropout = 0.0

[condition]
kind = "sinusoidal"
dim = 32

[condition.time]
min_period = 6.283185307179586
max_period = 62831.853071795864

[condition.position]
min_period = 4.0
max_period = 256.0
"#;
        let c: UNetConfig = toml::from_str(text).unwrap();
        assert_eq!(c, UNetConfig::tiny());
        assert_eq!(toml::to_string(&c).unwrap(), text);
    }

    /// Checkpoints store the config as JSON: `None` stays an explicit `null` (every schema-1
    /// checkpoint has it, and readers index the key), and old configs still parse.
    #[test]
    fn json_keeps_null_and_reads_old_checkpoint_configs() {
        let s = serde_json::to_string(&UNetConfig::tiny()).unwrap();
        assert!(s.contains(r#""cond_mlp_width":null"#), "{s}");
        // The config JSON of tests/fixtures/peer/{tiny,raw}.safetensors, verbatim.
        let old_tiny = r#"{"in_channels":1,"out_channels":1,"base_channels":16,"channel_mults":[1,2,2],"res_blocks":1,"attention_levels":[2],"mid_attention":false,"attention_heads":2,"norm_groups":8,"dropout":0.0,"condition":{"kind":"sinusoidal","dim":32,"time":{"min_period":6.283185307179586,"max_period":62831.853071795864},"position":{"min_period":4.0,"max_period":256.0}},"cond_mlp_width":null}"#;
        assert_eq!(
            serde_json::from_str::<UNetConfig>(old_tiny).unwrap(),
            UNetConfig::tiny()
        );
        assert_eq!(s, old_tiny, "the checkpoint JSON of tiny is unchanged");
        let old_raw = r#"{"in_channels":1,"out_channels":1,"base_channels":8,"channel_mults":[1,2,2],"res_blocks":1,"attention_levels":[2],"mid_attention":false,"attention_heads":2,"norm_groups":4,"dropout":0.0,"condition":{"kind":"raw_scalars","time_scale":1000.0,"position_scale":32.0},"cond_mlp_width":16}"#;
        let raw: UNetConfig = serde_json::from_str(old_raw).unwrap();
        assert_eq!(raw.cond_mlp_width, Some(16));
        assert_eq!(serde_json::to_string(&raw).unwrap(), old_raw);
        // An omitted width is `None`.
        let omitted = old_tiny.replace(r#","cond_mlp_width":null"#, "");
        assert_eq!(
            serde_json::from_str::<UNetConfig>(&omitted).unwrap(),
            UNetConfig::tiny()
        );
    }

    #[test]
    fn unknown_keys_are_rejected_by_name() {
        let base = toml::to_string(&UNetConfig::tiny()).unwrap();
        let cases = [
            // top level (before the first table), inside the tagged enum, inside a range
            base.replacen("in_channels", "in_chanels = 1\nin_channels", 1),
            base.replace("dim = 32", "dim = 32\nbogus_key = 1"),
            base.replace(
                "[condition.position]\n",
                "[condition.position]\nmid_period = 9.0\n",
            ),
        ];
        for (text, key) in cases.iter().zip(["in_chanels", "bogus_key", "mid_period"]) {
            assert!(text.contains(key), "{text}");
            let e = toml::from_str::<UNetConfig>(text).unwrap_err().to_string();
            assert!(e.contains(key), "TOML error should name `{key}`: {e}");
            // The same document as JSON.
            let v: serde_json::Value = toml::from_str(text).unwrap();
            let e = serde_json::from_value::<UNetConfig>(v)
                .unwrap_err()
                .to_string();
            assert!(e.contains(key), "JSON error should name `{key}`: {e}");
        }
        // Unknown `kind` spellings stay errors too.
        let bad = base.replace("\"sinusoidal\"", "\"sinusoid\"");
        assert!(toml::from_str::<UNetConfig>(&bad).is_err());
    }
}
