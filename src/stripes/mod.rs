//! The follow-up's data-efficiency experiment: do 1D stripes (isolated factors of variation)
//! let a model learn 2D images from far fewer 2D examples?
//!
//! Every run uses the extended latent canvas (labels on `[0, M)²`, images the central N × N
//! crop), so that stripe ends are invisible, in one of two variants:
//! - **`bump`**: vertical and horizontal stripes whose ignored coordinate is the label
//!   `stripes.stripe_at` (default 0, outside the visible frame, so no stripe label coincides
//!   with a bump's), plus a fraction f of the 2D bumps inside the frame. Bumps are scored.
//! - **`sos`** (the follow-up's own data): sums of stripes at every label outside the visible
//!   frame — one stripe in view (1D), or none (0D), or a partner stripe just past the edge (the
//!   paper's "rim") — plus a fraction f of the 2D SOS images inside the frame. SOS images are
//!   scored, with bump-data's SOS scorer, as the evaluation set [`SOS_SET`].
//!
//! f = 0 is stripes only, f = 1 every 2D image. [`compare`] puts the runs on one axis, the
//! number of 2D images the model has been shown (step × batch × 2D share of the data), so the
//! data-efficiency of each f can be read off.
//!
//! ```
//! use bump_ddpm::stripes::plan;
//! use bump_ddpm::Preset;
//!
//! let cfg = Preset::Stripes.config();
//! let runs = plan(&cfg, "runs/stripes".as_ref())?;
//! assert_eq!(runs.len(), 20); // 2 variants × 5 fractions × 2 seeds
//! assert_eq!(runs[1].dataset, "bump-f001"); // f = 0.01
//! assert_eq!(runs[6].dataset, "sos-f001");
//! # Ok::<(), bump_ddpm::Error>(())
//! ```

pub mod report;

use crate::config::{EvalSet, ExperimentConfig};
pub use crate::experiment::{execute, status, FinishedRun, PlannedRun, RunStatus, Spread};
use crate::experiment::{plan_runs, read_finished};
use crate::imbalance::coupling::{first_crossing, Crossing};
use crate::{Error, Result};
use bump_data::{DataPart, HeldOut, Pattern};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// The `[stripes]` section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StripesConfig {
    /// Master seeds (default 0, 1).
    #[serde(default = "default_seeds")]
    pub seeds: Vec<u64>,
    /// Variants (default both: `bump`, `sos`).
    #[serde(default = "default_variants")]
    pub variants: Vec<Variant>,
    /// Label of a stripe's ignored coordinate in the `bump` variant (default 0: six pixels
    /// outside the visible frame of the 44-px canvas, where no bump is trained).
    #[serde(default)]
    pub stripe_at: f64,
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
fn default_variants() -> Vec<Variant> {
    vec![Variant::Bump, Variant::Sos]
}

/// What the 2D images of a run are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Variant {
    /// Stripes + 2D bumps; bumps are scored.
    Bump,
    /// Sums of stripes (1D at the rim, 2D inside the frame); SOS images are scored.
    Sos,
}

impl Variant {
    /// `bump` or `sos`.
    pub fn name(self) -> &'static str {
        match self {
            Variant::Bump => "bump",
            Variant::Sos => "sos",
        }
    }
}

/// Name of the evaluation set that scores SOS generations in the `sos` variant.
pub const SOS_SET: &str = "sos";

