//! The local backend: the cells as separate processes (`<exe> cell <sweep> --index I`), N at a
//! time, the cores split between them, each process's output in its cell's `cell.log`.

use super::{CellState, Sweep};
use crate::error::io_err;
use crate::train::stop::{StopFlag, EXIT_INTERRUPTED};
use crate::Result;
use indicatif::{ProgressBar, ProgressStyle};
use std::collections::VecDeque;
use std::ffi::OsString;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How the local backend runs a sweep.
#[derive(Debug, Clone)]
pub struct LocalOptions {
    /// The program that runs one cell: it is called as `<exe> cell <sweep dir> --index I`
    /// followed by [`LocalOptions::args`] (e.g. `examples/sweep`, `std::env::current_exe()`).
    pub exe: PathBuf,
    /// Further arguments of every cell process (e.g. `--device cpu`).
    pub args: Vec<OsString>,
    /// Cells running at once (at least 1).
    pub parallel: usize,
    /// Threads of each cell process (`RAYON_NUM_THREADS` and `CANDLE_NUM_THREADS`); `None`:
    /// the cores ([`total_threads`]) divided by `parallel`, at least 1.
    pub threads: Option<usize>,
    /// Only these cells (by index); `None`: every cell.
    pub indices: Option<Vec<usize>>,
    /// Draw the progress bar and a line per finished cell on stderr.
    pub progress: bool,
    /// When set (e.g. by SIGTERM or Ctrl-C), start no further cell, ask the running ones to
    /// checkpoint and stop (SIGUSR1) and return once they have.
    pub stop: Option<StopFlag>,
}

impl LocalOptions {
    /// One cell at a time with every core, every cell, progress on.
    pub fn new(exe: impl Into<PathBuf>) -> Self {
        Self {
            exe: exe.into(),
            args: Vec::new(),
            parallel: 1,
            threads: None,
            indices: None,
            progress: true,
            stop: None,
        }
    }

    /// Threads given to each cell process.
    pub fn threads_per_cell(&self) -> usize {
        self.threads
            .unwrap_or_else(|| total_threads() / self.parallel.max(1))
            .max(1)
    }
}

/// The cores to share: `RAYON_NUM_THREADS` when set (the project's rule for the thread count,
/// docs/performance.md), else what the OS reports.
pub fn total_threads() -> usize {
    std::env::var("RAYON_NUM_THREADS")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .filter(|&n| n > 0)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

/// A cell whose process failed.
#[derive(Debug, Clone, PartialEq)]
pub struct FailedCell {
    /// Cell index.
    pub index: usize,
    /// Cell id.
    pub id: String,
    /// How it ended (exit status, or why it could not start).
    pub reason: String,
    /// Its log.
    pub log: PathBuf,
}

/// What a local run did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LocalReport {
    /// Cells already finished before this run (no process started).
    pub skipped: Vec<usize>,
    /// Cells run to their end.
    pub finished: Vec<usize>,
    /// Cells whose process failed.
    pub failed: Vec<FailedCell>,
    /// Cells stopped on request with a checkpoint written (exit status 75).
    pub interrupted: Vec<usize>,
    /// Cells not started because of a stop request.
    pub not_started: Vec<usize>,
    /// Wall-clock seconds of the run.
    pub wall_s: f64,
}

impl LocalReport {
    /// Whether every selected cell is finished.
    pub fn all_done(&self) -> bool {
        self.failed.is_empty() && self.interrupted.is_empty() && self.not_started.is_empty()
    }

    /// A few lines: counts, then each failed cell with its log.
    pub fn summary(&self) -> String {
        let mut s = format!(
            "{} finished, {} already done, {} failed, {} interrupted, {} not started ({:.0} s)",
            self.finished.len(),
            self.skipped.len(),
            self.failed.len(),
            self.interrupted.len(),
            self.not_started.len(),
            self.wall_s
        );
        for f in &self.failed {
            s.push_str(&format!(
                "\n  failed: cell {} ({}): {}; log {}",
                f.index,
                f.id,
                f.reason,
                f.log.display()
            ));
        }
        s
    }
}

struct Running {
    index: usize,
    child: Child,
    started: Instant,
}

