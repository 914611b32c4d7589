//! The Slurm backend: one job array per submission, one array task per cell.
//!
//! [`submit`] writes `<sweep>/slurm/sweep.sbatch` ([`batch_script`]) atomically, runs
//! `sbatch --parsable` on it and appends the job to `<sweep>/slurm/jobs.json`. Each array task
//! runs exactly one cell, `<exe> cell <sweep> --index $SLURM_ARRAY_TASK_ID [cell args]`, with
//! its output appended to `<sweep>/slurm/logs/cell-<index>.log` (all attempts of a cell in one
//! file).
//!
//! # Preemption, time limits and requeue
//! The cell command installs the training stop flag
//! ([`StopFlag::from_signals`](crate::train::stop::StopFlag::from_signals)): on a signal it
//! checkpoints the current step and exits with
//! [`EXIT_INTERRUPTED`](crate::train::stop::EXIT_INTERRUPTED) (75). The batch script runs the
//! cell in the background and waits for it, so that it can pass signals on:
//!
//! - the `--signal` of [`SlurmOptions::signal`] (default `B:USR1@120`: SIGUSR1 to the batch
//!   shell 120 s before the time limit; `scancel --batch --signal=USR1 <the task's job id>`
//!   sends the same by hand) is passed to the cell as SIGUSR2; when the cell then exits with 75
//!   the script runs `scontrol requeue $SLURM_JOB_ID`, and the requeued task resumes from the
//!   checkpoint;
//! - SIGTERM (preemption, `scancel`) reaches the cell from Slurm itself; the script passes
//!   SIGUSR2 too (a second SIGTERM would end the cell without a checkpoint) and keeps the task
//!   alive until the cell has written it. It does not requeue: Slurm requeues preempted jobs
//!   itself (`--requeue`, `PreemptMode=REQUEUE`), and a cancelled job stays cancelled.
//!
//! Task exit status: 0 the cell is done, 75 stopped with a checkpoint (requeued when asked by
//! the `--signal`), anything else failed (its message in the cell's `cell-error.txt` and log).
//! [`resubmit_failed`] submits again every cell that is neither done nor in the queue.

use super::{CellState, Sweep};
use crate::error::io_err;
use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::ffi::OsString;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// The directory of the backend's files inside a sweep directory.
pub const SLURM_DIR: &str = "slurm";
/// The batch script, in [`SLURM_DIR`] (the last one written).
pub const SCRIPT_FILE: &str = "sweep.sbatch";
/// The submitted jobs, in [`SLURM_DIR`].
pub const JOBS_FILE: &str = "jobs.json";
/// The per-cell logs, in [`SLURM_DIR`] (`cell-<index>.log`).
pub const LOGS_DIR: &str = "logs";

/// Slurm resources and behaviour of a sweep's job array. Flattened into a clap parser, every
/// option is `--slurm-…`. [`SlurmOptions::validate`] checks them all.
#[derive(Debug, Clone, PartialEq, Eq, clap::Args)]
pub struct SlurmOptions {
    /// Slurm partition (`--partition`); default: the cluster's default partition.
    #[arg(long = "slurm-partition", value_name = "NAME")]
    pub partition: Option<String>,
    /// CPUs per cell (`--cpus-per-task`); also the cell's thread count.
    #[arg(long = "slurm-cpus", value_name = "N", default_value_t = 2)]
    pub cpus_per_task: u32,
    /// Memory per cell (`--mem`): a number with an optional K, M, G or T suffix (M when none).
    #[arg(long = "slurm-mem", value_name = "SIZE", default_value = "4G")]
    pub mem: String,
    /// Time limit per cell (`--time`): minutes, MM:SS, HH:MM:SS, D-HH, D-HH:MM or D-HH:MM:SS.
    #[arg(long = "slurm-time", value_name = "TIME", default_value = "04:00:00")]
    pub time: String,
    /// GPUs per cell (`--gres=gpu:SPEC`): a count, or TYPE:COUNT; none by default. Give the
    /// cells `--device cuda` too.
    #[arg(long = "slurm-gpus", value_name = "SPEC")]
    pub gpus: Option<String>,
    /// Array tasks running at once (`--array=…%N`); default: as many as Slurm allows.
    #[arg(long = "slurm-max-parallel", value_name = "N")]
    pub max_parallel: Option<u32>,
    /// The warning signal before the time limit (`--signal`): `B:SIG[@SECONDS]`, SIG one of
    /// USR1, USR2, TERM, INT; `B:` is required (the batch shell passes it on to the cell).
    #[arg(
        long = "slurm-signal",
        value_name = "SPEC",
        default_value = "B:USR1@120"
    )]
    pub signal: String,
    /// Do not add `--requeue` (Slurm then never requeues the tasks itself).
    #[arg(long = "slurm-no-requeue")]
    pub no_requeue: bool,
    /// Job name (`--job-name`): letters, digits, `.`, `_`, `-`; default `bump-<sweep name>`.
    #[arg(long = "slurm-job-name", value_name = "NAME")]
    pub job_name: Option<String>,
    /// A further `#SBATCH` line, e.g. `--account=proj` or `--qos=long` (repeatable). The
    /// options the backend sets itself (`--array`, `--output`, `--error`, `--signal`,
    /// `--open-mode`, `--requeue`) are refused.
    #[arg(long = "slurm-sbatch", value_name = "OPTION")]
    pub extra: Vec<String>,
    /// The `sbatch` program (tests use a stand-in).
    #[arg(
        long = "slurm-sbatch-program",
        value_name = "PATH",
        default_value = "sbatch",
        hide = true
    )]
    pub sbatch: PathBuf,
    /// Arguments appended to every task's `cell` command (e.g. `--device cuda`); set by the
    /// caller, not a command-line option.
    #[arg(skip)]
    pub cell_args: Vec<OsString>,
}

impl Default for SlurmOptions {
    /// The command-line defaults: 2 CPUs, 4G, 4 h, `B:USR1@120`, `--requeue`.
    fn default() -> Self {
        Self {
            partition: None,
            cpus_per_task: 2,
            mem: "4G".into(),
            time: "04:00:00".into(),
            gpus: None,
            max_parallel: None,
            signal: "B:USR1@120".into(),
            no_requeue: false,
            job_name: None,
            extra: Vec::new(),
            sbatch: "sbatch".into(),
            cell_args: Vec::new(),
        }
    }
}

