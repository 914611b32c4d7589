//! bump-diffusion's schedulers against diffusers' own (tests/fixtures/diffusers_schedulers.json,
//! from scripts/make_diffusers_fixtures.py): DDPMScheduler (full and respaced), DDIMScheduler
//! and DPMSolverMultistepScheduler(algorithm_type="dpmsolver++", solver_order=2), stepped on the
//! same injected model outputs and noise from the same x_T.
//!
//! Each case is built from the ScheduleConfig and SamplerConfig stored with it (serde form) and
//! checked two ways, per step, on prev_sample and pred_original_sample:
//! - replay: every step starts from diffusers' own x_t with the model output diffusers was given
//!   (isolates one step's arithmetic);
//! - chained: our own trajectory from x_T, the fake model (output = a·x_t + b, per-step tables
//!   from the fixture, reproduced bit for bit) evaluated at our x_t, as `sample()` does.
//!
//! The error is max |ours − diffusers| / max(1, max |diffusers|) over the step's values:
//! relative to the sample's scale, absolute below 1. diffusers computes its tables in f32
//! (cumprod over up to 1000 betas) and we in f64, so the measured errors are a few 1e-6 at most
//! (the test prints them); the tolerance is 1e-5.

use bump_diffusion::{NoiseSchedule, SamplerConfig, ScheduleConfig, Scheduler};
use candle_core::{Device, Tensor};
use serde_json::Value;

const TOL: f64 = 1e-5;

fn fixture() -> Value {
    serde_json::from_str(include_str!("fixtures/diffusers_schedulers.json")).expect("fixture JSON")
}

fn tensor(v: &Value, shape: &[usize]) -> Tensor {
    let data: Vec<f32> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap() as f32)
        .collect();
    Tensor::from_vec(data, shape, &Device::Cpu).unwrap()
}

fn bits(t: &Tensor) -> Vec<u32> {
    let v: Vec<f32> = t.flatten_all().unwrap().to_vec1().unwrap();
    v.iter().map(|x| x.to_bits()).collect()
}

fn scaled_err(ours: &Tensor, theirs: &Tensor) -> f64 {
    let a: Vec<f32> = ours.flatten_all().unwrap().to_vec1().unwrap();
    let b: Vec<f32> = theirs.flatten_all().unwrap().to_vec1().unwrap();
    assert_eq!(a.len(), b.len());
    let scale = b.iter().fold(1.0f64, |m, &v| m.max(v.abs() as f64));
    let diff = a
        .iter()
        .zip(&b)
        .fold(0.0f64, |m, (&x, &y)| m.max((x as f64 - y as f64).abs()));
    diff / scale
}

/// (replay error, chained error, largest |value| diffusers produced) of one case.
fn run_case(case: &Value, shape: &[usize]) -> (f64, f64, f64) {
    let name = case["name"].as_str().unwrap();
    let sc: ScheduleConfig = serde_json::from_value(case["schedule"].clone()).unwrap();
    let cfg: SamplerConfig = serde_json::from_value(case["sampler"].clone()).unwrap();
    let schedule = NoiseSchedule::new(&sc).unwrap();
    let mut replay = cfg.build(&schedule).unwrap();
    let mut chained = cfg.build(&schedule).unwrap();
    let grid: Vec<usize> = case["timesteps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_u64().unwrap() as usize)
        .collect();
    assert_eq!(replay.timesteps(), grid, "{name}: timestep grid");
    let mut theirs_x = tensor(&case["x_T"], shape);
    let mut ours_x = theirs_x.clone();
    let (mut e_replay, mut e_chained, mut scale) = (0.0f64, 0.0f64, 0.0f64);
    for st in case["steps"].as_array().unwrap() {
        let t = st["t"].as_u64().unwrap() as usize;
        let mo = tensor(&st["model_output"], shape);
        let mut per_pixel = shape.to_vec();
        per_pixel[0] = 1;
        let (a, b) = (tensor(&st["a"], &per_pixel), tensor(&st["b"], shape));
        let model = |x: &Tensor| x.broadcast_mul(&a).unwrap().add(&b).unwrap();
        // The fake model is reproduced bit for bit at diffusers' own x_t.
        assert_eq!(
            bits(&model(&theirs_x)),
            bits(&mo),
            "{name} t={t}: model output"
        );
        let noise = st["noise"].as_array().map(|_| tensor(&st["noise"], shape));
        let prev = tensor(&st["prev_sample"], shape);
        let x0 = tensor(&st["pred_original_sample"], shape);
        if replay.needs_noise(t).unwrap() {
            assert!(noise.is_some(), "{name} t={t}: diffusers drew no noise");
        }
        let r = replay.step(&mo, t, &theirs_x, noise.as_ref()).unwrap();
        let c = chained
            .step(&model(&ours_x), t, &ours_x, noise.as_ref())
            .unwrap();
        e_replay = e_replay
            .max(scaled_err(&r.prev_sample, &prev))
            .max(scaled_err(&r.pred_original_sample, &x0));
        e_chained = e_chained
            .max(scaled_err(&c.prev_sample, &prev))
            .max(scaled_err(&c.pred_original_sample, &x0));
        let m: f32 = prev.abs().unwrap().max_all().unwrap().to_scalar().unwrap();
        scale = scale.max(m as f64);
        theirs_x = prev;
        ours_x = c.prev_sample;
    }
    (e_replay, e_chained, scale)
}

#[test]
fn schedulers_match_diffusers_step_by_step() {
    let fx = fixture();
    let shape: Vec<usize> = fx["shape"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap() as usize)
        .collect();
    println!("fixture from diffusers {}", fx["versions"]);
    let cases = fx["cases"].as_array().unwrap();
    let mut seen = std::collections::BTreeSet::new();
    let mut failures = Vec::new();
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let (replay, chained, scale) = run_case(case, &shape);
        println!("{name:46} replay {replay:.1e} chained {chained:.1e} (max |x| {scale:.2})");
        if replay > TOL || chained > TOL {
            failures.push(format!("{name}: replay {replay:e}, chained {chained:e}"));
        }
        seen.insert(case["diffusers_class"].as_str().unwrap().to_string());
    }
    assert!(
        failures.is_empty(),
        "beyond {TOL:e}:\n{}",
        failures.join("\n")
    );
    assert_eq!(seen.len(), 3, "all three diffusers schedulers: {seen:?}");
    // Every DPM-Solver++ step count from 1 to 16 is covered (the old bug lived below 15).
    for steps in 1..=16 {
        let name = format!("dpm++ {steps} trailing epsilon");
        assert!(cases.iter().any(|c| c["name"] == name.as_str()), "{name}");
    }
}
