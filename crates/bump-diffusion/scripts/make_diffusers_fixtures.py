"""Fixtures from diffusers' own schedulers, for bump-diffusion's scheduler tests.

Reproduce (from the repository root; the versions are pinned in requirements-diffusers.txt and
recorded in the fixture):

    python3 -m pip install -r crates/bump-diffusion/scripts/requirements-diffusers.txt
    python3 crates/bump-diffusion/scripts/make_diffusers_fixtures.py

It rewrites crates/bump-diffusion/tests/fixtures/diffusers_schedulers.json, which
tests/diffusers_schedulers.rs replays through bump-diffusion's schedulers.

Every number comes from diffusers' code path: DDPMScheduler (full, and respaced by
set_timesteps), DDIMScheduler and DPMSolverMultistepScheduler(algorithm_type="dpmsolver++",
solver_order=2) are constructed and `step`ped as a pipeline would, on injected inputs:

- a fixed sample shape (2, 1, 2, 2) and a fixed initial x_T (numpy, seeded, float32);
- a fixed fake "model", linear in x_t: output = a * x_t + b (float32, elementwise) with per-step
  tables a (per pixel) and b (per value) that the fixture stores, made from the optimal
  denoiser for Gaussian data N(MEAN, diag(VAR)) plus a seeded error, in the prediction type.
  The fixture also stores the output diffusers was given (a * x_t + b at its own x_t);
- injected noise: DDIMScheduler.step takes it as `variance_noise`; DDPMScheduler.step only takes
  a `generator`, so each step gets a fresh torch.Generator seeded for that step, the same draw
  (diffusers' randn_tensor with an identically seeded generator) is stored, and the script checks
  that the step consumed exactly that draw (the generator's state afterwards);
- per step: the timestep, model output, noise, and diffusers' prev_sample and
  pred_original_sample (for DPM-Solver++ the data prediction it keeps in `model_outputs[-1]`).

Each case also stores bump-diffusion's own ScheduleConfig and SamplerConfig (their serde form),
so the test builds our scheduler from the same description.

Options as bump-diffusion uses them: clip_sample=False by default, and clip_sample=True with
range 1 in some cases; DDIM's use_clipped_model_output=True (ours recomputes epsilon from the
clipped x0); for DPM-Solver++ (no clip_sample option in diffusers) clipping to (-1, 1) is its
thresholding with sample_max_value=1. diffusers' DDIM computes the previous timestep as
t - T // S, which is the next grid entry only for leading grids and for trailing grids with S
dividing T, so DDIM cases use those (bump-diffusion always steps to the next grid entry).
"""
import json
import os

import diffusers
import numpy as np
import torch
from diffusers import DDIMScheduler, DDPMScheduler, DPMSolverMultistepScheduler
from diffusers.utils.torch_utils import randn_tensor

SHAPE = (2, 1, 2, 2)
N = int(np.prod(SHAPE[1:]))
rng_data = np.random.default_rng(20240611)
MEAN = rng_data.uniform(-0.8, 0.8, size=SHAPE[1:])
VAR = rng_data.uniform(0.05, 0.5, size=SHAPE[1:])
PERTURB = 0.05  # scale of the model's error (in units of its output)


def f32_list(t):
    """float32 values as their shortest decimal form; parsing one to the nearest f64 and rounding
    that to f32 (what the Rust test does) gives the value back, which is checked here."""
    out = []
    for v in np.asarray(t, dtype=np.float32).reshape(-1):
        d = float(str(v))
        assert np.float32(d) == v or (np.isnan(v) and np.isnan(d)), v
        out.append(d)
    return out


def schedule_json(T, beta_start, beta_end, beta_schedule, prediction_type):
    if beta_schedule == "linear":
        bs = {"kind": "linear", "beta_start": beta_start, "beta_end": beta_end}
    elif beta_schedule == "squaredcos_cap_v2":
        bs = {"kind": "cosine", "max_beta": 0.999}
    else:
        raise ValueError(beta_schedule)
    return {
        "beta_schedule": bs,
        "num_train_timesteps": T,
        "prediction_type": prediction_type,
        "rescale_zero_terminal_snr": False,
    }


def fake_model(ab, prediction_type, rng):
    """The fake model at alpha-bar `ab`: output = a * x_t + b (float32, elementwise), with a per
    pixel and b per value. a and b make it the optimal denoiser for Gaussian data
    N(MEAN, diag(VAR)), converted to the prediction type, plus a seeded error in b (an imperfect
    model). Being linear in x_t it damps differences between trajectories as a real denoiser
    does, and float32 a * x + b is two correctly rounded operations in torch and in Candle alike."""
    sa, s1 = np.sqrt(ab), np.sqrt(1.0 - ab)
    g = sa * VAR / (ab * VAR + 1.0 - ab)  # x0 = g * x + c
    c = MEAN - g * sa * MEAN
    if prediction_type == "epsilon":  # eps = (x - sa * x0) / s1
        a, b = (1.0 - sa * g) / s1, -sa * c / s1
    elif prediction_type == "v_prediction":  # v = sa * eps - s1 * x0
        a, b = sa * (1.0 - sa * g) / s1 - s1 * g, -ab * c / s1 - s1 * c
    elif prediction_type == "sample":
        a, b = g, c
    else:
        raise ValueError(prediction_type)
    b = np.broadcast_to(b, SHAPE) + PERTURB * rng.standard_normal(SHAPE)
    return (torch.from_numpy(np.asarray(a, dtype=np.float32)),
            torch.from_numpy(np.asarray(b, dtype=np.float32)))


