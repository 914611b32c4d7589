//! The Scheduler API: construction, grids, typed errors, and `sample()` as a thin loop over
//! `SamplerConfig::build` with the documented noise streams.

use bump_diffusion::{
    gaussian_noise_vec, sample, AnyScheduler, DdimOptions, DdimScheduler, DdpmOptions,
    DdpmScheduler, DpmSolverPp2mOptions, DpmSolverPp2mScheduler, DynamicThreshold, Error,
    NoiseSchedule, SamplerConfig, ScheduleConfig, Scheduler, Spacing, StepOutput, VarianceType,
    X0Limits,
};
use candle_core::{DType, Device, Tensor};

fn schedule() -> NoiseSchedule {
    NoiseSchedule::new(&ScheduleConfig::default()).unwrap()
}

fn t4(v: f32) -> Tensor {
    Tensor::full(v, (2, 1, 2, 2), &Device::Cpu).unwrap()
}

fn bits(t: &Tensor) -> Vec<u32> {
    let v: Vec<f32> = t.flatten_all().unwrap().to_vec1().unwrap();
    v.iter().map(|x| x.to_bits()).collect()
}

#[test]
fn constructors_lay_diffusers_grids_and_set_timesteps_relays_them() {
    let s = schedule();
    let ddpm = DdpmScheduler::new(&s, 1000, DdpmOptions::default()).unwrap();
    assert_eq!(ddpm.timesteps().len(), 1000);
    assert_eq!((ddpm.timesteps()[0], ddpm.timesteps()[999]), (999, 0));
    let mut ddim = DdimScheduler::new(&s, 4, DdimOptions::default()).unwrap();
    assert_eq!(ddim.timesteps(), [999, 749, 499, 249]);
    ddim.set_timesteps(3).unwrap();
    assert_eq!(ddim.timesteps(), [999, 666, 332]);
    let lead = DdimOptions {
        spacing: Spacing::Leading,
        ..DdimOptions::default()
    };
    assert_eq!(
        DdimScheduler::new(&s, 4, lead).unwrap().timesteps(),
        [750, 500, 250, 0]
    );
    // The multistep grids: S + 1 points, the last (t = 0) dropped.
    let dpm = DpmSolverPp2mScheduler::new(
        &s,
        4,
        DpmSolverPp2mOptions {
            spacing: Spacing::Leading,
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(dpm.timesteps(), [800, 600, 400, 200]);
    // SamplerConfig::build gives the same grids as SamplerConfig::timesteps.
    for cfg in [
        SamplerConfig::ddpm(),
        SamplerConfig::respaced_ddpm(7).with_spacing(Spacing::Linspace),
        SamplerConfig::ddim(16),
        SamplerConfig::dpm_solver_pp(9).with_spacing(Spacing::Leading),
        SamplerConfig::dpm_solver_pp(0).with_timesteps(Some(vec![990, 400, 3])),
    ] {
        let built = cfg.build(&s).unwrap();
        assert_eq!(built.timesteps(), cfg.timesteps(1000).unwrap(), "{cfg:?}");
        let from = AnyScheduler::from_config(&s, &cfg).unwrap();
        assert_eq!(from.timesteps(), built.timesteps());
    }
    assert!(matches!(
        SamplerConfig::ddim(3).build(&s).unwrap(),
        AnyScheduler::Ddim(_)
    ));
}

#[test]
fn bad_construction_and_grids_are_typed_errors() {
    let s = schedule();
    let e = DdimScheduler::new(
        &s,
        10,
        DdimOptions {
            eta: 1.5,
            ..Default::default()
        },
    )
    .unwrap_err();
    assert!(matches!(e, Error::InvalidEta(v) if v == 1.5), "{e}");
    assert!(e.to_string().contains("1.5"), "{e}");
    let bad_clip = X0Limits {
        clip_sample: Some((1.0, -1.0)),
        dynamic_threshold: None,
    };
    let e = DdpmScheduler::new(
        &s,
        10,
        DdpmOptions {
            limits: bad_clip,
            ..Default::default()
        },
    )
    .unwrap_err();
    assert!(
        matches!(e, Error::InvalidArgument(_)) && e.to_string().contains("(1, -1)"),
        "{e}"
    );
    let bad_threshold = X0Limits {
        clip_sample: None,
        dynamic_threshold: Some(DynamicThreshold {
            percentile: 0.9,
            max_value: 0.5,
        }),
    };
    assert!(matches!(
        DpmSolverPp2mScheduler::new(
            &s,
            10,
            DpmSolverPp2mOptions {
                limits: bad_threshold,
                ..Default::default()
            }
        ),
        Err(Error::InvalidArgument(_))
    ));
    let mut d = DdimScheduler::new(&s, 10, DdimOptions::default()).unwrap();
    assert!(matches!(
        d.set_timesteps(0),
        Err(Error::InvalidSteps {
            steps: 0,
            max: 1000
        })
    ));
    assert!(matches!(
        d.set_timesteps(1001),
        Err(Error::InvalidSteps { steps: 1001, .. })
    ));
    assert!(matches!(
        d.set_custom_timesteps(&[5, 9]),
        Err(Error::NotMonotone { index: 1, .. })
    ));
    assert!(matches!(
        d.set_custom_timesteps(&[1000, 9]),
        Err(Error::InvalidArgument(_))
    ));
    assert_eq!(d.timesteps().len(), 10, "a failed call keeps the old grid");
    assert!(matches!(
        DpmSolverPp2mScheduler::new(
            &s,
            1000,
            DpmSolverPp2mOptions {
                spacing: Spacing::Leading,
                ..Default::default()
            }
        ),
        Err(Error::NotMonotone { .. })
    ));
}

#[test]
fn bad_steps_are_typed_errors_naming_the_value() {
    let s = schedule();
    let mut ddpm = DdpmScheduler::new(&s, 10, DdpmOptions::default()).unwrap();
    let (x, eps) = (t4(0.3), t4(0.1));
    // A stochastic step without noise.
    assert!(ddpm.needs_noise(999).unwrap());
    let e = ddpm.step(&eps, 999, &x, None).unwrap_err();
    assert!(matches!(e, Error::MissingNoise { timestep: 999 }), "{e}");
    assert!(e.to_string().contains("999"), "{e}");
    // The last DDPM step adds no noise.
    assert!(!ddpm.needs_noise(99).unwrap());
    assert!(ddpm.step(&eps, 99, &x, None).is_ok());
    // A timestep off the grid.
    let e = ddpm.step(&eps, 998, &x, Some(&x)).unwrap_err();
    assert!(
        matches!(
            e,
            Error::UnknownTimestep {
                timestep: 998,
                first: 999,
                last: 99,
                count: 10
            }
        ),
        "{e}"
    );
    assert!(e.to_string().contains("998"), "{e}");
    assert!(matches!(
        ddpm.needs_noise(5),
        Err(Error::UnknownTimestep { .. })
    ));
    // Shapes.
    let small = Tensor::zeros((2, 1, 2, 1), DType::F32, &Device::Cpu).unwrap();
    assert!(matches!(
        ddpm.step(&small, 999, &x, Some(&x)),
        Err(Error::ShapeMismatch(_))
    ));
    assert!(matches!(
        ddpm.step(&eps, 999, &x, Some(&small)),
        Err(Error::ShapeMismatch(_))
    ));
    let scalar = Tensor::new(1f32, &Device::Cpu).unwrap();
    assert!(matches!(
        ddpm.step(&scalar, 999, &scalar, None),
        Err(Error::ShapeMismatch(_))
    ));
    // DDIM: η = 0 never needs noise, η > 0 does except on the last step.
    let mut ddim = DdimScheduler::new(&s, 4, DdimOptions::default()).unwrap();
    assert!(ddim.step(&eps, 999, &x, None).is_ok());
    let mut ddim1 = DdimScheduler::new(
        &s,
        4,
        DdimOptions {
            eta: 1.0,
            ..Default::default()
        },
    )
    .unwrap();
    assert!(matches!(
        ddim1.step(&eps, 749, &x, None),
        Err(Error::MissingNoise { timestep: 749 })
    ));
    assert!(!ddim1.needs_noise(249).unwrap());
    assert!(ddim1.step(&eps, 249, &x, None).is_ok());
}

#[test]
fn dpm_solver_steps_in_order_and_restarts_at_the_first_timestep() {
    let s = schedule();
    let mut dpm = DpmSolverPp2mScheduler::new(&s, 5, DpmSolverPp2mOptions::default()).unwrap();
    let ts = dpm.timesteps().to_vec();
    assert_eq!(ts, [999, 799, 599, 399, 199]);
    let eps = |x: &Tensor| (x * 0.9).unwrap();
    // Skipping a step is refused.
    let x = t4(1.0);
    dpm.step(&eps(&x), 999, &x, None).unwrap();
    let e = dpm.step(&eps(&x), 599, &x, None).unwrap_err();
    assert!(
        matches!(
            e,
            Error::StepOutOfOrder {
                timestep: 599,
                expected: Some(799)
            }
        ),
        "{e}"
    );
    // A full run, then a second identical run from the first timestep, bit for bit.
    let run = |dpm: &mut DpmSolverPp2mScheduler| {
        let mut x = t4(1.0);
        let mut orders = Vec::new();
        for &t in &ts {
            let StepOutput {
                prev_sample,
                pred_original_sample,
            } = dpm.step(&eps(&x), t, &x, None).unwrap();
            orders.push(pred_original_sample);
            x = prev_sample;
        }
        (bits(&x), orders.len())
    };
    let first = run(&mut dpm);
    let second = run(&mut dpm);
    assert_eq!(first, second);
    assert!(matches!(
        dpm.step(&t4(0.0), 199, &t4(0.0), None),
        Err(Error::StepOutOfOrder { expected: None, .. })
    ));
    // The last step lands on σ = 0: prev_sample is x̂₀.
    let mut dpm = DpmSolverPp2mScheduler::new(&s, 1, DpmSolverPp2mOptions::default()).unwrap();
    let out = dpm.step(&t4(0.5), 999, &t4(0.2), None).unwrap();
    assert_eq!(bits(&out.prev_sample), bits(&out.pred_original_sample));
}

/// `sample()` is the documented loop: x_T from stream 0, step k's noise from stream k + 1, drawn
/// only where the scheduler needs it.
#[test]
fn sample_is_a_loop_over_the_built_scheduler() {
    let s = schedule();
    let dev = Device::Cpu;
    let seeds = [11u64, 12];
    let toy = |x: &Tensor, t: &Tensor, _c: &Tensor| -> candle_core::Result<Tensor> {
        let k = ((t / 2000.0)? + 0.5)?.reshape((2, 1, 1, 1))?;
        x.broadcast_mul(&k)
    };
    let stream = |k: u64| -> Tensor {
        let v: Vec<f32> = seeds
            .iter()
            .flat_map(|&sd| gaussian_noise_vec(sd, k, 4))
            .collect();
        Tensor::from_vec(v, (2, 1, 2, 2), &dev).unwrap()
    };
    for cfg in [
        SamplerConfig::respaced_ddpm(6).with_variance(VarianceType::FixedLarge),
        SamplerConfig::ddim(6).with_eta(0.7),
        SamplerConfig::dpm_solver_pp(6).with_clip_sample(Some((-1.0, 1.0))),
    ] {
        let mut sch = cfg.build(&s).unwrap();
        let mut x = stream(0);
        let cond = Tensor::zeros((2, 1), DType::F32, &dev).unwrap();
        for (k, t) in sch.timesteps().to_vec().into_iter().enumerate() {
            let tt = Tensor::full(t as f32, 2, &dev).unwrap();
            let out = toy(&x, &tt, &cond).unwrap();
            let z = sch.needs_noise(t).unwrap().then(|| stream(k as u64 + 1));
            x = sch.step(&out, t, &x, z.as_ref()).unwrap().prev_sample;
        }
        let mut den = toy;
        let got = sample(&s, &cfg, &mut den, &cond, (1, 2, 2), &seeds, None).unwrap();
        assert_eq!(bits(&got.images), bits(&x), "{cfg:?}");
    }
}
