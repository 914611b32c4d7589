"""PyTorch re-implementation of bump-unet's conditional UNet, for side-by-side checks.

The module tree mirrors the Rust parameter names (`down.1.res.0.conv1.weight`, ...), so a
bump-unet checkpoint loads with `load_state_dict(strict=True)` and no renaming. The
architecture is read from the checkpoint's `config` metadata (the serde JSON of
`UNetConfig`), so every preset and every width works. Supported condition encodings:
`sinusoidal` and `raw_scalars`. (`random_fourier` draws its frequencies from our ChaCha
stream, which this script does not reproduce.)

Also here: the DDIM and DDPM update rules the Rust samplers use, written the way
bump-diffusion writes them, so sampling throughput can be compared like for like.
"""

from __future__ import annotations

import json
import math
from typing import Optional

import torch
import torch.nn.functional as F
from safetensors import safe_open
from torch import nn

NORM_EPS = 1e-5


def frequencies(rng: dict, n: int) -> torch.Tensor:
    """`FrequencyRange::frequencies`: periods log-spaced from min to max, ω = 2π / period.

    Computed in float64 and rounded to float32, as the Rust code does.
    """
    lo, hi = rng["min_period"], rng["max_period"]
    out = []
    for k in range(n):
        frac = k / (n - 1) if n > 1 else 0.0
        period = lo * (hi / lo) ** frac
        out.append(2.0 * math.pi / period)
    return torch.tensor(out, dtype=torch.float64).to(torch.float32)


