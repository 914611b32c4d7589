//! The scheduler refactor changes no number: `sample()` reproduces, bit for bit on the CPU,
//! outputs recorded before it (tests/fixtures/bit_baseline.json) for every sampler except
//! DPM-Solver++ below 15 steps (whose second-to-last step was wrongly first order).
//!
//! Record again (only after a deliberate numerical change) with
//! `BUMP_RECORD_BASELINE=1 cargo test --release -p bump-diffusion --test bit_baseline`.

use bump_diffusion::{
    sample, DynamicThreshold, NoiseSchedule, PredictionType, SamplerConfig, ScheduleConfig,
    Spacing, VarianceType,
};
use candle_core::{DType, Device, Tensor};
use std::collections::BTreeMap;

/// A deterministic, nonlinear toy denoiser: out = tanh(0.7·x)·(0.2 + t/T) + 0.05·x − 0.1.
fn toy(x: &Tensor, t: &Tensor, _c: &Tensor) -> candle_core::Result<Tensor> {
    let scale = ((t / 1000.0)? + 0.2)?.reshape((t.dim(0)?, 1, 1, 1))?;
    let a = (x * 0.7)?.tanh()?.broadcast_mul(&scale)?;
    (a + (x * 0.05)?)? - 0.1
}

fn cases() -> Vec<(&'static str, ScheduleConfig, SamplerConfig)> {
    let eps = ScheduleConfig::default().with_num_train_timesteps(60);
    let v = eps
        .clone()
        .with_prediction_type(PredictionType::VPrediction);
    let big = ScheduleConfig::default();
    let clip = Some((-1.0, 1.0));
    let thr = Some(DynamicThreshold {
        percentile: 0.9,
        max_value: 1.5,
    });
    vec![
        ("ddpm-60 full", eps.clone(), SamplerConfig::ddpm()),
        (
            "ddpm-60 full fixed_large",
            eps.clone(),
            SamplerConfig::ddpm().with_variance(VarianceType::FixedLarge),
        ),
        ("ddpm-60 full v", v.clone(), SamplerConfig::ddpm()),
        (
            "ddpm respaced 12",
            big.clone(),
            SamplerConfig::respaced_ddpm(12),
        ),
        (
            "ddpm respaced 12 leading clip",
            big.clone(),
            SamplerConfig::respaced_ddpm(12)
                .with_spacing(Spacing::Leading)
                .with_clip_sample(clip),
        ),
        ("ddim-20 eta0", big.clone(), SamplerConfig::ddim(20)),
        (
            "ddim-20 eta1",
            big.clone(),
            SamplerConfig::ddim(20).with_eta(1.0),
        ),
        (
            "ddim-20 eta0.4 linspace threshold",
            big.clone(),
            SamplerConfig::ddim(20)
                .with_eta(0.4)
                .with_spacing(Spacing::Linspace)
                .with_dynamic_threshold(thr),
        ),
        (
            "ddim-20 v clip",
            v.clone(),
            SamplerConfig::ddim(20).with_clip_sample(clip),
        ),
        ("dpm++-20", big.clone(), SamplerConfig::dpm_solver_pp(20)),
        (
            "dpm++-20 leading clip",
            big.clone(),
            SamplerConfig::dpm_solver_pp(20)
                .with_spacing(Spacing::Leading)
                .with_clip_sample(clip),
        ),
        (
            "dpm++-16 v linspace",
            big.clone()
                .with_prediction_type(PredictionType::VPrediction),
            SamplerConfig::dpm_solver_pp(16).with_spacing(Spacing::Linspace),
        ),
        (
            "ddim custom",
            big.clone(),
            SamplerConfig::ddim(1).with_timesteps(Some(vec![999, 700, 400, 90, 3])),
        ),
    ]
}

fn run_all() -> BTreeMap<String, Vec<u32>> {
    let dev = Device::Cpu;
    let seeds = [3u64, 17, 123_456_789];
    let cond = Tensor::zeros((3, 2), DType::F32, &dev).unwrap();
    let mut out = BTreeMap::new();
    for (name, sc, cfg) in cases() {
        let schedule = NoiseSchedule::new(&sc).unwrap();
        let mut den = toy;
        let r = sample(&schedule, &cfg, &mut den, &cond, (1, 3, 4), &seeds, None)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let v: Vec<f32> = r.images.flatten_all().unwrap().to_vec1().unwrap();
        out.insert(name.to_string(), v.iter().map(|x| x.to_bits()).collect());
    }
    out
}

#[test]
fn samplers_reproduce_the_recorded_bits() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/bit_baseline.json"
    );
    let got = run_all();
    if std::env::var_os("BUMP_RECORD_BASELINE").is_some() {
        std::fs::write(path, serde_json::to_string_pretty(&got).unwrap()).unwrap();
        return;
    }
    let want: BTreeMap<String, Vec<u32>> =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    assert_eq!(want.len(), got.len(), "every case is recorded");
    for (name, bits) in &want {
        assert_eq!(got.get(name), Some(bits), "{name}: output bits changed");
    }
}
