//! Experiments of several runs (the imbalance comparison, the follow-up's experiments, sweeps):
//! each run is an ordinary run directory below the experiment's directory, planned up front,
//! trained independently (one process, several, or cluster jobs), resumed from its newest
//! checkpoint, skipped once finished, and read back for the comparison.

use crate::config::ExperimentConfig;
use crate::record::EvalRecord;
use crate::run_dir::{RunDir, RunFile};
use crate::train::{run, RunOptions, RunOutcome};
use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use statrs::distribution::{ContinuousCDF, StudentsT};
use std::path::{Path, PathBuf};

/// One run of an experiment: a dataset variant, a seed, its directory and its full configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedRun {
    /// Name of the dataset variant (`imbalanced`, `centre`, …).
    pub dataset: String,
    /// Master seed.
    pub seed: u64,
    /// Run directory: `<out>/<dataset>-seed<seed>`.
    pub dir: PathBuf,
    /// The run's configuration: a plain single-run configuration (no experiment section).
    pub config: ExperimentConfig,
}

impl PlannedRun {
    /// `<dataset>:<seed>`, as `--only` takes it.
    pub fn id(&self) -> String {
        format!("{}:{}", self.dataset, self.seed)
    }
}

/// Where a planned run stands on disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunStatus {
    /// Nothing trained yet.
    Missing,
    /// Checkpoints up to this step, no summary of a finished run.
    Partial(u64),
    /// Finished: a summary of all the configured steps.
    Done,
}

impl std::fmt::Display for RunStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Missing => f.write_str("not started"),
            Self::Partial(s) => write!(f, "stopped at step {s}"),
            Self::Done => f.write_str("done"),
        }
    }
}

/// The status of `planned` on disk. A directory whose saved configuration differs from the
/// planned one is an error (it belongs to another experiment).
pub fn status(planned: &PlannedRun) -> Result<RunStatus> {
    let rd = RunDir::new(&planned.dir);
    if !rd.path(RunFile::Config).exists() {
        return Ok(RunStatus::Missing);
    }
    let saved = rd.read_config()?;
    if saved != planned.config {
        return Err(Error::Config(format!(
            "{} holds a run with a different configuration than {} plans; use another --out \
             or remove that directory",
            planned.dir.display(),
            planned.id()
        )));
    }
    if rd.path(RunFile::Summary).exists() {
        let summary = rd.read_summary()?;
        if summary.steps >= planned.config.train.steps {
            return Ok(RunStatus::Done);
        }
    }
    Ok(match rd.latest_checkpoint()? {
        Some((step, _)) => RunStatus::Partial(step),
        None => RunStatus::Missing,
    })
}

/// Trains `planned` unless it is done: a missing run starts fresh, a partial one continues from
/// its newest checkpoint only when `resume` is set (else an error says to pass `--resume`).
/// Returns `None` for a run that was already done.
pub fn execute(
    planned: &PlannedRun,
    base: &RunOptions,
    resume: bool,
) -> Result<Option<RunOutcome>> {
    let st = status(planned)?;
    let mut opts = base.clone();
    opts.out_dir = planned.dir.clone();
    match st {
        RunStatus::Done => return Ok(None),
        RunStatus::Missing => opts.resume = false,
        RunStatus::Partial(step) if resume => {
            let _ = step;
            opts.resume = true;
        }
        RunStatus::Partial(step) => {
            return Err(Error::Config(format!(
                "{} ({}) stopped at step {step}; pass --resume to continue it",
                planned.id(),
                planned.dir.display()
            )))
        }
    }
    run(&planned.config, &opts).map(Some)
}

/// A finished run's records, as the comparison reads them.
#[derive(Debug, Clone)]
pub struct FinishedRun {
    /// Name of the dataset variant.
    pub dataset: String,
    /// Master seed.
    pub seed: u64,
    /// Run directory.
    pub dir: PathBuf,
    /// `metrics.jsonl`.
    pub records: Vec<EvalRecord>,
}

/// Plans `variants × seeds` runs below `out`, seed-major (seed 0 of every variant first, so a
/// partial experiment already compares the variants). Each variant edits a copy of `base`
/// (whose experiment sections the caller has removed); the run is named
/// `<base name>-<variant>-seed<seed>` and validated.
pub fn plan_runs<V>(
    base: &ExperimentConfig,
    out: &Path,
    seeds: &[u64],
    variants: &[V],
    name: impl Fn(&V) -> &str,
    apply: impl Fn(&V, &mut ExperimentConfig),
) -> Result<Vec<PlannedRun>> {
    let mut runs = Vec::new();
    for &seed in seeds {
        for v in variants {
            let variant = name(v);
            let mut c = base.clone();
            c.name = format!("{}-{variant}-seed{seed}", base.name);
            apply(v, &mut c);
            c.train.seed = seed;
            c.validate()?;
            runs.push(PlannedRun {
                dataset: variant.to_string(),
                seed,
                dir: out.join(format!("{variant}-seed{seed}")),
                config: c,
            });
        }
    }
    Ok(runs)
}

