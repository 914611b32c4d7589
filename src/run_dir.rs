//! [`RunDir`]: the one owner of a run directory's layout and files.
//!
//! ```text
//! <run>/config.json                         the ExperimentConfig
//! <run>/metrics.jsonl                       one EvalRecord per evaluated checkpoint
//! <run>/summary.json                        the RunSummary (finished runs)
//! <run>/checkpoints/step_NNNNNNNN.safetensors   model + EMA + AdamW + TrainingCheckpoint
//! <run>/snapshots/step_NNNNNNNN.json        samples and embeddings behind the report's pictures
//! <run>/figures/*.png, <run>/report.html    the report
//! ```
//!
//! Every whole-file write is atomic ([`crate::io::write_atomic`]); `metrics.jsonl` is appended a
//! flushed line at a time (a failed append is rolled back) and rewritten atomically on resume.
//! Checkpoints and snapshots carry a checksum that every read verifies. docs/outputs.md
//! describes each file, docs/reliability.md what is guaranteed.

use crate::checkpoint::TrainingCheckpoint;
use crate::config::ExperimentConfig;
use crate::error::io_err;
use crate::io::WriteFault;
use crate::optim::{AdamW, Ema};
use crate::record::{EvalRecord, RunSummary};
use crate::snapshot::Snapshot;
use crate::{Error, Result};
use bump_unet::UNet;
use candle_core::{Device, Tensor};
use serde::de::DeserializeOwned;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// A run directory (it need not exist yet): [`RunDir::new`]`(dir)` gives the path of every file
/// ([`RunDir::path`]) and reads and writes them.
#[doc(alias = "RunPaths")]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunDir {
    root: PathBuf,
    fault: Option<WriteFault>,
}

/// The files and sub-directories of a run directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RunFile {
    /// `config.json`: the [`ExperimentConfig`].
    Config,
    /// `metrics.jsonl`: one [`EvalRecord`] per evaluated checkpoint.
    Metrics,
    /// `summary.json`: the [`RunSummary`] of a finished run.
    Summary,
    /// `report.html`.
    Report,
    /// `figures/`: the report's PNGs.
    Figures,
    /// `checkpoints/`: `step_NNNNNNNN.safetensors`.
    Checkpoints,
    /// `snapshots/`: `step_NNNNNNNN.json`.
    Snapshots,
}

impl RunFile {
    /// Every entry, in the order docs/outputs.md lists them.
    pub const ALL: [RunFile; 7] = [
        Self::Config,
        Self::Metrics,
        Self::Summary,
        Self::Report,
        Self::Figures,
        Self::Checkpoints,
        Self::Snapshots,
    ];

    /// The entry's name inside the run directory.
    pub fn name(self) -> &'static str {
        match self {
            Self::Config => "config.json",
            Self::Metrics => "metrics.jsonl",
            Self::Summary => "summary.json",
            Self::Report => "report.html",
            Self::Figures => "figures",
            Self::Checkpoints => "checkpoints",
            Self::Snapshots => "snapshots",
        }
    }
}

/// A checkpoint read back for resuming or re-evaluation.
pub struct LoadedCheckpoint {
    /// The model with the checkpoint's raw weights.
    pub model: UNet,
    /// The typed training state.
    pub state: TrainingCheckpoint,
    /// Every other tensor in the file (EMA weights `ema.*`, AdamW moments), by name.
    pub extras: HashMap<String, Tensor>,
}

