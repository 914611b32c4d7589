//! The phase-sweep binary SIGKILLed at random moments (some while a checkpoint is being
//! written) and resumed each time ends with weights, AdamW and EMA state, records (but
//! `wall_s`) and snapshots bit-identical to an uninterrupted run (docs/reliability.md).
//!
//! The binary is `target/<profile>/examples/phase_sweep`, which `cargo test` builds with the
//! tests; with `cargo test --test kill_resume` alone, build it first
//! (`cargo build --release --example phase_sweep`). `BUMP_KILLS` sets the number of kills
//! (default 5).

mod common;

use common::{micro_config, records_without_wall, temp_files, tensor_bits, tmp_dir};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const STEPS: u64 = 24;

/// The micro configuration (24 steps, checkpoints every 4) as a TOML file, and the command
/// for `out`, with overrides given on the command line as a user would.
fn command(config: &Path, out: &Path, resume: bool) -> Command {
    let mut c = Command::new(common::example_binary("phase_sweep"));
    c.arg("--config")
        .arg(config)
        .args(["--set", &format!("train.steps={STEPS}")])
        .args(["--set", "train.checkpoints.every=4"])
        .arg("--out")
        .arg(out)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    if resume {
        c.arg("--resume");
    }
    c
}

fn has_checkpoint(out: &Path) -> bool {
    bump_ddpm::train::latest_checkpoint(&out.join("checkpoints"))
        .ok()
        .flatten()
        .is_some()
}

#[test]
fn sigkilled_phase_sweep_resumes_to_bit_identical_results() {
    let dir = tmp_dir("kill");
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("micro.toml");
    std::fs::write(&config, micro_config().to_toml_string().unwrap()).unwrap();

    let reference = dir.join("reference");
    let t0 = Instant::now();
    let status = command(&config, &reference, false).status().unwrap();
    assert!(status.success(), "reference run failed: {status}");
    let full = t0.elapsed();

    let kills: usize = std::env::var("BUMP_KILLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    let mut rng = ChaCha8Rng::seed_from_u64(0x19);
    let out = dir.join("killed");
    let mut mid_write = 0;
    for k in 0..kills {
        let resume = has_checkpoint(&out);
        let mut child = command(&config, &out, resume).spawn().unwrap();
        let start = Instant::now();
        // Even kills: at a random moment of the run. Odd kills: as soon as an atomic write's
        // temporary file shows in checkpoints/ (a checkpoint being written), or at a random
        // moment if none is seen in time.
        let at = full.mul_f64(rng.random_range(0.05..0.9));
        let ckpts = out.join("checkpoints");
        // Temporary files an earlier kill left behind do not mean a write is under way now.
        let stale = temp_files(&ckpts);
        let fresh = |ckpts: &Path| -> Vec<_> {
            temp_files(ckpts)
                .into_iter()
                .filter(|f| !stale.contains(f))
                .collect()
        };
        loop {
            if child.try_wait().unwrap().is_some() {
                break;
            }
            let writing = k % 2 == 1 && !fresh(&ckpts).is_empty();
            if writing || start.elapsed() >= at {
                child.kill().unwrap(); // SIGKILL
                break;
            }
            std::thread::sleep(Duration::from_micros(if k % 2 == 1 { 100 } else { 2000 }));
        }
        let status = child.wait().unwrap();
        let left = fresh(&ckpts);
        if !left.is_empty() {
            mid_write += 1;
        }
        eprintln!(
            "kill {k}: after {:.2} s ({status}), newest checkpoint {:?}, temporary files {left:?}",
            start.elapsed().as_secs_f64(),
            bump_ddpm::train::latest_checkpoint(&ckpts)
                .ok()
                .flatten()
                .map(|c| c.0)
        );
    }
    let resume = has_checkpoint(&out);
    let status = command(&config, &out, resume).status().unwrap();
    assert!(status.success(), "final resumed run failed: {status}");
    eprintln!(
        "{kills} kills ({mid_write} during a checkpoint write); reference run {:.1} s",
        full.as_secs_f64()
    );

    // Every checkpoint: weights, EMA and AdamW moments bit-identical.
    let steps = bump_ddpm::run_dir::checkpoint_steps_in(&reference.join("checkpoints")).unwrap();
    assert_eq!(steps, (0..=STEPS).step_by(4).collect::<Vec<_>>());
    assert_eq!(
        bump_ddpm::run_dir::checkpoint_steps_in(&out.join("checkpoints")).unwrap(),
        steps
    );
    for s in &steps {
        let name = format!("checkpoints/step_{s:08}.safetensors");
        let a = tensor_bits(&reference.join(&name));
        assert!(
            a.len() > 10 && a.keys().any(|k| k.starts_with("ema.")),
            "{name}"
        );
        assert_eq!(a, tensor_bits(&out.join(&name)), "{name} differs");
    }
    // Records: the same, once each, in order; snapshots byte-identical.
    assert_eq!(
        records_without_wall(&out.join("metrics.jsonl")),
        records_without_wall(&reference.join("metrics.jsonl"))
    );
    for s in &steps {
        let name = format!("snapshots/step_{s:08}.json");
        assert_eq!(
            std::fs::read(out.join(&name)).unwrap(),
            std::fs::read(reference.join(&name)).unwrap(),
            "{name} differs"
        );
    }
    assert!(out.join("summary.json").is_file() && out.join("report.html").is_file());
    let _ = std::fs::remove_dir_all(&dir);
}
