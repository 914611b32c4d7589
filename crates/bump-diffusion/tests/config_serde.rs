//! The serde configs (ScheduleConfig, BetaSchedule, SamplerConfig, DynamicThreshold) round-trip
//! through TOML and JSON, keep their key names and enum spellings (run directories store them),
//! still read JSON written before `None` options were left out, and reject unknown keys.

use bump_diffusion::{
    BetaSchedule, DynamicThreshold, PredictionType, SamplerConfig, ScheduleConfig, Spacing,
    VarianceType,
};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::fmt::Debug;

/// value → TOML → value is the identity, and TOML → value → TOML reproduces the text.
fn toml_round_trip<T: Serialize + DeserializeOwned + PartialEq + Debug>(value: &T) -> String {
    let text = toml::to_string(value).unwrap_or_else(|e| panic!("{value:?}: {e}"));
    let back: T = toml::from_str(&text).unwrap_or_else(|e| panic!("{text}: {e}"));
    assert_eq!(&back, value, "value -> TOML -> value\n{text}");
    assert_eq!(
        toml::to_string(&back).unwrap(),
        text,
        "TOML -> value -> TOML"
    );
    let json = serde_json::to_string(value).unwrap();
    assert_eq!(&serde_json::from_str::<T>(&json).unwrap(), value, "{json}");
    text
}

fn schedules() -> Vec<ScheduleConfig> {
    vec![
        ScheduleConfig::default(),
        ScheduleConfig::default().with_prediction_type(PredictionType::VPrediction),
        ScheduleConfig::default()
            .with_prediction_type(PredictionType::VPrediction)
            .with_zero_terminal_snr(true)
            .with_beta_schedule(BetaSchedule::Cosine { max_beta: 0.999 }),
        ScheduleConfig::default()
            .with_num_train_timesteps(3)
            .with_beta_schedule(BetaSchedule::Custom {
                betas: vec![0.1, 0.2, 0.3],
            }),
    ]
}

fn samplers() -> Vec<SamplerConfig> {
    vec![
        SamplerConfig::ddpm(),
        SamplerConfig::respaced_ddpm(100),
        SamplerConfig::ddim(50),
        SamplerConfig::dpm_solver_pp(20),
        SamplerConfig::ddim(10)
            .with_eta(0.5)
            .with_spacing(Spacing::Leading)
            .with_variance(VarianceType::FixedLarge)
            .with_clip_sample(Some((-1.0, 1.0)))
            .with_dynamic_threshold(Some(DynamicThreshold {
                percentile: 0.995,
                max_value: 1.5,
            }))
            .with_timesteps(Some(vec![999, 500, 20])),
    ]
}

#[test]
fn configs_round_trip_through_toml_and_json() {
    for s in schedules() {
        toml_round_trip(&s);
    }
    for s in samplers() {
        toml_round_trip(&s);
    }
    let text = toml_round_trip(&ScheduleConfig::default());
    assert_eq!(
        text,
        "num_train_timesteps = 1000\nprediction_type = \"epsilon\"\nrescale_zero_terminal_snr = false\n\n\
         [beta_schedule]\nkind = \"linear\"\nbeta_start = 0.0001\nbeta_end = 0.02\n"
    );
    // TOML has no null: `None` options are left out.
    let text = toml_round_trip(&SamplerConfig::ddpm());
    assert_eq!(
        text,
        "kind = \"ddpm\"\neta = 0.0\nspacing = \"trailing\"\nvariance = \"fixed_small\"\n"
    );
}

#[test]
fn json_keys_and_spellings_are_unchanged() {
    assert_eq!(
        serde_json::to_string(&SamplerConfig::dpm_solver_pp(20)).unwrap(),
        r#"{"kind":"dpm_solver_pp2m","steps":20,"eta":0.0,"spacing":"trailing","variance":"fixed_small"}"#
    );
    assert_eq!(
        serde_json::to_string(&samplers()[4]).unwrap(),
        r#"{"kind":"ddim","steps":10,"eta":0.5,"spacing":"leading","variance":"fixed_large","clip_sample":[-1.0,1.0],"dynamic_threshold":{"percentile":0.995,"max_value":1.5},"custom_timesteps":[999,500,20]}"#
    );
    assert_eq!(
        serde_json::to_string(
            &ScheduleConfig::default().with_prediction_type(PredictionType::VPrediction)
        )
        .unwrap(),
        r#"{"beta_schedule":{"kind":"linear","beta_start":0.0001,"beta_end":0.02},"num_train_timesteps":1000,"prediction_type":"v_prediction","rescale_zero_terminal_snr":false}"#
    );
    // JSON written before `None` options were left out (explicit nulls) still reads.
    let old = r#"{"kind":"ddpm","steps":null,"eta":0.0,"spacing":"linspace","variance":"fixed_small","clip_sample":null,"dynamic_threshold":null,"custom_timesteps":null}"#;
    let cfg: SamplerConfig = serde_json::from_str(old).unwrap();
    assert_eq!(cfg, SamplerConfig::ddpm().with_spacing(Spacing::Linspace));
}

fn assert_rejects<T: DeserializeOwned + Debug>(json: &str, key: &str) {
    let err = serde_json::from_str::<T>(json).expect_err(json).to_string();
    assert!(err.contains(key), "JSON error names `{key}`: {err}");
    let value: serde_json::Value = serde_json::from_str(json).unwrap();
    let text = toml::to_string(&value).unwrap();
    let err = toml::from_str::<T>(&text).expect_err(&text).to_string();
    assert!(err.contains(key), "TOML error names `{key}`: {err}");
}

#[test]
fn unknown_keys_are_rejected() {
    assert_rejects::<SamplerConfig>(
        r#"{"kind":"ddim","steps":10,"eta":0.0,"spacing":"trailing","variance":"fixed_small","etaa":1.0}"#,
        "etaa",
    );
    assert_rejects::<SamplerConfig>(
        r#"{"kind":"ddim","eta":0.0,"spacing":"trailing","variance":"fixed_small","dynamic_threshold":{"percentile":0.9,"max_value":1.0,"ratio":2.0}}"#,
        "ratio",
    );
    assert_rejects::<DynamicThreshold>(r#"{"percentile":0.9,"max_value":1.0,"min":0.0}"#, "min");
    assert_rejects::<ScheduleConfig>(
        r#"{"beta_schedule":{"kind":"linear","beta_start":0.0001,"beta_end":0.02},"num_train_timesteps":1000,"prediction_type":"epsilon","rescale_zero_terminal_snr":false,"timesteps":5}"#,
        "timesteps",
    );
    assert_rejects::<ScheduleConfig>(
        r#"{"beta_schedule":{"kind":"linear","beta_start":0.0001,"beta_end":0.02,"beta_max":1.0},"num_train_timesteps":1000,"prediction_type":"epsilon","rescale_zero_terminal_snr":false}"#,
        "beta_max",
    );
    // Misspelt enum values are rejected too, naming what is allowed.
    let err = serde_json::from_str::<SamplerConfig>(
        r#"{"kind":"ddim","eta":0.0,"spacing":"trailling","variance":"fixed_small"}"#,
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("trailling") && err.contains("trailing"),
        "{err}"
    );
}
