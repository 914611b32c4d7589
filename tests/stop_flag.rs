//! The graceful stop (`bump_ddpm::train::stop`): a run stopped through its [`StopFlag`] writes a
//! checkpoint of the step it stopped at, returns `Error::Interrupted`, and resumes to weights,
//! optimiser and EMA state, records (but `wall_s`) and snapshots bit-identical to an
//! uninterrupted run; a real SIGTERM to the phase_sweep binary does the same and exits with 75.
//!
//! The binary test needs `target/<profile>/examples/phase_sweep`, which `cargo test` builds with
//! the tests; alone, run `cargo build --release --example phase_sweep` first.

mod common;

use bump_ddpm::train::stop::{StopFlag, EXIT_INTERRUPTED};
use bump_ddpm::train::{run, RunOptions};
use bump_ddpm::Error;
use common::{micro_config, quiet, records_without_wall, tensor_bits, tmp_dir};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Scheduled checkpoints, records and snapshots of `out` equal those of `reference`, bit for
/// bit (records without `wall_s`); returns the checkpoint steps `out` has beyond the schedule.
fn assert_same_run(reference: &Path, out: &Path) -> Vec<u64> {
    let steps = bump_ddpm::run_dir::checkpoint_steps_in(&reference.join("checkpoints")).unwrap();
    let ours = bump_ddpm::run_dir::checkpoint_steps_in(&out.join("checkpoints")).unwrap();
    assert!(steps.len() >= 2);
    for s in &steps {
        assert!(
            ours.contains(s),
            "checkpoint {s} missing in {}",
            out.display()
        );
        let name = format!("checkpoints/step_{s:08}.safetensors");
        let a = tensor_bits(&reference.join(&name));
        assert!(a.keys().any(|k| k.starts_with("ema.")), "{name}");
        assert_eq!(a, tensor_bits(&out.join(&name)), "{name} differs");
        let snap = format!("snapshots/step_{s:08}.json");
        assert_eq!(
            std::fs::read(reference.join(&snap)).unwrap(),
            std::fs::read(out.join(&snap)).unwrap(),
            "{snap} differs"
        );
    }
    assert_eq!(
        records_without_wall(&out.join("metrics.jsonl")),
        records_without_wall(&reference.join("metrics.jsonl"))
    );
    assert!(out.join("summary.json").is_file() && out.join("report.html").is_file());
    ours.into_iter().filter(|s| !steps.contains(s)).collect()
}

fn stopped_at(opts: &RunOptions, step: u64) -> (u64, PathBuf) {
    let cfg = micro_config();
    let flag = StopFlag::new();
    flag.stop_at_step(step);
    match run(&cfg, &opts.clone().with_stop(flag)) {
        Err(Error::Interrupted {
            step,
            run_dir,
            checkpoint,
        }) => {
            assert_eq!(run_dir, opts.out_dir);
            assert!(checkpoint.is_file(), "{}", checkpoint.display());
            (step, checkpoint)
        }
        other => panic!(
            "expected Error::Interrupted, got {:?}",
            other.map(|o| o.summary)
        ),
    }
}

#[test]
fn flag_stopped_runs_resume_bit_identical() {
    let cfg = micro_config(); // 12 steps, checkpoints at 0, 4, 8, 12
    let reference = tmp_dir("stop-reference");
    run(&cfg, &quiet(&reference)).expect("uninterrupted run");

    let out = tmp_dir("stop-flag");
    let fresh = quiet(&out);
    let mut resume = quiet(&out);
    resume.resume = true;
    // Between scheduled checkpoints: a checkpoint of step 6 is written.
    let (step, ckpt) = stopped_at(&fresh, 6);
    assert_eq!(step, 6);
    assert!(ckpt.ends_with("step_00000006.safetensors"));
    let steps: Vec<u64> = bump_ddpm::train::read_records(&out.join("metrics.jsonl"))
        .unwrap()
        .iter()
        .map(|r| r.step)
        .collect();
    assert_eq!(steps, [0, 4], "records up to the stop");
    let bytes = std::fs::read(&ckpt).unwrap();
    // Stopped again right after resuming: the checkpoint resumed from is not rewritten.
    assert_eq!(stopped_at(&resume, 6).0, 6);
    assert_eq!(std::fs::read(&ckpt).unwrap(), bytes);
    // At a scheduled step: its periodic checkpoint is the stop checkpoint.
    let (step, ckpt) = stopped_at(&resume, 8);
    assert_eq!(step, 8);
    assert!(ckpt.ends_with("step_00000008.safetensors"));
    let done = run(&cfg, &resume).expect("resumed to the end");
    assert!(done.summary.is_some());

    assert_eq!(
        assert_same_run(&reference, &out),
        [6],
        "one extra checkpoint"
    );
    let _ = std::fs::remove_dir_all(&reference);
    let _ = std::fs::remove_dir_all(&out);
}

const STEPS: u64 = 100;

fn command(config: &Path, out: &Path, resume: bool) -> Command {
    let mut c = Command::new(common::example_binary("phase_sweep"));
    // One thread: fast on a loaded machine (the bits do not depend on the thread count).
    c.env("RAYON_NUM_THREADS", "1")
        .env("CANDLE_NUM_THREADS", "1")
        .arg("--config")
        .arg(config)
        .args(["--set", &format!("train.steps={STEPS}")])
        .args(["--set", "train.checkpoints.every=50"])
        .arg("--out")
        .arg(out)
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    if resume {
        c.arg("--resume");
    }
    c
}

#[test]
fn sigterm_to_phase_sweep_checkpoints_and_exits_75_then_resumes_bit_identical() {
    let dir = tmp_dir("stop-sigterm");
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("micro.toml");
    std::fs::write(&config, micro_config().to_toml_string().unwrap()).unwrap();
    let reference = dir.join("reference");
    let t0 = Instant::now();
    let done = command(&config, &reference, false).output().unwrap();
    assert!(done.status.success(), "reference run failed: {done:?}");
    let full = t0.elapsed();

    // SIGTERM once the loop runs (the step-0 snapshot exists), early in the training steps:
    // well before the last evaluation, however fast or loaded the machine is.
    let out = dir.join("stopped");
    let child = command(&config, &out, false).spawn().unwrap();
    let started = Instant::now();
    while !out.join("snapshots/step_00000000.json").is_file() {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "no step-0 snapshot"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    std::thread::sleep(Duration::from_millis(200));
    let kill = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let stopped = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&stopped.stderr);
    assert_eq!(
        stopped.status.code(),
        Some(i32::from(EXIT_INTERRUPTED)),
        "{}\n{stderr}",
        stopped.status
    );
    let line = stderr
        .lines()
        .find(|l| l.starts_with("stopped on request at step "))
        .unwrap_or_else(|| panic!("no stop message in:\n{stderr}"));
    let step: u64 = line["stopped on request at step ".len()..]
        .split(':')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(step < STEPS, "{line}");
    assert_eq!(
        bump_ddpm::train::latest_checkpoint(&out.join("checkpoints"))
            .unwrap()
            .map(|c| c.0),
        Some(step),
        "the stop checkpoint is the newest"
    );

    let resumed = command(&config, &out, true).output().unwrap();
    assert!(resumed.status.success(), "resumed run failed: {resumed:?}");
    let extra = assert_same_run(&reference, &out);
    assert!(extra.len() <= 1, "{extra:?}");
    eprintln!(
        "SIGTERM at step {step} of {STEPS}; reference run {:.1} s",
        full.as_secs_f64()
    );
    let _ = std::fs::remove_dir_all(&dir);
}
