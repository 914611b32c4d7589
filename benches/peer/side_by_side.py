"""Ours (candle + bump-unet kernels) against the PyTorch peer, interleaved A B A B.

    python benches/peer/side_by_side.py                 # every case, 2 rounds
    python benches/peer/side_by_side.py --cases tiny    # only the tiny-preset cases

Each measurement is a fresh process (ours: `examples/unet_timing`, PyTorch: `peer.py time`)
with the same thread count (RAYON_NUM_THREADS / torch.set_num_threads), one warm-up iteration
and `--iters` timed ones, on the same weights (exported by the Rust side). Rounds alternate the
two implementations so that drifts in machine load hit both. The table gives the median time
per call and the speed-up = PyTorch median / our median (> 1: ours is faster).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PEER = Path(__file__).resolve().parent / "peer.py"
BIN = ROOT / "target" / "release" / "examples" / "unet_timing"

# (preset, what, batch, timed iterations per process)
CASES = [
    ("tiny", "forward", 64, 5),
    ("tiny", "forward", 256, 3),
    ("tiny", "train", 64, 5),
    ("tiny", "train", 256, 2),
    ("paper", "forward", 64, 2),
    ("paper", "forward", 256, 1),
    ("paper", "train", 64, 2),
]


def run_json(cmd: list[str], env: dict) -> dict:
    out = subprocess.run(cmd, check=True, env=env, cwd=ROOT, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--cases", choices=["all", "tiny", "paper"], default="all")
    p.add_argument("--json", type=Path, help="also write every measurement here")
    args = p.parse_args()

    if not BIN.exists():
        print("building examples/unet_timing (release) ...", file=sys.stderr)
        subprocess.run(["cargo", "build", "--release", "--example", "unet_timing"], check=True, cwd=ROOT)
    env = dict(os.environ, RAYON_NUM_THREADS=str(args.threads), OMP_NUM_THREADS=str(args.threads))
    ckpt_dir = ROOT / "target" / "peer"
    ckpt_dir.mkdir(parents=True, exist_ok=True)
    cases = [c for c in CASES if args.cases in ("all", c[0])]
    for preset in sorted({c[0] for c in cases}):
        subprocess.run([str(BIN), "export", "--preset", preset, "--out", str(ckpt_dir / f"{preset}.safetensors")],
                       check=True, env=env, capture_output=True)

    import torch  # only to report the version

    print(f"# {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, {args.threads} threads, "
          f"torch {torch.__version__}, load average {os.getloadavg()[0]:.2f}", file=sys.stderr)
    rows, raw = [], []
    for preset, what, batch, iters in cases:
        times = {"candle": [], "pytorch": []}
        flops = None
        for r in range(args.rounds):
            ours = [str(BIN), "time", "--preset", preset, "--what", what, "--batch", str(batch),
                    "--iters", str(iters)]
            peer = [sys.executable, str(PEER), "time", "--checkpoint", str(ckpt_dir / f"{preset}.safetensors"),
                    "--what", what, "--batch", str(batch), "--iters", str(iters), "--threads", str(args.threads)]
            # A B in even rounds, B A in odd ones.
            order = [("candle", ours), ("pytorch", peer)]
            if r % 2 == 1:
                order.reverse()
            for name, cmd in order:
                res = run_json(cmd, env)
                times[name].extend(res["seconds"])
                flops = res.get("forward_flops_per_image", flops)
                raw.append(dict(res, case=f"{preset}/{what}/{batch}", round=r))
        ours_s = statistics.median(times["candle"])
        peer_s = statistics.median(times["pytorch"])
        # A training step is counted as 3 forward passes (forward, input and weight gradients).
        work = batch * flops * (3 if what == "train" else 1)
        rows.append((preset, what, batch, ours_s, peer_s, work))
        print(f"  {preset} {what} B={batch}: ours {ours_s:.3f} s, PyTorch {peer_s:.3f} s, "
              f"speed-up {peer_s / ours_s:.2f}", file=sys.stderr)

    print("| preset | pass | batch | ours (s) | PyTorch (s) | ours img/s | PyTorch img/s "
          "| ours GFLOP/s | PyTorch GFLOP/s | speed-up (PyTorch / ours) |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for preset, what, batch, o, t, work in rows:
        print(f"| {preset} | {what} | {batch} | {o:.3f} | {t:.3f} | {batch / o:.1f} | {batch / t:.1f} "
              f"| {work / o * 1e-9:.1f} | {work / t * 1e-9:.1f} | {t / o:.2f}× |")
    print(f"\nload average after the run: {os.getloadavg()[0]:.2f}")
    if args.json:
        args.json.write_text(json.dumps(raw, indent=1))


if __name__ == "__main__":
    main()
