//! Configuration files, presets, overrides and the shared command line: round trips, the
//! presets against the values the code defined before they became files, and errors that name
//! the key and write nothing.

use bump_ddpm::cli::ExperimentArgs;
use bump_ddpm::config::{
    EvalConfig, EvalWeights, ExperimentConfig, Override, Preset, ProbeConfig, TrainConfig,
};
use bump_ddpm::data::{CentreSet, DatasetConfig, Sigma};
use bump_ddpm::diffusion::{PredictionType, SamplerConfig, ScheduleConfig};
use bump_ddpm::optim::{AdamWConfig, LrDecay};
use bump_ddpm::schedule::CheckpointSchedule;
use bump_ddpm::unet::UNetConfig;
use clap::Parser;

/// The evaluation every preset used when presets became files, with the K-sample probe that
/// replaced the shared-noise one (issue "Phases that mean something").
fn former_eval(weights: EvalWeights, sampler: SamplerConfig) -> EvalConfig {
    EvalConfig {
        weights,
        sampler: sampler.with_clip_sample(Some((-1.0, 1.0))),
        centres: CentreSet {
            dx: 2.0,
            dy: 2.0,
            offset: [1.0, 1.0],
            region: None,
        },
        probe: ProbeConfig::default(),
        classifier: Default::default(),
        umap: bump_ddpm::analysis::UmapConfig::default().with_seed(1234),
        seed: 1234,
        k: 10,
        snapshots: 5,
        sets: Vec::new(),
        topology: None,
    }
}

fn former_train(steps: u64, lr: f64, warmup: u64, every: u64) -> TrainConfig {
    TrainConfig {
        steps,
        batch: 64,
        lr,
        warmup,
        decay: LrDecay::Constant,
        adamw: AdamWConfig::default(),
        grad_clip: 1.0,
        ema_decay: 0.995,
        seed: 0,
        checkpoints: CheckpointSchedule {
            log_spaced: true,
            every,
            ..CheckpointSchedule::default()
        },
    }
}

/// `ExperimentConfig::quick()` as the code wrote it before `configs/quick.toml` existed.
fn former_quick() -> ExperimentConfig {
    ExperimentConfig {
        name: "quick".into(),
        data: DatasetConfig {
            sigma: Sigma::Spherical(1.5),
            ..DatasetConfig::default()
        },
        model: UNetConfig::tiny()
            .with_widths(16, vec![1, 2, 2, 2])
            .with_attention(vec![3], 2),
        diffusion: ScheduleConfig::default().with_prediction_type(PredictionType::VPrediction),
        train: TrainConfig {
            // Dense evaluation where the phases change (added with the K-sample probe).
            checkpoints: CheckpointSchedule {
                dense_every: 25,
                dense_until: 600,
                ..former_train(1200, 2e-3, 20, 200).checkpoints
            },
            ..former_train(1200, 2e-3, 20, 200)
        },
        eval: former_eval(EvalWeights::Raw, SamplerConfig::ddim(20)),
        imbalance: None,
        compose: None,
        torus: None,
        stripes: None,
    }
}

/// `ExperimentConfig::paper()` as the code wrote it before `configs/paper.toml` existed.
fn former_paper() -> ExperimentConfig {
    ExperimentConfig {
        name: "paper".into(),
        data: DatasetConfig::default(),
        model: UNetConfig::paper(),
        diffusion: ScheduleConfig::default(),
        train: former_train(50_000, 1e-4, 500, 2500),
        eval: former_eval(EvalWeights::Ema, SamplerConfig::ddpm()),
        imbalance: None,
        compose: None,
        torus: None,
        stripes: None,
    }
}

