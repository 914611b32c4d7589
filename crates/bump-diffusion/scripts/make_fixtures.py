"""Golden fixtures for bump-diffusion's tests (numpy only, float64).

Everything here is re-implemented from the published formulas (Ho et al. 2020; Nichol &
Dhariwal 2021; Song et al. 2021 (DDIM); Lu et al. 2022 (DPM-Solver++); Lin et al. 2024;
diffusers' schedulers and lucidrains' denoising-diffusion-pytorch as the reference code),
independently of the Rust implementation.  Run from anywhere:

    python3 crates/bump-diffusion/scripts/make_fixtures.py

and it rewrites

- tests/fixtures/schedules.json: the precomputed tables of every schedule family at
  t in {0, 1, T/2, T-1}, for T = 1000 and T = 250 (T = 250 separates the 1000/T-rescaled linear
  family from the plain one), a custom beta array, and the zero-terminal-SNR rescale;
- tests/fixtures/samplers.json: for data ~ N(m, diag(s^2)) and its exact optimal denoiser, the
  exact law of each sampler's output.  Every sampler step is affine in x_t with Gaussian noise,
  so the output is Gaussian: deterministic samplers give x_0 = p * x_T + q (p, q per dimension),
  stochastic ones give an exact mean and variance.  Also the timestep grids of diffusers'
  `timestep_spacing` options, including ties at .5 (numpy rounds half to even).

DPM-Solver++(2M) here is second order on every step but the first and the last, at any number
of steps (as diffusers' solver_order=2). Step-by-step agreement with diffusers' own scheduler
classes is checked separately, on fixtures that diffusers itself produces:
scripts/make_diffusers_fixtures.py.
"""
import json
import math
import os

import numpy as np


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


# ---------------------------------------------------------------------------------------------
# Schedules
# ---------------------------------------------------------------------------------------------


def betas_for(spec, T):
    kind = spec["kind"]
    if kind == "linear":  # diffusers "linear"
        return np.linspace(spec["beta_start"], spec["beta_end"], T, dtype=np.float64)
    if kind == "linear_rescaled":  # lucidrains linear_beta_schedule
        scale = 1000.0 / T
        return np.linspace(scale * spec["beta_start"], scale * spec["beta_end"], T, dtype=np.float64)
    if kind == "scaled_linear":  # diffusers "scaled_linear"
        return np.linspace(spec["beta_start"] ** 0.5, spec["beta_end"] ** 0.5, T, dtype=np.float64) ** 2
    if kind == "cosine":  # diffusers betas_for_alpha_bar / "squaredcos_cap_v2"
        abar = lambda t: math.cos((t + 0.008) / 1.008 * math.pi / 2) ** 2
        return np.array(
            [min(1 - abar((i + 1) / T) / abar(i / T), spec["max_beta"]) for i in range(T)]
        )
    if kind == "sigmoid_beta":  # diffusers "sigmoid" (GeoDiff)
        return sigmoid(np.linspace(-6, 6, T)) * (spec["beta_end"] - spec["beta_start"]) + spec["beta_start"]
    if kind == "sigmoid_alpha_bar":  # lucidrains sigmoid_beta_schedule
        start, end, tau = spec["start"], spec["end"], spec["tau"]
        t = np.linspace(0, T, T + 1, dtype=np.float64) / T
        v_start, v_end = sigmoid(start / tau), sigmoid(end / tau)
        ac = (-sigmoid((t * (end - start) + start) / tau) + v_end) / (v_end - v_start)
        ac = ac / ac[0]
        return np.clip(1 - ac[1:] / ac[:-1], 0, 0.999)
    if kind == "custom":
        return np.array(spec["betas"], dtype=np.float64)
    raise ValueError(kind)


def rescale_zero_terminal_snr(betas):
    """Lin et al. (2024), Algorithm 1 (as diffusers' rescale_zero_terminal_snr)."""
    alphas_bar_sqrt = np.sqrt(np.cumprod(1.0 - betas))
    a0, aT = alphas_bar_sqrt[0].copy(), alphas_bar_sqrt[-1].copy()
    alphas_bar_sqrt = (alphas_bar_sqrt - aT) * a0 / (a0 - aT)
    alphas_bar = alphas_bar_sqrt**2
    alphas = np.concatenate([alphas_bar[0:1], alphas_bar[1:] / alphas_bar[:-1]])
    return 1 - alphas


