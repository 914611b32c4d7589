//! The imbalance experiment (the first paper's second result): on data tiled densely along one
//! axis and sparsely along the other, are x and y learned together or as two 1D problems?
//!
//! The experiment is a base [`ExperimentConfig`] with an `[imbalance]` section ([`ImbalanceConfig`]):
//! datasets that differ only in their spacings (imbalanced dx = 0.1, dy = 1; its mirror; a
//! balanced control of the same size) times seeds. [`plan`] turns it into independent runs, one
//! directory each under the experiment's output directory, so they can run in one process, in
//! several, or on a cluster; [`compare`] reads whatever runs are complete and computes the
//! coupling statistic ([`coupling`]); [`report`] draws and writes the comparison.
//!
//! ```
//! use bump_ddpm::imbalance::plan;
//! use bump_ddpm::{ExperimentConfig, Preset};
//!
//! let cfg = Preset::Imbalance.config();
//! let runs = plan(&cfg, "runs/imbalance".as_ref())?;
//! assert_eq!(runs.len(), 9); // 3 datasets × 3 seeds
//! assert_eq!(runs[0].config.data.dx, 0.1);
//! assert!(runs[0].dir.ends_with("imbalanced-seed0"));
//! # Ok::<(), bump_ddpm::Error>(())
//! ```

pub mod coupling;
pub mod report;

use crate::config::ExperimentConfig;
pub use crate::experiment::{execute, status, FinishedRun, PlannedRun, RunStatus};
use crate::experiment::{plan_runs, read_finished};
use crate::{Error, Result};
use coupling::{chance_error, Axis, CouplingConfig, DatasetCoupling, RunCoupling};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// One dataset of the comparison: the base data with these spacings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AxisSpacing {
    /// Name (a directory-name component: letters, digits, `-`, `_`).
    pub name: String,
    /// Centre spacing along x.
    pub dx: f64,
    /// Centre spacing along y.
    pub dy: f64,
}

impl AxisSpacing {
    /// A named pair of spacings.
    pub fn new(name: &str, dx: f64, dy: f64) -> Self {
        Self {
            name: name.into(),
            dx,
            dy,
        }
    }
}

/// The `[imbalance]` section of an experiment configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImbalanceConfig {
    /// Master seeds; every dataset is trained once per seed (default 0, 1, 2).
    #[serde(default = "default_seeds")]
    pub seeds: Vec<u64>,
    /// The datasets compared (default: imbalanced 0.1 × 1, mirror 1 × 0.1, balanced √0.1 × √0.1).
    #[serde(default = "default_datasets")]
    pub datasets: Vec<AxisSpacing>,
    /// The onset rule and its intervals.
    #[serde(default)]
    pub coupling: CouplingConfig,
}

fn default_seeds() -> Vec<u64> {
    vec![0, 1, 2]
}

fn default_datasets() -> Vec<AxisSpacing> {
    let b = 0.1f64.sqrt();
    vec![
        AxisSpacing::new("imbalanced", 0.1, 1.0),
        AxisSpacing::new("mirror", 1.0, 0.1),
        AxisSpacing::new("balanced", b, b),
    ]
}

impl Default for ImbalanceConfig {
    fn default() -> Self {
        Self {
            seeds: default_seeds(),
            datasets: default_datasets(),
            coupling: CouplingConfig::default(),
        }
    }
}

impl ImbalanceConfig {
    /// Checks seeds, dataset names and spacings, and the coupling rule; messages name the key.
    pub fn validate(&self) -> Result<()> {
        crate::experiment::check_seeds("imbalance", &self.seeds)?;
        if self.datasets.is_empty() {
            return Err(Error::Config("imbalance.datasets must not be empty".into()));
        }
        for (i, d) in self.datasets.iter().enumerate() {
            let key = format!("imbalance.datasets[{i}]");
            let ok_name = !d.name.is_empty()
                && d.name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
            if !ok_name {
                return Err(Error::Config(format!(
                    "{key}.name must be non-empty letters, digits, '-' or '_', got {:?}",
                    d.name
                )));
            }
            if self.datasets[..i].iter().any(|o| o.name == d.name) {
                return Err(Error::Config(format!(
                    "{key}.name must be unique, got {:?} twice",
                    d.name
                )));
            }
            for (axis, v) in [("dx", d.dx), ("dy", d.dy)] {
                if !(v.is_finite() && v > 0.0) {
                    return Err(Error::Config(format!(
                        "{key}.{axis} must be finite and > 0, got {v}"
                    )));
                }
            }
        }
        self.coupling.validate("imbalance.coupling")
    }