#[test]
fn every_preset_parses_validates_and_round_trips() {
    for preset in Preset::ALL {
        let cfg = preset.config();
        cfg.validate().unwrap();
        // preset → TOML → config → TOML is identical, and the config survives.
        let toml1 = cfg.to_toml_string().unwrap();
        let back = ExperimentConfig::from_toml_str(&toml1).unwrap();
        assert_eq!(back, cfg, "{preset}: TOML round trip changed the config");
        assert_eq!(back.to_toml_string().unwrap(), toml1, "{preset}: TOML text");
        // The same through JSON (the run directory's config.json).
        let json = cfg.to_json_string().unwrap();
        let back = ExperimentConfig::from_json_str(&json).unwrap();
        assert_eq!(back, cfg, "{preset}: JSON round trip");
        assert_eq!(back.to_json_string().unwrap(), json);
        // The name is the preset's own, and parsing the name gives the preset back.
        assert_eq!(cfg.name, preset.name());
        assert_eq!(preset.name().parse::<Preset>().unwrap(), preset);
    }
}

#[test]
fn preset_files_hold_exactly_the_former_presets() {
    assert_eq!(ExperimentConfig::quick(), former_quick());
    assert_eq!(ExperimentConfig::paper(), former_paper());
}

#[test]
fn preset_files_on_disk_are_the_embedded_ones() {
    for preset in Preset::ALL {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("configs")
            .join(format!("{}.toml", preset.name()));
        assert_eq!(ExperimentConfig::load(&path).unwrap(), preset.config());
    }
}

#[test]
fn unknown_preset_lists_the_known_ones() {
    let err = "fast".parse::<Preset>().unwrap_err().to_string();
    assert!(
        err.contains("fast") && err.contains("quick") && err.contains("paper"),
        "{err}"
    );
}

fn set(items: &[&str]) -> Vec<Override> {
    items.iter().map(|s| s.parse().unwrap()).collect()
}

#[test]
fn overrides_reach_every_section() {
    let mut cfg = ExperimentConfig::quick();
    cfg.apply_overrides(&set(&[
        "data.sigma=2",
        "data.dx=0.5",
        "train.steps=600",
        "train.lr=1e-3",
        "eval.weights=ema",
        "eval.sampler.kind=dpm_solver_pp2m",
        "eval.sampler.steps=12",
        "model.base_channels=8",
        "diffusion.num_train_timesteps=500",
        "eval.centres.offset=[0.5, 0.5]",
    ]))
    .unwrap();
    assert_eq!(cfg.data.sigma, Sigma::Spherical(2.0));
    assert_eq!(cfg.data.dx, 0.5);
    assert_eq!(cfg.train.steps, 600);
    assert_eq!(cfg.train.lr, 1e-3);
    assert_eq!(cfg.eval.weights, EvalWeights::Ema);
    assert_eq!(cfg.eval.sampler.steps, Some(12));
    assert_eq!(cfg.eval.centres.offset, [0.5, 0.5]);
    // Everything not overridden is the preset's.
    let mut expected = ExperimentConfig::quick();
    expected.data.sigma = Sigma::Spherical(2.0);
    expected.data.dx = 0.5;
    assert_eq!(cfg.data, expected.data);
    assert_eq!(cfg.train.batch, expected.train.batch);
}

#[test]
fn anisotropic_sigma_and_optional_sections_can_be_set() {
    let mut cfg = ExperimentConfig::quick();
    cfg.apply_overrides(&set(&["data.sigma={ x = 1.0, y = 2.0 }"]))
        .unwrap();
    assert_eq!(cfg.data.sigma, Sigma::Anisotropic { x: 1.0, y: 2.0 });
    let text = cfg.to_toml_string().unwrap();
    assert_eq!(ExperimentConfig::from_toml_str(&text).unwrap(), cfg);
}

fn override_error(items: &[&str]) -> String {
    let mut cfg = ExperimentConfig::quick();
    let before = cfg.clone();
    let err = cfg.apply_overrides(&set(items)).unwrap_err().to_string();
    assert_eq!(
        cfg, before,
        "a failed override must leave the configuration unchanged"
    );
    err
}

