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

/// Tiny model, 16×16 canvas, 12 steps, checkpoints every 4 (as tests/pipeline.rs).
pub fn micro_config() -> ExperimentConfig {
    let mut cfg = ExperimentConfig::quick();
    cfg.name = "micro".into();
    cfg.data.n = 16;
    cfg.data.dx = 2.0;
    cfg.data.dy = 2.0;
    cfg.model = bump_ddpm::unet::UNetConfig::tiny();
    cfg.train.steps = 12;
    cfg.train.batch = 8;
    cfg.train.warmup = 2;
    cfg.train.checkpoints = CheckpointSchedule {
        log_spaced: false,
        every: 4,
        ..CheckpointSchedule::default()
    };
    cfg.eval.sampler = SamplerConfig::ddim(3).with_clip_sample(Some((-1.0, 1.0)));
    cfg.eval.centres = CentreSet {
        dx: 3.0,
        dy: 3.0,
        offset: [1.0, 1.0],
        region: None,
    };
    cfg.eval.k = 5;
    cfg.eval.snapshots = 3;
    cfg
}

/// An empty directory of this test process (removed first if it exists).
pub fn tmp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "bump-ddpm-reliability-{name}-{}",
        std::process::id()
    ));
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
