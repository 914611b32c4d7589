//! The follow-up's data-efficiency experiment: do 1D stripes (isolated factors of variation)
//! let a model learn 2D bumps from far fewer 2D examples?
//!
//! Every run trains on vertical and horizontal stripes from an extended latent canvas (so stripe
//! ends are invisible) plus a fraction f of the 2D-bump tiling (f = 0 is stripes only, f = 1 is
//! the whole tiling, where stripes are a few percent of the data). Generation is scored on 2D
//! bumps at every checkpoint; [`compare`] puts the runs on one axis, the number of 2D-bump
//! images the model has been shown (step × batch × bump share of the data), so the
//! data-efficiency of each f can be read off.
//!
//! ```
//! use bump_ddpm::stripes::plan;
//! use bump_ddpm::Preset;
//!
//! let cfg = Preset::Stripes.config();
//! let runs = plan(&cfg, "runs/stripes".as_ref())?;
//! assert_eq!(runs.len(), 10); // 5 fractions × 2 seeds
//! assert_eq!(runs[1].dataset, "f001"); // f = 0.01
//! # Ok::<(), bump_ddpm::Error>(())
//! ```

pub mod report;

use crate::config::ExperimentConfig;
pub use crate::experiment::{execute, status, FinishedRun, PlannedRun, RunStatus, Spread};
use crate::experiment::{plan_runs, read_finished};
use crate::imbalance::coupling::{first_crossing, Crossing};
use crate::{Error, Result};
use bump_data::{DataPart, Pattern};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// The `[stripes]` section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StripesConfig {
    /// Master seeds (default 0, 1).
    #[serde(default = "default_seeds")]
    pub seeds: Vec<u64>,
    /// Fractions f of the 2D-bump tiling mixed with the stripes (default 0, 0.01, 0.05, 0.2, 1).
    #[serde(default = "default_fractions")]
    pub fractions: Vec<f64>,
    /// "Learned": the 2D-bump accuracy level whose crossing is reported (0.5).
    #[serde(default = "default_level")]
    pub accuracy_level: f64,
    /// Confidence of the across-seed intervals (0.95).
    #[serde(default = "default_confidence")]
    pub confidence: f64,
}

fn default_seeds() -> Vec<u64> {
    vec![0, 1]
}
fn default_fractions() -> Vec<f64> {
    vec![0.0, 0.01, 0.05, 0.2, 1.0]
}
fn default_level() -> f64 {
    0.5
}
fn default_confidence() -> f64 {
    0.95
}

/// The run-directory name of fraction `f`: `f` and the percentage in three digits (`f005`).
pub fn fraction_name(f: f64) -> String {
    format!("f{:03}", (100.0 * f).round() as u64)
}

impl StripesConfig {
    /// Checks seeds, fractions (in [0, 1], distinct at percent resolution) and levels.
    pub fn validate(&self) -> Result<()> {
        crate::experiment::check_seeds("stripes", &self.seeds)?;
        if self.fractions.is_empty() {
            return Err(Error::Config("stripes.fractions must not be empty".into()));
        }
        for (i, &f) in self.fractions.iter().enumerate() {
            if !(f.is_finite() && (0.0..=1.0).contains(&f)) {
                return Err(Error::Config(format!(
                    "stripes.fractions[{i}] must lie in [0, 1], got {f}"
                )));
            }
            if self.fractions[..i]
                .iter()
                .any(|&g| fraction_name(g) == fraction_name(f))
            {
                return Err(Error::Config(format!(
                    "stripes.fractions[{i}] = {f} names the same run as an earlier fraction \
                     (fractions are told apart to 1 %)"
                )));
            }
        }
        for (key, v) in [
            ("accuracy_level", self.accuracy_level),
            ("confidence", self.confidence),
        ] {
            if !(v.is_finite() && v > 0.0 && v < 1.0) {
                return Err(Error::Config(format!(
                    "stripes.{key} must lie in (0, 1), got {v}"
                )));
            }
        }
        Ok(())
    }
}

/// The experiment's section, or an error saying how to get one.
pub fn section(cfg: &ExperimentConfig) -> Result<&StripesConfig> {
    cfg.stripes.as_ref().ok_or_else(|| {
        Error::Config(
            "the configuration has no [stripes] section; start from --preset stripes \
             (configs/stripes.toml) or add one"
                .into(),
        )
    })
}

/// Sets `data` to vertical stripes (the main part) + horizontal stripes + the fraction `f` of the
/// 2D-bump tiling (none for f = 0), every part on the base spacings.
pub fn apply_fraction(c: &mut ExperimentConfig, f: f64) {
    let (dx, dy) = (c.data.dx, c.data.dy);
    c.data.pattern = Pattern::VerticalStripe;
    c.data.lambda = 1.0;
    c.data.mix = vec![DataPart {
        pattern: Pattern::HorizontalStripe,
        dx,
        dy,
        lambda: 1.0,
        held_out: None,
    }];
    if f > 0.0 {
        c.data.mix.push(DataPart {
            pattern: Pattern::Bump,
            dx,
            dy,
            lambda: f,
            held_out: None,
        });
    }
}

/// Every run (fractions × seeds, seed-major).
pub fn plan(cfg: &ExperimentConfig, out: &Path) -> Result<Vec<PlannedRun>> {
    let s = section(cfg)?;
    s.validate()?;
    let mut base = cfg.clone();
    base.stripes = None;
    let names: Vec<(String, f64)> = s.fractions.iter().map(|&f| (fraction_name(f), f)).collect();
    plan_runs(
        &base,
        out,
        &s.seeds,
        &names,
        |(n, _)| n.as_str(),
        |(_, f), c| apply_fraction(c, *f),
    )
}