/// The parsed `--signal` spec.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignalSpec {
    /// Signal name without `SIG` (`USR1`, `USR2`, `TERM`, `INT`).
    pub name: &'static str,
    /// Seconds before the time limit.
    pub seconds: u32,
}

impl SlurmOptions {
    /// Checks every option; the error names the option, the bad value and what is allowed.
    pub fn validate(&self) -> Result<()> {
        if self.cpus_per_task == 0 {
            return bad("--slurm-cpus", "0", "at least 1");
        }
        parse_mem(&self.mem)?;
        let limit = parse_time(&self.time)?;
        if let Some(g) = &self.gpus {
            parse_gpus(g)?;
        }
        if self.max_parallel == Some(0) {
            return bad("--slurm-max-parallel", "0", "at least 1");
        }
        let sig = self.signal_spec()?;
        if let Some(limit) = limit {
            if u64::from(sig.seconds) >= limit {
                return Err(Error::Config(format!(
                    "--slurm-signal {}: {} s before the end is not inside the time limit {} \
                     ({limit} s); the task would be signalled as it starts and requeue forever",
                    self.signal, sig.seconds, self.time
                )));
            }
        }
        if let Some(p) = &self.partition {
            check_word("--slurm-partition", p, ",")?;
        }
        if let Some(n) = &self.job_name {
            check_word("--slurm-job-name", n, "")?;
        }
        for line in &self.extra {
            extra_line(line)?;
        }
        Ok(())
    }

    /// The parsed [`SlurmOptions::signal`].
    pub fn signal_spec(&self) -> Result<SignalSpec> {
        parse_signal(&self.signal)
    }
}

fn bad<T>(option: &str, value: &str, allowed: &str) -> Result<T> {
    Err(Error::Config(format!(
        "{option} `{value}` is invalid: {allowed}"
    )))
}

fn check_word(option: &str, v: &str, also: &str) -> Result<()> {
    let ok = !v.is_empty()
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c) || also.contains(c));
    if ok {
        Ok(())
    } else {
        bad(
            option,
            v,
            &format!(
                "use letters, digits, `.`, `_`, `-`{}",
                if also.is_empty() { "" } else { " and `,`" }
            ),
        )
    }
}

/// `--mem`: digits with an optional K/M/G/T suffix.
fn parse_mem(v: &str) -> Result<()> {
    let digits = v
        .strip_suffix(['K', 'M', 'G', 'T', 'k', 'm', 'g', 't'])
        .unwrap_or(v);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return bad(
            "--slurm-mem",
            v,
            "a whole number with an optional K, M, G or T suffix (e.g. 4G, 500M, 8000)",
        );
    }
    Ok(())
}

/// `--time` in seconds (`None`: unlimited). Slurm's formats: `M`, `M:S`, `H:M:S`, `D-H`,
/// `D-H:M`, `D-H:M:S`, or `UNLIMITED`/`INFINITE`.
pub fn parse_time(v: &str) -> Result<Option<u64>> {
    if v.eq_ignore_ascii_case("unlimited") || v.eq_ignore_ascii_case("infinite") {
        return Ok(None);
    }
    let fail = || {
        bad::<Option<u64>>(
            "--slurm-time",
            v,
            "minutes, MM:SS, HH:MM:SS, D-HH, D-HH:MM or D-HH:MM:SS (e.g. 90, 04:00:00, 2-00:00:00), \
             above zero",
        )
    };
    let num = |s: &str| -> Option<u64> {
        (!s.is_empty() && s.len() <= 9 && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse().ok())
            .flatten()
    };
    let (days, rest) = match v.split_once('-') {
        Some((d, r)) => match num(d) {
            Some(d) => (Some(d), r),
            None => return fail(),
        },
        None => (None, v),
    };
    let parts: Option<Vec<u64>> = rest.split(':').map(num).collect();
    let Some(p) = parts else { return fail() };
    let secs = match (days, p.as_slice()) {
        (None, [m]) => m * 60,
        (None, [m, s]) => m * 60 + s,
        (None, [h, m, s]) => h * 3600 + m * 60 + s,
        (Some(d), [h]) => d * 86400 + h * 3600,
        (Some(d), [h, m]) => d * 86400 + h * 3600 + m * 60,
        (Some(d), [h, m, s]) => d * 86400 + h * 3600 + m * 60 + s,
        _ => return fail(),
    };
    if secs == 0 {
        return fail();
    }
    Ok(Some(secs))
}

/// `--gres=gpu:SPEC`: `N` or `TYPE:N`, N ≥ 1.
fn parse_gpus(v: &str) -> Result<()> {
    let (kind, count) = match v.rsplit_once(':') {
        Some((k, n)) => (Some(k), n),
        None => (None, v),
    };
    let count_ok = count.parse::<u32>().is_ok_and(|n| n >= 1);
    let kind_ok = kind.is_none_or(|k| {
        !k.is_empty()
            && k.chars()
                .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
    });
    if count_ok && kind_ok {
        Ok(())
    } else {
        bad(
            "--slurm-gpus",
            v,
            "a count of at least 1, or TYPE:COUNT (e.g. 1, a100:2)",
        )
    }
}

/// `--signal`: `B:SIG[@SECONDS]`.
fn parse_signal(v: &str) -> Result<SignalSpec> {
    let allowed = "B:SIG[@SECONDS] with SIG one of USR1, USR2, TERM, INT (or SIGUSR1…, 10, 12, \
                   15, 2) and 1 ≤ SECONDS ≤ 65535 (default 60), e.g. B:USR1@120; `B:` is \
                   required because the batch shell passes the signal on to the cell";
    let Some(rest) = v.strip_prefix("B:") else {
        return bad("--slurm-signal", v, allowed);
    };
    let (sig, secs) = match rest.split_once('@') {
        Some((s, t)) => match t.parse::<u32>() {
            Ok(t) if (1..=65535).contains(&t) => (s, t),
            _ => return bad("--slurm-signal", v, allowed),
        },
        None => (rest, 60),
    };
    let upper = sig.to_ascii_uppercase();
    let name = match upper.strip_prefix("SIG").unwrap_or(&upper) {
        "USR1" | "10" => "USR1",
        "USR2" | "12" => "USR2",
        "TERM" | "15" => "TERM",
        "INT" | "2" => "INT",
        _ => return bad("--slurm-signal", v, allowed),
    };
    Ok(SignalSpec {
        name,
        seconds: secs,
    })
}

