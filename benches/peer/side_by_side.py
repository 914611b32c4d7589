"""Ours (candle + bump-unet kernels) against the PyTorch peer, eager and `torch.compile`d,
interleaved.

    python benches/peer/side_by_side.py                 # every case, 2 rounds
    python benches/peer/side_by_side.py --cases tiny    # only the tiny-preset cases
    python benches/peer/side_by_side.py --no-compile    # eager PyTorch only (no C++ compiler)

Each measurement is a fresh process (ours: `examples/unet_timing`, PyTorch: `peer.py time`,
compiled: `peer.py time --compile`) with the same thread count (RAYON_NUM_THREADS /
torch.set_num_threads), untimed warm-up calls (one; two for the compiled model, whose first
call compiles it: compilation is never counted) and `--iters` timed ones, on the same weights
(exported by the Rust side). Each round runs the implementations in a rotated order so that
drifts in machine load hit all of them. The table gives the median time per call and the
speed-ups = PyTorch median / our median (> 1: ours is faster), against eager and compiled.
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
    p.add_argument("--no-compile", action="store_true",
                   help="skip the torch.compile (inductor) column")
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
    impls = ["candle", "pytorch"] + ([] if args.no_compile else ["pytorch-compile"])
    rows, raw = [], []
    for preset, what, batch, iters in cases:
        times = {name: [] for name in impls}
        compile_s = []
        flops = None
        for r in range(args.rounds):
            peer = [sys.executable, str(PEER), "time", "--checkpoint", str(ckpt_dir / f"{preset}.safetensors"),
                    "--what", what, "--batch", str(batch), "--iters", str(iters), "--threads", str(args.threads)]
            cmds = {
                "candle": [str(BIN), "time", "--preset", preset, "--what", what, "--batch", str(batch),
                           "--iters", str(iters)],
                "pytorch": peer,
                "pytorch-compile": peer + ["--compile"],
            }
            # Round r starts with implementation r mod n (A B C, B C A, ...).
            order = impls[r % len(impls):] + impls[:r % len(impls)]
            for name in order:
                res = run_json(cmds[name], env)
                times[name].extend(res["seconds"])
                if name == "pytorch-compile":
                    compile_s.append(res["warmup_seconds"][0])
                flops = res.get("forward_flops_per_image", flops)
                raw.append(dict(res, case=f"{preset}/{what}/{batch}", round=r))
        med = {name: statistics.median(v) for name, v in times.items()}
        # A training step is counted as 3 forward passes (forward, input and weight gradients).
        work = batch * flops * (3 if what == "train" else 1)
        rows.append((preset, what, batch, med, work))
        line = (f"  {preset} {what} B={batch}: ours {med['candle']:.3f} s, PyTorch {med['pytorch']:.3f} s "
                f"(speed-up {med['pytorch'] / med['candle']:.2f})")
        if "pytorch-compile" in med:
            line += (f", compiled {med['pytorch-compile']:.3f} s (speed-up "
                     f"{med['pytorch-compile'] / med['candle']:.2f}; first call incl. compilation "
                     f"{statistics.median(compile_s):.1f} s, not counted)")
        print(line, file=sys.stderr)

    compiled = "pytorch-compile" in impls
    head = "| preset | pass | batch | ours (s) | PyTorch eager (s) |"
    head += " PyTorch compiled (s) |" if compiled else ""
    head += " ours GFLOP/s | eager GFLOP/s |" + (" compiled GFLOP/s |" if compiled else "")
    head += " speed-up vs eager |" + (" speed-up vs compiled |" if compiled else "")
    print(head)
    print("|" + " --- |" * (head.count("|") - 1))
    for preset, what, batch, med, work in rows:
        o, t = med["candle"], med["pytorch"]
        c = med.get("pytorch-compile")
        line = f"| {preset} | {what} | {batch} | {o:.3f} | {t:.3f} |"
        line += f" {c:.3f} |" if compiled else ""
        line += f" {work / o * 1e-9:.1f} | {work / t * 1e-9:.1f} |"
        line += f" {work / c * 1e-9:.1f} |" if compiled else ""
        line += f" {t / o:.2f}× |" + (f" {c / o:.2f}× |" if compiled else "")
        print(line)
    print(f"\nload average after the run: {os.getloadavg()[0]:.2f}")
    if args.json:
        args.json.write_text(json.dumps(raw, indent=1))


if __name__ == "__main__":
    main()