impl RunDir {
    /// The run directory at `root`.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self {
            root: root.into(),
            fault: None,
        }
    }

    /// The same directory, with `fault` injected into its writes (tests of failing disks).
    pub fn with_write_fault(mut self, fault: Option<WriteFault>) -> Self {
        self.fault = fault;
        self
    }

    fn write(&self, path: &Path, bytes: &[u8]) -> Result<()> {
        crate::io::write_atomic_faulty(path, bytes, self.fault.as_ref())
    }

    /// The directory itself.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The path of one of the run's files or sub-directories.
    pub fn path(&self, file: RunFile) -> PathBuf {
        self.root.join(file.name())
    }

    /// The checkpoint of `step`.
    pub fn checkpoint_path(&self, step: u64) -> PathBuf {
        self.path(RunFile::Checkpoints)
            .join(checkpoint_file_name(step))
    }
    /// The snapshot of `step`.
    pub fn snapshot_path(&self, step: u64) -> PathBuf {
        self.path(RunFile::Snapshots)
            .join(format!("step_{step:08}.json"))
    }

    /// Creates the directory and its sub-directories.
    pub fn create(&self) -> Result<()> {
        for d in [
            self.root.clone(),
            self.path(RunFile::Checkpoints),
            self.path(RunFile::Snapshots),
        ] {
            std::fs::create_dir_all(&d).map_err(io_err(&d))?;
        }
        Ok(())
    }

    /// Writes `config.json`.
    pub fn write_config(&self, cfg: &ExperimentConfig) -> Result<()> {
        self.write(
            &self.path(RunFile::Config),
            cfg.to_json_string()?.as_bytes(),
        )
    }

    /// Reads and validates `config.json`.
    pub fn read_config(&self) -> Result<ExperimentConfig> {
        ExperimentConfig::load(self.path(RunFile::Config))
    }

    /// Appends one record to `metrics.jsonl` (flushed to disk).
    pub fn append_record(&self, record: &EvalRecord) -> Result<()> {
        crate::io::append_line_faulty(
            &self.path(RunFile::Metrics),
            &serde_json::to_string(record)?,
            self.fault.as_ref(),
        )
    }

    /// Every record in `metrics.jsonl` (none when the file does not exist).
    pub fn read_records(&self) -> Result<Vec<EvalRecord>> {
        read_records(&self.path(RunFile::Metrics))
    }

    /// Replaces `metrics.jsonl` by `records`, atomically.
    pub fn rewrite_records(&self, records: &[EvalRecord]) -> Result<()> {
        let mut text = String::new();
        for r in records {
            text.push_str(&serde_json::to_string(r)?);
            text.push('\n');
        }
        self.write(&self.path(RunFile::Metrics), text.as_bytes())
    }

    /// Removes `metrics.jsonl` (a fresh run over an old directory).
    pub fn clear_records(&self) -> Result<()> {
        let p = self.path(RunFile::Metrics);
        match std::fs::remove_file(&p) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io_err(&p)(e)),
            _ => Ok(()),
        }
    }

    /// Writes `summary.json`.
    pub fn write_summary(&self, summary: &RunSummary) -> Result<()> {
        self.write(
            &self.path(RunFile::Summary),
            serde_json::to_string_pretty(summary)?.as_bytes(),
        )
    }

    /// Reads `summary.json`.
    pub fn read_summary(&self) -> Result<RunSummary> {
        read_json(&self.path(RunFile::Summary))
    }

    /// Writes the snapshot of `snapshot.step`, with its checksum
    /// ([`Snapshot::to_json_with_checksum`]).
    pub fn write_snapshot(&self, snapshot: &Snapshot) -> Result<()> {
        self.write(
            &self.snapshot_path(snapshot.step),
            snapshot.to_json_with_checksum()?.as_bytes(),
        )
    }

    /// The snapshot of `step`, or `None` when it was never written. Its checksum is verified
    /// ([`Error::ChecksumMismatch`]); a snapshot without one (written before checksums) is read
    /// with a warning on stderr.
    pub fn read_snapshot(&self, step: u64) -> Result<Option<Snapshot>> {
        let path = self.snapshot_path(step);
        if !path.exists() {
            return Ok(None);
        }
        let bytes = std::fs::read(&path).map_err(io_err(&path))?;
        let (snapshot, integrity) = Snapshot::from_json_checked(&path, &bytes)?;
        if snapshot.step != step {
            return Err(Error::Parse {
                path,
                detail: format!("holds the snapshot of step {}, not {step}", snapshot.step),
            });
        }
        if integrity == bump_unet::Integrity::Unchecked {
            eprintln!("{}", bump_unet::checkpoint::unchecked_warning(&path));
        }
        Ok(Some(snapshot))
    }

    /// Steps with a checkpoint file, ascending.
    pub fn checkpoint_steps(&self) -> Result<Vec<u64>> {
        checkpoint_steps_in(&self.path(RunFile::Checkpoints))
    }

    /// The newest checkpoint, by step number.
    pub fn latest_checkpoint(&self) -> Result<Option<(u64, PathBuf)>> {
        latest_checkpoint(&self.path(RunFile::Checkpoints))
    }

    /// Writes the checkpoint of `state.step`: raw weights, AdamW moments, EMA weights and the
    /// typed state. Returns its path.
    pub fn save_checkpoint(
        &self,
        state: &TrainingCheckpoint,
        model: &UNet,
        opt: &AdamW,
        ema: &Ema,
    ) -> Result<PathBuf> {
        let path = self.checkpoint_path(state.step);
        let mut tensors = opt.state_tensors();
        tensors.extend(ema.state_tensors());
        let bytes = bump_unet::checkpoint::checkpoint_bytes(model, &state.to_meta()?, &tensors)?;
        self.write(&path, &bytes)?;
        Ok(path)
    }

    /// Loads the checkpoint at `path` (any file in this layout) onto `device`, verifying its
    /// checksum (a checkpoint written before checksums loads with a warning on stderr).
    pub fn load_checkpoint(&self, path: &Path, device: &Device) -> Result<LoadedCheckpoint> {
        let (model, meta, extras) = bump_unet::load_checkpoint(path, device)?;
        let state = TrainingCheckpoint::from_meta(path, &meta)?;
        Ok(LoadedCheckpoint {
            model,
            state,
            extras,
        })
    }

    /// The newest checkpoint at or below `below` (exclusive) whose file is intact (it parses
    /// and its checksum, when it has one, matches), with the corrupt ones passed on the way,
    /// newest first. Reads only.
    pub fn newest_intact_checkpoint(&self, below: u64) -> Result<IntactSearch> {
        let mut corrupt = Vec::new();
        for step in self.checkpoint_steps()?.into_iter().rev() {
            if step >= below {
                continue;
            }
            let path = self.checkpoint_path(step);
            match bump_unet::checkpoint::verify_file(&path) {
                Ok(_) => return Ok((Some((step, path)), corrupt)),
                Err(_) => corrupt.push(path),
            }
        }
        Ok((None, corrupt))
    }
}

