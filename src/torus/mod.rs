//! The follow-up's torus experiment: trained on periodic bumps, is layer 4 closer to a
//! factorized 4D Clifford torus (x and y on orthogonal circles) or to a 3D torus (x and y
//! coupled in three dimensions)?
//!
//! Every run is the base configuration (periodic data, `eval.topology` set) with one seed. At each
//! checkpoint the evaluator records the torus statistics of layer 4 on the periodic evaluation
//! grid, their distances to the two ideal tori built on the same grid, and Rips persistence
//! (`EvalRecord::topology`, docs/followup.md). [`compare`] summarises the finished runs.
//!
//! ```
//! use bump_ddpm::torus::plan;
//! use bump_ddpm::Preset;
//!
//! let cfg = Preset::Torus.config();
//! let runs = plan(&cfg, "runs/torus".as_ref())?;
//! assert_eq!(runs.len(), 3); // 3 seeds
//! assert!(runs[0].config.data.periodic && runs[0].config.eval.topology.is_some());
//! # Ok::<(), bump_ddpm::Error>(())
//! ```

pub mod report;

use crate::config::ExperimentConfig;
pub use crate::experiment::{execute, status, FinishedRun, PlannedRun, RunStatus, Spread};
use crate::experiment::{plan_runs, read_finished};
use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// The name of the experiment's one dataset variant (its run directories are
/// `periodic-seed<seed>`).
pub const VARIANT: &str = "periodic";

/// The `[torus]` section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TorusConfig {
    /// Master seeds (default 0, 1, 2).
    #[serde(default = "default_seeds")]
    pub seeds: Vec<u64>,
    /// Confidence of the across-seed intervals (0.95).
    #[serde(default = "default_confidence")]
    pub confidence: f64,
}

fn default_seeds() -> Vec<u64> {
    vec![0, 1, 2]
}
fn default_confidence() -> f64 {
    0.95
}

impl TorusConfig {
    /// Checks the seeds and the confidence.
    pub fn validate(&self) -> Result<()> {
        crate::experiment::check_seeds("torus", &self.seeds)?;
        if !(self.confidence.is_finite() && self.confidence > 0.0 && self.confidence < 1.0) {
            return Err(Error::Config(format!(
                "torus.confidence must lie in (0, 1), got {}",
                self.confidence
            )));
        }
        Ok(())
    }
}

/// The experiment's section, or an error saying how to get one.
pub fn section(cfg: &ExperimentConfig) -> Result<&TorusConfig> {
    cfg.torus.as_ref().ok_or_else(|| {
        Error::Config(
            "the configuration has no [torus] section; start from --preset torus \
             (configs/torus.toml) or add one"
                .into(),
        )
    })
}

/// Every run of the experiment: one per seed. The data must be periodic and `eval.topology`
/// set (an error says so otherwise).
pub fn plan(cfg: &ExperimentConfig, out: &Path) -> Result<Vec<PlannedRun>> {
    let t = section(cfg)?;
    t.validate()?;
    if !cfg.data.periodic {
        return Err(Error::Config(
            "the torus experiment needs periodic data: data.periodic = true".into(),
        ));
    }
    if cfg.eval.topology.is_none() {
        return Err(Error::Config(
            "the torus experiment needs eval.topology (e.g. `[eval.topology]` with defaults)"
                .into(),
        ));
    }
    let mut base = cfg.clone();
    base.torus = None;
    plan_runs(&base, out, &t.seeds, &[VARIANT], |v| v, |_, _| {})
}

/// One run's final topology.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunResult {
    /// Master seed.
    pub seed: u64,
    /// Step of the last record.
    pub step: u64,
    /// Final accuracy (τ 1 px).
    pub final_accuracy: f64,
    /// Final distance to the Clifford torus.
    pub clifford_distance: f64,
    /// Final distance to the 3D torus.
    pub torus_3d_distance: f64,
    /// `clifford_distance − torus_3d_distance` (< 0: closer to Clifford).
    pub difference: f64,
    /// Final prominent `[H0, H1]`.
    pub prominent: [usize; 2],
    /// First checkpoint from which the representation stays closer to Clifford than to the 3D
    /// torus until the end (`None`: not at the end).
    pub clifford_from: Option<u64>,
}