def run_case(case, seed):
    kind = case["kind"]
    T = case["T"]
    pred = case.get("prediction_type", "epsilon")
    beta_schedule = case.get("beta_schedule", "linear")
    beta_start, beta_end = case.get("betas", (0.0001, 0.02))
    clip = case.get("clip", False)
    threshold = case.get("threshold")  # (ratio, max_value) or None
    spacing = case.get("spacing", "trailing")
    steps = case.get("steps")
    eta = case.get("eta", 0.0)
    variance = case.get("variance", "fixed_small")

    common = dict(
        num_train_timesteps=T,
        beta_start=beta_start,
        beta_end=beta_end,
        beta_schedule=beta_schedule,
        prediction_type=pred,
        timestep_spacing=spacing,
    )
    if threshold is not None:
        common.update(thresholding=True, dynamic_thresholding_ratio=threshold[0],
                      sample_max_value=threshold[1])
    if kind == "ddpm":
        sched = DDPMScheduler(variance_type=variance, clip_sample=clip, clip_sample_range=1.0, **common)
        if steps is not None:
            sched.set_timesteps(steps)
    elif kind == "ddim":
        sched = DDIMScheduler(clip_sample=clip, clip_sample_range=1.0, set_alpha_to_one=True, **common)
        sched.set_timesteps(steps)
    elif kind == "dpmpp":
        if clip:  # clip to (-1, 1) == thresholding with max value 1 (any ratio)
            assert threshold is None
            common.update(thresholding=True, dynamic_thresholding_ratio=0.995, sample_max_value=1.0)
        sched = DPMSolverMultistepScheduler(
            algorithm_type="dpmsolver++", solver_order=2, solver_type="midpoint",
            lower_order_final=True, euler_at_final=False, final_sigmas_type="zero", **common)
        sched.set_timesteps(steps)
    else:
        raise ValueError(kind)

    rng = np.random.default_rng(seed)
    x = torch.from_numpy(rng.standard_normal(SHAPE).astype(np.float32))
    x_T = x.clone()
    ab_table = sched.alphas_cumprod.double().numpy()
    timesteps = [int(t) for t in sched.timesteps]
    out_steps = []
    for k, t in enumerate(timesteps):
        a, b = fake_model(ab_table[t], pred, rng)
        mo = a * x + b
        noise = None
        if kind == "ddpm":
            if t > 0:  # DDPMScheduler.step draws noise exactly when t > 0
                seed_k = seed * 100_003 + k
                noise = randn_tensor(SHAPE, generator=torch.Generator().manual_seed(seed_k),
                                     dtype=torch.float32)
                g_after = torch.Generator().manual_seed(seed_k)
                randn_tensor(SHAPE, generator=g_after, dtype=torch.float32)
                g = torch.Generator().manual_seed(seed_k)
                res = sched.step(mo, t, x, generator=g)
                assert torch.equal(g.get_state(), g_after.get_state()), "one draw of SHAPE per step"
            else:
                res = sched.step(mo, t, x)
            prev, x0 = res.prev_sample, res.pred_original_sample
        elif kind == "ddim":
            if eta > 0:
                noise = torch.from_numpy(rng.standard_normal(SHAPE).astype(np.float32))
            res = sched.step(mo, t, x, eta=eta, use_clipped_model_output=True,
                             variance_noise=noise)
            prev, x0 = res.prev_sample, res.pred_original_sample
        else:
            res = sched.step(mo, t, x)
            prev, x0 = res.prev_sample, sched.model_outputs[-1]
        assert prev.dtype == torch.float32 and torch.isfinite(prev).all()
        out_steps.append({
            "t": t,
            "a": f32_list(a),
            "b": f32_list(b),
            "model_output": f32_list(mo),
            "noise": None if noise is None else f32_list(noise),
            "prev_sample": f32_list(prev),
            "pred_original_sample": f32_list(x0),
        })
        x = prev

    ours_kind = {"ddpm": "ddpm", "ddim": "ddim", "dpmpp": "dpm_solver_pp2m"}[kind]
    sampler = {
        "kind": ours_kind,
        "eta": eta,
        "spacing": spacing,
        "variance": variance,
    }
    if steps is not None:
        sampler["steps"] = steps
    if clip:
        sampler["clip_sample"] = [-1.0, 1.0]
    if threshold is not None:
        sampler["dynamic_threshold"] = {"percentile": threshold[0], "max_value": threshold[1]}
    return {
        "name": case["name"],
        "diffusers_class": type(sched).__name__,
        # JSON has no infinities (lambda_min_clipped = -inf): those are written as strings.
        "diffusers_config": {
            k: (str(v) if isinstance(v, float) and not np.isfinite(v) else v)
            for k, v in dict(sched.config).items() if not k.startswith("_")
        },
        "schedule": schedule_json(T, beta_start, beta_end, beta_schedule, pred),
        "sampler": sampler,
        "timesteps": timesteps,
        "x_T": f32_list(x_T),
        "steps": out_steps,
    }