/// What [`RunDir::newest_intact_checkpoint`] finds: the newest intact checkpoint `(step, path)`
/// if any, and the corrupt checkpoints newer than it, newest first.
pub type IntactSearch = (Option<(u64, PathBuf)>, Vec<PathBuf>);

/// `step_NNNNNNNN.safetensors`.
fn checkpoint_file_name(step: u64) -> String {
    format!("step_{step:08}.safetensors")
}

/// Steps of the `step_NNNNNNNN.safetensors` files in `dir`, ascending (none when `dir` does not
/// exist).
pub fn checkpoint_steps_in(dir: &Path) -> Result<Vec<u64>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io_err(dir)(e)),
    };
    let mut steps = Vec::new();
    for entry in entries {
        let path = entry.map_err(io_err(dir))?.path();
        let step = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_prefix("step_"))
            .and_then(|n| n.strip_suffix(".safetensors"))
            .and_then(|n| n.parse::<u64>().ok());
        steps.extend(step);
    }
    steps.sort_unstable();
    Ok(steps)
}

/// The newest checkpoint in the checkpoint directory `dir`, by step number.
pub fn latest_checkpoint(dir: &Path) -> Result<Option<(u64, PathBuf)>> {
    Ok(checkpoint_steps_in(dir)?
        .last()
        .map(|&s| (s, dir.join(checkpoint_file_name(s)))))
}

/// Reads a `metrics.jsonl` file (missing file: no records).
///
/// Every complete line (ending in a newline) must be a record ([`Error::Parse`] names the
/// line). A last line without its newline that does not parse is a torn append (a process
/// killed while writing it): it is skipped with a warning on stderr, and a resumed run rewrites
/// the file without it. Invalid UTF-8 is an error naming the line.
pub fn read_records(path: &Path) -> Result<Vec<EvalRecord>> {
    let bytes = match std::fs::read(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io_err(path)(e)),
    };
    parse_records(path, &bytes)
}

/// [`read_records`] on the bytes of a `metrics.jsonl` file; `path` only names it in errors.
pub fn parse_records(path: &Path, bytes: &[u8]) -> Result<Vec<EvalRecord>> {
    let parse_err = |line: usize, detail: String| Error::Parse {
        path: path.to_path_buf(),
        detail: format!("line {line}: {detail}"),
    };
    let mut records = Vec::new();
    let mut lines = bytes
        .split_inclusive(|&b| b == b'\n')
        .enumerate()
        .peekable();
    while let Some((i, raw)) = lines.next() {
        let complete = raw.ends_with(b"\n");
        let text = match std::str::from_utf8(raw) {
            Ok(t) => t,
            Err(_) if !complete => {
                eprintln!("{}", torn_warning(path, i + 1, raw.len()));
                break;
            }
            Err(e) => return Err(parse_err(i + 1, format!("not UTF-8: {e}"))),
        };
        if text.trim().is_empty() {
            continue;
        }
        match serde_json::from_str(text) {
            Ok(r) => records.push(r),
            Err(_) if !complete && lines.peek().is_none() => {
                eprintln!("{}", torn_warning(path, i + 1, raw.len()));
            }
            Err(e) => return Err(parse_err(i + 1, e.to_string())),
        }
    }
    Ok(records)
}

fn torn_warning(path: &Path, line: usize, len: usize) -> String {
    format!(
        "warning: {}: line {line} ({len} bytes, no newline) is a torn record, skipped",
        path.display()
    )
}

fn read_json<T: DeserializeOwned>(path: &Path) -> Result<T> {
    let text = std::fs::read_to_string(path).map_err(io_err(path))?;
    serde_json::from_str(&text).map_err(|e| Error::Parse {
        path: path.to_path_buf(),
        detail: e.to_string(),
    })
}
