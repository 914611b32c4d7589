//! The merged results of a sweep: one row per cell (its axis values and a summary of its run),
//! sorted by cell id, written as `results.jsonl` and `results.csv`.

use super::{CellState, Sweep, RESULTS_CSV, RESULTS_JSONL};
use crate::record::{EvalRecord, SetScore};
use crate::run_dir::RunDir;
use crate::{Error, Result};
use bump_analysis::Phase;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// The summary of a finished cell's run (from `summary.json` and `metrics.jsonl`). Steps are
/// optimiser updates at evaluated checkpoints; `None`: never observed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CellMetrics {
    /// Completed optimiser updates.
    pub steps: u64,
    /// Wall-clock seconds of the run (a resumed run adds its earlier parts).
    pub wall_s: f64,
    /// Accuracy at the last checkpoint (τ = 1 px).
    pub final_accuracy: f64,
    /// Accuracy at the last checkpoint at the tight tolerance (τ = 0.5 px).
    pub final_accuracy_tight: f64,
    /// Generation phase at the last checkpoint.
    pub final_gen_phase: Phase,
    /// Layer-4 phase at the last checkpoint.
    pub final_rep_phase: Phase,
    /// First checkpoint whose generation is labelled A.
    pub gen_a: Option<u64>,
    /// First checkpoint whose generation is labelled B.
    pub gen_b: Option<u64>,
    /// First checkpoint whose generation is labelled C.
    pub gen_c: Option<u64>,
    /// First checkpoint from which every later generation label is C.
    pub gen_c_for_good: Option<u64>,
    /// Steps from the first generation B to the checkpoint after the last one (0 checkpoints
    /// labelled B: `None`).
    pub gen_b_steps: Option<u64>,
    /// First checkpoint whose layer 4 is labelled A.
    pub rep_a: Option<u64>,
    /// First checkpoint whose layer 4 is labelled B.
    pub rep_b: Option<u64>,
    /// First checkpoint whose layer 4 is labelled C.
    pub rep_c: Option<u64>,
    /// First checkpoint from which every later layer-4 label is C.
    pub rep_c_for_good: Option<u64>,
    /// Steps from the first layer-4 B to the checkpoint after the last one.
    pub rep_b_steps: Option<u64>,
    /// The further evaluation sets (`eval.sets`) of the run, by name; empty (and absent from
    /// the JSON) without any.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub sets: BTreeMap<String, SetMetrics>,
}

/// The summary of one further evaluation set (`eval.sets`) over a cell's run. Its generation
/// phase is the main rule ([`bump_analysis::classify_generation`], default thresholds) applied
/// to the set's own failure mix.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SetMetrics {
    /// The set's accuracy at the last checkpoint (τ = 1 px).
    pub final_accuracy: f64,
    /// The set's accuracy at the last checkpoint at the tight tolerance (τ = 0.5 px).
    pub final_accuracy_tight: f64,
    /// The set's generation phase at the last checkpoint.
    pub final_gen_phase: Phase,
    /// First checkpoint whose generation on the set is labelled C.
    pub gen_c: Option<u64>,
    /// First checkpoint from which every later generation label on the set is C.
    pub gen_c_for_good: Option<u64>,
}

/// One row of the results: a cell, its state and (when done) its metrics.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResultRow {
    /// Cell id.
    pub id: String,
    /// Cell index.
    pub index: usize,
    /// `done`, `partial`, `missing` or `failed`.
    pub status: String,
    /// Axis values, by key.
    pub axes: BTreeMap<String, serde_json::Value>,
    /// Metrics of a finished cell; `None` otherwise.
    pub metrics: Option<CellMetrics>,
}