#[test]
fn override_errors_name_the_key() {
    let e = override_error(&["data.sigam=2"]);
    assert!(e.contains("sigam"), "{e}");
    let e = override_error(&["trian.steps=2"]);
    assert!(e.contains("trian"), "{e}");
    let e = override_error(&["train.steps=lots"]);
    assert!(e.contains("train.steps"), "{e}");
    let e = override_error(&["train.steps=-5"]);
    assert!(e.contains("train.steps"), "{e}");
    let e = override_error(&["train.batch=0"]);
    assert!(e.contains("train.batch") && e.contains("> 0"), "{e}");
    let e = override_error(&["data.sigma=-1"]);
    assert!(e.contains("data.sigma") && e.contains("-1"), "{e}");
    let e = override_error(&["data.lambda=1.5"]);
    assert!(e.contains("data.lambda") && e.contains("(0, 1]"), "{e}");
    let e = override_error(&["eval.sampler.steps=5000"]);
    assert!(e.contains("eval.sampler") && e.contains("5000"), "{e}");
    let e = override_error(&["train.ema_decay=1.0"]);
    assert!(e.contains("train.ema_decay") && e.contains("[0, 1)"), "{e}");
    let e = override_error(&["train.steps.inner=3"]);
    assert!(e.contains("train.steps"), "{e}");
    assert!("train.steps".parse::<Override>().is_err());
    assert!("=3".parse::<Override>().is_err());
    assert!("a..b=3".parse::<Override>().is_err());
}

#[test]
fn config_files_reject_unknown_keys_with_their_path() {
    let text = ExperimentConfig::quick()
        .to_toml_string()
        .unwrap()
        .replace("ema_decay", "ema_decya");
    let e = ExperimentConfig::from_toml_str(&text)
        .unwrap_err()
        .to_string();
    assert!(e.contains("ema_decya") && e.contains("train"), "{e}");
    let e = ExperimentConfig::from_json_str("{\"name\": \"x\"}")
        .unwrap_err()
        .to_string();
    assert!(e.contains("missing field"), "{e}");
}

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    experiment: ExperimentArgs,
}

fn resolve(args: &[&str]) -> bump_ddpm::Result<bump_ddpm::cli::Resolved> {
    let mut argv = vec!["test"];
    argv.extend_from_slice(args);
    Cli::try_parse_from(argv).unwrap().experiment.resolve()
}

#[test]
fn command_line_merges_file_shorthands_and_overrides_in_order() {
    let quick = concat!(env!("CARGO_MANIFEST_DIR"), "/configs/quick.toml");
    let r = resolve(&[
        "--config",
        quick,
        "--sigma",
        "3.0",
        "--set",
        "data.sigma=2.0",
        "--steps",
        "600",
        "--sampler",
        "dpmpp",
        "--print-config",
    ])
    .unwrap();
    assert!(r.print_config);
    // --set comes after the shorthands, so it wins.
    assert_eq!(r.config.data.sigma, Sigma::Spherical(2.0));
    assert_eq!(r.config.train.steps, 600);
    assert_eq!(
        r.config.eval.sampler.kind,
        bump_ddpm::diffusion::SamplerKind::DpmSolverPp2m
    );
    assert!(r.out.starts_with("runs"));
}

#[test]
fn command_line_errors_write_nothing() {
    let out = std::env::temp_dir().join(format!("bump-ddpm-cli-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let out_s = out.to_str().unwrap();
    for bad in [
        vec!["--set", "data.sigam=2", "--out", out_s],
        vec!["--sample-steps", "5000", "--out", out_s],
        vec!["--resume"],
        vec!["--config", "/nonexistent/config.toml", "--out", out_s],
    ] {
        let err = resolve(&bad).unwrap_err().to_string();
        assert!(!err.is_empty());
        assert!(!out.exists(), "{bad:?} created {}", out.display());
    }
    let e = resolve(&["--set", "data.sigam=2"]).unwrap_err().to_string();
    assert!(e.contains("sigam"), "{e}");
    // Unknown devices and presets are refused by the parser itself.
    assert!(Cli::try_parse_from(["t", "--device", "tpu"]).is_err());
    assert!(Cli::try_parse_from(["t", "--preset", "fast"]).is_err());
    assert!(Cli::try_parse_from(["t", "--preset", "paper", "--config", "x.toml"]).is_err());
}