/// An extra `#SBATCH` line: `--option[=value]` (a leading `#SBATCH` is accepted), one line,
/// not an option the backend sets itself.
fn extra_line(line: &str) -> Result<String> {
    let opt = line.trim();
    let opt = opt.strip_prefix("#SBATCH").map_or(opt, str::trim_start);
    if !opt.starts_with('-') || opt.contains(['\n', '\r']) {
        return bad(
            "--slurm-sbatch",
            line,
            "one sbatch option such as --account=proj or --qos=long",
        );
    }
    let name = opt.split(['=', ' ']).next().unwrap_or_default();
    const OWN: [&str; 10] = [
        "--array",
        "-a",
        "--output",
        "-o",
        "--error",
        "-e",
        "--signal",
        "--open-mode",
        "--requeue",
        "--no-requeue",
    ];
    if OWN.contains(&name) {
        return Err(Error::Config(format!(
            "--slurm-sbatch `{line}`: the backend sets {name} itself (see the --slurm-… \
             options and docs/sweeps.md)"
        )));
    }
    Ok(opt.to_string())
}

/// The `--array` value: the indices as ranges (`0-3,5,7-9`), `%max_parallel` appended.
/// `indices` must be sorted and unique.
pub fn array_spec(indices: &[usize], max_parallel: Option<u32>) -> String {
    let mut out = String::new();
    let mut i = 0;
    while i < indices.len() {
        let mut j = i;
        while j + 1 < indices.len() && indices[j + 1] == indices[j] + 1 {
            j += 1;
        }
        if !out.is_empty() {
            out.push(',');
        }
        if j == i {
            let _ = write!(out, "{}", indices[i]);
        } else {
            let _ = write!(out, "{}-{}", indices[i], indices[j]);
        }
        i = j + 1;
    }
    if let Some(p) = max_parallel {
        let _ = write!(out, "%{p}");
    }
    out
}