    /// The dataset called `name`.
    pub fn dataset(&self, name: &str) -> Result<&AxisSpacing> {
        self.datasets
            .iter()
            .find(|d| d.name == name)
            .ok_or_else(|| {
                let known: Vec<&str> = self.datasets.iter().map(|d| d.name.as_str()).collect();
                Error::Config(format!(
                    "no imbalance dataset named {name:?}; the configuration has {known:?}"
                ))
            })
    }
}

/// The experiment's section, or an error saying how to get one.
pub fn section(cfg: &ExperimentConfig) -> Result<&ImbalanceConfig> {
    cfg.imbalance.as_ref().ok_or_else(|| {
        Error::Config(
            "the configuration has no [imbalance] section; start from --preset imbalance \
             (configs/imbalance.toml) or add one"
                .into(),
        )
    })
}

/// Every run of the experiment, dataset-major within each seed (seed 0 of every dataset first,
/// so a partial experiment already compares the datasets).
pub fn plan(cfg: &ExperimentConfig, out: &Path) -> Result<Vec<PlannedRun>> {
    let imb = section(cfg)?;
    imb.validate()?;
    let mut base = cfg.clone();
    base.imbalance = None;
    plan_runs(
        &base,
        out,
        &imb.seeds,
        &imb.datasets,
        |d| d.name.as_str(),
        |d, c| {
            c.data.dx = d.dx;
            c.data.dy = d.dy;
        },
    )
}

/// The comparison of every finished run: per-run onsets and per-dataset summaries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    /// Every planned run as `dataset:seed` with its status (`done`, `stopped at step …`, …).
    pub runs: Vec<(String, String)>,
    /// The rule used.
    pub coupling: CouplingConfig,
    /// Uniform-guess error per axis over the evaluation centres (the fallback reference).
    pub chance_error: [f64; 2],
    /// Onsets and Δ of each finished run.
    pub per_run: Vec<RunCoupling>,
    /// Across-seed summaries, in configuration order.
    pub per_dataset: Vec<DatasetCoupling>,
}

/// Reads every finished run of the plan and computes the coupling statistic. Runs that are not
/// finished are listed with their status and left out of the statistic.
pub fn compare(cfg: &ExperimentConfig, out: &Path) -> Result<(Comparison, Vec<FinishedRun>)> {
    let imb = section(cfg)?;
    let planned = plan(cfg, out)?;
    let centres = cfg.eval.centres.centres(cfg.data.extent())?;
    let extent = cfg.data.extent() as f64;
    let chance =
        [0, 1].map(|a| chance_error(&centres.iter().map(|c| c[a]).collect::<Vec<_>>(), extent));
    let (statuses, finished) = read_finished(&planned)?;
    let per_run = finished
        .iter()
        .map(|f| {
            let d = imb.dataset(&f.dataset)?;
            Ok(RunCoupling::of(
                &f.dataset,
                f.seed,
                Axis::dense(d.dx, d.dy),
                &f.records,
                chance,
                &imb.coupling,
            ))
        })
        .collect::<Result<Vec<_>>>()?;
    let per_dataset = imb
        .datasets
        .iter()
        .map(|d| {
            let runs: Vec<RunCoupling> = per_run
                .iter()
                .filter(|r| r.dataset == d.name)
                .cloned()
                .collect();
            DatasetCoupling::of(&d.name, [d.dx, d.dy], &runs, &imb.coupling)
        })
        .collect::<Result<Vec<_>>>()?;
    Ok((
        Comparison {
            runs: statuses,
            coupling: imb.coupling,
            chance_error: chance,
            per_run,
            per_dataset,
        },
        finished,
    ))
}

/// The experiment as its entry point drives it ([`crate::experiment::run_cli`]).
pub struct Imbalance;

impl crate::experiment::Experiment for Imbalance {
    type Comparison = Comparison;
    const PRESET: crate::Preset = crate::Preset::Imbalance;

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
            format!("{}\n{}\n", report::onset_table(c), report::verdict(c)),
        ))
    }
}
