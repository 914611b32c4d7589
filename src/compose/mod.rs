//! The follow-up's composition experiment: train on bumps with a region of (μx, μy) held out,
//! and watch whether, and when, the model generates correct bumps inside it.
//!
//! Each case of the `[compose]` section holds out one region (a central square, a corner square,
//! a band along one axis, …). Its runs are the base configuration with `data.held_out` set and
//! three further evaluation sets ([`crate::config::EvalSet`]) scored at every checkpoint:
//! `train` (training conditions), `held_out` (conditions inside the region) and `off_lattice`
//! (between training points, outside the region). The layer-4 representation is read on the base
//! grid `eval.centres`, which spans the held-out region too.
//!
//! ```
//! use bump_ddpm::compose::plan;
//! use bump_ddpm::Preset;
//!
//! let cfg = Preset::Compose.config();
//! let runs = plan(&cfg, "runs/compose".as_ref())?;
//! assert_eq!(runs.len(), 9); // 3 regions × 3 seeds
//! assert!(runs[0].config.data.held_out.is_some());
//! let sets: Vec<&str> = runs[0].config.eval.sets.iter().map(|s| s.name.as_str()).collect();
//! assert_eq!(sets, ["train", "held_out", "off_lattice"]);
//! # Ok::<(), bump_ddpm::Error>(())
//! ```

pub mod report;

use crate::config::{is_plain_name, EvalSet, ExperimentConfig};
pub use crate::experiment::{execute, status, FinishedRun, PlannedRun, RunStatus, Spread};
use crate::experiment::{plan_runs, read_finished};
use crate::imbalance::coupling::{first_crossing, Crossing};
use crate::{Error, Result};
use bump_data::{CentreSet, HeldOut, RegionFilter};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// Names of the evaluation sets every compose run scores.
pub const SET_TRAIN: &str = "train";
/// Conditions inside the held-out region.
pub const SET_HELD_OUT: &str = "held_out";
/// Conditions between training points, outside the region.
pub const SET_OFF_LATTICE: &str = "off_lattice";

/// One held-out case.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HeldOutCase {
    /// Name (letters, digits, `-`, `_`).
    pub name: String,
    /// The region removed from the training data.
    pub region: HeldOut,
}

/// The decision rule (ours; docs/followup.md).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ComposeRule {
    /// A case composes when its mean final held-out accuracy is at least this fraction of its
    /// mean final training-condition accuracy (0.8).
    pub ratio_min: f64,
    /// … and the training conditions themselves were learned: mean final accuracy ≥ this (0.5).
    pub train_min: f64,
    /// "When": the step at which a set's accuracy first reaches this level (0.5).
    pub onset_level: f64,
    /// Confidence of the across-seed intervals (0.95).
    pub confidence: f64,
}

impl Default for ComposeRule {
    /// The rule fixed before any run (ours; docs/followup.md): ratio 0.8, train accuracy 0.5,
    /// onset level 0.5, 95 % intervals.
    fn default() -> Self {
        Self {
            ratio_min: 0.8,
            train_min: 0.5,
            onset_level: 0.5,
            confidence: 0.95,
        }
    }
}

/// The `[compose]` section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ComposeConfig {
    /// Master seeds (default 0, 1, 2).
    #[serde(default = "default_seeds")]
    pub seeds: Vec<u64>,
    /// The held-out cases.
    pub cases: Vec<HeldOutCase>,
    /// The `train` set before the region is removed (default: every 4 px from 0, on the
    /// training lattice).
    #[serde(default = "default_train_set")]
    pub train_conditions: CentreSet,
    /// The `held_out` set before it is restricted to the region (default: every 1 px from 0).
    #[serde(default = "default_held_out_set")]
    pub held_out_conditions: CentreSet,
    /// The `off_lattice` set before the region is removed (default: every 4 px from 2.5).
    #[serde(default = "default_off_lattice_set")]
    pub off_lattice_conditions: CentreSet,
    /// The decision rule.
    #[serde(default)]
    pub rule: ComposeRule,
}

fn default_seeds() -> Vec<u64> {
    vec![0, 1, 2]
}
fn default_train_set() -> CentreSet {
    CentreSet::new(4.0, 4.0)
}
fn default_held_out_set() -> CentreSet {
    CentreSet::new(1.0, 1.0)
}
fn default_off_lattice_set() -> CentreSet {
    CentreSet::new(4.0, 4.0).with_offset(2.5, 2.5)
}

impl ComposeConfig {
    /// Checks seeds, case names and the rule; regions are checked with the data when planned.
    pub fn validate(&self) -> Result<()> {
        crate::experiment::check_seeds("compose", &self.seeds)?;
        if self.cases.is_empty() {
            return Err(Error::Config("compose.cases must not be empty".into()));
        }
        for (i, c) in self.cases.iter().enumerate() {
            if !is_plain_name(&c.name) {
                return Err(Error::Config(format!(
                    "compose.cases[{i}].name must be non-empty letters, digits, '-' or '_', got {:?}",
                    c.name
                )));
            }
            if self.cases[..i].iter().any(|o| o.name == c.name) {
                return Err(Error::Config(format!(
                    "compose.cases[{i}].name must be unique, got {:?} twice",
                    c.name
                )));
            }
        }
        let r = &self.rule;
        for (key, v) in [
            ("ratio_min", r.ratio_min),
            ("train_min", r.train_min),
            ("onset_level", r.onset_level),
            ("confidence", r.confidence),
        ] {
            if !(v.is_finite() && v > 0.0 && v < 1.0 + f64::EPSILON) {
                return Err(Error::Config(format!(
                    "compose.rule.{key} must lie in (0, 1], got {v}"
                )));
            }
        }
        Ok(())
    }

