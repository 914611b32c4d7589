//! Golden tests: every schedule family against tables computed by the committed numpy script
//! (scripts/make_fixtures.py), to 1e-12 relative error.

use bump_diffusion::{BetaSchedule, NoiseSchedule, PredictionType, ScheduleConfig};

fn fixture() -> serde_json::Value {
    let text = include_str!("fixtures/schedules.json");
    serde_json::from_str(text).expect("fixture JSON")
}

fn family(name: &str) -> BetaSchedule {
    match name {
        "linear" => BetaSchedule::Linear {
            beta_start: 1e-4,
            beta_end: 0.02,
        },
        "linear_rescaled" => BetaSchedule::LinearRescaled {
            beta_start: 1e-4,
            beta_end: 0.02,
        },
        "scaled_linear" => BetaSchedule::ScaledLinear {
            beta_start: 0.00085,
            beta_end: 0.012,
        },
        "cosine" => BetaSchedule::Cosine { max_beta: 0.999 },
        "sigmoid_beta" => BetaSchedule::SigmoidBeta {
            beta_start: 1e-4,
            beta_end: 0.02,
        },
        "sigmoid_alpha_bar" => BetaSchedule::SigmoidAlphaBar {
            start: -3.0,
            end: 3.0,
            tau: 1.0,
        },
        other => panic!("unknown family {other}"),
    }
}

fn table<'a>(s: &'a NoiseSchedule, name: &str) -> &'a [f64] {
    match name {
        "betas" => &s.betas,
        "alphas_cumprod" => &s.alphas_cumprod,
        "sqrt_alphas_cumprod" => &s.sqrt_alphas_cumprod,
        "sqrt_one_minus_alphas_cumprod" => &s.sqrt_one_minus_alphas_cumprod,
        "posterior_variance" => &s.posterior_variance,
        "posterior_log_variance_clipped" => &s.posterior_log_variance_clipped,
        "posterior_mean_coef1" => &s.posterior_mean_coef1,
        "posterior_mean_coef2" => &s.posterior_mean_coef2,
        "snr" => &s.snr,
        other => panic!("unknown table {other}"),
    }
}

#[test]
fn every_family_matches_the_numpy_reference() {
    let fx = fixture();
    let t_total = fx["T"].as_u64().unwrap() as usize;
    let idx: Vec<usize> = fx["t"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap() as usize)
        .collect();
    let fams = fx["families"].as_object().unwrap();
    assert_eq!(fams.len(), 6, "all six named families are covered");
    for (name, tabs) in fams {
        let cfg = ScheduleConfig::default()
            .with_beta_schedule(family(name))
            .with_num_train_timesteps(t_total);
        let s = NoiseSchedule::new(&cfg).unwrap_or_else(|e| panic!("{name}: {e}"));
        for (tname, vals) in tabs.as_object().unwrap() {
            for (k, v) in vals.as_array().unwrap().iter().enumerate() {
                let want = v.as_f64().unwrap();
                let got = table(&s, tname)[idx[k]];
                let rel = (got - want).abs() / want.abs().max(1e-300);
                assert!(
                    rel <= 1e-12,
                    "{name}.{tname}[{}]: {got} vs {want} (rel {rel:e})",
                    idx[k]
                );
            }
        }
    }
}

#[test]
fn cosine_betas_are_not_zero() {
    // candle-transformers' integer division made 999 of 1000 cosine betas zero.
    let s = NoiseSchedule::new(
        &ScheduleConfig::default().with_beta_schedule(BetaSchedule::Cosine { max_beta: 0.999 }),
    )
    .unwrap();
    assert!(s.betas.iter().all(|&b| b > 0.0));
    assert!(
        (s.betas[999] - 0.999).abs() < 1e-12,
        "the last beta is clipped at max_beta"
    );
}

#[test]
fn zero_terminal_snr_reaches_zero_and_is_refused_with_epsilon() {
    let cfg = ScheduleConfig::default().with_zero_terminal_snr(true);
    assert!(matches!(
        NoiseSchedule::new(&cfg),
        Err(bump_diffusion::Error::ZeroSnrWithEpsilon)
    ));
    let s = NoiseSchedule::new(&cfg.with_prediction_type(PredictionType::VPrediction)).unwrap();
    assert!(s.alphas_cumprod[999].abs() < 1e-15);
    let base = NoiseSchedule::new(&ScheduleConfig::default()).unwrap();
    assert!(
        (s.alphas_cumprod[0] - base.alphas_cumprod[0]).abs() < 1e-12,
        "ᾱ₀ unchanged"
    );
}

#[test]
fn bad_schedules_are_typed_errors() {
    use bump_diffusion::Error;
    let zero = ScheduleConfig::default().with_num_train_timesteps(0);
    assert!(matches!(
        NoiseSchedule::new(&zero),
        Err(Error::ZeroTimesteps)
    ));
    let big = ScheduleConfig::default().with_beta_schedule(BetaSchedule::Linear {
        beta_start: 0.5,
        beta_end: 1.5,
    });
    assert!(matches!(
        NoiseSchedule::new(&big),
        Err(Error::BetaOutOfRange { .. })
    ));
    let nan = ScheduleConfig::default()
        .with_num_train_timesteps(3)
        .with_beta_schedule(BetaSchedule::Custom {
            betas: vec![0.1, f64::NAN, 0.2],
        });
    assert!(NoiseSchedule::new(&nan).is_err());
    let down = ScheduleConfig::default()
        .with_num_train_timesteps(3)
        .with_beta_schedule(BetaSchedule::Custom {
            betas: vec![0.1, 0.05, 0.2],
        });
    assert!(matches!(
        NoiseSchedule::new(&down),
        Err(Error::NotMonotone { .. })
    ));
    let short = ScheduleConfig::default().with_beta_schedule(BetaSchedule::Custom {
        betas: vec![0.1, 0.2],
    });
    assert!(NoiseSchedule::new(&short).is_err());
}
