//! Forward process, training targets, conversions, min-SNR-γ weights and timestep sampling.

use bump_diffusion::{
    add_noise, convert_prediction, min_snr_weights, sample_timesteps, training_target, Error,
    NoiseSchedule, PredictionType, ScheduleConfig,
};
use candle_core::{DType, Device, Tensor};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

fn vals(t: &Tensor) -> Vec<f32> {
    t.flatten_all().unwrap().to_vec1().unwrap()
}

fn max_abs_diff(a: &Tensor, b: &Tensor) -> f32 {
    (a - b)
        .unwrap()
        .abs()
        .unwrap()
        .max_all()
        .unwrap()
        .to_scalar()
        .unwrap()
}

#[test]
fn add_noise_uses_each_samples_own_timestep() {
    let dev = Device::Cpu;
    let s = NoiseSchedule::new(&ScheduleConfig::default()).unwrap();
    let x0 = Tensor::from_vec(vec![1f32, -1.0, 0.5, 0.25, 2.0, 0.0], (3, 1, 2), &dev).unwrap();
    let eps = Tensor::from_vec(vec![2f32, 0.5, -1.0, 1.0, 0.0, 3.0], (3, 1, 2), &dev).unwrap();
    let ts = [0usize, 999, 417];
    let t = Tensor::new(&[0u32, 999, 417], &dev).unwrap();
    let xt = vals(&add_noise(&s, &x0, &eps, &t).unwrap());
    let (xv, ev) = (vals(&x0), vals(&eps));
    for i in 0..6 {
        let ti = ts[i / 2];
        let want = s.sqrt_alphas_cumprod[ti] * xv[i] as f64
            + s.sqrt_one_minus_alphas_cumprod[ti] * ev[i] as f64;
        assert!(
            (xt[i] as f64 - want).abs() < 1e-6,
            "{i}: {} vs {want}",
            xt[i]
        );
    }
    // f32 timesteps holding integers are accepted as well.
    let t32 = Tensor::new(&[0f32, 999.0, 417.0], &dev).unwrap();
    assert_eq!(xt, vals(&add_noise(&s, &x0, &eps, &t32).unwrap()));
}

#[test]
fn targets_and_conversions_round_trip_for_every_prediction_type() {
    let dev = Device::Cpu;
    let s = NoiseSchedule::new(&ScheduleConfig::default()).unwrap();
    let x0 = Tensor::from_vec(vec![1f32, -1.0, 0.5, 0.25], (4, 1), &dev).unwrap();
    let eps = Tensor::from_vec(vec![0.3f32, 1.5, -0.7, 0.1], (4, 1), &dev).unwrap();
    let t = Tensor::new(&[1f32, 250.0, 600.0, 990.0], &dev).unwrap();
    let xt = add_noise(&s, &x0, &eps, &t).unwrap();
    for pred in [
        PredictionType::Epsilon,
        PredictionType::Sample,
        PredictionType::VPrediction,
    ] {
        let target = training_target(&s, pred, &x0, &eps, &t).unwrap();
        let (x0_hat, eps_hat) = convert_prediction(&s, pred, &xt, &target, &t).unwrap();
        let (d0, d1) = (max_abs_diff(&x0_hat, &x0), max_abs_diff(&eps_hat, &eps));
        // x₀ from ε divides by √ᾱ (0.09 at t = 990), so f32 error grows there.
        assert!(d0 < 2e-4 && d1 < 2e-4, "{pred:?} round trip: {d0} {d1}");
    }
    // v = √ᾱ·ε − √(1−ᾱ)·x₀, by hand for sample 1 (t = 250).
    let v = vals(&training_target(&s, PredictionType::VPrediction, &x0, &eps, &t).unwrap());
    let (x0_1, eps_1) = (-1.0, 1.5);
    let want = s.sqrt_alphas_cumprod[250] * eps_1 - s.sqrt_one_minus_alphas_cumprod[250] * x0_1;
    assert!((v[1] as f64 - want).abs() < 1e-6);
}

