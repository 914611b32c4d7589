"""Golden schedule tables for bump-diffusion's tests (numpy, float64).

Re-implements each family from its published formula (diffusers / lucidrains / Nichol &
Dhariwal) independently of the Rust code, and writes tests/fixtures/schedules.json with the
tables at t in {0, 1, T/2, T-1}.  Run:  python3 scripts/make_fixtures.py
"""
import json
import math
import os

import numpy as np

T = 1000


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def families(T):
    out = {}
    out["linear"] = np.linspace(1e-4, 0.02, T, dtype=np.float64)
    s = 1000.0 / T
    out["linear_rescaled"] = np.linspace(s * 1e-4, s * 0.02, T, dtype=np.float64)
    out["scaled_linear"] = np.linspace(0.00085 ** 0.5, 0.012 ** 0.5, T, dtype=np.float64) ** 2
    abar = lambda t: math.cos((t / T + 0.008) / 1.008 * math.pi / 2) ** 2
    out["cosine"] = np.array([min(1 - abar(i + 1) / abar(i), 0.999) for i in range(T)])
    out["sigmoid_beta"] = sigmoid(np.linspace(-6, 6, T)) * (0.02 - 1e-4) + 1e-4
    start, end, tau = -3.0, 3.0, 1.0
    v_start, v_end = sigmoid(start / tau), sigmoid(end / tau)
    u = np.linspace(0, 1, T + 1, dtype=np.float64)
    f = (-sigmoid((u * (end - start) + start) / tau) + v_end) / (v_end - v_start)
    ab = f / f[0]
    out["sigmoid_alpha_bar"] = np.clip(1 - ab[1:] / ab[:-1], 0, 0.999)
    return out


def tables(betas):
    alphas = 1 - betas
    ac = np.cumprod(alphas)
    acp = np.concatenate([[1.0], ac[:-1]])
    pv = betas * (1 - acp) / (1 - ac)
    return {
        "betas": betas,
        "alphas_cumprod": ac,
        "sqrt_alphas_cumprod": np.sqrt(ac),
        "sqrt_one_minus_alphas_cumprod": np.sqrt(1 - ac),
        "posterior_variance": pv,
        "posterior_log_variance_clipped": np.log(np.concatenate([[pv[1]], pv[1:]])),
        "posterior_mean_coef1": betas * np.sqrt(acp) / (1 - ac),
        "posterior_mean_coef2": (1 - acp) * np.sqrt(alphas) / (1 - ac),
        "snr": ac / (1 - ac),
    }


def main():
    idx = [0, 1, T // 2, T - 1]
    doc = {"T": T, "t": idx, "families": {}}
    for name, betas in families(T).items():
        tab = tables(betas)
        doc["families"][name] = {k: [float(v[i]) for i in idx] for k, v in tab.items()}
    here = os.path.dirname(os.path.abspath(__file__))
    path = os.path.join(here, "..", "tests", "fixtures", "schedules.json")
    with open(path, "w") as fh:
        json.dump(doc, fh, indent=1)
    print("wrote", path)


if __name__ == "__main__":
    main()
