//! The Slurm backend against a real Slurm: a micro sweep (4 cells) submitted as a job array
//! through `examples/sweep run --backend slurm`, merged, equals the same sweep run with the local
//! backend (every column but `wall_s`, the one that depends on the clock); one task, sent the
//! time-limit warning by hand mid-run (`scancel --batch --signal=USR1`), checkpoints, requeues
//! itself and resumes to checkpoints, records (but `wall_s`) and snapshots bit-identical to the
//! local run of the same cell.
//!
//! Ignored by default: it needs a running cluster. `.ci/run` starts one with
//! `.ci/slurm-cluster` and runs
//! `cargo test --release --test slurm_sweep -- --ignored` (after `cargo build --release
//! --example sweep`; `cargo test` alone builds the example too).

mod common;

use bump_ddpm::sweep::{slurm, Sweep};
use common::{micro_config, records_without_wall, tensor_bits, tmp_dir};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// Longest wait for the whole Slurm sweep.
const TIMEOUT: Duration = Duration::from_secs(600);

fn run_ok(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\n{text}",
        out.status
    );
    text
}

/// `results.jsonl` rows without the wall-clock column.
fn rows_without_wall(dir: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(dir.join("results.jsonl"))
        .unwrap()
        .lines()
        .map(|l| {
            let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
            if let Some(m) = v.get_mut("metrics").and_then(|m| m.as_object_mut()) {
                m.remove("wall_s");
            }
            v
        })
        .collect()
}

/// `results.csv` without its `wall_s` column.
fn csv_without_wall(dir: &Path) -> Vec<Vec<String>> {
    let mut r = csv::Reader::from_path(dir.join("results.csv")).unwrap();
    let header = r.headers().unwrap().clone();
    let wall = header.iter().position(|h| h == "wall_s");
    let keep = |rec: &csv::StringRecord| -> Vec<String> {
        rec.iter()
            .enumerate()
            .filter(|(i, _)| Some(*i) != wall)
            .map(|(_, v)| v.to_string())
            .collect()
    };
    let mut rows = vec![keep(&header)];
    rows.extend(r.records().map(|rec| keep(&rec.unwrap())));
    rows
}

/// The squeue line of task `index` of `job`, if queued.
fn task(job: u64, index: usize) -> Option<slurm::QueuedTask> {
    slurm::queue_state(&[job])
        .unwrap()
        .tasks
        .into_iter()
        .find(|t| t.indices == [index])
}

#[test]
#[ignore = "needs a Slurm cluster: bash .ci/slurm-cluster, then cargo test --release --test \
            slurm_sweep -- --ignored"]