/// Runs the sweep's unfinished cells as separate processes, `opts.parallel` at a time. A failed
/// cell does not stop the others; the report lists it with its log. Finished cells start no
/// process.
pub fn run_local(sweep: &Sweep, opts: &LocalOptions) -> Result<LocalReport> {
    let start = Instant::now();
    let parallel = opts.parallel.max(1);
    let threads = opts.threads_per_cell();
    let selected: Vec<usize> = match &opts.indices {
        Some(ix) => {
            for &i in ix {
                sweep.cell(i)?;
            }
            ix.clone()
        }
        None => (0..sweep.cells.len()).collect(),
    };
    let mut report = LocalReport::default();
    let mut todo = VecDeque::new();
    for i in selected {
        match sweep.state(&sweep.cells[i])? {
            CellState::Done => report.skipped.push(i),
            _ => todo.push_back(i),
        }
    }
    let bar = if opts.progress {
        let bar = ProgressBar::new(todo.len() as u64);
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} cells  {msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar.enable_steady_tick(Duration::from_millis(250));
        bar
    } else {
        ProgressBar::hidden()
    };
    let say = |line: String| {
        if !opts.progress {
            return;
        }
        if bar.is_hidden() {
            eprintln!("{line}");
        } else {
            bar.println(line);
        }
    };
    say(format!(
        "sweep `{}`: {} cells to run, {} already done; {parallel} at a time, {threads} \
         thread(s) each",
        sweep.name,
        todo.len(),
        report.skipped.len()
    ));

    let mut running: Vec<Running> = Vec::new();
    let mut stopping = false;
    loop {
        while running.len() < parallel && !stopping {
            let Some(index) = todo.pop_front() else { break };
            let cell = &sweep.cells[index];
            match spawn(sweep, index, opts, threads) {
                Ok(child) => {
                    say(format!("started cell {index} ({})", cell.id));
                    running.push(Running {
                        index,
                        child,
                        started: Instant::now(),
                    });
                }
                Err(reason) => {
                    report.failed.push(FailedCell {
                        index,
                        id: cell.id.clone(),
                        reason,
                        log: sweep.log_path(cell),
                    });
                    bar.inc(1);
                }
            }
        }
        let msg = format!(
            "running {} · done {} · failed {}",
            running.len(),
            report.finished.len(),
            report.failed.len()
        );
        bar.set_message(msg);
        if running.is_empty() && (todo.is_empty() || stopping) {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
        if !stopping && opts.stop.as_ref().is_some_and(StopFlag::is_set) {
            stopping = true;
            say("stop requested: no further cells start; running cells checkpoint and stop".into());
            for r in &running {
                terminate(&r.child);
            }
        }
        let mut k = 0;
        while k < running.len() {
            let status = match running[k].child.try_wait() {
                Ok(Some(status)) => status,
                Ok(None) => {
                    k += 1;
                    continue;
                }
                Err(e) => {
                    // Cannot poll it: count it failed, and stop waiting for it.
                    let r = running.swap_remove(k);
                    let cell = &sweep.cells[r.index];
                    report.failed.push(FailedCell {
                        index: r.index,
                        id: cell.id.clone(),
                        reason: format!("cannot wait for its process: {e}"),
                        log: sweep.log_path(cell),
                    });
                    bar.inc(1);
                    continue;
                }
            };
            let r = running.swap_remove(k);
            let cell = &sweep.cells[r.index];
            let secs = r.started.elapsed().as_secs_f64();
            let code = status.code();
            if code == Some(0) && sweep.state(cell)? == CellState::Done {
                report.finished.push(r.index);
                say(format!(
                    "finished cell {} ({}) in {secs:.0} s",
                    r.index, cell.id
                ));
            } else if code == Some(i32::from(EXIT_INTERRUPTED)) {
                report.interrupted.push(r.index);
                say(format!(
                    "cell {} ({}) stopped with a checkpoint after {secs:.0} s",
                    r.index, cell.id
                ));
            } else {
                let reason = match code {
                    Some(0) => "exited 0 but the cell is not finished".to_string(),
                    Some(c) => format!("exit status {c}"),
                    None => format!("ended by a signal ({status})"),
                };
                say(format!(
                    "FAILED cell {} ({}): {reason}; log {}",
                    r.index,
                    cell.id,
                    sweep.log_path(cell).display()
                ));
                report.failed.push(FailedCell {
                    index: r.index,
                    id: cell.id.clone(),
                    reason,
                    log: sweep.log_path(cell),
                });
            }
            bar.inc(1);
        }
    }
    bar.finish_and_clear();
    report.not_started = todo.into_iter().collect();
    report.finished.sort_unstable();
    report.interrupted.sort_unstable();
    report.failed.sort_by_key(|f| f.index);
    report.wall_s = start.elapsed().as_secs_f64();
    Ok(report)
}

/// Starts the process of cell `index`, its output appended to the cell's log.
fn spawn(
    sweep: &Sweep,
    index: usize,
    opts: &LocalOptions,
    threads: usize,
) -> std::result::Result<Child, String> {
    let cell = &sweep.cells[index];
    let dir = sweep.cell_dir(cell);
    let log_path = sweep.log_path(cell);
    let open = || -> Result<std::fs::File> {
        std::fs::create_dir_all(&dir).map_err(io_err(&dir))?;
        let mut log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .map_err(io_err(&log_path))?;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        writeln!(
            log,
            "== cell {index} ({}), {threads} thread(s), started at unix time {now}",
            cell.id
        )
        .map_err(io_err(&log_path))?;
        Ok(log)
    };
    let log = open().map_err(|e| e.to_string())?;
    let err_log = log
        .try_clone()
        .map_err(|e| format!("{}: {e}", log_path.display()))?;
    Command::new(&opts.exe)
        .arg("cell")
        .arg(&sweep.dir)
        .arg("--index")
        .arg(index.to_string())
        .args(&opts.args)
        .env("RAYON_NUM_THREADS", threads.to_string())
        .env("CANDLE_NUM_THREADS", threads.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::from(log))
        .stderr(Stdio::from(err_log))
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", opts.exe.display()))
}

/// Asks a cell process to checkpoint and stop: SIGUSR1, which its stop flag catches. Not
/// SIGTERM: after a Ctrl-C the cell has SIGINT already, and a second SIGINT/SIGTERM would end
/// it at once without a checkpoint (`train::stop`).
fn terminate(child: &Child) {
    #[cfg(unix)]
    {
        // std can only send SIGKILL; `kill -USR1` asks politely.
        let _ = Command::new("kill")
            .arg("-USR1")
            .arg(child.id().to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
    #[cfg(not(unix))]
    let _ = child;
}
