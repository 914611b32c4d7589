//! Sweeps: a grid of configurations (a [`SweepSpec`] in TOML), expanded into cells with stable
//! ids, trained as ordinary run directories by a backend (local processes, or Slurm job arrays
//! in `sweep::slurm`), and merged into one results table with heatmaps.
//!
//! A sweep directory holds:
//!
//! ```text
//! <sweep>/sweep.toml             the spec, as given to the first `run`/`plan`
//! <sweep>/cells.json             every cell: index, id, axis values, full configuration
//! <sweep>/cells/<id>/            one ordinary run directory per cell (train::run), plus
//!           cell.log             the local backend's log of the cell's process
//!           cell-error.txt       the message of the last failed attempt (removed on success)
//! <sweep>/results.jsonl          merged results, one row per cell, sorted by id
//! <sweep>/results.csv
//! <sweep>/percolation.md, .json  λ sweeps: accuracy threshold vs simulated percolation threshold
//! <sweep>/figures/heatmap-*.png  heatmaps (and .svg)
//! ```
//!
//! [`Sweep::run_cell`] runs exactly one cell (what `examples/sweep cell DIR --index I` and a
//! Slurm array task call): a finished cell is skipped, a cell with checkpoints resumes from the
//! newest one. docs/sweeps.md describes the spec format, the backends and the outputs.

pub mod cell;
pub mod curves;
pub mod heatmap;
pub mod local;
pub mod merge;
pub mod percolation;
pub mod percolation_plot;
pub mod slurm;
pub mod spec;

pub use cell::{Cell, CellState};
pub use curves::CurvesSpec;
pub use heatmap::HeatmapSpec;
pub use local::{run_local, LocalOptions, LocalReport};
pub use merge::{merge, ResultRow};
pub use spec::{Axis, Base, SweepSpec, MAX_CELLS};

use crate::error::io_err;
use crate::train::{run, RunOptions, RunOutcome};
use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The spec's copy in a sweep directory.
pub const SPEC_FILE: &str = "sweep.toml";
/// The expanded cells of a sweep directory.
pub const CELLS_FILE: &str = "cells.json";
/// The directory of the cells' run directories.
pub const CELLS_DIR: &str = "cells";
/// The local backend's log of a cell's process, in the cell's directory.
pub const LOG_FILE: &str = "cell.log";
/// The merged results, one JSON object per line.
pub const RESULTS_JSONL: &str = "results.jsonl";
/// The merged results as CSV.
pub const RESULTS_CSV: &str = "results.csv";
/// The directory of the heatmaps.
pub const FIGURES_DIR: &str = "figures";

/// Version of the `cells.json` format.
const FORMAT: u32 = 1;

/// `cells.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct CellsFile {
    format: u32,
    name: String,
    axis_keys: Vec<String>,
    cells: Vec<Cell>,
}

/// A sweep: its directory and its expanded cells.
#[derive(Debug, Clone, PartialEq)]
pub struct Sweep {
    /// The sweep directory.
    pub dir: PathBuf,
    /// The sweep's name.
    pub name: String,
    /// Every axis key, in expansion order.
    pub axis_keys: Vec<String>,
    /// Every cell, by index.
    pub cells: Vec<Cell>,
}

/// What [`Sweep::run_cell`] did.
#[derive(Debug)]
pub enum CellRun {
    /// The cell was already finished; nothing ran.
    AlreadyDone,
    /// The cell ran (fresh, or resumed from a checkpoint) to its end, or to
    /// [`RunOptions::stop_after`].
    Ran {
        /// Whether it continued from a checkpoint.
        resumed: bool,
        /// What the run left behind.
        outcome: Box<RunOutcome>,
    },
}

impl Sweep {
    /// Expands `spec` for the directory `dir` without touching the disk (every invalid cell is
    /// reported in one error).
    pub fn plan(spec: &SweepSpec, dir: impl Into<PathBuf>) -> Result<Self> {
        Ok(Self {
            dir: dir.into(),
            name: spec.name.clone(),
            axis_keys: spec.axis_keys(),
            cells: spec.expand()?,
        })
    }

    /// Expands `spec` and prepares `dir`: writes the spec's copy and `cells.json`. A directory
    /// that already holds a sweep is accepted only if its cells are the same (same ids in the
    /// same order); otherwise nothing is written and the error says how they differ.
    pub fn create(spec: &SweepSpec, dir: impl Into<PathBuf>) -> Result<Self> {
        let planned = Self::plan(spec, dir)?;
        if planned.dir.join(CELLS_FILE).exists() {
            let existing = Self::open(&planned.dir)?;
            planned.check_same(&existing)?;
            return Ok(existing);
        }
        std::fs::create_dir_all(&planned.dir).map_err(io_err(&planned.dir))?;
        crate::io::write_atomic(&planned.dir.join(SPEC_FILE), spec.text.as_bytes())?;
        let file = CellsFile {
            format: FORMAT,
            name: planned.name.clone(),
            axis_keys: planned.axis_keys.clone(),
            cells: planned.cells.clone(),
        };
        crate::io::write_atomic(
            &planned.dir.join(CELLS_FILE),
            serde_json::to_string_pretty(&file)?.as_bytes(),
        )?;
        Ok(planned)
    }