/// `s` as one shell word (single quotes; a `'` inside becomes `'\''`).
fn shell_quote(s: &str) -> String {
    if !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/._-+=:,@".contains(&b))
    {
        return s.to_string();
    }
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// A path for the script: UTF-8, one line. `#SBATCH` paths are written in double quotes, so
/// they must not hold `"`, `\` or `%` (Slurm's file-name patterns) either.
fn script_path(what: &str, p: &Path, sbatch_line: bool) -> Result<String> {
    let s = p.to_str().ok_or_else(|| {
        Error::Config(format!(
            "{what} {} is not valid UTF-8; the batch script needs it as text",
            p.display()
        ))
    })?;
    let forbidden: &[char] = if sbatch_line {
        &['\n', '\r', '"', '\\', '%']
    } else {
        &['\n', '\r']
    };
    if s.contains(forbidden) {
        return Err(Error::Config(format!(
            "{what} `{}` contains {}; the batch script cannot name it (choose another \
             directory)",
            s.escape_debug(),
            if sbatch_line {
                "a line break, `\"`, `\\` or `%`"
            } else {
                "a line break"
            }
        )));
    }
    Ok(s.to_string())
}

fn absolute(p: &Path) -> Result<PathBuf> {
    std::path::absolute(p).map_err(io_err(p))
}

/// The job-array batch script for the cells `indices` (any order; `None`: every cell,
/// `--array=0-(n−1)`) of the sweep in `sweep_dir` with `n_cells` cells, each task running
/// `<exe> cell <sweep_dir> --index $SLURM_ARRAY_TASK_ID` then [`SlurmOptions::cell_args`].
/// Paths are made absolute (the script may be submitted from anywhere).
///
/// The script's behaviour on signals and its exit status are in the [module docs](self).
pub fn batch_script(
    sweep_dir: &Path,
    exe: &Path,
    name: &str,
    n_cells: usize,
    indices: Option<&[usize]>,
    opts: &SlurmOptions,
) -> Result<String> {
    opts.validate()?;
    let all: Vec<usize> = (0..n_cells).collect();
    let indices = indices.unwrap_or(&all);
    if indices.is_empty() {
        return Err(Error::Config(
            "no cells to submit: the index list is empty".into(),
        ));
    }
    if let Some(&i) = indices.iter().find(|&&i| i >= n_cells) {
        return Err(Error::Config(format!(
            "cell index {i} is out of range: the sweep has {n_cells} cells (0..={})",
            n_cells.saturating_sub(1)
        )));
    }
    let mut indices = indices.to_vec();
    indices.sort_unstable();
    indices.dedup();
    let sig = opts.signal_spec()?;
    let dir = absolute(sweep_dir)?;
    let exe = absolute(exe)?;
    let dir_s = script_path("the sweep directory", &dir, false)?;
    let exe_s = script_path("the cell program", &exe, false)?;
    let log = script_path(
        "the log directory",
        &dir.join(SLURM_DIR).join(LOGS_DIR),
        true,
    )?;
    let job_name = match &opts.job_name {
        Some(n) => n.clone(),
        None => default_job_name(name),
    };

    let mut s = String::new();
    let mut line = |l: &str| {
        s.push_str(l);
        s.push('\n');
    };
    line("#!/bin/bash");
    line(&format!(
        "# bump-ddpm sweep `{}`: one array task per cell (docs/sweeps.md, Slurm backend).",
        name.escape_debug()
    ));
    line(&format!("#SBATCH --job-name={job_name}"));
    line(&format!(
        "#SBATCH --array={}",
        array_spec(&indices, opts.max_parallel)
    ));
    line("#SBATCH --ntasks=1");
    line(&format!("#SBATCH --cpus-per-task={}", opts.cpus_per_task));
    line(&format!("#SBATCH --mem={}", opts.mem));
    line(&format!("#SBATCH --time={}", opts.time));
    if let Some(p) = &opts.partition {
        line(&format!("#SBATCH --partition={p}"));
    }
    if let Some(g) = &opts.gpus {
        line(&format!("#SBATCH --gres=gpu:{g}"));
    }
    line(&format!("#SBATCH --signal=B:{}@{}", sig.name, sig.seconds));
    if !opts.no_requeue {
        line("#SBATCH --requeue");
    }
    line("#SBATCH --open-mode=append");
    line(&format!("#SBATCH --output=\"{log}/cell-%a.log\""));
    line(&format!("#SBATCH --error=\"{log}/cell-%a.log\""));
    for e in &opts.extra {
        line(&format!("#SBATCH {}", extra_line(e)?));
    }
    let args: Vec<String> = opts
        .cell_args
        .iter()
        .map(|a| {
            a.to_str()
                .map(shell_quote)
                .ok_or_else(|| Error::Config(format!("cell argument {a:?} is not valid UTF-8")))
        })
        .collect::<Result<_>>()?;
    let args = if args.is_empty() {
        String::new()
    } else {
        format!(" {}", args.join(" "))
    };
    let exe_q = shell_quote(&exe_s);
    let dir_q = shell_quote(&dir_s);
    let warn = sig.name;
    s.push_str(&format!(
        r#"
set -u
# The cell's threads: the CPUs Slurm gave this task (as the local backend splits the cores).
export RAYON_NUM_THREADS=${{SLURM_CPUS_PER_TASK:-1}} CANDLE_NUM_THREADS=${{SLURM_CPUS_PER_TASK:-1}}
echo "== $(date -u +%FT%TZ) cell ${{SLURM_ARRAY_TASK_ID}}: job ${{SLURM_ARRAY_JOB_ID}}_${{SLURM_ARRAY_TASK_ID}} (id ${{SLURM_JOB_ID}}), restart ${{SLURM_RESTART_COUNT:-0}}, on $(hostname -s)"

# Signals stop the cell gracefully: it checkpoints and exits with 75. It always gets SIGUSR2,
# never a second SIGTERM (which would end it at once). SIG{warn} is the time-limit warning
# (--signal): after it the task requeues itself. SIGTERM (preemption, scancel) reaches the
# cell from Slurm directly; the trap keeps this shell alive until the checkpoint is written.
pid=
stop=0
requeue=0
waiting=0
on_signal() {{
    stop=1
    [ "$1" = requeue ] && requeue=1
    echo "== $(date -u +%FT%TZ) got SIG$2; asking the cell to checkpoint and stop"
    [ -n "$pid" ] && kill -USR2 "$pid" 2>/dev/null
    waiting=0
}}
trap 'on_signal requeue {warn}' {warn}
"#
    ));
    for other in ["TERM", "INT", "USR1", "USR2"] {
        if other != warn {
            s.push_str(&format!("trap 'on_signal stay {other}' {other}\n"));
        }
    }
    s.push_str(&format!(
        r#"
{exe_q} cell {dir_q} --index "$SLURM_ARRAY_TASK_ID"{args} &
pid=$!
[ "$stop" = 1 ] && kill -USR2 "$pid" 2>/dev/null
# `wait` returns early when a trap runs: wait again until the cell itself has exited.
while :; do
    waiting=1
    wait "$pid"
    rc=$?
    if [ "$waiting" = 0 ] && [ "$rc" -gt 128 ]; then
        # A trap ended the wait: the cell still runs, or has just exited (then ask its status).
        kill -0 "$pid" 2>/dev/null && continue
        wait "$pid"
        r=$?
        [ "$r" != 127 ] && rc=$r
    fi
    break
done
echo "== $(date -u +%FT%TZ) cell ${{SLURM_ARRAY_TASK_ID}} exited with status $rc"
if [ "$rc" = 75 ] && [ "$requeue" = 1 ]; then
    echo "== checkpoint written; requeueing ${{SLURM_JOB_ID}} to resume it"
    scontrol requeue "$SLURM_JOB_ID" || echo "== scontrol requeue failed; resubmit with --resubmit-failed"
fi
exit "$rc"
"#
    ));
    Ok(s)
}

/// `bump-<name>` with every character outside `[A-Za-z0-9._-]` replaced by `_`.
pub fn default_job_name(name: &str) -> String {
    let clean: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("bump-{clean}")
}

/// One submission, as recorded in `slurm/jobs.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Submission {
    /// The array job's id (`None` for a dry run, which is not recorded).
    pub job_id: Option<u64>,
    /// The cells submitted, by index.
    pub indices: Vec<usize>,
    /// The `--array` value.
    pub array: String,
    /// The script submitted (a copy of it stays in `slurm/`).
    pub script: PathBuf,
    /// Seconds since the Unix epoch at submission.
    pub submitted_unix_s: u64,
}

/// `slurm/jobs.json`: every submission of a sweep, oldest first.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct JobsFile {
    format: u32,
    jobs: Vec<Submission>,
}

/// The submissions recorded in `<sweep>/slurm/jobs.json` (none when the file is missing).
pub fn submissions(sweep_dir: &Path) -> Result<Vec<Submission>> {
    let path = sweep_dir.join(SLURM_DIR).join(JOBS_FILE);
    match std::fs::read_to_string(&path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(io_err(&path)(e)),
        Ok(text) => {
            let f: JobsFile = serde_json::from_str(&text).map_err(|e| Error::Parse {
                path: path.clone(),
                detail: e.to_string(),
            })?;
            if f.format != 1 {
                return Err(Error::Parse {
                    path,
                    detail: format!("format {} is not the supported 1", f.format),
                });
            }
            Ok(f.jobs)
        }
    }
}