    /// The case called `name`.
    pub fn case(&self, name: &str) -> Result<&HeldOutCase> {
        self.cases
            .iter()
            .find(|c| c.name == name)
            .ok_or_else(|| Error::Config(format!("no compose case named {name:?}")))
    }
}

/// The experiment's section, or an error saying how to get one.
pub fn section(cfg: &ExperimentConfig) -> Result<&ComposeConfig> {
    cfg.compose.as_ref().ok_or_else(|| {
        Error::Config(
            "the configuration has no [compose] section; start from --preset compose \
             (configs/compose.toml) or add one"
                .into(),
        )
    })
}

/// The three evaluation sets of a case.
pub fn eval_sets(c: &ComposeConfig, region: HeldOut) -> Vec<EvalSet> {
    let with = |set: CentreSet, f: RegionFilter| set.with_region(f);
    vec![
        EvalSet::new(
            SET_TRAIN,
            with(c.train_conditions, RegionFilter::Outside(region)),
        ),
        EvalSet::new(
            SET_HELD_OUT,
            with(c.held_out_conditions, RegionFilter::Inside(region)),
        ),
        EvalSet::new(
            SET_OFF_LATTICE,
            with(c.off_lattice_conditions, RegionFilter::Outside(region)),
        ),
    ]
}

/// Every run of the experiment (cases × seeds, seed-major).
pub fn plan(cfg: &ExperimentConfig, out: &Path) -> Result<Vec<PlannedRun>> {
    let comp = section(cfg)?;
    comp.validate()?;
    let mut base = cfg.clone();
    base.compose = None;
    plan_runs(
        &base,
        out,
        &comp.seeds,
        &comp.cases,
        |c| c.name.as_str(),
        |case, c| {
            c.data.held_out = Some(case.region);
            c.eval.sets = eval_sets(comp, case.region);
        },
    )
}

/// What a held-out case asks of the model, from its training data.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CaseKind {
    /// Fraction of held-out conditions whose μx occurs somewhere in the training data.
    pub x_seen: f64,
    /// Fraction of held-out conditions whose μy occurs somewhere in the training data.
    pub y_seen: f64,
    /// Whether, along every axis the region restricts, training values lie on both sides of
    /// it (an interior region; a corner is not enclosed).
    pub enclosed: bool,
}

impl CaseKind {
    /// Composition of seen values (both fractions 1), or interpolation of unseen ones.
    pub fn describe(&self) -> String {
        let what = if self.x_seen >= 1.0 && self.y_seen >= 1.0 {
            "composition of seen x and seen y values"
        } else {
            "interpolation (some x or y values never seen)"
        };
        let where_ = if self.enclosed {
            "enclosed by training data"
        } else {
            "at the edge of the data"
        };
        format!("{what}, {where_}")
    }

    /// The kind of `held_out` conditions given the training centres.
    pub fn of(train: &[[f64; 2]], held_out: &[[f64; 2]]) -> Self {
        let seen = |axis: usize| {
            if held_out.is_empty() {
                return 0.0;
            }
            let hit = held_out
                .iter()
                .filter(|h| train.iter().any(|t| (t[axis] - h[axis]).abs() < 1e-6))
                .count();
            hit as f64 / held_out.len() as f64
        };
        // Along each axis the region either spans all the training values (it restricts only the
        // other axis) or has training values on both sides.
        let enclosed = (0..2).all(|a| {
            let range = |pts: &[[f64; 2]]| {
                pts.iter()
                    .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), p| {
                        (lo.min(p[a]), hi.max(p[a]))
                    })
            };
            let (lo, hi) = range(held_out);
            let (tlo, thi) = range(train);
            let spans = lo <= tlo && hi >= thi;
            spans || (tlo < lo && thi > hi)
        });
        Self {
            x_seen: seen(0),
            y_seen: seen(1),
            enclosed,
        }
    }
}

/// One run's final scores and onsets.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunResult {
    /// Case name.
    pub case: String,
    /// Master seed.
    pub seed: u64,
    /// Final accuracy on [`SET_TRAIN`], [`SET_HELD_OUT`], [`SET_OFF_LATTICE`].
    pub final_accuracy: [f64; 3],
    /// Step at which each set's accuracy first reached the rule's onset level.
    pub onset: [Option<f64>; 3],
    /// Final held-out / train accuracy (`None` when train accuracy is 0).
    pub ratio: Option<f64>,
}