fn slurm_sweep_equals_local_and_a_requeued_task_resumes_bit_identical() {
    let t0 = Instant::now();
    let dir = tmp_dir("slurm-sweep");
    std::fs::create_dir_all(&dir).unwrap();
    micro_config().save(dir.join("base.toml")).unwrap();
    // 4 cells of the micro model; 160 steps, so that a task can be signalled mid-run.
    std::fs::write(
        dir.join("micro.toml"),
        r#"name = "slurm-micro"
base_file = "base.toml"
[set]
"train.steps" = 160
"train.checkpoints.every" = 40
[axes]
"data.sigma" = [1.0, 1.5]
"train.seed" = [0, 1]
"#,
    )
    .unwrap();
    let exe = common::example_binary("sweep");
    let spec = dir.join("micro.toml");

    // Local reference.
    let local = dir.join("local");
    run_ok(
        Command::new(&exe)
            .arg("run")
            .arg(&spec)
            .arg("--out")
            .arg(&local)
            .args(["--backend", "local", "--parallel", "2"]),
    );
    let t_local = t0.elapsed();

    // The same through Slurm: 1 CPU per task, so two run at once on the 2-CPU node.
    let on_slurm = dir.join("slurm");
    let out = run_ok(
        Command::new(&exe)
            .arg("run")
            .arg(&spec)
            .arg("--out")
            .arg(&on_slurm)
            .args([
                "--backend",
                "slurm",
                "--slurm-cpus",
                "1",
                "--slurm-mem",
                "1G",
            ])
            .args(["--slurm-time", "30", "--slurm-signal", "B:USR1@60"]),
    );
    let jobs = slurm::submissions(&on_slurm).unwrap();
    assert_eq!(jobs.len(), 1, "{out}");
    let job = jobs[0].job_id.expect("a job id");
    assert_eq!(jobs[0].array, "0-3");
    let sweep = Sweep::open(&on_slurm).unwrap();

    // Preempt cell 0 mid-run: the time-limit warning, by hand, to its batch shell.
    let cell0 = sweep.cell_dir(&sweep.cells[0]);
    let started = Instant::now();
    while !cell0.join("snapshots/step_00000000.json").is_file() {
        assert!(
            started.elapsed() < TIMEOUT,
            "cell 0 never started: {:?}",
            slurm::queue_state(&[job])
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_secs(2));
    let task0 = task(job, 0).expect("task 0 is queued").task_job_id;
    // Addressed by the task's own job id; judged by the cell's log below. In the background,
    // and ended once the signal is seen: when the task exits right after the signal, Slurm
    // 22.05 also answers scancel "Job can not be altered now, try again later", and scancel's
    // retries would signal the requeued task again.
    let mut scancel = Command::new("scancel")
        .args(["--batch", "--signal=USR1", &task0.to_string()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let log0 = on_slurm.join("slurm/logs/cell-0.log");
    while !std::fs::read_to_string(&log0)
        .unwrap_or_default()
        .contains("got SIGUSR1")
        && started.elapsed() < TIMEOUT
        && scancel.try_wait().unwrap().is_none()
    {
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = scancel.kill(); // our own child
    let _ = scancel.wait();
    let t_signal = t0.elapsed();
    // Slurm holds a requeued job for about two minutes (BeginTime); start it now instead.
    let mut released = false;
    while !released && started.elapsed() < TIMEOUT {
        match task(job, 0) {
            Some(t) if t.state == "PENDING" && t.reason == "BeginTime" => {
                run_ok(Command::new("scontrol").args([
                    "update",
                    &format!("JobId={job}_0"),
                    "StartTime=now",
                ]));
                released = true;
            }
            // Finished without a requeue: the assertions below say what happened.
            None => break,
            _ => std::thread::sleep(Duration::from_millis(200)),
        }
    }
    slurm::wait_until_gone(&[job], TIMEOUT, Duration::from_secs(1)).unwrap();
    let t_slurm = t0.elapsed();

    let log = std::fs::read_to_string(&log0).unwrap();
    for expect in [
        "got SIGUSR1; asking the cell to checkpoint and stop",
        "stopped on request at step",
        "exited with status 75",
        "checkpoint written; requeueing",
        ", restart 1, on ",
        "exited with status 0",
    ] {
        assert!(
            log.contains(expect),
            "cell 0's log lacks `{expect}`:\n{log}"
        );
    }
    assert!(
        released,
        "the task was not seen waiting after its requeue:\n{log}"
    );
    let stop_step: u64 = log
        .lines()
        .find_map(|l| l.split("stopped on request at step ").nth(1))
        .and_then(|r| r.split(':').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no stop step in:\n{log}"));
    assert!(stop_step < 160, "{log}");
    assert_eq!(log.matches("got SIGUSR1").count(), 1, "one signal:\n{log}");
    for i in 1..4 {
        let l = on_slurm.join(format!("slurm/logs/cell-{i}.log"));
        let l = std::fs::read_to_string(l).unwrap();
        assert!(l.contains("exited with status 0"), "cell {i}:\n{l}");
    }

    run_ok(Command::new(&exe).arg("merge").arg(&on_slurm));
    assert_eq!(rows_without_wall(&on_slurm), rows_without_wall(&local));
    assert_eq!(csv_without_wall(&on_slurm), csv_without_wall(&local));
    let rows = rows_without_wall(&local);
    assert_eq!(rows.len(), 4);
    assert!(rows.iter().all(|r| r["status"] == "done"), "{rows:?}");

    // Every cell: scheduled checkpoints, records and snapshots bit-identical to the local run;
    // cell 0 has one more checkpoint, the one it stopped at, unless that was a scheduled one.
    for c in &sweep.cells {
        let a = local.join("cells").join(&c.id);
        let b = sweep.cell_dir(c);
        let steps = bump_ddpm::run_dir::checkpoint_steps_in(&a.join("checkpoints")).unwrap();
        assert_eq!(steps, [0, 40, 80, 120, 160]);
        let ours = bump_ddpm::run_dir::checkpoint_steps_in(&b.join("checkpoints")).unwrap();
        let extra: Vec<u64> = ours
            .iter()
            .copied()
            .filter(|s| !steps.contains(s))
            .collect();
        let expect: &[u64] = if c.index == 0 && stop_step % 40 != 0 {
            &[stop_step]
        } else {
            &[]
        };
        assert_eq!(extra, expect, "cell {}: {ours:?}", c.index);
        for s in &steps {
            let name = format!("checkpoints/step_{s:08}.safetensors");
            assert_eq!(
                tensor_bits(&a.join(&name)),
                tensor_bits(&b.join(&name)),
                "cell {} {name}",
                c.index
            );
            let snap = format!("snapshots/step_{s:08}.json");
            assert_eq!(
                std::fs::read(a.join(&snap)).unwrap(),
                std::fs::read(b.join(&snap)).unwrap(),
                "cell {} {snap}",
                c.index
            );
        }
        assert_eq!(
            records_without_wall(&a.join("metrics.jsonl")),
            records_without_wall(&b.join("metrics.jsonl")),
            "cell {}",
            c.index
        );
    }
    eprintln!(
        "local sweep {:.1} s; slurm sweep submitted, cell 0 signalled at {:.1} s, all done at \
         {:.1} s (stopped at step {}); total {:.1} s",
        t_local.as_secs_f64(),
        (t_signal - t_local).as_secs_f64(),
        (t_slurm - t_local).as_secs_f64(),
        stop_step,
        t0.elapsed().as_secs_f64()
    );
    let _ = std::fs::remove_dir_all(&dir);
}