/// Writes the batch script for `indices` (`None`: every cell) into `<sweep>/slurm/` and, unless
/// `dry_run`, submits it with `sbatch --parsable` and records the job in `slurm/jobs.json`.
/// `exe` is the program with the `cell` command (e.g. `examples/sweep`).
pub fn submit(
    sweep: &Sweep,
    exe: &Path,
    indices: Option<&[usize]>,
    opts: &SlurmOptions,
    dry_run: bool,
) -> Result<Submission> {
    let text = batch_script(
        &sweep.dir,
        exe,
        &sweep.name,
        sweep.cells.len(),
        indices,
        opts,
    )?;
    let mut indices: Vec<usize> = match indices {
        Some(i) => i.to_vec(),
        None => (0..sweep.cells.len()).collect(),
    };
    indices.sort_unstable();
    indices.dedup();
    let slurm_dir = absolute(&sweep.dir)?.join(SLURM_DIR);
    let logs = slurm_dir.join(LOGS_DIR);
    std::fs::create_dir_all(&logs).map_err(io_err(&logs))?;
    let script = slurm_dir.join(SCRIPT_FILE);
    crate::io::write_atomic(&script, text.as_bytes())?;
    let mut sub = Submission {
        job_id: None,
        array: array_spec(&indices, opts.max_parallel),
        indices,
        script: script.clone(),
        submitted_unix_s: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
    };
    if dry_run {
        return Ok(sub);
    }
    let out = Command::new(&opts.sbatch)
        .arg("--parsable")
        .arg(&script)
        .output()
        .map_err(|e| slurm_err(&opts.sbatch, &format!("cannot run it: {e}")))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        return Err(slurm_err(
            &opts.sbatch,
            &format!(
                "{}: {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            ),
        ));
    }
    let id = parse_parsable(&stdout).ok_or_else(|| {
        slurm_err(
            &opts.sbatch,
            &format!("--parsable printed `{}`, not a job id", stdout.trim()),
        )
    })?;
    sub.job_id = Some(id);
    // Keep the script each job ran next to the record (sweep.sbatch is the newest).
    crate::io::write_atomic(&slurm_dir.join(format!("job-{id}.sbatch")), text.as_bytes())?;
    let mut jobs = submissions(&sweep.dir)?;
    jobs.push(sub.clone());
    let file = JobsFile { format: 1, jobs };
    crate::io::write_atomic(
        &slurm_dir.join(JOBS_FILE),
        serde_json::to_string_pretty(&file)?.as_bytes(),
    )?;
    Ok(sub)
}

fn slurm_err(program: &Path, detail: &str) -> Error {
    Error::Slurm {
        command: program.display().to_string(),
        detail: detail.to_string(),
    }
}

/// The job id in `sbatch --parsable`'s output: `ID` or `ID;CLUSTER`.
pub fn parse_parsable(stdout: &str) -> Option<u64> {
    let line = stdout.lines().map(str::trim).find(|l| !l.is_empty())?;
    line.split(';').next()?.trim().parse().ok()
}

/// One line of `squeue`: an array task (or a whole pending array range).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedTask {
    /// The array job id (`%F`).
    pub array_job_id: u64,
    /// The task's cell indices (`%K`): one index, or several for a pending range such as
    /// `4-7%2` (squeue's `--array` splits most, not all).
    pub indices: Vec<usize>,
    /// The job id of the task (`%i`, e.g. `123_4`).
    pub job: String,
    /// The task's own numeric job id (`%A`, `$SLURM_JOB_ID` inside it): what `scancel` and
    /// `scontrol` take to address exactly this task.
    pub task_job_id: u64,
    /// The state (`%T`: PENDING, RUNNING, REQUEUED, COMPLETING…).
    pub state: String,
    /// The reason (`%r`), e.g. `Resources`, `BeginTime`, `None`.
    pub reason: String,
}

/// What `squeue` shows of some jobs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueueState {
    /// Every line, in squeue's order.
    pub tasks: Vec<QueuedTask>,
}

/// The squeue `--format` that [`parse_squeue`] reads: array job id, array index, job id, the
/// task's own job id, state, reason.
pub const SQUEUE_FORMAT: &str = "%F|%K|%i|%A|%T|%r";

impl QueueState {
    /// The cells with a task still in the queue (any state squeue shows: pending, running,
    /// requeued, completing…).
    pub fn active_indices(&self) -> BTreeSet<usize> {
        self.tasks.iter().flat_map(|t| t.indices.clone()).collect()
    }

    /// Whether nothing is left in the queue.
    pub fn is_empty(&self) -> bool {
        self.tasks.is_empty()
    }
}

/// Parses `squeue --noheader --array --format='%F|%K|%i|%A|%T|%r'` output ([`SQUEUE_FORMAT`]).
pub fn parse_squeue(text: &str) -> Result<QueueState> {
    let mut tasks = Vec::new();
    for (n, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() {
            continue;
        }
        let fail = |why: &str| Error::Slurm {
            command: "squeue".into(),
            detail: format!(
                "line {} `{line}`: {why} (expected {SQUEUE_FORMAT}: array job id|array \
                     index|job id|task job id|state|reason)",
                n + 1
            ),
        };
        let f: Vec<&str> = line.splitn(6, '|').collect();
        let [array, index, job, task_job, state, reason] = f.as_slice() else {
            return Err(fail("not six `|`-separated fields"));
        };
        let task_job_id = task_job
            .trim()
            .parse()
            .map_err(|_| fail("the task's job id is not a number"))?;
        let array_job_id = array
            .trim()
            .parse()
            .map_err(|_| fail("the array job id is not a number"))?;
        let indices = parse_index_field(index.trim()).ok_or_else(|| fail("bad array index"))?;
        tasks.push(QueuedTask {
            array_job_id,
            indices,
            job: job.trim().to_string(),
            task_job_id,
            state: state.trim().to_string(),
            reason: reason.trim().to_string(),
        });
    }
    Ok(QueueState { tasks })
}

/// `%K`: `N/A` (not an array), `7`, or a pending range `4-7`, `1,3,5-6`, `[4-7%2]`.
fn parse_index_field(v: &str) -> Option<Vec<usize>> {
    if v == "N/A" {
        return Some(Vec::new());
    }
    let v = v.trim_start_matches('[').trim_end_matches(']');
    let v = v.split('%').next()?;
    let mut out = Vec::new();
    for part in v.split(',') {
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b): (usize, usize) = (a.parse().ok()?, b.parse().ok()?);
                if b < a || b - a > 1_000_000 {
                    return None;
                }
                out.extend(a..=b);
            }
            None => out.push(part.parse().ok()?),
        }
    }
    Some(out)
}