/// What the runs say.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TorusVerdict {
    /// The interval of the final difference lies below 0.
    CloserToClifford,
    /// It lies above 0.
    #[serde(rename = "closer_to_3d")]
    CloserTo3d,
    /// It covers 0.
    Undecided,
    /// Fewer than two finished runs with topology.
    Undetermined,
}

impl std::fmt::Display for TorusVerdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::CloserToClifford => "closer to the Clifford torus",
            Self::CloserTo3d => "closer to the 3D torus",
            Self::Undecided => "undecided",
            Self::Undetermined => "undetermined",
        })
    }
}

/// The comparison of the finished runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    /// Every planned run as `periodic:seed` with its status.
    pub runs: Vec<(String, String)>,
    /// Each finished run with topology records.
    pub per_run: Vec<RunResult>,
    /// Final Clifford distance over seeds.
    pub clifford_distance: Spread,
    /// Final 3D-torus distance over seeds.
    pub torus_3d_distance: Spread,
    /// Final difference over seeds.
    pub difference: Spread,
    /// Final prominent H1 count over seeds.
    pub h1: Spread,
    /// From the difference's interval.
    pub verdict: TorusVerdict,
}

/// The final topology of one run (`None` without topology records).
pub fn run_result(f: &FinishedRun) -> Option<RunResult> {
    let with: Vec<(&crate::record::EvalRecord, &crate::record::TopologyRecord)> = f
        .records
        .iter()
        .filter_map(|r| r.topology.as_ref().map(|t| (r, t)))
        .collect();
    let &(last, t) = with.last()?;
    let closer = |t: &crate::record::TopologyRecord| t.clifford_distance < t.torus_3d_distance;
    let from = with
        .iter()
        .rposition(|(_, t)| !closer(t))
        .map_or(0, |i| i + 1);
    Some(RunResult {
        seed: f.seed,
        step: last.step,
        final_accuracy: last.accuracy,
        clifford_distance: t.clifford_distance,
        torus_3d_distance: t.torus_3d_distance,
        difference: t.clifford_distance - t.torus_3d_distance,
        prominent: t.prominent,
        clifford_from: with.get(from).map(|(r, _)| r.step),
    })
}

/// Reads every finished run and summarises.
pub fn compare(cfg: &ExperimentConfig, out: &Path) -> Result<(Comparison, Vec<FinishedRun>)> {
    let t = section(cfg)?;
    let planned = plan(cfg, out)?;
    let (runs, finished) = read_finished(&planned)?;
    let per_run: Vec<RunResult> = finished.iter().filter_map(run_result).collect();
    let spread = |f: &dyn Fn(&RunResult) -> f64| {
        Spread::of(&per_run.iter().map(f).collect::<Vec<_>>(), t.confidence)
    };
    let difference = spread(&|r| r.difference)?;
    let verdict = match difference.interval {
        None => TorusVerdict::Undetermined,
        Some([_, hi]) if hi < 0.0 => TorusVerdict::CloserToClifford,
        Some([lo, _]) if lo > 0.0 => TorusVerdict::CloserTo3d,
        Some(_) => TorusVerdict::Undecided,
    };
    Ok((
        Comparison {
            runs,
            clifford_distance: spread(&|r| r.clifford_distance)?,
            torus_3d_distance: spread(&|r| r.torus_3d_distance)?,
            h1: spread(&|r| r.prominent[1] as f64)?,
            difference,
            per_run,
            verdict,
        },
        finished,
    ))
}

/// The experiment as its entry point drives it ([`crate::experiment::run_cli`]).
pub struct Torus;

impl crate::experiment::Experiment for Torus {
    type Comparison = Comparison;
    const PRESET: crate::Preset = crate::Preset::Torus;

    fn plan(cfg: &ExperimentConfig, out: &Path) -> Result<Vec<PlannedRun>> {
        plan(cfg, out)
    }

    fn compare(cfg: &ExperimentConfig, out: &Path) -> Result<(Comparison, Vec<FinishedRun>)> {
        compare(cfg, out)
    }

    fn report(
        out: &Path,
        c: &Comparison,
        runs: &[FinishedRun],
    ) -> Result<(std::path::PathBuf, String)> {
        let path = report::write(out, c, runs)?;
        Ok((
            path,
            format!("{}\n{}\n", report::table(c), report::verdict(c)),
        ))
    }
}