/// A numeric column of the results: its name and how to read it from a row's metrics.
pub type Column = (&'static str, fn(&CellMetrics) -> Option<f64>);

fn step(v: Option<u64>) -> Option<f64> {
    v.map(|s| s as f64)
}

/// The numeric metric columns, in table order (what heatmaps can show).
pub const COLUMNS: [Column; 14] = [
    ("final_accuracy", |m| Some(m.final_accuracy)),
    ("final_accuracy_tight", |m| Some(m.final_accuracy_tight)),
    ("gen_a", |m| step(m.gen_a)),
    ("gen_b", |m| step(m.gen_b)),
    ("gen_c", |m| step(m.gen_c)),
    ("gen_c_for_good", |m| step(m.gen_c_for_good)),
    ("gen_b_steps", |m| step(m.gen_b_steps)),
    ("rep_a", |m| step(m.rep_a)),
    ("rep_b", |m| step(m.rep_b)),
    ("rep_c", |m| step(m.rep_c)),
    ("rep_c_for_good", |m| step(m.rep_c_for_good)),
    ("rep_b_steps", |m| step(m.rep_b_steps)),
    ("steps", |m| Some(m.steps as f64)),
    ("wall_s", |m| Some(m.wall_s)),
];

/// A numeric column of one evaluation set's summary.
pub type SetColumn = (&'static str, fn(&SetMetrics) -> Option<f64>);

/// The numeric columns of every evaluation set, in table order; the results call them
/// `set:<name>:<column>` (e.g. `set:train:gen_c`).
pub const SET_COLUMNS: [SetColumn; 4] = [
    ("final_accuracy", |m| Some(m.final_accuracy)),
    ("final_accuracy_tight", |m| Some(m.final_accuracy_tight)),
    ("gen_c", |m| step(m.gen_c)),
    ("gen_c_for_good", |m| step(m.gen_c_for_good)),
];

/// A resolved results column: one of [`COLUMNS`], or one of [`SET_COLUMNS`] of a named set.
#[derive(Debug, Clone)]
pub enum ColumnRef {
    /// A column of the cell's main summary.
    Cell(Column),
    /// A column of the evaluation set named `.0`.
    Set(String, SetColumn),
}

impl ColumnRef {
    /// The column's name in the results (`gen_c`, `set:train:gen_c`).
    pub fn name(&self) -> String {
        match self {
            Self::Cell((n, _)) => n.to_string(),
            Self::Set(set, (n, _)) => format!("set:{set}:{n}"),
        }
    }

    /// The column's value in `m` (`None`: never observed, or the cell has no such set).
    pub fn get(&self, m: &CellMetrics) -> Option<f64> {
        match self {
            Self::Cell((_, get)) => get(m),
            Self::Set(set, (_, get)) => m.sets.get(set).and_then(get),
        }
    }
}

/// The column named `name`: a name of [`COLUMNS`], or `set:<set>:<column>` with a column of
/// [`SET_COLUMNS`] (an error lists both).
pub fn column(name: &str) -> Result<ColumnRef> {
    if let Some(c) = COLUMNS.into_iter().find(|c| c.0 == name) {
        return Ok(ColumnRef::Cell(c));
    }
    if let Some((set, field)) = name.strip_prefix("set:").and_then(|r| r.rsplit_once(':')) {
        if let Some(c) = SET_COLUMNS.into_iter().find(|c| c.0 == field) {
            if !set.is_empty() {
                return Ok(ColumnRef::Set(set.to_string(), c));
            }
        }
    }
    let names: Vec<&str> = COLUMNS.iter().map(|c| c.0).collect();
    let set_names: Vec<&str> = SET_COLUMNS.iter().map(|c| c.0).collect();
    Err(Error::Config(format!(
        "unknown results column `{name}`; expected one of {}, or set:<eval set>:<{}>",
        names.join(", "),
        set_names.join("|")
    )))
}

/// The first step from which every later checkpoint satisfies `f`.
fn for_good(records: &[EvalRecord], f: impl Fn(&EvalRecord) -> bool) -> Option<u64> {
    let tail = records.iter().rev().take_while(|r| f(r)).count();
    (tail > 0).then(|| records[records.len() - tail].step)
}

/// Steps from the first checkpoint satisfying `f` to the checkpoint after the last one (the
/// last checkpoint itself when it is the last one), as examples/compare_runs.rs counts B.
fn stretch(records: &[EvalRecord], f: impl Fn(&EvalRecord) -> bool) -> Option<u64> {
    let a = records.iter().position(&f)?;
    let z = records.iter().rposition(&f)?;
    let end = records.get(z + 1).map_or(records[z].step, |r| r.step);
    Some(end - records[a].step)
}

impl CellMetrics {
    /// Reads a finished run directory.
    pub fn read(dir: &std::path::Path) -> Result<Self> {
        let rd = RunDir::new(dir);
        let s = rd.read_summary()?;
        let records = rd.read_records()?;
        let last = records.last().ok_or_else(|| Error::Parse {
            path: dir.join("metrics.jsonl"),
            detail: "a finished run without records".into(),
        })?;
        Ok(Self {
            steps: s.steps,
            wall_s: s.wall_s,
            final_accuracy: s.final_accuracy,
            final_accuracy_tight: last.accuracy_tight,
            final_gen_phase: s.final_gen_phase,
            final_rep_phase: s.final_rep_phase,
            gen_a: s.gen_phase_onsets.a,
            gen_b: s.gen_phase_onsets.b,
            gen_c: s.gen_phase_onsets.c,
            gen_c_for_good: for_good(&records, |r| r.gen_phase == Phase::C),
            gen_b_steps: stretch(&records, |r| r.gen_phase == Phase::B),
            rep_a: s.rep_phase_onsets.a,
            rep_b: s.rep_phase_onsets.b,
            rep_c: s.rep_phase_onsets.c,
            rep_c_for_good: for_good(&records, |r| r.rep_phase == Phase::C),
            rep_b_steps: stretch(&records, |r| r.rep_phase == Phase::B),
            sets: set_metrics(&records),
        })
    }
}

/// The generation phase of one set's score (the main rule, default thresholds).
fn set_phase(s: &SetScore) -> Phase {
    s.classify_generation().phase
}

/// Every evaluation set of the last record, summarised over the records that scored it.
fn set_metrics(records: &[EvalRecord]) -> BTreeMap<String, SetMetrics> {
    let Some(last) = records.last() else {
        return BTreeMap::new();
    };
    last.sets
        .iter()
        .map(|(name, final_score)| {
            let is_c = |r: &EvalRecord| r.sets.get(name).map(set_phase) == Some(Phase::C);
            let metrics = SetMetrics {
                final_accuracy: final_score.accuracy,
                final_accuracy_tight: final_score.accuracy_tight,
                final_gen_phase: set_phase(final_score),
                gen_c: records.iter().find(|r| is_c(r)).map(|r| r.step),
                gen_c_for_good: for_good(records, is_c),
            };
            (name.clone(), metrics)
        })
        .collect()
}

/// Where the merge wrote its tables.
#[derive(Debug, Clone)]
pub struct Merged {
    /// The rows, sorted by cell id.
    pub rows: Vec<ResultRow>,
    /// `results.jsonl`.
    pub jsonl: PathBuf,
    /// `results.csv`.
    pub csv: PathBuf,
}

/// Every cell's row, sorted by cell id (reads the cells' directories; writes nothing).
pub fn rows(sweep: &Sweep) -> Result<Vec<ResultRow>> {
    let mut rows = Vec::with_capacity(sweep.cells.len());
    for cell in &sweep.cells {
        let state = sweep.state(cell)?;
        let metrics = match state {
            CellState::Done => Some(CellMetrics::read(&sweep.cell_dir(cell))?),
            _ => None,
        };
        rows.push(ResultRow {
            id: cell.id.clone(),
            index: cell.index,
            status: state.word().into(),
            axes: cell.axes.clone(),
            metrics,
        });
    }
    rows.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(rows)
}

/// The names of the evaluation sets that any finished row has, sorted.
pub fn set_names(rows: &[ResultRow]) -> std::collections::BTreeSet<&str> {
    rows.iter()
        .filter_map(|r| r.metrics.as_ref())
        .flat_map(|m| m.sets.keys().map(String::as_str))
        .collect()
}

/// A value as a CSV field: strings bare, numbers and booleans as JSON writes them, `null` empty,
/// tables and lists as compact JSON.
fn csv_field(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::Null => String::new(),
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The CSV text of `rows`: `id, index, status`, the axis keys in `axis_keys` order, the final
/// phases, [`COLUMNS`], then for each evaluation set any row has (sorted by name) its
/// [`SET_COLUMNS`] as `set:<name>:<column>`. Empty fields: not finished, never observed, or a
/// set this cell does not have.
pub fn csv_text(rows: &[ResultRow], axis_keys: &[String]) -> Result<String> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let mut header: Vec<String> = ["id", "index", "status"].map(String::from).to_vec();
    header.extend(axis_keys.iter().cloned());
    header.extend(["final_gen_phase", "final_rep_phase"].map(String::from));
    header.extend(COLUMNS.iter().map(|c| c.0.to_string()));
    let set_names = set_names(rows);
    let set_columns: Vec<ColumnRef> = set_names
        .iter()
        .flat_map(|set| {
            SET_COLUMNS
                .into_iter()
                .map(|c| ColumnRef::Set(set.to_string(), c))
        })
        .collect();
    header.extend(set_columns.iter().map(ColumnRef::name));
    let csv_err = |e: csv::Error| Error::Config(format!("results.csv: {e}"));
    w.write_record(&header).map_err(csv_err)?;
    for r in rows {
        let mut fields = vec![r.id.clone(), r.index.to_string(), r.status.clone()];
        for k in axis_keys {
            fields.push(r.axes.get(k).map(csv_field).unwrap_or_default());
        }
        match &r.metrics {
            Some(m) => {
                fields.push(m.final_gen_phase.to_string());
                fields.push(m.final_rep_phase.to_string());
                for (_, get) in COLUMNS {
                    fields.push(get(m).map(|v| format!("{v}")).unwrap_or_default());
                }
                for c in &set_columns {
                    fields.push(c.get(m).map(|v| format!("{v}")).unwrap_or_default());
                }
            }
            None => fields.extend(std::iter::repeat_n(
                String::new(),
                COLUMNS.len() + 2 + set_columns.len(),
            )),
        }
        w.write_record(&fields).map_err(csv_err)?;
    }
    let bytes = w
        .into_inner()
        .map_err(|e| Error::Config(format!("results.csv: {e}")))?;
    String::from_utf8(bytes).map_err(|e| Error::Config(format!("results.csv: {e}")))
}

/// Merges the sweep's cells into `results.jsonl` and `results.csv` (atomic writes; the same
/// cells give the same bytes). Unfinished cells get a row with their status and no metrics.
pub fn merge(sweep: &Sweep) -> Result<Merged> {
    let rows = rows(sweep)?;
    let mut jsonl = String::new();
    for r in &rows {
        jsonl.push_str(&serde_json::to_string(r)?);
        jsonl.push('\n');
    }
    let jsonl_path = sweep.dir.join(RESULTS_JSONL);
    let csv_path = sweep.dir.join(RESULTS_CSV);
    crate::io::write_atomic(&jsonl_path, jsonl.as_bytes())?;
    crate::io::write_atomic(&csv_path, csv_text(&rows, &sweep.axis_keys)?.as_bytes())?;
    Ok(Merged {
        rows,
        jsonl: jsonl_path,
        csv: csv_path,
    })
}
