//! Golden tests: every schedule family against tables computed by the committed numpy script
//! (scripts/make_fixtures.py), to 1e-12 relative error, and typed errors on bad schedules.

use bump_diffusion::{BetaSchedule, Error, NoiseSchedule, PredictionType, ScheduleConfig};
use std::collections::BTreeSet;

fn fixture() -> serde_json::Value {
    serde_json::from_str(include_str!("fixtures/schedules.json")).expect("fixture JSON")
}

fn table<'a>(s: &'a NoiseSchedule, name: &str) -> &'a [f64] {
    match name {
        "betas" => &s.betas,
        "alphas" => &s.alphas,
        "alphas_cumprod" => &s.alphas_cumprod,
        "alphas_cumprod_prev" => &s.alphas_cumprod_prev,
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
fn every_family_matches_the_numpy_reference_at_0_1_half_and_last() {
    let fx = fixture();
    let cases = fx["cases"].as_array().unwrap();
    let mut kinds = BTreeSet::new();
    let mut checked = 0;
    let mut worst = 0.0f64;
    for case in cases {
        let name = case["name"].as_str().unwrap();
        // The fixture stores the family in this crate's serde form, so this also pins the
        // config's JSON names.
        let family: BetaSchedule = serde_json::from_value(case["schedule"].clone()).unwrap();
        kinds.insert(case["schedule"]["kind"].as_str().unwrap().to_string());
        let zero_snr = case["zero_terminal_snr"].as_bool().unwrap();
        let t_total = case["T"].as_u64().unwrap() as usize;
        let cfg = ScheduleConfig::default()
            .with_beta_schedule(family)
            .with_num_train_timesteps(t_total)
            .with_zero_terminal_snr(zero_snr)
            .with_prediction_type(if zero_snr {
                PredictionType::VPrediction
            } else {
                PredictionType::Epsilon
            });
        let s = NoiseSchedule::new(&cfg).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(s.num_train_timesteps(), t_total);
        let idx: Vec<usize> = case["t"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap() as usize)
            .collect();
        assert_eq!(idx, vec![0, 1, t_total / 2, t_total - 1]);
        let tabs = case["tables"].as_object().unwrap();
        assert_eq!(tabs.len(), 11, "{name}: every table is in the fixture");
        for (tname, vals) in tabs {
            for (k, v) in vals.as_array().unwrap().iter().enumerate() {
                let want = v.as_f64().unwrap();
                let got = table(&s, tname)[idx[k]];
                let rel = if want == 0.0 {
                    got.abs()
                } else {
                    (got - want).abs() / want.abs()
                };
                worst = worst.max(rel);
                assert!(
                    rel <= 1e-12,
                    "{name}.{tname}[{}]: {got} vs {want} (rel {rel:e})",
                    idx[k]
                );
                checked += 1;
            }
        }
    }
    let all: BTreeSet<String> = [
        "linear",
        "linear_rescaled",
        "scaled_linear",
        "cosine",
        "sigmoid_beta",
        "sigmoid_alpha_bar",
        "custom",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    assert_eq!(kinds, all, "every family is covered");
    assert!(checked >= 16 * 11 * 4, "{checked} values checked");
    println!("{checked} golden values, worst relative error {worst:e}");
}

#[test]
fn linear_rescaled_differs_from_linear_only_when_t_is_not_1000() {
    let lin =
        |t| NoiseSchedule::new(&ScheduleConfig::default().with_num_train_timesteps(t)).unwrap();
    let resc = |t| {
        NoiseSchedule::new(
            &ScheduleConfig::default()
                .with_num_train_timesteps(t)
                .with_beta_schedule(BetaSchedule::LinearRescaled {
                    beta_start: 1e-4,
                    beta_end: 0.02,
                }),
        )
        .unwrap()
    };
    assert_eq!(lin(1000).betas, resc(1000).betas);
    let (a, b) = (lin(250), resc(250));
    for (x, y) in a.betas.iter().zip(&b.betas) {
        assert!((y / x - 4.0).abs() < 1e-12, "1000/T = 4 at T = 250");
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
    // Strictly increasing (the schedule is not piecewise constant either).
    assert!(s.betas.windows(2).all(|w| w[1] > w[0]));
}

#[test]
fn zero_terminal_snr_reaches_zero_and_is_refused_with_epsilon() {
    let cfg = ScheduleConfig::default().with_zero_terminal_snr(true);
    assert!(matches!(
        NoiseSchedule::new(&cfg),
        Err(Error::ZeroSnrWithEpsilon)
    ));
    for pred in [PredictionType::VPrediction, PredictionType::Sample] {
        let s = NoiseSchedule::new(&cfg.clone().with_prediction_type(pred)).unwrap();
        assert_eq!(s.alphas_cumprod[999], 0.0);
        assert_eq!(s.snr[999], 0.0);
        let base = NoiseSchedule::new(&ScheduleConfig::default()).unwrap();
        assert!(
            (s.alphas_cumprod[0] - base.alphas_cumprod[0]).abs() < 1e-15,
            "ᾱ₀ unchanged"
        );
    }
}

#[test]
fn bad_schedules_are_typed_errors() {
    let err = |cfg: ScheduleConfig| NoiseSchedule::new(&cfg).unwrap_err();
    let custom = |betas: Vec<f64>| {
        ScheduleConfig::default()
            .with_num_train_timesteps(betas.len())
            .with_beta_schedule(BetaSchedule::Custom { betas })
    };
    assert!(matches!(
        err(ScheduleConfig::default().with_num_train_timesteps(0)),
        Error::ZeroTimesteps
    ));
    assert!(matches!(
        err(
            ScheduleConfig::default().with_beta_schedule(BetaSchedule::Linear {
                beta_start: 0.5,
                beta_end: 1.5,
            })
        ),
        Error::BetaOutOfRange { .. }
    ));
    assert!(matches!(
        err(
            ScheduleConfig::default().with_beta_schedule(BetaSchedule::Linear {
                beta_start: 0.0,
                beta_end: 0.02,
            })
        ),
        Error::BetaOutOfRange { index: 0, .. }
    ));
    assert!(matches!(
        err(custom(vec![0.1, f64::NAN, 0.2])),
        Error::BetaOutOfRange { index: 1, .. }
    ));
    assert!(matches!(
        err(custom(vec![0.1, f64::INFINITY])),
        Error::BetaOutOfRange { index: 1, .. }
    ));
    assert!(matches!(
        err(custom(vec![0.1, 0.05, 0.2])),
        Error::NotMonotone { index: 1, .. }
    ));
    assert!(matches!(
        err(custom(vec![-0.1, 0.2])),
        Error::BetaOutOfRange { index: 0, .. }
    ));
    assert!(matches!(
        err(
            ScheduleConfig::default().with_beta_schedule(BetaSchedule::Custom {
                betas: vec![0.1, 0.2],
            })
        ),
        Error::InvalidArgument(_)
    ));
    assert!(matches!(
        err(ScheduleConfig::default().with_beta_schedule(BetaSchedule::Cosine { max_beta: 1.0 })),
        Error::InvalidArgument(_)
    ));
    assert!(matches!(
        err(
            ScheduleConfig::default().with_beta_schedule(BetaSchedule::SigmoidAlphaBar {
                start: -3.0,
                end: 3.0,
                tau: 0.0,
            })
        ),
        Error::InvalidArgument(_)
    ));
    assert!(matches!(
        err(custom(vec![0.1])
            .with_zero_terminal_snr(true)
            .with_prediction_type(PredictionType::VPrediction)),
        Error::InvalidArgument(_)
    ));
}
#[test]
fn num_train_timesteps_is_bounded_before_anything_is_allocated() {
    use bump_diffusion::{NoiseSchedule, ScheduleConfig, MAX_TRAIN_TIMESTEPS};
    let ok = ScheduleConfig::default().with_num_train_timesteps(MAX_TRAIN_TIMESTEPS);
    assert_eq!(
        NoiseSchedule::new(&ok).unwrap().num_train_timesteps(),
        MAX_TRAIN_TIMESTEPS
    );
    // 10^15 would need ~10^17 bytes of tables: refused with the value and the allowed range.
    let huge = ScheduleConfig::default().with_num_train_timesteps(1_000_000_000_000_000);
    let msg = NoiseSchedule::new(&huge).unwrap_err().to_string();
    assert!(
        msg.contains("1000000000000000") && msg.contains("1..=1000000"),
        "{msg}"
    );
}