def tables(betas):
    alphas = 1 - betas
    ac = np.cumprod(alphas)
    acp = np.concatenate([[1.0], ac[:-1]])
    pv = betas * (1 - acp) / (1 - ac)
    with np.errstate(divide="ignore"):
        return {
            "betas": betas,
            "alphas": alphas,
            "alphas_cumprod": ac,
            "alphas_cumprod_prev": acp,
            "sqrt_alphas_cumprod": np.sqrt(ac),
            "sqrt_one_minus_alphas_cumprod": np.sqrt(1 - ac),
            "posterior_variance": pv,
            "posterior_log_variance_clipped": np.log(np.concatenate([[pv[1]], pv[1:]])),
            "posterior_mean_coef1": betas * np.sqrt(acp) / (1 - ac),
            "posterior_mean_coef2": (1 - acp) * np.sqrt(alphas) / (1 - ac),
            "snr": ac / (1 - ac),
        }


LINEAR = {"kind": "linear", "beta_start": 1e-4, "beta_end": 0.02}
FAMILIES = {
    "linear": LINEAR,
    "linear_rescaled": {"kind": "linear_rescaled", "beta_start": 1e-4, "beta_end": 0.02},
    "scaled_linear": {"kind": "scaled_linear", "beta_start": 0.00085, "beta_end": 0.012},
    "cosine": {"kind": "cosine", "max_beta": 0.999},
    "sigmoid_beta": {"kind": "sigmoid_beta", "beta_start": 1e-4, "beta_end": 0.02},
    "sigmoid_alpha_bar": {"kind": "sigmoid_alpha_bar", "start": -3.0, "end": 3.0, "tau": 1.0},
}