class CondEncoder(nn.Module):
    """Maps (t, μx, μy) to the conditioning vector (no parameters)."""

    def __init__(self, enc: dict):
        super().__init__()
        self.kind = enc["kind"]
        if self.kind == "sinusoidal":
            half = enc["dim"] // 2
            self.register_buffer("f_time", frequencies(enc["time"], half), persistent=False)
            self.register_buffer("f_pos", frequencies(enc["position"], half), persistent=False)
        elif self.kind == "raw_scalars":
            self.time_scale = float(enc["time_scale"])
            self.position_scale = float(enc["position_scale"])
        else:
            raise ValueError(f"condition encoding {self.kind!r} is not supported by the peer")

    @staticmethod
    def sincos(p: torch.Tensor, f: torch.Tensor) -> torch.Tensor:
        arg = p[:, None] * f[None, :]
        return torch.cat([arg.sin(), arg.cos()], dim=1)

    def forward(self, t: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        mx, my = cond[:, 0], cond[:, 1]
        if self.kind == "sinusoidal":
            return torch.cat(
                [self.sincos(t, self.f_time), self.sincos(mx, self.f_pos), self.sincos(my, self.f_pos)],
                dim=1,
            )
        return torch.stack([t / self.time_scale, mx / self.position_scale, my / self.position_scale], dim=1)


class ResBlock(nn.Module):
    """`skip(x) + conv2(drop(silu(gn2(conv1(silu(gn1(x))) + proj(c)))))`."""

    def __init__(self, cfg: dict, c_in: int, c_out: int, cond_dim: int):
        super().__init__()
        g = cfg["norm_groups"]
        self.norm1 = nn.GroupNorm(g, c_in, eps=NORM_EPS)
        self.conv1 = nn.Conv2d(c_in, c_out, 3, padding=1)
        self.cond_proj = nn.Linear(cond_dim, c_out)
        self.norm2 = nn.GroupNorm(g, c_out, eps=NORM_EPS)
        self.dropout = nn.Dropout(cfg["dropout"])
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1)
        self.skip = nn.Conv2d(c_in, c_out, 1) if c_in != c_out else None

    def forward(self, x: torch.Tensor, silu_c: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        h = h + self.cond_proj(silu_c)[:, :, None, None]
        h = self.conv2(self.dropout(F.silu(self.norm2(h))))
        return (self.skip(x) if self.skip is not None else x) + h


class Attention(nn.Module):
    """Pre-norm multi-head self-attention over H·W positions, with a residual."""

    def __init__(self, cfg: dict, c: int):
        super().__init__()
        self.norm = nn.GroupNorm(cfg["norm_groups"], c, eps=NORM_EPS)
        self.qkv = nn.Conv2d(c, 3 * c, 1)
        self.proj = nn.Conv2d(c, c, 1)
        self.heads = cfg["attention_heads"]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        heads, hd, n = self.heads, c // self.heads, h * w
        # Channel order of the 1×1 conv output is [q | k | v], head-major, as in Rust.
        qkv = self.qkv(self.norm(x)).reshape(b, 3, heads, hd, n)
        q, k, v = (qkv[:, i].transpose(-1, -2) for i in range(3))  # (B, heads, N, hd)
        out = F.scaled_dot_product_attention(q, k, v)  # softmax(q kᵀ / √hd) v
        out = out.transpose(-1, -2).reshape(b, c, h, w)
        return x + self.proj(out)


class Level(nn.Module):
    def __init__(self):
        super().__init__()
        self.res = nn.ModuleList()
        self.attn: Optional[Attention] = None
        self.downsample: Optional[nn.Conv2d] = None
        self.upsample: Optional[nn.Conv2d] = None

    def blocks(self, h: torch.Tensor, silu_c: torch.Tensor) -> torch.Tensor:
        for r in self.res:
            h = r(h, silu_c)
        return self.attn(h) if self.attn is not None else h


class Mid(nn.Module):
    def __init__(self, cfg: dict, c: int, cond_dim: int):
        super().__init__()
        self.res = nn.ModuleList([ResBlock(cfg, c, c, cond_dim), ResBlock(cfg, c, c, cond_dim)])
        self.attn = Attention(cfg, c) if cfg["mid_attention"] else None


class Out(nn.Module):
    def __init__(self, cfg: dict, c: int):
        super().__init__()
        self.norm = nn.GroupNorm(cfg["norm_groups"], c, eps=NORM_EPS)
        self.conv = nn.Conv2d(c, cfg["out_channels"], 3, padding=1)


class BumpUNet(nn.Module):
    """The conditional UNet ε-predictor (same architecture and names as `bump_unet::UNet`).

    Shapes: x (B, in_channels, H, W), t (B,) float, cond (B, 2) float → (B, out_channels, H, W).
    """

    def __init__(self, cfg: dict):
        super().__init__()
        self.cfg = cfg
        mults = cfg["channel_mults"]
        base = cfg["base_channels"]
        levels = len(mults)
        width = [base * m for m in mults]
        enc = cfg["condition"]
        enc_dim = 3 if enc["kind"] == "raw_scalars" else 3 * enc["dim"]
        cond_dim = cfg["cond_mlp_width"] or enc_dim
        attn_levels = set(cfg["attention_levels"])

        self.cond_encoder = CondEncoder(enc)
        if cfg["cond_mlp_width"]:
            w = cfg["cond_mlp_width"]
            self.cond_mlp = nn.ModuleList([nn.Linear(enc_dim, w), nn.Linear(w, w)])
        else:
            self.cond_mlp = None
        self.stem = nn.Conv2d(cfg["in_channels"], base, 3, padding=1)
        self.down = nn.ModuleList()
        c_prev = base
        for lvl in range(levels):
            level = Level()
            if lvl > 0:
                level.downsample = nn.Conv2d(c_prev, c_prev, 3, stride=2, padding=1)
            c = width[lvl]
            for i in range(cfg["res_blocks"]):
                level.res.append(ResBlock(cfg, c_prev if i == 0 else c, c, cond_dim))
            if lvl in attn_levels:
                level.attn = Attention(cfg, c)
            self.down.append(level)
            c_prev = c
        self.mid = Mid(cfg, c_prev, cond_dim)
        up = [None] * levels
        for lvl in reversed(range(levels)):
            level = Level()
            c = width[lvl]
            for i in range(cfg["res_blocks"]):
                level.res.append(ResBlock(cfg, c_prev + c if i == 0 else c, c, cond_dim))
            if lvl in attn_levels:
                level.attn = Attention(cfg, c)
            c_prev = c
            if lvl > 0:
                c_prev = width[lvl - 1]
                level.upsample = nn.Conv2d(c, c_prev, 3, padding=1)
            up[lvl] = level
        self.up = nn.ModuleList(up)  # indexed by level, like the Rust names `up.{l}`
        self.out = Out(cfg, c_prev)

    def condition(self, t: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        c = self.cond_encoder(t, cond)
        if self.cond_mlp is not None:
            c = self.cond_mlp[1](F.silu(self.cond_mlp[0](c)))
        return F.silu(c)

    def forward(self, x: torch.Tensor, t: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        c = self.condition(t.to(x.dtype), cond.to(x.dtype))
        h = self.stem(x)
        skips = []
        for level in self.down:
            if level.downsample is not None:
                h = level.downsample(h)
            h = level.blocks(h, c)
            skips.append(h)
        h = self.mid.res[0](h, c)
        if self.mid.attn is not None:
            h = self.mid.attn(h)
        h = self.mid.res[1](h, c)
        for lvl in reversed(range(len(self.up))):
            level = self.up[lvl]
            h = level.blocks(torch.cat([h, skips.pop()], dim=1), c)
            if level.upsample is not None:
                h = level.upsample(F.interpolate(h, scale_factor=2.0, mode="nearest"))
        return self.out.conv(F.silu(self.out.norm(h)))


def load_checkpoint(path: str) -> tuple[BumpUNet, dict]:
    """Builds the model from a bump-unet checkpoint (config from metadata, weights strict).

    Extra tensors (EMA weights `ema.*`, optimiser moments `adam_*`) are ignored.
    Returns the model and the metadata.
    """
    with safe_open(path, framework="pt") as f:
        meta = f.metadata()
        if meta.get("format") != "bump-unet-checkpoint":
            raise ValueError(f"{path}: not a bump-unet checkpoint (format = {meta.get('format')!r})")
        if int(meta["schema_version"]) > 1:
            raise ValueError(f"{path}: schema {meta['schema_version']} is newer than this peer (1)")
        cfg = json.loads(meta["config"])
        model = BumpUNet(cfg)
        names = set(model.state_dict().keys())
        state = {k: f.get_tensor(k) for k in f.keys() if k in names}
    model.load_state_dict(state, strict=True)
    return model, meta


# ---------------------------------------------------------------------------------------------
# Noise schedule and update rules (bump-diffusion's defaults: linear β 1e-4 → 0.02, T = 1000).


def linear_alphas_cumprod(steps: int = 1000, beta_start: float = 1e-4, beta_end: float = 0.02) -> torch.Tensor:
    betas = torch.linspace(beta_start, beta_end, steps, dtype=torch.float64)
    return torch.cumprod(1.0 - betas, dim=0)


def predict_eps(pred: torch.Tensor, x: torch.Tensor, abar: float, prediction_type: str) -> tuple[torch.Tensor, torch.Tensor]:
    """(x̂₀, ε̂) from the model output for ε- or v-prediction."""
    a, s = math.sqrt(abar), math.sqrt(1.0 - abar)
    if prediction_type == "epsilon":
        eps = pred
        x0 = (x - s * eps) / a
    else:  # v_prediction: v = a ε − s x₀
        x0 = a * x - s * pred
        eps = s * x + a * pred
    return x0, eps


@torch.no_grad()
def ddim_sample(model: BumpUNet, cond: torch.Tensor, steps: int, abar: torch.Tensor, noise: torch.Tensor, prediction_type: str = "epsilon") -> torch.Tensor:
    """Deterministic DDIM (η = 0) with diffusers' `leading` spacing, as `SamplerConfig::ddim`."""
    T = abar.shape[0]
    ratio = T // steps
    ts = [i * ratio for i in range(steps)][::-1]
    x = noise
    for i, t in enumerate(ts):
        tt = torch.full((x.shape[0],), float(t))
        pred = model(x, tt, cond)
        x0, eps = predict_eps(pred, x, float(abar[t]), prediction_type)
        prev = float(abar[ts[i + 1]]) if i + 1 < len(ts) else 1.0
        x = math.sqrt(prev) * x0 + math.sqrt(1.0 - prev) * eps
    return x


@torch.no_grad()
def ddpm_sample(model: BumpUNet, cond: torch.Tensor, abar: torch.Tensor, noise: torch.Tensor, gen: torch.Generator, prediction_type: str = "epsilon") -> torch.Tensor:
    """Ancestral DDPM over every step, posterior variance β̃ₜ ("fixed small")."""
    T = abar.shape[0]
    x = noise
    for t in reversed(range(T)):
        a_t = float(abar[t])
        a_prev = float(abar[t - 1]) if t > 0 else 1.0
        beta = 1.0 - a_t / a_prev
        tt = torch.full((x.shape[0],), float(t))
        x0, _ = predict_eps(model(x, tt, cond), x, a_t, prediction_type)
        mean = (math.sqrt(a_prev) * beta / (1.0 - a_t)) * x0 + (math.sqrt(1.0 - beta) * (1.0 - a_prev) / (1.0 - a_t)) * x
        if t > 0:
            var = beta * (1.0 - a_prev) / (1.0 - a_t)
            x = mean + math.sqrt(var) * torch.randn(x.shape, generator=gen)
        else:
            x = mean
    return x