    fn check_same(&self, existing: &Sweep) -> Result<()> {
        let refuse = |why: String| {
            Err(Error::Config(format!(
                "{} holds another sweep ({why}); use another --out, or remove that directory",
                self.dir.display()
            )))
        };
        if existing.name != self.name {
            return refuse(format!(
                "named `{}`, this spec is `{}`",
                existing.name, self.name
            ));
        }
        if existing.axis_keys != self.axis_keys {
            return refuse(format!(
                "axes {:?}, this spec has {:?}",
                existing.axis_keys, self.axis_keys
            ));
        }
        if existing.cells.len() != self.cells.len() {
            return refuse(format!(
                "{} cells, this spec has {}",
                existing.cells.len(),
                self.cells.len()
            ));
        }
        if let Some((a, b)) = existing
            .cells
            .iter()
            .zip(&self.cells)
            .find(|(a, b)| a.id != b.id)
        {
            return refuse(format!(
                "cell {} is {} there, {} in this spec",
                a.index, a.id, b.id
            ));
        }
        Ok(())
    }

    /// Reads a sweep directory's `cells.json`, checking that every cell's id still matches
    /// its configuration.
    pub fn open(dir: impl Into<PathBuf>) -> Result<Self> {
        let dir = dir.into();
        let path = dir.join(CELLS_FILE);
        let text = std::fs::read_to_string(&path).map_err(io_err(&path))?;
        let file: CellsFile = serde_json::from_str(&text).map_err(|e| Error::Parse {
            path: path.clone(),
            detail: e.to_string(),
        })?;
        if file.format != FORMAT {
            return Err(Error::Parse {
                path,
                detail: format!("format {} is not the supported {FORMAT}", file.format),
            });
        }
        for (i, c) in file.cells.iter().enumerate() {
            let hash = cell::config_hash(&c.config)?;
            if c.index != i || !c.id.ends_with(&hash) {
                return Err(Error::Parse {
                    path,
                    detail: format!(
                        "cell {i} (index {}, id {}) does not match its configuration (hash \
                         {hash}): the file was edited, or written by a version of bump-ddpm \
                         whose configuration has other keys",
                        c.index, c.id
                    ),
                });
            }
            c.config.validate()?;
        }
        Ok(Self {
            dir,
            name: file.name,
            axis_keys: file.axis_keys,
            cells: file.cells,
        })
    }

    /// The cell of `index` (an error names the valid range).
    pub fn cell(&self, index: usize) -> Result<&Cell> {
        self.cells.get(index).ok_or_else(|| {
            Error::Config(format!(
                "--index {index} is out of range: the sweep `{}` has {} cells (0..={})",
                self.name,
                self.cells.len(),
                self.cells.len().saturating_sub(1)
            ))
        })
    }

    /// The run directory of `cell`.
    pub fn cell_dir(&self, cell: &Cell) -> PathBuf {
        self.dir.join(CELLS_DIR).join(&cell.id)
    }

    /// The local backend's log of `cell`.
    pub fn log_path(&self, cell: &Cell) -> PathBuf {
        self.cell_dir(cell).join(LOG_FILE)
    }

    /// Where `cell` stands on disk.
    pub fn state(&self, cell: &Cell) -> Result<CellState> {
        cell::cell_state(cell, &self.cell_dir(cell))
    }

    /// Every cell's state, by index.
    pub fn states(&self) -> Result<Vec<CellState>> {
        self.cells.iter().map(|c| self.state(c)).collect()
    }

    /// Runs exactly the cell of `index` into its run directory: nothing when it is done, a
    /// resume from the newest checkpoint when it has one, else a fresh run. `base` gives the
    /// device, progress display, stop flag…; its `out_dir` and `resume` are replaced.
    ///
    /// A failed attempt leaves its message in `cell-error.txt` ([`CellState::Failed`]); a run
    /// stopped on request ([`Error::Interrupted`]) does not count as failed.
    pub fn run_cell(&self, index: usize, base: &RunOptions) -> Result<CellRun> {
        let cell = self.cell(index)?;
        let dir = self.cell_dir(cell);
        let state = self.state(cell)?;
        let resumed = match state {
            CellState::Done => return Ok(CellRun::AlreadyDone),
            CellState::Missing | CellState::Failed { step: None, .. } => false,
            CellState::Partial(_) | CellState::Failed { step: Some(_), .. } => true,
        };
        let error_file = dir.join(cell::ERROR_FILE);
        remove_if_exists(&error_file)?;
        let mut opts = base.clone();
        opts.out_dir = dir;
        opts.resume = resumed;
        match run(&cell.config, &opts) {
            Ok(outcome) => Ok(CellRun::Ran {
                resumed,
                outcome: Box::new(outcome),
            }),
            Err(e) => {
                if !matches!(e, Error::Interrupted { .. }) {
                    // Best effort: the error itself is what the caller must see.
                    let _ = crate::io::write_atomic(&error_file, format!("{e}\n").as_bytes());
                }
                Err(e)
            }
        }
    }
}

fn remove_if_exists(path: &Path) -> Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io_err(path)(e)),
        _ => Ok(()),
    }
}
