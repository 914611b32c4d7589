//! `RunDir`, the typed training checkpoint and the atomic writer, without training.

use bump_ddpm::checkpoint::{TrainingCheckpoint, TRAINING_META_KEY};
use bump_ddpm::config::ExperimentConfig;
use bump_ddpm::run_dir::{RunDir, RunFile};
use bump_ddpm::snapshot::Snapshot;
use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;

fn tmp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("bump-ddpm-rundir-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn state(step: u64) -> TrainingCheckpoint {
    let cfg = ExperimentConfig::quick();
    TrainingCheckpoint {
        step,
        adam_step: step,
        ema_updates: step,
        wall_s: 12.5,
        rng: TrainingCheckpoint::rng_description(cfg.train.seed, step),
        experiment: cfg,
        pending_loss: Default::default(),
    }
}

#[test]
fn run_files_have_distinct_names() {
    let names: HashSet<&str> = RunFile::ALL.iter().map(|f| f.name()).collect();
    assert_eq!(names.len(), RunFile::ALL.len());
    let run = RunDir::new("runs/x");
    assert_eq!(
        run.path(RunFile::Metrics),
        PathBuf::from("runs/x/metrics.jsonl")
    );
    assert_eq!(
        run.checkpoint_path(42),
        PathBuf::from("runs/x/checkpoints/step_00000042.safetensors")
    );
}

#[test]
fn training_state_round_trips_through_checkpoint_metadata() {
    let s = state(200);
    let meta = s.to_meta().unwrap();
    assert_eq!(meta.step, 200);
    let path = PathBuf::from("ckpt.safetensors");
    assert_eq!(TrainingCheckpoint::from_meta(&path, &meta).unwrap(), s);

    // A step that disagrees with the file's own, and a missing state, are refused by name.
    let mut wrong = meta.clone();
    wrong.step = 201;
    let e = TrainingCheckpoint::from_meta(&path, &wrong)
        .unwrap_err()
        .to_string();
    assert!(e.contains("ckpt.safetensors") && e.contains("201"), "{e}");
    let mut missing = meta.clone();
    missing.extra = BTreeMap::new();
    let e = TrainingCheckpoint::from_meta(&path, &missing)
        .unwrap_err()
        .to_string();
    assert!(e.contains(TRAINING_META_KEY), "{e}");
    let mut garbled = meta;
    garbled
        .extra
        .insert(TRAINING_META_KEY.into(), "{\"step\": 1".into());
    assert!(TrainingCheckpoint::from_meta(&path, &garbled).is_err());
}

#[test]
fn config_snapshot_and_checkpoint_listing_round_trip() {
    let dir = tmp_dir("files");
    let run = RunDir::new(&dir);
    run.create().unwrap();
    let cfg = ExperimentConfig::paper();
    run.write_config(&cfg).unwrap();
    assert_eq!(run.read_config().unwrap(), cfg);

    let snap = Snapshot {
        step: 7,
        n: 2,
        range: (-1.0, 1.0),
        coords: vec![[1.0, 1.0]],
        pca: vec![[0.5, -0.5]],
        isomap: None,
        umap: Some(vec![[0.0, 1.0, 2.0]]),
        samples: vec![0.0, 0.25, -0.5, 1.0],
    };
    run.write_snapshot(&snap).unwrap();
    assert_eq!(run.read_snapshot(7).unwrap(), Some(snap));
    assert_eq!(run.read_snapshot(8).unwrap(), None);

    assert_eq!(run.latest_checkpoint().unwrap(), None);
    for step in [10u64, 2, 100] {
        std::fs::write(run.checkpoint_path(step), b"x").unwrap();
    }
    std::fs::write(run.path(RunFile::Checkpoints).join("notes.txt"), b"x").unwrap();
    assert_eq!(run.checkpoint_steps().unwrap(), vec![2, 10, 100]);
    assert_eq!(run.latest_checkpoint().unwrap().unwrap().0, 100);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_bad_metrics_line_is_named() {
    let dir = tmp_dir("metrics");
    let run = RunDir::new(&dir);
    run.create().unwrap();
    assert!(run.read_records().unwrap().is_empty());
    std::fs::write(run.path(RunFile::Metrics), "\n{\"step\": 0}\n").unwrap();
    let e = run.read_records().unwrap_err().to_string();
    assert!(e.contains("metrics.jsonl") && e.contains("line 2"), "{e}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn atomic_writes_replace_whole_files_and_leave_no_temporary_behind() {
    let dir = tmp_dir("atomic");
    let path = dir.join("nested").join("file.json");
    bump_ddpm::io::write_atomic(&path, b"first").unwrap();
    bump_ddpm::io::write_atomic(&path, b"second").unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), b"second");
    // Writing over a directory fails; the directory and its neighbour are untouched and no
    // temporary file is left beside them.
    let blocker = dir.join("nested").join("a_directory");
    std::fs::create_dir_all(&blocker).unwrap();
    assert!(bump_ddpm::io::write_atomic(&blocker, b"x").is_err());
    assert!(blocker.is_dir());
    assert_eq!(std::fs::read(&path).unwrap(), b"second");
    let entries: Vec<String> = std::fs::read_dir(dir.join("nested"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(entries.len(), 2, "{entries:?}");
    let _ = std::fs::remove_dir_all(&dir);
}