/// What `squeue` shows of the jobs `job_ids` (`squeue` itself: no accounting database
/// needed). Jobs that Slurm has already forgotten (`Invalid job id`) are simply absent.
pub fn queue_state(job_ids: &[u64]) -> Result<QueueState> {
    queue_state_with(Path::new("squeue"), job_ids)
}

/// [`queue_state`] with another `squeue` program.
pub fn queue_state_with(squeue: &Path, job_ids: &[u64]) -> Result<QueueState> {
    if job_ids.is_empty() {
        return Ok(QueueState::default());
    }
    let ids: Vec<String> = job_ids.iter().map(u64::to_string).collect();
    let out = Command::new(squeue)
        .args(["--noheader", "--array"])
        .arg(format!("--jobs={}", ids.join(",")))
        .arg(format!("--format={SQUEUE_FORMAT}"))
        .output()
        .map_err(|e| slurm_err(squeue, &format!("cannot run it: {e}")))?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        if stderr.contains("Invalid job id") {
            // Every job listed has left the queue and slurmctld's memory (MinJobAge).
            return Ok(QueueState::default());
        }
        return Err(slurm_err(
            squeue,
            &format!("{}: {}", out.status, stderr.trim()),
        ));
    }
    parse_squeue(&String::from_utf8_lossy(&out.stdout))
}

/// The cells to submit again: neither done nor still in the queue (`active`). Missing,
/// failed and partial cells qualify — a partial cell outside the queue was stopped and not
/// requeued.
pub fn cells_to_resubmit(states: &[CellState], active: &BTreeSet<usize>) -> Vec<usize> {
    states
        .iter()
        .enumerate()
        .filter(|(i, s)| **s != CellState::Done && !active.contains(i))
        .map(|(i, _)| i)
        .collect()
}

/// `--resubmit-failed`: submits (or, with `dry_run`, writes the script for) only the cells that
/// are neither done nor in the queue under one of the sweep's recorded jobs. `None` when there
/// is nothing to submit.
pub fn resubmit_failed(
    sweep: &Sweep,
    exe: &Path,
    opts: &SlurmOptions,
    dry_run: bool,
) -> Result<Option<Submission>> {
    let ids: Vec<u64> = submissions(&sweep.dir)?
        .iter()
        .filter_map(|s| s.job_id)
        .collect();
    let squeue = opts.sbatch.with_file_name(squeue_name(&opts.sbatch));
    let active = queue_state_with(&squeue, &ids)?.active_indices();
    let todo = cells_to_resubmit(&sweep.states()?, &active);
    if todo.is_empty() {
        return Ok(None);
    }
    submit(sweep, exe, Some(&todo), opts, dry_run).map(Some)
}

/// `squeue` beside the configured `sbatch` (the same installation, or the tests' stand-ins).
fn squeue_name(sbatch: &Path) -> OsString {
    let name = sbatch.file_name().map(|n| n.to_string_lossy().into_owned());
    match name {
        Some(n) if n.contains("sbatch") => n.replace("sbatch", "squeue").into(),
        _ => "squeue".into(),
    }
}