#[test]
fn min_snr_weights_known_answers() {
    let s = NoiseSchedule::new(&ScheduleConfig::default()).unwrap();
    let g = 5.0;
    // SNR at t = 0 is ≈ 9999 (> γ); at t = 999 ≈ 4e-5 (< γ).
    for (pred, f) in [
        (
            PredictionType::Epsilon,
            (|m: f64, snr: f64| m / snr) as fn(f64, f64) -> f64,
        ),
        (PredictionType::Sample, |m, _| m),
        (PredictionType::VPrediction, |m, snr| m / (snr + 1.0)),
    ] {
        let w = min_snr_weights(&s, pred, &[0, 500, 999], g).unwrap();
        for (wi, t) in w.iter().zip([0usize, 500, 999]) {
            let snr = s.snr[t];
            assert!((wi - f(snr.min(g), snr)).abs() < 1e-12, "{pred:?} t={t}");
        }
    }
    let w = min_snr_weights(&s, PredictionType::Epsilon, &[0, 999], g).unwrap();
    assert!((w[0] - g / s.snr[0]).abs() < 1e-12 && w[1] == 1.0);
    // Zero terminal SNR: the ε weight's limit is 1, not NaN.
    let z = NoiseSchedule::new(
        &ScheduleConfig::default()
            .with_prediction_type(PredictionType::VPrediction)
            .with_zero_terminal_snr(true),
    )
    .unwrap();
    assert_eq!(
        min_snr_weights(&z, PredictionType::Epsilon, &[999], g).unwrap(),
        vec![1.0]
    );
    assert!(matches!(
        min_snr_weights(&s, PredictionType::Epsilon, &[1000], g),
        Err(Error::InvalidArgument(_))
    ));
    assert!(min_snr_weights(&s, PredictionType::Epsilon, &[0], 0.0).is_err());
    assert!(min_snr_weights(&s, PredictionType::Epsilon, &[0], f64::NAN).is_err());
}

#[test]
fn sampled_timesteps_are_seeded_and_uniform() {
    let a = sample_timesteps(&mut ChaCha8Rng::seed_from_u64(3), 64, 1000);
    let b = sample_timesteps(&mut ChaCha8Rng::seed_from_u64(3), 64, 1000);
    let c = sample_timesteps(&mut ChaCha8Rng::seed_from_u64(4), 64, 1000);
    assert_eq!(a, b);
    assert_ne!(a, c);
    // χ² goodness of fit over T = 10 bins, 100,000 draws: 9 degrees of freedom, p = 0.001
    // critical value 27.88.
    let n = 100_000;
    let draws = sample_timesteps(&mut ChaCha8Rng::seed_from_u64(11), n, 10);
    let mut counts = [0usize; 10];
    for &d in &draws {
        counts[d as usize] += 1;
    }
    let e = n as f64 / 10.0;
    let chi2: f64 = counts.iter().map(|&c| (c as f64 - e).powi(2) / e).sum();
    assert!(chi2 < 27.88, "chi2 {chi2}, counts {counts:?}");
}

#[test]
fn bad_forward_input_is_a_typed_error() {
    let dev = Device::Cpu;
    let s = NoiseSchedule::new(&ScheduleConfig::default()).unwrap();
    let x0 = Tensor::zeros((2, 1, 2, 2), DType::F32, &dev).unwrap();
    let t = Tensor::new(&[0f32, 1.0], &dev).unwrap();
    let other = Tensor::zeros((2, 1, 2, 3), DType::F32, &dev).unwrap();
    assert!(matches!(
        add_noise(&s, &x0, &other, &t),
        Err(Error::ShapeMismatch(_))
    ));
    for bad in [
        Tensor::new(&[0f32, 1000.0], &dev).unwrap(),
        Tensor::new(&[0f32, -1.0], &dev).unwrap(),
        Tensor::new(&[0f32, 1.5], &dev).unwrap(),
        Tensor::new(&[0f32, f32::NAN], &dev).unwrap(),
    ] {
        assert!(matches!(
            add_noise(&s, &x0, &x0, &bad),
            Err(Error::InvalidArgument(_))
        ));
    }
    assert!(matches!(
        add_noise(&s, &x0, &x0, &Tensor::new(&[0f32], &dev).unwrap()),
        Err(Error::ShapeMismatch(_))
    ));
    assert!(matches!(
        add_noise(
            &s,
            &x0,
            &x0,
            &Tensor::zeros((2, 1), DType::F32, &dev).unwrap()
        ),
        Err(Error::ShapeMismatch(_))
    ));
    assert!(matches!(
        training_target(
            &s,
            PredictionType::VPrediction,
            &x0,
            &x0,
            &Tensor::new(&[0f32], &dev).unwrap()
        ),
        Err(Error::ShapeMismatch(_))
    ));
}