def cases():
    c = []
    small = dict(T=40, betas=(0.001, 0.25))
    # DDPM: full (every training timestep) on a short schedule, and respaced.
    c.append(dict(name="ddpm full T=40 eps", kind="ddpm", **small))
    c.append(dict(name="ddpm full T=40 v fixed_large", kind="ddpm", prediction_type="v_prediction",
                  variance="fixed_large", **small))
    c.append(dict(name="ddpm full T=40 eps clip", kind="ddpm", clip=True, **small))
    for steps, spacing, variance, pred, clip in [
        (10, "trailing", "fixed_small", "epsilon", False),
        (10, "trailing", "fixed_small", "v_prediction", False),
        (25, "leading", "fixed_large", "epsilon", False),
        (20, "linspace", "fixed_small", "epsilon", False),
        (20, "linspace", "fixed_large", "v_prediction", False),
        (13, "leading", "fixed_small", "epsilon", True),
        (40, "trailing", "fixed_small", "v_prediction", True),
    ]:
        c.append(dict(name=f"ddpm respaced {steps} {spacing} {variance} {pred}{' clip' if clip else ''}",
                      kind="ddpm", T=1000, steps=steps, spacing=spacing, variance=variance,
                      prediction_type=pred, clip=clip))
    c.append(dict(name="ddpm respaced 10 trailing threshold", kind="ddpm", T=1000, steps=10,
                  threshold=(0.9, 1.5)))
    # DDIM: trailing with S | T, leading with any S.
    for steps, spacing, eta, pred, clip in [
        (10, "trailing", 0.0, "epsilon", False),
        (20, "trailing", 0.0, "v_prediction", False),
        (50, "trailing", 0.0, "epsilon", False),
        (7, "leading", 0.0, "epsilon", False),
        (10, "trailing", 1.0, "epsilon", False),
        (20, "trailing", 1.0, "v_prediction", False),
        (25, "leading", 0.5, "epsilon", False),
        (10, "trailing", 0.0, "epsilon", True),
        (20, "leading", 1.0, "v_prediction", True),
    ]:
        c.append(dict(name=f"ddim {steps} {spacing} eta={eta} {pred}{' clip' if clip else ''}",
                      kind="ddim", T=1000, steps=steps, spacing=spacing, eta=eta,
                      prediction_type=pred, clip=clip))
    c.append(dict(name="ddim 10 trailing threshold", kind="ddim", T=1000, steps=10,
                  threshold=(0.9, 1.5)))
    # DPM-Solver++(2M): every step count 1..=16 (trailing, epsilon) crosses the old "< 15"
    # misreading, then more step counts, spacings, v-prediction, cosine, limits.
    for steps in list(range(1, 17)) + [20, 25]:
        c.append(dict(name=f"dpm++ {steps} trailing epsilon", kind="dpmpp", T=1000, steps=steps))
    for steps in (5, 10, 14, 20):
        c.append(dict(name=f"dpm++ {steps} trailing v_prediction", kind="dpmpp", T=1000,
                      steps=steps, prediction_type="v_prediction"))
    for steps in (10, 14, 20):
        for spacing in ("leading", "linspace"):
            c.append(dict(name=f"dpm++ {steps} {spacing} epsilon", kind="dpmpp", T=1000,
                          steps=steps, spacing=spacing))
    c.append(dict(name="dpm++ 10 trailing epsilon cosine", kind="dpmpp", T=1000, steps=10,
                  beta_schedule="squaredcos_cap_v2"))
    c.append(dict(name="dpm++ 10 trailing epsilon clip", kind="dpmpp", T=1000, steps=10, clip=True))
    c.append(dict(name="dpm++ 12 trailing v_prediction threshold", kind="dpmpp", T=1000, steps=12,
                  prediction_type="v_prediction", threshold=(0.9, 1.5)))
    return c


def main():
    torch.use_deterministic_algorithms(True)
    out_cases = [run_case(case, 1000 + i) for i, case in enumerate(cases())]
    here = os.path.dirname(os.path.abspath(__file__))
    path = os.path.join(here, "..", "tests", "fixtures", "diffusers_schedulers.json")
    fx = {
        "generated_by": "crates/bump-diffusion/scripts/make_diffusers_fixtures.py",
        "versions": {"diffusers": diffusers.__version__, "torch": torch.__version__,
                     "numpy": np.__version__},
        "shape": list(SHAPE),
        "cases": out_cases,
    }
    with open(path, "w") as fh:
        json.dump(fx, fh, separators=(",", ":"), allow_nan=False)
    print(f"{len(out_cases)} cases, {sum(len(c['steps']) for c in out_cases)} steps -> {path} "
          f"({os.path.getsize(path) / 1e3:.0f} kB)")


if __name__ == "__main__":
    main()