def schedule_cases():
    cases = []
    for T in (1000, 250):
        for name, spec in FAMILIES.items():
            cases.append({"name": f"{name}_T{T}", "T": T, "schedule": spec, "zero_terminal_snr": False})
    # A custom, non-uniform (quadratic in t) beta array.
    T = 40
    custom = list(1e-3 + 0.2 * (np.arange(T) / (T - 1)) ** 2)
    cases.append({"name": "custom_T40", "T": T, "schedule": {"kind": "custom", "betas": custom},
                  "zero_terminal_snr": False})
    for name in ("linear", "scaled_linear", "cosine"):
        cases.append({"name": f"{name}_zero_snr_T1000", "T": 1000, "schedule": FAMILIES[name],
                      "zero_terminal_snr": True})
    out = []
    for c in cases:
        T = c["T"]
        betas = betas_for(c["schedule"], T)
        if c["zero_terminal_snr"]:
            betas = rescale_zero_terminal_snr(betas)
        tab = tables(betas)
        idx = [0, 1, T // 2, T - 1]
        c = dict(c)
        c["t"] = idx
        c["tables"] = {k: [float(v[i]) for i in idx] for k, v in tab.items()}
        out.append(c)
    return out


# ---------------------------------------------------------------------------------------------
# Timestep spacings (diffusers DDIMScheduler.set_timesteps)
# ---------------------------------------------------------------------------------------------


def spacing(kind, T, S, multistep=False):
    """DDIM/DDPM grids; `multistep=True` gives DPMSolverMultistepScheduler's grids, whose
    leading and linspace variants take S + 1 points and drop the last (t = 0)."""
    n = S + 1 if multistep else S
    if kind == "leading":
        ts = (np.arange(0, n) * (T // n)).round()[::-1].astype(np.int64)
        return ts[:S]
    if kind == "linspace":
        return np.linspace(0, T - 1, n).round()[::-1].astype(np.int64)[:S]
    if kind == "trailing":
        # np.arange(T, 0, -T/S) may overshoot by one element in floating point; index instead.
        return (np.round(T - np.arange(S) * (T / S)) - 1).astype(np.int64)
    raise ValueError(kind)


# ---------------------------------------------------------------------------------------------
# Exact output laws under the Gaussian-data oracle
# ---------------------------------------------------------------------------------------------

MEAN = np.array([0.5, -0.3, 0.0, 0.2])
VAR = np.array([0.25, 0.5, 1.0, 0.36])


def oracle(ab):
    """E[x0 | x_t] = g * x_t + c for data N(MEAN, diag(VAR)) at alpha-bar ab."""
    g = math.sqrt(ab) * VAR / (ab * VAR + 1 - ab)
    return g, MEAN - g * math.sqrt(ab) * MEAN


def run(ac, kind, ts, variance="fixed_small", eta=0.0):
    """Exact law of the output for one sampler.  State: x = p*x_T + q + (noise of variance r).

    For deterministic samplers r stays 0 and (p, q) is the exact affine map.  For stochastic
    ones only the mean (p * 0 + q) and variance (p^2 + r) are needed, and each step is
    x' = A x + B + sigma z, so (p, q, r) -> (A p, A q + B, A^2 r + sigma^2).
    """
    D = len(MEAN)
    p, q, r = np.ones(D), np.zeros(D), np.zeros(D)
    # noise[k]: coefficient of step k's standard-normal draw z_k in the output, per dimension
    # (x_0 = p * x_T + q + sum_k noise[k] * z_k).
    noise = []
    prev_D = None  # DPM-Solver++: (pD, qD) of the previous data prediction, and its lambda
    lam = lambda a: 0.5 * math.log(a / (1 - a))
    for k, t in enumerate(ts):
        a_t = ac[t]
        last = k + 1 == len(ts)
        a_p = 1.0 if last else ac[ts[k + 1]]
        g, c = oracle(a_t)
        # x0_hat = g x + c ; eps_hat = (x - sqrt(a_t) x0_hat) / sqrt(1 - a_t) = e1 x + e0
        e1 = (1 - math.sqrt(a_t) * g) / math.sqrt(1 - a_t)
        e0 = -math.sqrt(a_t) * c / math.sqrt(1 - a_t)
        if kind == "ddpm":
            alpha = a_t / a_p
            beta = 1 - alpha
            c1 = beta * math.sqrt(a_p) / (1 - a_t)
            c2 = (1 - a_p) * math.sqrt(alpha) / (1 - a_t)
            A, B = c1 * g + c2, c1 * c
            if last:
                sig2 = 0.0
            elif variance == "fixed_small":
                sig2 = beta * (1 - a_p) / (1 - a_t)
            else:
                sig2 = beta
        elif kind == "ddim":
            sig = eta * math.sqrt((1 - a_p) / (1 - a_t) * (1 - a_t / a_p))
            d = math.sqrt(max(1 - a_p - sig * sig, 0.0))
            A, B = math.sqrt(a_p) * g + d * e1, math.sqrt(a_p) * c + d * e0
            sig2 = 0.0 if last else sig * sig
        elif kind == "dpmpp":
            Dp, Dq = g * p, g * q + c  # data prediction as an affine map of x_T
            if last:  # to sigma = 0: x = D
                p, q = Dp, Dq
            else:
                # Second order whenever there is a previous data prediction. diffusers'
                # lower_order_final lowers only the final step (first order anyway: it lands on
                # sigma = 0), and its lower_order_second only lowers third order to second.
                second_order = prev_D is not None
                l_s, l_t = lam(a_t), lam(a_p)
                h = l_t - l_s
                sig_s, sig_t, alpha_t = math.sqrt(1 - a_t), math.sqrt(1 - a_p), math.sqrt(a_p)
                em1 = math.exp(-h) - 1
                np_, nq = sig_t / sig_s * p - alpha_t * em1 * Dp, sig_t / sig_s * q - alpha_t * em1 * Dq
                if second_order:
                    (pDp, pDq, l_prev) = prev_D
                    r0 = (l_s - l_prev) / h
                    np_ = np_ - 0.5 * alpha_t * em1 * (Dp - pDp) / r0
                    nq = nq - 0.5 * alpha_t * em1 * (Dq - pDq) / r0
                p, q = np_, nq
            prev_D = (Dp, Dq, lam(a_t))
            continue
        else:
            raise ValueError(kind)
        p, q, r = A * p, A * q + B, A * A * r + sig2
        noise = [A * n for n in noise] + [np.full(D, math.sqrt(sig2))]
    return p, q, r, noise


def sampler_cases():
    ac = tables(betas_for(LINEAR, 1000))["alphas_cumprod"]
    custom_ts = [999, 950, 870, 760, 620, 480, 350, 240, 150, 90, 45, 20, 8, 2]
    # (name, kind, spacing or None for the custom list, steps, options)
    cases = [
        ("ddpm-1000 fixed_small", "ddpm", "trailing", 1000, {"variance": "fixed_small"}),
        ("ddpm-1000 fixed_large", "ddpm", "trailing", 1000, {"variance": "fixed_large"}),
        ("ddpm-100 respaced", "ddpm", "trailing", 100, {"variance": "fixed_small"}),
        ("ddpm-50 leading fixed_large", "ddpm", "leading", 50, {"variance": "fixed_large"}),
        ("ddpm custom timesteps", "ddpm", None, len(custom_ts), {"variance": "fixed_small"}),
        ("ddim-50 trailing", "ddim", "trailing", 50, {}),
        ("ddim-50 leading", "ddim", "leading", 50, {}),
        ("ddim-50 linspace", "ddim", "linspace", 50, {}),
        ("ddim-50 eta=1", "ddim", "trailing", 50, {"eta": 1.0}),
        ("ddim-50 eta=0.5", "ddim", "trailing", 50, {"eta": 0.5}),
        ("ddim custom timesteps", "ddim", None, len(custom_ts), {}),
        ("dpm++-20 trailing", "dpmpp", "trailing", 20, {}),
        ("dpm++-20 linspace", "dpmpp", "linspace", 20, {}),
        ("dpm++-20 leading", "dpmpp", "leading", 20, {}),
        ("dpm++-10 trailing", "dpmpp", "trailing", 10, {}),
        ("dpm++ custom timesteps", "dpmpp", None, len(custom_ts), {}),
    ]
    out = []
    for name, kind, sp, steps, opts in cases:
        ts = custom_ts if sp is None else [int(t) for t in spacing(sp, 1000, steps, kind == "dpmpp")]
        p, q, r, noise = run(ac, kind, ts, **opts)
        mean, var = q, p * p + r
        if noise:
            assert abs(sum(n * n for n in noise) - r).max() < 1e-12 * (1 + r.max())
        out.append({
            "name": name,
            "kind": kind,
            "spacing": sp,
            "steps": steps,
            "timesteps": ts,
            "variance": opts.get("variance", "fixed_small"),
            "eta": opts.get("eta", 0.0),
            "deterministic": bool(np.all(r == 0)),
            "p": list(p), "q": list(q),
            # Per-step noise coefficients, only for short stochastic runs (fixture size).
            "noise_coef": [list(n) for n in noise] if 0 < len(noise) <= 100 and r.max() > 0 else None,
            "mean": list(mean), "var": list(var),
            "rel_var_bias": list((var - VAR) / VAR),
            "mean_bias_over_sd": list((mean - MEAN) / np.sqrt(VAR)),
        })
    return out


def spacing_cases():
    out = []
    for multistep in (False, True):
        for kind in ("leading", "linspace", "trailing"):
            for T, S in ((1000, 4), (1000, 7), (1000, 16), (1000, 50), (1000, 998), (250, 3)):
                ts = [int(v) for v in spacing(kind, T, S, multistep)]
                out.append({"spacing": kind, "multistep": multistep, "T": T, "steps": S, "timesteps": ts})
        for kind in ("linspace", "trailing"):
            ts = [int(v) for v in spacing(kind, 1000, 1000)]
            out.append({"spacing": kind, "multistep": False, "T": 1000, "steps": 1000, "timesteps": ts})
    return out


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    fx = os.path.join(here, "..", "tests", "fixtures")
    os.makedirs(fx, exist_ok=True)
    with open(os.path.join(fx, "schedules.json"), "w") as fh:
        json.dump({"cases": schedule_cases()}, fh, indent=1)
    samplers = {
        "T": 1000,
        "schedule": LINEAR,
        "data_mean": list(MEAN),
        "data_var": list(VAR),
        "samplers": sampler_cases(),
        "spacings": spacing_cases(),
    }
    with open(os.path.join(fx, "samplers.json"), "w") as fh:
        json.dump(samplers, fh, separators=(",", ":"))
    for s in samplers["samplers"]:
        print(f"{s['name']:24s} rel var bias {np.round(s['rel_var_bias'], 4)}  "
              f"mean bias/sd {np.round(s['mean_bias_over_sd'], 4)}")


if __name__ == "__main__":
    main()
