"""PyTorch peer: equivalence fixtures and timings for bump-unet's UNet.

    python benches/peer/peer.py fixture            # rewrite tests/fixtures/peer/*.safetensors
    python benches/peer/peer.py time --checkpoint tiny.safetensors --what forward --batch 64
    python benches/peer/peer.py time --checkpoint tiny.safetensors --compile   # torch.compile

`time` prints one JSON line, the same shape as `cargo run --example unet_timing -- time`.
The inputs are built the same way on both sides (shapes, value ranges, t and conditions); the
values of x and the target differ (different generators), which does not change the work.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save_file

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bump_unet import BumpUNet, load_checkpoint  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "peer"


def inputs(b: int, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(b, 1, 32, 32, generator=g)
    target = torch.randn(b, 1, 32, 32, generator=g)
    t = torch.tensor([float(i * 15 % 1000) for i in range(b)])
    cond = torch.tensor([[float(i % 32), float((i // 32) % 32)] for i in range(b)])
    return x, t, cond, target


def time_model(model: BumpUNet, what: str, b: int, warmup: int, iters: int,
               compile_model: bool = False) -> tuple[list[float], list[float]]:
    """Times `iters` calls after `warmup` untimed ones; returns (timed, warm-up) seconds.

    With `compile_model` the network (forward, and in training its backward through
    AOTAutograd) runs as `torch.compile(model)` (inductor, the default backend); the first
    warm-up call compiles it, so its time is reported apart and never counted."""
    x, t, cond, target = inputs(b)
    secs, warm = [], []
    params = [p for p in model.parameters()]
    if what == "forward":
        model.eval()
    else:
        model.train()
    # Compiled after the mode switch, so that the graph is traced in the mode it runs in.
    net = torch.compile(model) if compile_model else model
    if what == "forward":
        with torch.inference_mode():
            for i in range(warmup + iters):
                start = time.perf_counter()
                net(x, t, cond)
                (secs if i >= warmup else warm).append(time.perf_counter() - start)
    else:
        opt = torch.optim.AdamW(params, lr=1e-4, weight_decay=0.0)
        ema = [p.detach().clone() for p in params]
        for i in range(warmup + iters):
            start = time.perf_counter()
            opt.zero_grad(set_to_none=True)
            loss = torch.nn.functional.mse_loss(net(x, t, cond), target)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            opt.step()
            with torch.no_grad():
                torch._foreach_lerp_(ema, [p.detach() for p in params], 1.0 - 0.995)
            (secs if i >= warmup else warm).append(time.perf_counter() - start)
    return secs, warm


def cmd_time(args):
    torch.set_num_threads(args.threads)
    model, _ = load_checkpoint(args.checkpoint)
    # A compiled model needs a second untimed call: the first compiles, and the second can
    # still recompile (guards on the inputs are specialised after the first call).
    warmup = max(args.warmup, 2) if args.compile else args.warmup
    secs, warm = time_model(model, args.what, args.batch, warmup, args.iters, args.compile)
    print(json.dumps({
        "impl": "pytorch-compile" if args.compile else "pytorch",
        "model": args.checkpoint,
        "what": args.what,
        "batch": args.batch,
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "seconds": secs,
        # Untimed warm-up calls (with --compile the first one includes compilation).
        "warmup_seconds": warm,
    }))


# Fixture models: two presets rebuilt in Rust from their seed (no weights committed), and a
# small model with every architectural option switched on, whose weights are committed.
FEATURES_CONFIG = {
    "in_channels": 1,
    "out_channels": 1,
    "base_channels": 8,
    "channel_mults": [1, 2, 2],
    "res_blocks": 2,
    "attention_levels": [1, 2],
    "mid_attention": True,
    "attention_heads": 2,
    "norm_groups": 4,
    "dropout": 0.0,
    "condition": {
        "kind": "sinusoidal",
        "dim": 16,
        "time": {"min_period": 6.283185307179586, "max_period": 62831.853071795864},
        "position": {"min_period": 4.0, "max_period": 256.0},
    },
    "cond_mlp_width": 32,
}
RAW_CONFIG = dict(FEATURES_CONFIG, condition={"kind": "raw_scalars", "time_scale": 1000.0, "position_scale": 32.0},
                  cond_mlp_width=16, mid_attention=False, attention_levels=[2], res_blocks=1)


def export(args: list[str], out: Path):
    """Runs the Rust exporter (`examples/unet_timing.rs`)."""
    cmd = ["cargo", "run", "--release", "--quiet", "--example", "unet_timing", "--", "export", *args, "--out", str(out)]
    subprocess.run(cmd, check=True, cwd=ROOT)


def fixture_inputs(b: int, size: int, seed: int):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((b, 1, size, size)).astype(np.float32)
    # Integer steps over the whole range, including both ends.
    t = np.concatenate([[0.0, 999.0], rng.integers(0, 1000, b - 2)]).astype(np.float32)
    # Sub-pixel centres, some outside the canvas (the encoder must not care).
    cond = rng.uniform(-2.0, 34.0, (b, 2)).astype(np.float32)
    return x, t, cond


def cmd_fixture(args):
    FIXTURES.mkdir(parents=True, exist_ok=True)
    tmp = FIXTURES / "tmp"
    tmp.mkdir(exist_ok=True)
    cases = [
        # name, exporter args, batch, image size, commit weights?
        ("tiny", ["--preset", "tiny", "--seed", "7"], 4, 32, False),
        ("quick", ["--preset", "quick", "--seed", "11"], 3, 32, False),
        ("features", None, 3, 16, True),
        ("raw", None, 2, 8, True),
    ]
    for name, exp_args, b, size, commit_weights in cases:
        ckpt = tmp / f"{name}.safetensors"
        if exp_args is None:
            cfg_path = tmp / f"{name}.json"
            cfg_path.write_text(json.dumps(FEATURES_CONFIG if name == "features" else RAW_CONFIG))
            exp_args = ["--config", str(cfg_path), "--seed", "3"]
        export(exp_args, ckpt)
        model, meta = load_checkpoint(str(ckpt))
        model.eval()
        x, t, cond = fixture_inputs(b, size, seed=100 + len(name))
        with torch.no_grad():
            eps = model(torch.from_numpy(x), torch.from_numpy(t), torch.from_numpy(cond))
        tensors = {"input.x": torch.from_numpy(x), "input.t": torch.from_numpy(t),
                   "input.cond": torch.from_numpy(cond), "expected.eps": eps.contiguous()}
        # A weight fingerprint, so a change of the Rust initialiser is reported as such.
        sd = model.state_dict()
        fingerprint = sum(float(v.double().abs().sum()) for v in sd.values())
        if commit_weights:
            tensors.update({f"weights.{k}": v.contiguous() for k, v in sd.items()})
        metadata = {
            "config": meta["config"],
            "seed": meta["seed"],
            "weight_abs_sum": repr(fingerprint),
            "torch": torch.__version__,
            "generator": "benches/peer/peer.py fixture",
        }
        save_file(tensors, str(FIXTURES / f"{name}.safetensors"), metadata=metadata)
        print(f"{name}: eps range [{float(eps.min()):.4f}, {float(eps.max()):.4f}], "
              f"{sum(v.numel() for v in sd.values())} parameters")
    for f in tmp.iterdir():
        f.unlink()
    tmp.rmdir()


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    f = sub.add_parser("fixture", help="rewrite the committed equivalence fixtures")
    f.set_defaults(run=cmd_fixture)
    t = sub.add_parser("time", help="time a forward pass or a training step")
    t.add_argument("--checkpoint", required=True)
    t.add_argument("--what", choices=["forward", "train"], default="forward")
    t.add_argument("--batch", type=int, default=64)
    t.add_argument("--warmup", type=int, default=1)
    t.add_argument("--iters", type=int, default=3)
    t.add_argument("--threads", type=int, default=int(os.environ.get("RAYON_NUM_THREADS", "2")))
    t.add_argument("--compile", action="store_true",
                   help="time torch.compile(model) (inductor, CPU; needs a C++ compiler); "
                        "at least 2 untimed warm-up calls")
    t.set_defaults(run=cmd_time)
    args = p.parse_args()
    args.run(args)


if __name__ == "__main__":
    main()