/// Across-seed summary of one case.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CaseResult {
    /// Case name.
    pub case: String,
    /// The region.
    pub region: HeldOut,
    /// What it asks of the model.
    pub kind: CaseKind,
    /// Final accuracy per set (train, held_out, off_lattice).
    pub final_accuracy: [Spread; 3],
    /// Onset per set (runs that reached the level).
    pub onset: [Spread; 3],
    /// Final held-out / train ratio.
    pub ratio: Spread,
    /// The rule's verdict: composes, does not, or the training conditions were not learned.
    pub verdict: ComposeVerdict,
}

/// The rule's verdict on a case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ComposeVerdict {
    /// Held-out accuracy reaches the ratio of the training accuracy.
    Composes,
    /// It does not.
    DoesNotCompose,
    /// The training conditions were not learned (or no run finished): nothing to compare.
    Undetermined,
}

impl std::fmt::Display for ComposeVerdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Composes => "composes",
            Self::DoesNotCompose => "does not compose",
            Self::Undetermined => "undetermined",
        })
    }
}

/// The comparison of every finished run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    /// Every planned run as `case:seed` with its status.
    pub runs: Vec<(String, String)>,
    /// The rule used.
    pub rule: ComposeRule,
    /// Each finished run.
    pub per_run: Vec<RunResult>,
    /// Each case, in configuration order.
    pub per_case: Vec<CaseResult>,
}

const SETS: [&str; 3] = [SET_TRAIN, SET_HELD_OUT, SET_OFF_LATTICE];

/// The final scores and onsets of one finished run.
pub fn run_result(f: &FinishedRun, rule: &ComposeRule) -> RunResult {
    let steps: Vec<f64> = f.records.iter().map(|r| r.step as f64).collect();
    let acc = |set: &str| -> Vec<Option<f64>> {
        f.records
            .iter()
            .map(|r| r.sets.get(set).map(|s| s.accuracy))
            .collect()
    };
    let last = |set: &str| acc(set).last().copied().flatten().unwrap_or(0.0);
    let final_accuracy = SETS.map(last);
    let onset = SETS.map(|s| first_crossing(&steps, &acc(s), rule.onset_level, Crossing::Above));
    RunResult {
        case: f.dataset.clone(),
        seed: f.seed,
        final_accuracy,
        onset,
        ratio: (final_accuracy[0] > 0.0).then(|| final_accuracy[1] / final_accuracy[0]),
    }
}

/// Reads every finished run and applies the rule.
pub fn compare(cfg: &ExperimentConfig, out: &Path) -> Result<(Comparison, Vec<FinishedRun>)> {
    let comp = section(cfg)?;
    let planned = plan(cfg, out)?;
    let (runs, finished) = read_finished(&planned)?;
    let rule = comp.rule;
    let per_run: Vec<RunResult> = finished.iter().map(|f| run_result(f, &rule)).collect();
    let mut per_case = Vec::new();
    for case in &comp.cases {
        let mine: Vec<&RunResult> = per_run.iter().filter(|r| r.case == case.name).collect();
        let spread = |f: &dyn Fn(&RunResult) -> Option<f64>| {
            Spread::of(
                &mine.iter().filter_map(|r| f(r)).collect::<Vec<_>>(),
                rule.confidence,
            )
        };
        let final_accuracy = [
            spread(&|r| Some(r.final_accuracy[0]))?,
            spread(&|r| Some(r.final_accuracy[1]))?,
            spread(&|r| Some(r.final_accuracy[2]))?,
        ];
        let onset = [
            spread(&|r| r.onset[0])?,
            spread(&|r| r.onset[1])?,
            spread(&|r| r.onset[2])?,
        ];
        let ratio = spread(&|r| r.ratio)?;
        let verdict = match (final_accuracy[0].mean, final_accuracy[1].mean) {
            (Some(train), Some(held)) if train >= rule.train_min => {
                if held >= rule.ratio_min * train {
                    ComposeVerdict::Composes
                } else {
                    ComposeVerdict::DoesNotCompose
                }
            }
            _ => ComposeVerdict::Undetermined,
        };
        // The kind is a property of the data, computed on the training lattice of the run.
        let run_cfg = planned
            .iter()
            .find(|p| p.dataset == case.name)
            .map(|p| &p.config)
            .ok_or_else(|| Error::Config(format!("case {:?} has no planned run", case.name)))?;
        let train: Vec<[f64; 2]> = run_cfg
            .data
            .centres(0)?
            .into_iter()
            .flat_map(|(_, c)| c)
            .collect();
        let extent = run_cfg.data.extent();
        let held = comp
            .held_out_conditions
            .with_region(RegionFilter::Inside(case.region))
            .centres(extent)?;
        per_case.push(CaseResult {
            case: case.name.clone(),
            region: case.region,
            kind: CaseKind::of(&train, &held),
            final_accuracy,
            onset,
            ratio,
            verdict,
        });
    }
    Ok((
        Comparison {
            runs,
            rule,
            per_run,
            per_case,
        },
        finished,
    ))
}

/// The experiment as its entry point drives it ([`crate::experiment::run_cli`]).
pub struct Compose;

impl crate::experiment::Experiment for Compose {
    type Comparison = Comparison;
    const PRESET: crate::Preset = crate::Preset::Compose;

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