/// The planned runs `only` names as `DATASET:SEED` (all of them when `only` is empty); an id
/// that names no planned run is an error listing the planned ones.
pub fn select(plan: Vec<PlannedRun>, only: &[String]) -> Result<Vec<PlannedRun>> {
    if only.is_empty() {
        return Ok(plan);
    }
    let ids: Vec<String> = plan.iter().map(PlannedRun::id).collect();
    if let Some(o) = only.iter().find(|o| !ids.contains(o)) {
        return Err(Error::Config(format!(
            "--only {o:?} names no planned run; expected DATASET:SEED, one of {ids:?}"
        )));
    }
    Ok(plan
        .into_iter()
        .filter(|p| only.contains(&p.id()))
        .collect())
}

/// Checks an experiment directory before training into it: if it already holds an experiment
/// configuration, it must equal `cfg` (else an error says to `--resume` it or use another
/// directory); otherwise `cfg` is written there so that `--resume --out DIR` restarts from it.
pub fn prepare_dir(out: &Path, cfg: &ExperimentConfig) -> Result<()> {
    let dir = RunDir::new(out);
    if dir.path(RunFile::Config).exists() {
        if &dir.read_config()? != cfg {
            return Err(Error::Config(format!(
                "{} holds an experiment with a different configuration; pass --resume to \
                 continue it, or choose another --out",
                out.display()
            )));
        }
        return Ok(());
    }
    dir.write_config(cfg)
}

/// Checks an experiment's seeds: at least one, all distinct; messages name `{section}.seeds`.
pub fn check_seeds(section: &str, seeds: &[u64]) -> Result<()> {
    if seeds.is_empty() {
        return Err(Error::Config(format!("{section}.seeds must not be empty")));
    }
    if let Some(s) = seeds
        .iter()
        .enumerate()
        .find_map(|(i, s)| seeds[..i].contains(s).then_some(s))
    {
        return Err(Error::Config(format!(
            "{section}.seeds must be distinct, got {s} twice"
        )));
    }
    Ok(())
}

/// One planned run's id (`dataset:seed`) and status in words.
pub type RunStatusLine = (String, String);

/// Statuses of every planned run (`dataset:seed`, status) and the records of the finished ones.
pub fn read_finished(plan: &[PlannedRun]) -> Result<(Vec<RunStatusLine>, Vec<FinishedRun>)> {
    let mut statuses = Vec::new();
    let mut finished = Vec::new();
    for p in plan {
        let st = status(p)?;
        statuses.push((p.id(), st.to_string()));
        if st == RunStatus::Done {
            finished.push(FinishedRun {
                dataset: p.dataset.clone(),
                seed: p.seed,
                dir: p.dir.clone(),
                records: RunDir::new(&p.dir).read_records()?,
            });
        }
    }
    Ok((statuses, finished))
}

/// The flags every multi-run experiment adds to the shared CLI.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct MultiRunArgs {
    /// Train only this run, `DATASET:SEED` (repeatable), e.g. `--only centre:0`; the comparison
    /// is then written only with --report. For separate processes or cluster jobs.
    #[arg(long, value_name = "DATASET:SEED")]
    pub only: Vec<String>,
    /// Write the comparison of the finished runs under --out. Alone (without --only) it trains
    /// nothing.
    #[arg(long)]
    pub report: bool,
}

impl MultiRunArgs {
    /// Whether to train nothing and only compare.
    pub fn report_only(&self) -> bool {
        self.report && self.only.is_empty()
    }

    /// Whether to write the comparison after training.
    pub fn writes_report(&self) -> bool {
        self.only.is_empty() || self.report
    }
}

/// Trains the runs of `plan` that `args` selects (resuming stopped ones with `--resume`,
/// skipping finished ones) into `resolved.out`, with a line per run on stderr; writes nothing
/// with `--report` alone. The caller then compares, if [`MultiRunArgs::writes_report`].
pub fn train_selected(
    resolved: &crate::cli::Resolved,
    args: &MultiRunArgs,
    plan: Vec<PlannedRun>,
) -> Result<()> {
    if args.report_only() {
        return Ok(());
    }
    let selected = select(plan, &args.only)?;
    prepare_dir(&resolved.out, &resolved.config)?;
    let opts = resolved.run_options()?;
    let cfg = &resolved.config;
    eprintln!(
        "bump-ddpm {}: {} runs of {} steps (batch {}), output {}",
        cfg.name,
        selected.len(),
        cfg.train.steps,
        cfg.train.batch,
        resolved.out.display()
    );
    for (i, p) in selected.iter().enumerate() {
        eprintln!(
            "[{}/{}] {} ({}): {}",
            i + 1,
            selected.len(),
            p.id(),
            p.config.data.describe(),
            status(p)?
        );
        let Some(outcome) = execute(p, &opts, resolved.resume)? else {
            continue;
        };
        if let Some(summary) = &outcome.summary {
            // The further evaluation sets too: in some experiments (stripes' `sos`) one of them,
            // not the bump-scored main set, is what the run is judged by.
            let sets: String = outcome.records.last().map_or_else(String::new, |r| {
                r.sets
                    .iter()
                    .map(|(name, s)| format!(", set {name} {:.1} %", 100.0 * s.accuracy))
                    .collect()
            });
            eprintln!(
                "    final accuracy {:.1} %{sets}, wall time {:.0} s",
                100.0 * summary.final_accuracy,
                summary.wall_s
            );
        }
    }
    Ok(())
}