/// The run-directory name of a variant and fraction (`bump-f005`, `sos-f100`).
pub fn run_name(v: Variant, f: f64) -> String {
    format!("{}-{}", v.name(), fraction_name(f))
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
        if self.variants.is_empty() {
            return Err(Error::Config(
                "stripes.variants must name at least one of \"bump\", \"sos\"".into(),
            ));
        }
        for (i, v) in self.variants.iter().enumerate() {
            if self.variants[..i].contains(v) {
                return Err(Error::Config(format!(
                    "stripes.variants[{i}] = \"{}\" is listed twice",
                    v.name()
                )));
            }
        }
        if !self.stripe_at.is_finite() {
            return Err(Error::Config(format!(
                "stripes.stripe_at must be a finite label, got {}",
                self.stripe_at
            )));
        }
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

/// The visible frame of the extended canvas, `[(M − N)/2, (M + N)/2)²` in labels.
pub fn visible_frame(cfg: &ExperimentConfig) -> Result<HeldOut> {
    let canvas = cfg.data.canvas().ok_or_else(|| {
        Error::Config(
            "the stripes experiment needs an extended canvas (data.canvas > data.n) so that \
             stripe ends and the partner stripe of a 1D image are out of view"
                .into(),
        )
    })?;
    let lo = (canvas.latent - canvas.visible) as f64 / 2.0;
    Ok(HeldOut::square_at(lo, lo, canvas.visible as f64)?)
}

/// Sets `data` (and, for `sos`, the evaluation set [`SOS_SET`]) for one variant and fraction;
/// every part on the base spacings.
pub fn apply(c: &mut ExperimentConfig, variant: Variant, f: f64, frame: HeldOut, stripe_at: f64) {
    let (dx, dy) = (c.data.dx, c.data.dy);
    c.data.lambda = 1.0;
    c.data.within = None;
    c.data.stripe_at = None;
    c.data.held_out = None;
    let two_d = |pattern| {
        DataPart::new(pattern, dx, dy)
            .with_within(frame)
            .with_lambda(f)
    };
    match variant {
        Variant::Bump => {
            c.data.pattern = Pattern::VerticalStripe;
            c.data.stripe_at = Some(stripe_at);
            c.data.mix =
                vec![DataPart::new(Pattern::HorizontalStripe, dx, dy).with_stripe_at(stripe_at)];
            if f > 0.0 {
                c.data.mix.push(two_d(Pattern::Bump));
            }
        }
        Variant::Sos => {
            c.data.pattern = Pattern::SumOfStripes;
            c.data.held_out = Some(frame);
            c.data.mix = Vec::new();
            if f > 0.0 {
                c.data.mix.push(two_d(Pattern::SumOfStripes));
            }
            c.eval.sets.retain(|s| s.name != SOS_SET);
            c.eval
                .sets
                .push(EvalSet::new(SOS_SET, c.eval.centres).with_target(Pattern::SumOfStripes));
        }
    }
}

/// Every run (seed-major, then variant, then fraction).
pub fn plan(cfg: &ExperimentConfig, out: &Path) -> Result<Vec<PlannedRun>> {
    let s = section(cfg)?;
    s.validate()?;
    let frame = visible_frame(cfg)?;
    let mut base = cfg.clone();
    base.stripes = None;
    let names: Vec<(String, Variant, f64)> = s
        .variants
        .iter()
        .flat_map(|&v| s.fractions.iter().map(move |&f| (run_name(v, f), v, f)))
        .collect();
    plan_runs(
        &base,
        out,
        &s.seeds,
        &names,
        |(n, _, _)| n.as_str(),
        |(_, v, f), c| apply(c, *v, *f, frame, s.stripe_at),
    )
}

/// Images by kind in a run's training set.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Composition {
    /// 1D (and 0D) images: stripes of either orientation, and sums of stripes whose label lies
    /// outside the visible frame.
    pub stripes: usize,
    /// 2D images: bumps, and sums of stripes whose label lies inside the visible frame.
    pub bumps: usize,
}

