//! Helpers shared by the reliability tests: the micro configuration of tests/pipeline.rs, temp
//! directories, and reading every tensor of a checkpoint as bits.

#![allow(dead_code)]

use bump_ddpm::config::ExperimentConfig;
use bump_ddpm::data::CentreSet;
use bump_ddpm::diffusion::SamplerConfig;
use bump_ddpm::schedule::CheckpointSchedule;
use bump_ddpm::train::RunOptions;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Tiny model, 16×16 canvas, 12 steps, checkpoints every 4 (as tests/pipeline.rs): the quick
/// preset made micro by [`make_micro`], on a 2-px lattice, evaluated every 3 px.
pub fn micro_config() -> ExperimentConfig {
    let mut cfg = ExperimentConfig::quick();
    make_micro(&mut cfg, "micro");
    cfg.data.dx = 2.0;
    cfg.data.dy = 2.0;
    cfg.train.steps = 12;
    cfg.eval.centres = CentreSet {
        dx: 3.0,
        dy: 3.0,
        offset: [1.0, 1.0],
        region: None,
    };
    cfg.eval.snapshots = 3;
    cfg
}

/// An empty directory of this test process (removed first if it exists).
pub fn tmp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("bump-ddpm-test-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// No progress bar.
pub fn quiet(out: &Path) -> RunOptions {
    let mut o = RunOptions::new(out);
    o.progress = false;
    o
}

/// Every tensor of a safetensors file (weights, EMA, AdamW moments) as raw little-endian
/// bits, by name, read through the checksum-verifying reader.
pub fn tensor_bits(path: &Path) -> BTreeMap<String, Vec<u32>> {
    let (tensors, _) =
        bump_ddpm::unet::checkpoint::read_safetensors(path, &candle_core::Device::Cpu)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    tensors
        .into_iter()
        .filter(|(_, t)| t.dtype() == candle_core::DType::F32)
        .map(|(n, t)| {
            let v: Vec<u32> = t
                .flatten_all()
                .unwrap()
                .to_vec1::<f32>()
                .unwrap()
                .into_iter()
                .map(f32::to_bits)
                .collect();
            (n, v)
        })
        .collect()
}

/// Names of the entries of `dir` starting with a dot (atomic writers' temporary files).
pub fn temp_files(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|it| {
            it.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with('.'))
                .collect()
        })
        .unwrap_or_default()
}

/// `metrics.jsonl` as JSON values without `wall_s` (the one field that depends on the clock).
pub fn records_without_wall(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| {
            let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
            v.as_object_mut().unwrap().remove("wall_s");
            v
        })
        .collect()
}

/// Makes an experiment preset micro: 16×16 canvas, tiny model, 8 steps of batch 8 with
/// checkpoints every 4, a 3-step DDIM sampler and k = 5 (the experiments' tests).
pub fn make_micro(cfg: &mut ExperimentConfig, name: &str) {
    cfg.name = name.into();
    cfg.data.n = 16;
    cfg.model = bump_ddpm::unet::UNetConfig::tiny();
    cfg.train.steps = 8;
    cfg.train.batch = 8;
    cfg.train.warmup = 2;
    cfg.train.checkpoints = CheckpointSchedule {
        log_spaced: false,
        every: 4,
        ..CheckpointSchedule::default()
    };
    cfg.eval.sampler = SamplerConfig::ddim(3).with_clip_sample(Some((-1.0, 1.0)));
    cfg.eval.k = 5;
}

/// The validator of the JSON schema at `schema_path` (relative to the package).
pub fn schema_validator(schema_path: &str) -> jsonschema::Validator {
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(schema_path))
        .expect("schema file");
    let schema: serde_json::Value = serde_json::from_str(&text).expect("schema JSON");
    jsonschema::validator_for(&schema).expect("valid schema")
}

/// Asserts that `instance` matches the JSON schema at `schema_path`, listing every violation.
pub fn validate_schema(schema_path: &str, instance: &serde_json::Value) {
    let errors: Vec<String> = schema_validator(schema_path)
        .iter_errors(instance)
        .map(|e| e.to_string())
        .collect();
    assert!(errors.is_empty(), "{schema_path}: {errors:?}");
}

/// A record at `step` with neutral values everywhere (tests set the fields they study).
pub fn neutral_record(step: u64) -> bump_ddpm::record::EvalRecord {
    serde_json::from_value(serde_json::json!({
        "step": step, "train_loss": 0.1, "weights": "raw", "accuracy": 0.0,
        "acc_x": 0.0, "acc_y": 0.0, "accuracy_tight": 0.0, "multi_bump_rate": 0.0,
        "empty_rate": 0.0, "single_wrong_rate": 0.0, "malformed_rate": 0.0,
        "condition_signal": 0.5, "umap_r2_x": 0.5, "umap_r2_y": 0.5, "gen_phase": "A",
        "rep_phase": "A", "r2_x": 0.5, "r2_y": 0.5, "trustworthiness": 0.5,
        "continuity": 0.5, "spearman": 0.5, "intrinsic_dim": 2.0,
        "participation_ratio": 2.0, "wall_s": 1.0, "representation": {}
    }))
    .expect("record JSON")
}

/// The example binary `name` of this build: `target/<profile>/examples/<name>`, next to the
/// test's own `target/<profile>/deps/`. `cargo test` builds every example first; a test run
/// alone (`--test X`) needs `cargo build --release --example <name>` before.
pub fn example_binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let bin = exe
        .parent()
        .and_then(Path::parent)
        .unwrap()
        .join("examples")
        .join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    assert!(
        bin.is_file(),
        "{} is missing: `cargo test` builds it; alone, run `cargo build --release --example \
         {name}` first",
        bin.display()
    );
    bin
}