/// Polls [`queue_state`] every `poll` until none of `job_ids` is in the queue; an error after
/// `timeout` names what is still queued.
pub fn wait_until_gone(job_ids: &[u64], timeout: Duration, poll: Duration) -> Result<()> {
    let start = Instant::now();
    loop {
        let q = queue_state(job_ids)?;
        if q.is_empty() {
            return Ok(());
        }
        if start.elapsed() >= timeout {
            let left: Vec<String> = q
                .tasks
                .iter()
                .map(|t| format!("{} {} ({})", t.job, t.state, t.reason))
                .collect();
            return Err(Error::Slurm {
                command: "squeue".into(),
                detail: format!(
                    "still queued after {:.0} s: {}",
                    timeout.as_secs_f64(),
                    left.join(", ")
                ),
            });
        }
        std::thread::sleep(poll);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ExperimentConfig;
    use crate::sweep::Cell;

    fn opts() -> SlurmOptions {
        SlurmOptions::default()
    }

    fn script(indices: Option<&[usize]>, o: &SlurmOptions) -> Result<String> {
        batch_script(
            Path::new("/data/my sweeps/dw"),
            Path::new("/opt/bump it/sweep"),
            "density width",
            6,
            indices,
            o,
        )
    }

    fn config_err(r: Result<impl std::fmt::Debug>) -> String {
        match r {
            Err(Error::Config(m)) => m,
            other => panic!("expected a configuration error, got {other:?}"),
        }
    }

    #[test]
    fn array_specs_compress_ranges() {
        assert_eq!(array_spec(&[0, 1, 2, 3], None), "0-3");
        assert_eq!(array_spec(&[0, 1, 2, 3], Some(2)), "0-3%2");
        assert_eq!(array_spec(&[1, 3, 4, 5, 9], Some(1)), "1,3-5,9%1");
        assert_eq!(array_spec(&[7], None), "7");
    }

    #[test]
    fn script_has_the_array_the_options_and_one_cell_per_task() {
        let mut o = opts();
        o.partition = Some("short".into());
        o.cpus_per_task = 4;
        o.mem = "8G".into();
        o.time = "1-02:00:00".into();
        o.gpus = Some("a100:1".into());
        o.max_parallel = Some(3);
        o.extra = vec!["--account=proj".into(), "#SBATCH --qos=long".into()];
        o.cell_args = vec!["--device".into(), "cuda".into()];
        let s = script(None, &o).unwrap();
        for line in [
            "#!/bin/bash",
            "#SBATCH --job-name=bump-density_width",
            "#SBATCH --array=0-5%3",
            "#SBATCH --cpus-per-task=4",
            "#SBATCH --mem=8G",
            "#SBATCH --time=1-02:00:00",
            "#SBATCH --partition=short",
            "#SBATCH --gres=gpu:a100:1",
            "#SBATCH --signal=B:USR1@120",
            "#SBATCH --requeue",
            "#SBATCH --open-mode=append",
            "#SBATCH --output=\"/data/my sweeps/dw/slurm/logs/cell-%a.log\"",
            "#SBATCH --account=proj",
            "#SBATCH --qos=long",
            "'/opt/bump it/sweep' cell '/data/my sweeps/dw' --index \"$SLURM_ARRAY_TASK_ID\" \
             --device cuda &",
            "trap 'on_signal requeue USR1' USR1",
            "trap 'on_signal stay TERM' TERM",
            "    scontrol requeue \"$SLURM_JOB_ID\" || echo \"== scontrol requeue failed; \
             resubmit with --resubmit-failed\"",
        ] {
            assert!(s.lines().any(|l| l == line), "no line `{line}` in\n{s}");
        }
        // Every #SBATCH line comes before the first command (sbatch stops reading there).
        let first_cmd = s.lines().position(|l| l.starts_with("set -u")).unwrap();
        assert!(s.lines().skip(first_cmd).all(|l| !l.starts_with("#SBATCH")));
        // Only one cell command.
        assert_eq!(
            s.lines()
                .filter(|l| l.contains(" cell ") && l.ends_with('&'))
                .count(),
            1
        );

        let s = script(Some(&[1, 2, 4]), &opts()).unwrap();
        assert!(s.contains("#SBATCH --array=1-2,4\n"), "{s}");
        assert!(!s.contains("--partition") && !s.contains("--gres"));
        o.no_requeue = true;
        assert!(!script(None, &o).unwrap().contains("--requeue"));
    }

    #[test]
    fn paths_and_arguments_are_shell_quoted() {
        assert_eq!(shell_quote("/a/b-c_d.e"), "/a/b-c_d.e");
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote("$HOME"), "'$HOME'");
        assert_eq!(shell_quote(""), "''");
        let mut o = opts();
        o.cell_args = vec!["--x".into(), "a'b c".into()];
        let s = batch_script(
            Path::new("/w/it's here"),
            Path::new("/bin/x"),
            "n",
            2,
            None,
            &o,
        )
        .unwrap();
        assert!(
            s.contains(
                r#"/bin/x cell '/w/it'\''s here' --index "$SLURM_ARRAY_TASK_ID" --x 'a'\''b c' &"#
            ),
            "{s}"
        );
        // Characters a quoted #SBATCH path cannot carry.
        for bad in ["/w/a\"b", "/w/100%", "/w/a\\b", "/w/a\nb"] {
            let e = config_err(batch_script(
                Path::new(bad),
                Path::new("/bin/x"),
                "n",
                2,
                None,
                &o,
            ));
            assert!(e.contains("batch script cannot name it"), "{e}");
        }
    }

    #[test]
    fn the_warning_signal_is_forwarded_and_requeues() {
        let mut o = opts();
        o.signal = "B:SIGUSR2@300".into();
        let s = script(None, &o).unwrap();
        assert!(s.contains("#SBATCH --signal=B:USR2@300\n"));
        assert!(s.contains("trap 'on_signal requeue USR2' USR2\n"));
        assert!(s.contains("trap 'on_signal stay USR1' USR1\n"));
        assert!(s.contains("kill -USR2 \"$pid\""));
        assert_eq!(
            parse_signal("B:15").unwrap(),
            SignalSpec {
                name: "TERM",
                seconds: 60
            }
        );
    }

    #[test]
    fn bad_options_are_clear_errors() {
        type Change = fn(&mut SlurmOptions);
        let cases: Vec<(Change, &str)> = vec![
            (|o| o.cpus_per_task = 0, "--slurm-cpus `0`"),
            (|o| o.mem = "4GB".into(), "--slurm-mem `4GB`"),
            (|o| o.mem = "".into(), "--slurm-mem ``"),
            (|o| o.time = "4h".into(), "--slurm-time `4h`"),
            (|o| o.time = "1:2:3:4".into(), "--slurm-time `1:2:3:4`"),
            (|o| o.time = "0".into(), "--slurm-time `0`"),
            (|o| o.gpus = Some("0".into()), "--slurm-gpus `0`"),
            (
                |o| o.gpus = Some("a 100:1".into()),
                "--slurm-gpus `a 100:1`",
            ),
            (|o| o.max_parallel = Some(0), "--slurm-max-parallel `0`"),
            (|o| o.signal = "USR1@120".into(), "`B:` is required"),
            (
                |o| o.signal = "B:KILL@120".into(),
                "--slurm-signal `B:KILL@120`",
            ),
            (
                |o| o.signal = "B:USR1@0".into(),
                "--slurm-signal `B:USR1@0`",
            ),
            (
                |o| o.partition = Some("a b".into()),
                "--slurm-partition `a b`",
            ),
            (|o| o.job_name = Some("x\"y".into()), "--slurm-job-name"),
            (
                |o| o.extra = vec!["--array=0-3".into()],
                "sets --array itself",
            ),
            (|o| o.extra = vec!["-o x.log".into()], "sets -o itself"),
            (|o| o.extra = vec!["account=x".into()], "one sbatch option"),
            (|o| o.extra = vec!["--a\n--b".into()], "one sbatch option"),
        ];
        for (change, expect) in cases {
            let mut o = opts();
            change(&mut o);
            let e = config_err(o.validate());
            assert!(e.contains(expect), "`{e}` lacks `{expect}`");
        }
        // The warning must fall inside the time limit.
        let mut o = opts();
        o.time = "2".into();
        let e = config_err(o.validate());
        assert!(e.contains("not inside the time limit 2 (120 s)"), "{e}");
        o.time = "UNLIMITED".into();
        o.validate().unwrap();
        // Index lists.
        let e = config_err(script(Some(&[]), &opts()));
        assert!(e.contains("empty"), "{e}");
        let e = config_err(script(Some(&[2, 6]), &opts()));
        assert!(
            e.contains("cell index 6 is out of range: the sweep has 6 cells (0..=5)"),
            "{e}"
        );
        let s = script(Some(&[3, 1, 3]), &opts()).unwrap();
        assert!(s.contains("#SBATCH --array=1,3\n"), "sorted, unique: {s}");
    }

    #[test]
    fn times_parse_as_slurm_does() {
        assert_eq!(parse_time("90").unwrap(), Some(5400));
        assert_eq!(parse_time("10:30").unwrap(), Some(630));
        assert_eq!(parse_time("04:00:00").unwrap(), Some(14400));
        assert_eq!(parse_time("2-12").unwrap(), Some(2 * 86400 + 12 * 3600));
        assert_eq!(parse_time("1-00:30").unwrap(), Some(86400 + 1800));
        assert_eq!(parse_time("1-00:00:05").unwrap(), Some(86405));
        assert_eq!(parse_time("infinite").unwrap(), None);
        assert!(parse_time("-5").is_err() && parse_time("1-").is_err() && parse_time("").is_err());
    }

    #[test]
    fn squeue_output_parses() {
        let text = "\
41|0|41_0|42|RUNNING|None
41|3|41_3|41|PENDING|Resources
41|[4-7%2]|41_[4-7%2]|41|PENDING|JobArrayTaskLimit
52|N/A|52|52|COMPLETING|None

";
        let q = parse_squeue(text).unwrap();
        assert_eq!(q.tasks.len(), 4);
        assert_eq!(
            q.tasks[1],
            QueuedTask {
                array_job_id: 41,
                indices: vec![3],
                job: "41_3".into(),
                task_job_id: 41,
                state: "PENDING".into(),
                reason: "Resources".into(),
            }
        );
        assert_eq!(q.tasks[2].indices, [4, 5, 6, 7]);
        assert!(q.tasks[3].indices.is_empty());
        assert_eq!(
            q.active_indices().into_iter().collect::<Vec<_>>(),
            [0, 3, 4, 5, 6, 7]
        );
        assert!(parse_squeue("").unwrap().is_empty());
        assert_eq!(parse_index_field("1,3,5-6"), Some(vec![1, 3, 5, 6]));
        for bad in [
            "41|0|41_0|RUNNING|None",
            "x|0|x_0|1|RUNNING|None",
            "41|a|41_a|1|RUNNING|None",
            "41|0|41_0|y|RUNNING|None",
        ] {
            match parse_squeue(bad) {
                Err(Error::Slurm { detail, .. }) => {
                    assert!(
                        detail.contains("line 1") && detail.contains(SQUEUE_FORMAT),
                        "{detail}"
                    )
                }
                other => panic!("{bad}: {other:?}"),
            }
        }
        assert_eq!(parse_parsable("1234\n"), Some(1234));
        assert_eq!(parse_parsable("1234;cluster\n"), Some(1234));
        assert_eq!(parse_parsable("Submitted batch job 12"), None);
    }

    #[test]
    fn only_cells_neither_done_nor_queued_are_resubmitted() {
        let states = [
            CellState::Done,
            CellState::Missing,
            CellState::Failed {
                step: Some(4),
                message: "x".into(),
            },
            CellState::Partial(8),
            CellState::Partial(4),
            CellState::Missing,
        ];
        let active: BTreeSet<usize> = [4, 5].into();
        assert_eq!(cells_to_resubmit(&states, &active), [1, 2, 3]);
        assert!(cells_to_resubmit(&[CellState::Done], &BTreeSet::new()).is_empty());
    }

    /// A sweep of `n` (identical) cells in `dir`: enough for the script and submission.
    fn sweep(dir: &Path, n: usize) -> Sweep {
        let cells = (0..n)
            .map(|index| Cell {
                index,
                id: format!("c{index}"),
                axes: Default::default(),
                config: ExperimentConfig::quick(),
            })
            .collect();
        Sweep {
            dir: dir.to_path_buf(),
            name: "t".into(),
            axis_keys: Vec::new(),
            cells,
        }
    }

    fn stand_in(dir: &Path, name: &str, body: &str) -> PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let p = dir.join(name);
        std::fs::write(&p, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        p
    }

    #[test]
    fn submit_records_jobs_and_dry_run_only_writes() {
        let root = std::env::temp_dir().join(format!("bump-slurm-submit {}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let bin = root.join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        let args_log = root.join("sbatch-args");
        let mut o = opts();
        o.sbatch = stand_in(
            &bin,
            "fake-sbatch",
            &format!("echo \"$@\" >> '{}'\necho '4242;cl'", args_log.display()),
        );
        let sw = sweep(&root.join("sweep"), 4);

        let dry = submit(&sw, Path::new("/bin/x"), None, &o, true).unwrap();
        assert_eq!(dry.job_id, None);
        assert_eq!(dry.array, "0-3");
        assert!(
            dry.script.is_file() && !args_log.exists(),
            "dry run submits nothing"
        );
        assert!(submissions(&sw.dir).unwrap().is_empty());

        let sub = submit(&sw, Path::new("/bin/x"), Some(&[1, 3]), &o, false).unwrap();
        assert_eq!(sub.job_id, Some(4242));
        assert_eq!(sub.indices, [1, 3]);
        let args = std::fs::read_to_string(&args_log).unwrap();
        assert_eq!(args.trim(), format!("--parsable {}", sub.script.display()));
        assert_eq!(submissions(&sw.dir).unwrap(), std::slice::from_ref(&sub));
        assert!(sw.dir.join("slurm/job-4242.sbatch").is_file());
        assert!(std::fs::read_to_string(&sub.script)
            .unwrap()
            .contains("--array=1,3\n"));

        // --resubmit-failed: cell 1 still queued, nothing done → 0, 2, 3 are submitted.
        stand_in(
            &bin,
            "fake-squeue",
            "echo '4242|1|4242_1|4243|RUNNING|None'",
        );
        let again = resubmit_failed(&sw, Path::new("/bin/x"), &o, false)
            .unwrap()
            .unwrap();
        assert_eq!(again.indices, [0, 2, 3]);
        assert_eq!(submissions(&sw.dir).unwrap().len(), 2);

        // sbatch refusing is a Slurm error with its message.
        o.sbatch = stand_in(
            &bin,
            "bad-sbatch",
            "echo 'sbatch: error: invalid partition' >&2; exit 1",
        );
        match submit(&sw, Path::new("/bin/x"), None, &o, false) {
            Err(Error::Slurm { detail, .. }) => assert!(detail.contains("invalid partition")),
            other => panic!("{other:?}"),
        }
        let _ = std::fs::remove_dir_all(&root);
    }
}