impl Composition {
    /// The counts of `cfg`'s training set (seed as the run builds it).
    pub fn of(cfg: &ExperimentConfig) -> Result<Self> {
        let mut out = Self {
            stripes: 0,
            bumps: 0,
        };
        let frame = visible_frame(cfg).ok();
        for (pattern, centres) in cfg
            .data
            .centres(cfg.train.seed ^ crate::train::PURPOSE_SUBSAMPLE)?
        {
            for c in centres {
                let two_d = match pattern {
                    Pattern::Bump => true,
                    Pattern::SumOfStripes => frame.is_none_or(|f| f.contains(c)),
                    Pattern::VerticalStripe | Pattern::HorizontalStripe => false,
                };
                if two_d {
                    out.bumps += 1;
                } else {
                    out.stripes += 1;
                }
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
    /// The variant.
    pub variant: Variant,
    /// The fraction f.
    pub fraction: f64,
    /// Master seed.
    pub seed: u64,
    /// Training-set composition.
    pub composition: Composition,
    /// Final 2D accuracy (bumps or SOS, by variant).
    pub final_accuracy: f64,
    /// 2D images shown (expected) when the accuracy first reached the level; `None` if it
    /// did not.
    pub examples_to_level: Option<f64>,
    /// Step at which it did.
    pub step_to_level: Option<f64>,
}

/// Across-seed summary of one variant and fraction.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FractionResult {
    /// The variant.
    pub variant: Variant,
    /// The fraction f.
    pub fraction: f64,
    /// Training-set composition (seed 0's; the λ-subsample differs between seeds only in which
    /// bumps are kept, not how many).
    pub composition: Option<Composition>,
    /// Final accuracy over seeds.
    pub final_accuracy: Spread,
    /// 2D images shown before the level was reached (runs that reached it).
    pub examples_to_level: Spread,
    /// Runs that never reached the level.
    pub not_reached: usize,
}

/// The comparison of every finished run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    /// Every planned run as `variant-fXXX:seed` with its status.
    pub runs: Vec<(String, String)>,
    /// The accuracy level.
    pub accuracy_level: f64,
    /// Batch size (the x axis is step × batch × bump share).
    pub batch: usize,
    /// Each finished run.
    pub per_run: Vec<RunResult>,
    /// Each variant and fraction, in configuration order (variant-major).
    pub per_fraction: Vec<FractionResult>,
}

/// The accuracy a variant is judged by: the main (bump) accuracy, or the [`SOS_SET`] accuracy.
pub fn accuracy(variant: Variant, r: &crate::record::EvalRecord) -> Option<f64> {
    match variant {
        Variant::Bump => Some(r.accuracy),
        Variant::Sos => r.sets.get(SOS_SET).map(|s| s.accuracy),
    }
}

/// The expected number of 2D images shown by each record's step.
pub fn examples_seen(records: &[crate::record::EvalRecord], batch: usize, share: f64) -> Vec<f64> {
    records
        .iter()
        .map(|r| r.step as f64 * batch as f64 * share)
        .collect()
}

/// Reads every finished run and summarises per variant and fraction.
pub fn compare(cfg: &ExperimentConfig, out: &Path) -> Result<(Comparison, Vec<FinishedRun>)> {
    let s = section(cfg)?;
    let planned = plan(cfg, out)?;
    let (runs, finished) = read_finished(&planned)?;
    let batch = cfg.train.batch;
    let cells: Vec<(Variant, f64)> = s
        .variants
        .iter()
        .flat_map(|&v| s.fractions.iter().map(move |&f| (v, f)))
        .collect();
    let mut per_run = Vec::new();
    for f in &finished {
        let p = planned
            .iter()
            .find(|p| p.dataset == f.dataset && p.seed == f.seed)
            .ok_or_else(|| Error::Config(format!("{} is not planned", f.dataset)))?;
        let Some(&(variant, fraction)) = cells.iter().find(|(v, x)| run_name(*v, *x) == f.dataset)
        else {
            continue;
        };
        let composition = Composition::of(&p.config)?;
        let x = examples_seen(&f.records, batch, composition.bump_share());
        let steps: Vec<f64> = f.records.iter().map(|r| r.step as f64).collect();
        let acc: Vec<Option<f64>> = f.records.iter().map(|r| accuracy(variant, r)).collect();
        per_run.push(RunResult {
            variant,
            fraction,
            seed: f.seed,
            composition,
            final_accuracy: acc.last().copied().flatten().unwrap_or(0.0),
            examples_to_level: first_crossing(&x, &acc, s.accuracy_level, Crossing::Above),
            step_to_level: first_crossing(&steps, &acc, s.accuracy_level, Crossing::Above),
        });
    }
    let per_fraction = cells
        .iter()
        .map(|&(variant, fr)| {
            let mine: Vec<&RunResult> = per_run
                .iter()
                .filter(|r| r.variant == variant && fraction_name(r.fraction) == fraction_name(fr))
                .collect();
            let reached: Vec<f64> = mine.iter().filter_map(|r| r.examples_to_level).collect();
            Ok(FractionResult {
                variant,
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