/// Mean, sample sd and Student-t interval of some values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Spread {
    /// Values summarised.
    pub n: usize,
    /// Mean (`None` when n = 0).
    pub mean: Option<f64>,
    /// Sample standard deviation (`None` when n < 2).
    pub sd: Option<f64>,
    /// Student-t interval of the mean (`None` when n < 2).
    pub interval: Option<[f64; 2]>,
}

impl Spread {
    /// `mean [lo, hi] (n = …)` with the values multiplied by `scale` (e.g. 100 for percent)
    /// and `digits` decimals; `–` without values.
    pub fn describe(&self, scale: f64, digits: usize) -> String {
        match (self.mean, self.interval) {
            (None, _) => "–".into(),
            (Some(m), None) => format!("{:.digits$} (n = {})", scale * m, self.n),
            (Some(m), Some([lo, hi])) => format!(
                "{:.digits$} [{:.digits$}, {:.digits$}] (n = {})",
                scale * m,
                scale * lo,
                scale * hi,
                self.n
            ),
        }
    }

    /// Summarises `values` at `confidence`.
    pub fn of(values: &[f64], confidence: f64) -> Result<Self> {
        let n = values.len();
        let mean = (n > 0).then(|| values.iter().sum::<f64>() / n as f64);
        if n < 2 {
            return Ok(Self {
                n,
                mean,
                sd: None,
                interval: None,
            });
        }
        let m = mean.unwrap_or(0.0);
        let sd = (values.iter().map(|v| (v - m).powi(2)).sum::<f64>() / (n - 1) as f64).sqrt();
        let t = StudentsT::new(0.0, 1.0, (n - 1) as f64)
            .map_err(|e| Error::Config(format!("Student t with {} dof: {e}", n - 1)))?
            .inverse_cdf(0.5 + confidence / 2.0);
        let half = t * sd / (n as f64).sqrt();
        Ok(Self {
            n,
            mean,
            sd: Some(sd),
            interval: Some([m - half, m + half]),
        })
    }
}

/// An experiment of several runs as its entry point drives it: a default preset, a plan, a
/// comparison of the finished runs and a report. `examples/<name>.rs` is then
/// [`run_cli`]`::<E>` behind its own `--help` text.
pub trait Experiment {
    /// What [`Experiment::compare`] computes.
    type Comparison;
    /// The preset used when neither `--preset` nor `--config` is given.
    const PRESET: crate::Preset;
    /// Every run of the experiment below `out`.
    fn plan(cfg: &ExperimentConfig, out: &Path) -> Result<Vec<PlannedRun>>;
    /// The comparison of the finished runs, and those runs.
    fn compare(cfg: &ExperimentConfig, out: &Path) -> Result<(Self::Comparison, Vec<FinishedRun>)>;
    /// Writes the report files into `out`; returns the HTML report's path and the text to print
    /// (table and verdict).
    fn report(out: &Path, c: &Self::Comparison, runs: &[FinishedRun]) -> Result<(PathBuf, String)>;
}

/// The whole entry point of a multi-run experiment: resolve the configuration (with `E`'s
/// preset as default), print it if asked, train the selected runs, then (unless `--only` without
/// `--report`) compare the finished runs, write the report and print its table and verdict.
pub fn run_cli<E: Experiment>(
    args: &crate::cli::ExperimentArgs,
    runs: &MultiRunArgs,
) -> Result<()> {
    let resolved = args.resolve_for(E::PRESET)?;
    if resolved.print_config_if_asked()? {
        return Ok(());
    }
    let (cfg, out) = (&resolved.config, &resolved.out);
    train_selected(&resolved, runs, E::plan(cfg, out)?)?;
    if runs.writes_report() {
        let (comparison, finished) = E::compare(cfg, out)?;
        let (path, text) = E::report(out, &comparison, &finished)?;
        println!("{text}\nreport: {}", path.display());
    }
    Ok(())
}
