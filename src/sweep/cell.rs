//! Cells: one point of a sweep's grid, its stable id and where it stands on disk.

use crate::config::ExperimentConfig;
use crate::run_dir::{RunDir, RunFile};
use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

/// One point of the grid: a full, validated configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cell {
    /// Position in the expansion order (the Slurm array index).
    pub index: usize,
    /// Stable id: a readable prefix from the axis values, then `-` and the XXH3-64 hash (16
    /// hex digits) of the configuration's canonical JSON ([`cell_id`]). The name of its run
    /// directory.
    pub id: String,
    /// The axis values of this cell, by key.
    pub axes: BTreeMap<String, serde_json::Value>,
    /// The cell's configuration.
    pub config: ExperimentConfig,
}

/// The canonical JSON of a configuration: compact, fields in declaration order (what the id
/// hashes).
pub fn canonical_json(cfg: &ExperimentConfig) -> Result<String> {
    Ok(serde_json::to_string(cfg)?)
}

/// XXH3-64 of [`canonical_json`], as 16 hex digits: the same on every machine for the same
/// configuration (a new configuration key with a default changes it).
pub fn config_hash(cfg: &ExperimentConfig) -> Result<String> {
    Ok(format!(
        "{:016x}",
        xxhash_rust::xxh3::xxh3_64(canonical_json(cfg)?.as_bytes())
    ))
}

/// Longest readable prefix kept in an id (the hash alone identifies the cell).
const MAX_PREFIX: usize = 80;

/// `<prefix>-<hash>`, the prefix cut to 80 characters (or `cell-<hash>` without axes).
pub fn cell_id(prefix: &str, cfg: &ExperimentConfig) -> Result<String> {
    let hash = config_hash(cfg)?;
    let prefix: String = prefix.chars().take(MAX_PREFIX).collect();
    Ok(if prefix.is_empty() {
        format!("cell-{hash}")
    } else {
        format!("{prefix}-{hash}")
    })
}

/// `label` followed by the value, with every character outside `[A-Za-z0-9.+-]` replaced by `_`
/// (ids are directory names on any file system).
pub fn axis_label(label: &str, value: &toml::Value) -> String {
    let v = match value {
        toml::Value::String(s) => s.clone(),
        toml::Value::Float(f) => format!("{f}"),
        other => other.to_string(),
    };
    format!("{label}{v}")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '+' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Where a cell stands on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CellState {
    /// Nothing trained yet.
    Missing,
    /// Checkpoints up to this step, not finished.
    Partial(u64),
    /// Finished: a summary of all the configured steps.
    Done,
    /// The last attempt ended with an error (`cell-error.txt`); checkpoints up to `step`.
    Failed {
        /// Newest checkpoint's step, if any.
        step: Option<u64>,
        /// The error's message.
        message: String,
    },
}

impl CellState {
    /// `missing`, `partial`, `done` or `failed` (the `status` column of the results).
    pub fn word(&self) -> &'static str {
        match self {
            Self::Missing => "missing",
            Self::Partial(_) => "partial",
            Self::Done => "done",
            Self::Failed { .. } => "failed",
        }
    }
}

impl std::fmt::Display for CellState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Missing => f.write_str("not started"),
            Self::Partial(s) => write!(f, "stopped at step {s}"),
            Self::Done => f.write_str("done"),
            Self::Failed { step, message } => {
                let first = message.lines().next().unwrap_or_default();
                match step {
                    Some(s) => write!(f, "failed (checkpoint at step {s}): {first}"),
                    None => write!(f, "failed: {first}"),
                }
            }
        }
    }
}

/// The file in a cell's directory that holds the message of its last failed attempt.
pub const ERROR_FILE: &str = "cell-error.txt";

/// The state of `cell` in its run directory `dir`. A directory whose saved configuration
/// differs from the cell's is an error (it belongs to another sweep).
pub fn cell_state(cell: &Cell, dir: &Path) -> Result<CellState> {
    let rd = RunDir::new(dir);
    let error = std::fs::read_to_string(dir.join(ERROR_FILE)).ok();
    if rd.path(RunFile::Config).exists() {
        let saved = rd.read_config()?;
        if saved != cell.config {
            return Err(Error::Config(format!(
                "{} holds a run with another configuration than cell {} ({}); remove that \
                 directory or use another sweep directory",
                dir.display(),
                cell.index,
                cell.id
            )));
        }
        if rd.path(RunFile::Summary).exists() && rd.read_summary()?.steps >= cell.config.train.steps
        {
            return Ok(CellState::Done);
        }
    }
    let step = if dir.join(RunFile::Checkpoints.name()).is_dir() {
        rd.latest_checkpoint()?.map(|(s, _)| s)
    } else {
        None
    };
    Ok(match (error, step) {
        (Some(message), step) => CellState::Failed { step, message },
        (None, Some(s)) => CellState::Partial(s),
        (None, None) => CellState::Missing,
    })
}