/// Images per pattern in a run's training set.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Composition {
    /// Stripe images (both orientations).
    pub stripes: usize,
    /// 2D-bump images.
    pub bumps: usize,
}

impl Composition {
    /// The counts of `cfg`'s training set (seed as the run builds it).
    pub fn of(cfg: &ExperimentConfig) -> Result<Self> {
        let mut out = Self {
            stripes: 0,
            bumps: 0,
        };
        for (pattern, centres) in cfg
            .data
            .centres(cfg.train.seed ^ crate::train::PURPOSE_SUBSAMPLE)?
        {
            match pattern {
                Pattern::Bump => out.bumps += centres.len(),
                _ => out.stripes += centres.len(),
            }
        }
        Ok(out)
    }

    /// Share of 2D bumps in the data (what a uniformly drawn batch holds on average).
    pub fn bump_share(&self) -> f64 {
        let total = self.stripes + self.bumps;
        if total == 0 {
            0.0
        } else {
            self.bumps as f64 / total as f64
        }
    }
}

/// One run's data-efficiency numbers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunResult {
    /// The fraction f.
    pub fraction: f64,
    /// Master seed.
    pub seed: u64,
    /// Training-set composition.
    pub composition: Composition,
    /// Final 2D-bump accuracy.
    pub final_accuracy: f64,
    /// 2D-bump images shown (expected) when the accuracy first reached the level; `None` if it
    /// did not.
    pub examples_to_level: Option<f64>,
    /// Step at which it did.
    pub step_to_level: Option<f64>,
}

/// Across-seed summary of one fraction.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FractionResult {
    /// The fraction f.
    pub fraction: f64,
    /// Training-set composition (seed 0's; the λ-subsample differs between seeds only in which
    /// bumps are kept, not how many).
    pub composition: Option<Composition>,
    /// Final accuracy over seeds.
    pub final_accuracy: Spread,
    /// 2D-bump images shown before the level was reached (runs that reached it).
    pub examples_to_level: Spread,
    /// Runs that never reached the level.
    pub not_reached: usize,
}

/// The comparison of every finished run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    /// Every planned run as `fXXX:seed` with its status.
    pub runs: Vec<(String, String)>,
    /// The accuracy level.
    pub accuracy_level: f64,
    /// Batch size (the x axis is step × batch × bump share).
    pub batch: usize,
    /// Each finished run.
    pub per_run: Vec<RunResult>,
    /// Each fraction, in configuration order.
    pub per_fraction: Vec<FractionResult>,
}

/// The expected number of 2D-bump images shown by each record's step.
pub fn examples_seen(records: &[crate::record::EvalRecord], batch: usize, share: f64) -> Vec<f64> {
    records
        .iter()
        .map(|r| r.step as f64 * batch as f64 * share)
        .collect()
}

/// Reads every finished run and summarises per fraction.
pub fn compare(cfg: &ExperimentConfig, out: &Path) -> Result<(Comparison, Vec<FinishedRun>)> {
    let s = section(cfg)?;
    let planned = plan(cfg, out)?;
    let (runs, finished) = read_finished(&planned)?;
    let batch = cfg.train.batch;
    let mut per_run = Vec::new();
    for f in &finished {
        let p = planned
            .iter()
            .find(|p| p.dataset == f.dataset && p.seed == f.seed)
            .ok_or_else(|| Error::Config(format!("{} is not planned", f.dataset)))?;
        let fraction = s
            .fractions
            .iter()
            .copied()
            .find(|&x| fraction_name(x) == f.dataset)
            .unwrap_or(0.0);
        let composition = Composition::of(&p.config)?;
        let x = examples_seen(&f.records, batch, composition.bump_share());
        let steps: Vec<f64> = f.records.iter().map(|r| r.step as f64).collect();
        let acc: Vec<Option<f64>> = f.records.iter().map(|r| Some(r.accuracy)).collect();
        per_run.push(RunResult {
            fraction,
            seed: f.seed,
            composition,
            final_accuracy: f.records.last().map_or(0.0, |r| r.accuracy),
            examples_to_level: first_crossing(&x, &acc, s.accuracy_level, Crossing::Above),
            step_to_level: first_crossing(&steps, &acc, s.accuracy_level, Crossing::Above),
        });
    }
    let per_fraction = s
        .fractions
        .iter()
        .map(|&fr| {
            let mine: Vec<&RunResult> = per_run
                .iter()
                .filter(|r| fraction_name(r.fraction) == fraction_name(fr))
                .collect();
            let reached: Vec<f64> = mine.iter().filter_map(|r| r.examples_to_level).collect();
            Ok(FractionResult {
                fraction: fr,
                composition: mine.first().map(|r| r.composition),
                final_accuracy: Spread::of(
                    &mine.iter().map(|r| r.final_accuracy).collect::<Vec<_>>(),
                    s.confidence,
                )?,
                not_reached: mine.len() - reached.len(),
                examples_to_level: Spread::of(&reached, s.confidence)?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok((
        Comparison {
            runs,
            accuracy_level: s.accuracy_level,
            batch,
            per_run,
            per_fraction,
        },
        finished,
    ))
}

/// The experiment as its entry point drives it ([`crate::experiment::run_cli`]).
pub struct Stripes;

impl crate::experiment::Experiment for Stripes {
    type Comparison = Comparison;
    const PRESET: crate::Preset = crate::Preset::Stripes;

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
