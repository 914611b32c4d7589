//! The sampler quality/cost curve: one checkpoint of a finished run sampled with many samplers
//! (DDPM over all T steps and respaced, DDIM η = 0, DPM-Solver++(2M)) and several noise seeds,
//! each scored exactly as an evaluation scores, against the number of network evaluations.
//!
//! Every point is one sampler × one seed: one image per evaluation condition of the run's
//! configuration, scored by `bump_data::score_batch` with the configuration's scorer (the same
//! conditions, label → pixel mapping and scorer as [`crate::eval`]). Seed 0 uses the run's own
//! `eval.seed`, so DDIM-20 at seed 0 repeats the run's own DDIM-20 evaluation of that step.
//! The points go to `sampler_curve.jsonl` (appended one by one, so `resume` skips finished
//! points), the per-sampler mean ± sd to `sampler_curve.md`, and the figure to
//! `sampler_curve.png`. docs/samplers.md has a measured curve.

use crate::config::{EvalWeights, ExperimentConfig};
use crate::report::{plot_err, register_fonts};
use crate::run_dir::RunDir;
use crate::{Error, Result};
use bump_diffusion::{NoiseSchedule, SamplerConfig};
use bump_unet::UNet;
use candle_core::{Device, Tensor};
use indicatif::{ProgressBar, ProgressStyle};
use plotters::prelude::*;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Instant;

/// File names inside the output directory.
pub const JSONL: &str = "sampler_curve.jsonl";
/// The table of means ± sd.
pub const TABLE: &str = "sampler_curve.md";
/// The figure.
pub const FIGURE: &str = "sampler_curve.png";

/// The default sampler list, cheapest first so that an interrupted curve keeps the cheap
/// points; `ddpm` (all T steps) is the reference.
pub const DEFAULT_SAMPLERS: [&str; 12] = [
    "ddim-5", "ddim-10", "ddim-20", "ddim-50", "dpmpp-5", "dpmpp-10", "dpmpp-20", "dpmpp-50",
    "ddpm-50", "ddpm-100", "ddpm-250", "ddpm",
];

/// A sampler family (one line of the figure).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Family {
    /// Ancestral DDPM, over all T steps or respaced.
    Ddpm,
    /// DDIM with η = 0.
    Ddim,
    /// DPM-Solver++(2M).
    Dpmpp,
}

impl Family {
    /// `ddpm`, `ddim` or `dpmpp` (the prefix of a sampler name).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ddpm => "ddpm",
            Self::Ddim => "ddim",
            Self::Dpmpp => "dpmpp",
        }
    }

    /// The figure's legend label.
    pub fn label(self) -> &'static str {
        match self {
            Self::Ddpm => "DDPM (ancestral, respaced)",
            Self::Ddim => "DDIM (η = 0)",
            Self::Dpmpp => "DPM-Solver++(2M)",
        }
    }

    fn colour(self) -> RGBColor {
        match self {
            Self::Ddpm => RGBColor(200, 60, 40),
            Self::Ddim => RGBColor(40, 90, 200),
            Self::Dpmpp => RGBColor(30, 150, 70),
        }
    }
}

/// One sampler of the curve, by name: `ddpm` (all T steps), `ddpm-N` (respaced), `ddim-N`
/// (η = 0) or `dpmpp-N` (DPM-Solver++(2M)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CurveSampler {
    /// The family.
    pub family: Family,
    /// Inference steps (`None`: every training timestep, `ddpm` only).
    pub steps: Option<usize>,
}

impl FromStr for CurveSampler {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        let bad = || {
            Error::Config(format!(
                "unknown sampler `{s}`: expected `ddpm` (all T steps), `ddpm-N`, `ddim-N` or \
                 `dpmpp-N` with N ≥ 1 steps, e.g. `ddim-20`"
            ))
        };
        let (name, steps) = match s.split_once('-') {
            None => (s, None),
            Some((name, n)) => (name, Some(n.parse::<usize>().map_err(|_| bad())?)),
        };
        let family = match name {
            "ddpm" => Family::Ddpm,
            "ddim" => Family::Ddim,
            "dpmpp" => Family::Dpmpp,
            _ => return Err(bad()),
        };
        if steps == Some(0) || (steps.is_none() && family != Family::Ddpm) {
            return Err(bad());
        }
        Ok(Self { family, steps })
    }
}

impl std::fmt::Display for CurveSampler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.steps {
            Some(n) => write!(f, "{}-{n}", self.family.as_str()),
            None => f.write_str(self.family.as_str()),
        }
    }
}

impl CurveSampler {
    /// The sampler configuration: the family's rule with `base`'s spacing, DDPM variance and
    /// x̂₀ limits (the run's evaluation sampler's), η = 0.
    pub fn config(&self, base: &SamplerConfig) -> SamplerConfig {
        let cfg = match (self.family, self.steps) {
            (Family::Ddpm, None) => SamplerConfig::ddpm(),
            (Family::Ddpm, Some(n)) => SamplerConfig::respaced_ddpm(n),
            (Family::Ddim, n) => SamplerConfig::ddim(n.unwrap_or(1)),
            (Family::Dpmpp, n) => SamplerConfig::dpm_solver_pp(n.unwrap_or(1)),
        };
        cfg.with_spacing(base.spacing)
            .with_variance(base.variance)
            .with_clip_sample(base.clip_sample)
            .with_dynamic_threshold(base.dynamic_threshold)
    }
}

/// What to measure.
#[derive(Debug, Clone)]
pub struct CurveSpec {
    /// Checkpoint step (`None`: the run's last checkpoint).
    pub step: Option<u64>,
    /// Raw or EMA weights (`None`: the run's `eval.weights`).
    pub weights: Option<EvalWeights>,
    /// The samplers, in the order they are run.
    pub samplers: Vec<CurveSampler>,
    /// Sampler-noise seeds per sampler (seed j offsets the run's `eval.seed` by `j << 48`).
    pub seeds: usize,
    /// Keep the points already in the output's `sampler_curve.jsonl` (same step, weights and
    /// sampler configuration) and run only the missing ones. Points of a listed sampler with a
    /// seed index ≥ `seeds` are kept too, so `seeds` is the least each sampler gets.
    pub resume: bool,
    /// Draw a progress bar on stderr.
    pub progress: bool,
}

impl CurveSpec {
    /// The default samplers ([`DEFAULT_SAMPLERS`]), 3 seeds, last checkpoint, the run's weights.
    pub fn new() -> Self {
        Self {
            step: None,
            weights: None,
            samplers: default_samplers(),
            seeds: 3,
            resume: false,
            progress: false,
        }
    }
}

impl Default for CurveSpec {
    fn default() -> Self {
        Self::new()
    }
}

/// [`DEFAULT_SAMPLERS`], parsed.
pub fn default_samplers() -> Vec<CurveSampler> {
    DEFAULT_SAMPLERS
        .iter()
        .filter_map(|s| s.parse().ok())
        .collect()
}

/// One sampler × seed: the line of `sampler_curve.jsonl`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CurvePoint {
    /// Checkpoint step sampled.
    pub step: u64,
    /// Weights sampled.
    pub weights: EvalWeights,
    /// Sampler name (`ddim-20`, `ddpm`, …).
    pub sampler: String,
    /// Its family.
    pub family: Family,
    /// The full sampler configuration.
    pub config: SamplerConfig,
    /// Inference steps taken.
    pub steps: usize,
    /// Network evaluations per image (counted denoiser calls on the batch).
    pub nfe: usize,
    /// Seed index j (0-based).
    pub seed_index: usize,
    /// Base noise seed: image i uses `seed + i`.
    pub seed: u64,
    /// Images generated and scored (one per evaluation condition).
    pub conditions: usize,
    /// Correct at τ (1 px by default) / all.
    pub accuracy: f64,
    /// Correct at the tight τ / all.
    pub accuracy_tight: f64,
    /// x within τ / all.
    pub acc_x: f64,
    /// y within τ / all.
    pub acc_y: f64,
    /// Several bumps / all.
    pub multi_bump_rate: f64,
    /// No bump / all.
    pub empty_rate: f64,
    /// One bump at the wrong place / all.
    pub single_wrong_rate: f64,
    /// Not a bump (malformed) / all.
    pub malformed_rate: f64,
    /// Wall time of the sampling call in seconds (clock-dependent; not scoring).
    pub wall_s: f64,
}

/// Mean and sample standard deviation (0 with one value).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct MeanSd {
    /// Mean.
    pub mean: f64,
    /// Sample standard deviation (n − 1).
    pub sd: f64,
}

impl MeanSd {
    /// Of `values` (NaN for none).
    pub fn of(values: &[f64]) -> Self {
        let n = values.len() as f64;
        let mean = values.iter().sum::<f64>() / n;
        let sd = if values.len() > 1 {
            (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt()
        } else {
            0.0
        };
        Self { mean, sd }
    }
}

impl std::fmt::Display for MeanSd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:.3} ± {:.3}", self.mean, self.sd)
    }
}

/// One sampler over its seeds: a row of `sampler_curve.md`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CurveRow {
    /// Sampler name.
    pub sampler: String,
    /// Family.
    pub family: Family,
    /// Network evaluations per image.
    pub nfe: usize,
    /// Seeds measured.
    pub seeds: usize,
    /// Accuracy at τ.
    pub accuracy: MeanSd,
    /// Accuracy at the tight τ.
    pub accuracy_tight: MeanSd,
    /// Multi-bump rate.
    pub multi_bump_rate: MeanSd,
    /// Empty rate.
    pub empty_rate: MeanSd,
    /// Single-wrong rate.
    pub single_wrong_rate: MeanSd,
    /// Malformed rate.
    pub malformed_rate: MeanSd,
    /// Sampling wall time per seed.
    pub wall_s: MeanSd,
    /// Scores like the reference: both accuracies within the reference's seed spread
    /// (mean ≥ reference mean − (reference sd + this sd)). `None` for the reference itself.
    pub matches_reference: Option<bool>,
}

/// Everything a curve produced.
#[derive(Debug, Clone)]
pub struct CurveOutcome {
    /// Every point, in grid order (sampler-major).
    pub points: Vec<CurvePoint>,
    /// Per-sampler summaries, in sampler order.
    pub rows: Vec<CurveRow>,
    /// The reference row's sampler (the DDPM with most NFE), if any DDPM was run.
    pub reference: Option<String>,
    /// `sampler_curve.jsonl`.
    pub jsonl: PathBuf,
    /// `sampler_curve.md`.
    pub table: PathBuf,
    /// `sampler_curve.png`.
    pub figure: PathBuf,
}

impl CurveOutcome {
    /// The cheapest sampler (fewest NFE) that matches the reference, if any.
    pub fn cheapest_match(&self) -> Option<&CurveRow> {
        cheapest_match(&self.rows)
    }
}

/// The cheapest row (fewest NFE) that matches the reference.
pub fn cheapest_match(rows: &[CurveRow]) -> Option<&CurveRow> {
    rows.iter()
        .filter(|r| r.matches_reference == Some(true))
        .min_by_key(|r| r.nfe)
}

/// The checked inputs of a curve: configuration, schedule, step and weights.
struct Prepared {
    cfg: ExperimentConfig,
    schedule: NoiseSchedule,
    step: u64,
    weights: EvalWeights,
    configs: Vec<(String, Family, SamplerConfig, usize)>,
}

/// Checks the run, the step, the weights and every sampler before anything is sampled.
fn prepare(run: &RunDir, spec: &CurveSpec) -> Result<Prepared> {
    if !run.root().is_dir() {
        return Err(Error::Config(format!(
            "no run directory at {}",
            run.root().display()
        )));
    }
    if spec.samplers.is_empty() {
        return Err(Error::Config("no samplers given".into()));
    }
    if spec.seeds == 0 {
        return Err(Error::Config("--seeds must be at least 1, got 0".into()));
    }
    let cfg = crate::reevaluate::reevaluation_config(run, &[])?;
    let schedule = NoiseSchedule::new(&cfg.diffusion)?;
    let available = run.checkpoint_steps()?;
    let step = match spec.step {
        None => *available.last().ok_or_else(|| {
            Error::Checkpoint(format!("{} has no checkpoints", run.root().display()))
        })?,
        Some(s) if available.contains(&s) => s,
        Some(s) => {
            return Err(Error::Checkpoint(format!(
                "{} has no checkpoint of step {s}; it has {available:?}",
                run.root().display()
            )))
        }
    };
    let t = schedule.num_train_timesteps();
    let mut configs: Vec<(String, Family, SamplerConfig, usize)> =
        Vec::with_capacity(spec.samplers.len());
    for s in &spec.samplers {
        let name = s.to_string();
        if configs.iter().any(|(n, ..)| *n == name) {
            return Err(Error::Config(format!("sampler `{name}` is listed twice")));
        }
        if let Some(n) = s.steps.filter(|&n| n > t) {
            return Err(Error::Config(format!(
                "sampler `{name}` takes {n} steps but the run's schedule has only T = {t} \
                 training timesteps (steps must be 1..={t})"
            )));
        }
        let c = s.config(&cfg.eval.sampler);
        let steps = c.timesteps(t)?.len();
        configs.push((name, s.family, c, steps));
    }
    Ok(Prepared {
        weights: spec.weights.unwrap_or(cfg.eval.weights),
        cfg,
        schedule,
        step,
        configs,
    })
}

/// Runs the curve of `run` into `out` (created if missing) and writes the JSONL, the table and
/// the figure.
///
/// # Errors
/// No run directory, no (such) checkpoint, a sampler with more steps than T, EMA weights asked
/// of a checkpoint without them, a `resume` into a curve of another step or weights, or a
/// failure while sampling, scoring or writing.
pub fn run_curve(
    run: &RunDir,
    out: &Path,
    spec: &CurveSpec,
    device: &Device,
) -> Result<CurveOutcome> {
    let p = prepare(run, spec)?;
    // Only the weights are needed, not the training state, so checkpoints written before
    // typed training state load too.
    let path = run.checkpoint_path(p.step);
    let (model, _meta, extras) = bump_unet::load_checkpoint(&path, device)?;
    let net = match p.weights {
        EvalWeights::Raw => model,
        EvalWeights::Ema => {
            let ema: HashMap<String, Tensor> = extras
                .iter()
                .filter_map(|(k, v)| k.strip_prefix("ema.").map(|n| (n.to_string(), v.clone())))
                .collect();
            if ema.is_empty() {
                return Err(Error::Checkpoint(format!(
                    "{} holds no EMA weights (`ema.*`); use --weights raw",
                    path.display()
                )));
            }
            let model = UNet::new(&p.cfg.model, p.cfg.train.seed, device)?;
            model.load_weights(&ema)?;
            model
        }
    };

    // The evaluation's conditions and targets, as crate::eval builds them.
    let coords = p.cfg.eval.centres.centres(p.cfg.data.extent())?;
    let flat: Vec<f32> = coords
        .iter()
        .flat_map(|c| [c[0] as f32, c[1] as f32])
        .collect();
    let cond = Tensor::from_slice(&flat, (coords.len(), 2), device)?;
    let canvas = p.cfg.data.canvas();
    let targets: Vec<[f32; 2]> = coords
        .iter()
        .map(|&c| canvas.map_or(c, |cv| cv.latent_to_image(c)))
        .map(|c| [c[0] as f32, c[1] as f32])
        .collect();
    let score_cfg = p.cfg.data.score_config();
    let n = p.cfg.data.n;

    std::fs::create_dir_all(out).map_err(crate::error::io_err(out))?;
    let jsonl = out.join(JSONL);
    let mut points: Vec<CurvePoint> = if spec.resume && jsonl.exists() {
        read_points(&jsonl)?
    } else {
        if jsonl.exists() {
            crate::io::write_atomic(&jsonl, b"")?;
        }
        Vec::new()
    };
    if let Some(other) = points
        .iter()
        .find(|q| q.step != p.step || q.weights != p.weights)
    {
        return Err(Error::Config(format!(
            "{} holds a curve of step {} ({} weights), not step {} ({}); choose another --out \
             or drop --resume",
            jsonl.display(),
            other.step,
            other.weights.as_str(),
            p.step,
            p.weights.as_str()
        )));
    }

    let total = (p.configs.len() * spec.seeds) as u64;
    let bar = if spec.progress {
        let bar = ProgressBar::new(total);
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} sampler × seed  {msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar
    } else {
        ProgressBar::hidden()
    };
    for (name, family, config, steps) in &p.configs {
        for j in 0..spec.seeds {
            let done = points
                .iter()
                .any(|q| q.sampler == *name && q.seed_index == j && q.config == *config);
            if done {
                bar.inc(1);
                continue;
            }
            bar.set_message(format!("{name} seed {j}"));
            // Seed 0 is the run's own evaluation noise; further seeds sit far from it and from
            // the evaluation's further sets (which add `set << 32`).
            let seed = p.cfg.eval.seed.wrapping_add((j as u64) << 48);
            let seeds: Vec<u64> = (0..coords.len() as u64)
                .map(|i| seed.wrapping_add(i))
                .collect();
            let mut calls = 0usize;
            let mut denoiser = |x: &Tensor, t: &Tensor, c: &Tensor| {
                calls += 1;
                net.forward(x, t, c)
            };
            let start = Instant::now();
            let sampled = bump_diffusion::sample(
                &p.schedule,
                config,
                &mut denoiser,
                &cond,
                (1, n, n),
                &seeds,
                None,
            )?;
            let images: Vec<f32> = sampled.images.flatten_all()?.to_vec1()?;
            let wall_s = start.elapsed().as_secs_f64();
            let score = bump_data::score_batch(&images, n, &targets, &score_cfg)?;
            let point = CurvePoint {
                step: p.step,
                weights: p.weights,
                sampler: name.clone(),
                family: *family,
                config: config.clone(),
                steps: *steps,
                nfe: calls,
                seed_index: j,
                seed,
                conditions: coords.len(),
                accuracy: score.accuracy,
                accuracy_tight: score.accuracy_tight,
                acc_x: score.acc_x,
                acc_y: score.acc_y,
                multi_bump_rate: score.multi_bump_rate,
                empty_rate: score.empty_rate,
                single_wrong_rate: score.single_wrong_rate,
                malformed_rate: score.malformed_rate,
                wall_s,
            };
            crate::io::append_line(&jsonl, &serde_json::to_string(&point)?)?;
            if spec.progress {
                // `suspend` prints even when the bar is hidden (stderr not a terminal).
                bar.suspend(|| {
                    eprintln!(
                        "{name:>9} seed {j}: NFE {:>4}  acc {:.3}  tight {:.3}  multi {:.3}  \
                         empty {:.3}  single-wrong {:.3}  malformed {:.3}  {wall_s:.1} s",
                        point.nfe,
                        point.accuracy,
                        point.accuracy_tight,
                        point.multi_bump_rate,
                        point.empty_rate,
                        point.single_wrong_rate,
                        point.malformed_rate
                    )
                });
            }
            points.push(point);
            bar.inc(1);
        }
    }
    bar.finish_and_clear();

    // Keep the listed samplers' points, in grid order; with `resume`, seeds measured earlier
    // beyond `seeds` stay in (so a reference can be given more seeds by a later call).
    let order = |q: &CurvePoint| {
        p.configs
            .iter()
            .position(|(n, _, c, _)| *n == q.sampler && *c == q.config)
    };
    points.retain(|q| order(q).is_some());
    points.sort_by_key(|q| (order(q), q.seed_index));
    let (rows, reference) = summarize(&points);
    let table = out.join(TABLE);
    let header = format!(
        "Run `{}`, step {}, {} weights; {} conditions per point, at least {} seed(s) per \
         sampler (column `seeds`); scorer τ = {} px, tight τ = {} px.",
        run.root().display(),
        p.step,
        p.weights.as_str(),
        coords.len(),
        spec.seeds,
        score_cfg.tolerance,
        score_cfg.tight_tolerance
    );
    crate::io::write_atomic(
        &table,
        table_markdown(&rows, reference.as_deref(), &header).as_bytes(),
    )?;
    let figure = out.join(FIGURE);
    plot_curve(&figure, &points, &rows, reference.as_deref())?;
    Ok(CurveOutcome {
        points,
        rows,
        reference,
        jsonl,
        table,
        figure,
    })
}

/// Reads `sampler_curve.jsonl` (a torn last line, left by a crash mid-append, is skipped).
pub fn read_points(path: &Path) -> Result<Vec<CurvePoint>> {
    let text = std::fs::read_to_string(path).map_err(crate::error::io_err(path))?;
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let mut points = Vec::with_capacity(lines.len());
    for (i, line) in lines.iter().enumerate() {
        match serde_json::from_str::<CurvePoint>(line) {
            Ok(p) => points.push(p),
            Err(_) if i + 1 == lines.len() && !text.ends_with('\n') => {}
            Err(e) => {
                return Err(Error::Config(format!(
                    "{} line {}: not a sampler-curve point: {e}",
                    path.display(),
                    i + 1
                )))
            }
        }
    }
    Ok(points)
}

/// Per-sampler means ± sd (in first-seen order), and the reference: the DDPM sampler with the
/// most NFE. A row matches the reference when both accuracies reach the reference mean minus
/// the two seed spreads (reference sd + row sd).
pub fn summarize(points: &[CurvePoint]) -> (Vec<CurveRow>, Option<String>) {
    let mut names: Vec<&str> = Vec::new();
    for q in points {
        if !names.contains(&q.sampler.as_str()) {
            names.push(&q.sampler);
        }
    }
    let mut rows: Vec<CurveRow> = names
        .iter()
        .map(|name| {
            let qs: Vec<&CurvePoint> = points.iter().filter(|q| q.sampler == *name).collect();
            let of = |f: fn(&CurvePoint) -> f64| {
                MeanSd::of(&qs.iter().map(|q| f(q)).collect::<Vec<_>>())
            };
            CurveRow {
                sampler: name.to_string(),
                family: qs[0].family,
                nfe: qs[0].nfe,
                seeds: qs.len(),
                accuracy: of(|q| q.accuracy),
                accuracy_tight: of(|q| q.accuracy_tight),
                multi_bump_rate: of(|q| q.multi_bump_rate),
                empty_rate: of(|q| q.empty_rate),
                single_wrong_rate: of(|q| q.single_wrong_rate),
                malformed_rate: of(|q| q.malformed_rate),
                wall_s: of(|q| q.wall_s),
                matches_reference: None,
            }
        })
        .collect();
    let reference = rows
        .iter()
        .filter(|r| r.family == Family::Ddpm)
        .max_by_key(|r| r.nfe)
        .cloned();
    if let Some(rf) = &reference {
        for r in rows.iter_mut().filter(|r| r.sampler != rf.sampler) {
            let within = |a: MeanSd, b: MeanSd| a.mean >= b.mean - (a.sd + b.sd) - 1e-12;
            r.matches_reference = Some(
                within(r.accuracy, rf.accuracy) && within(r.accuracy_tight, rf.accuracy_tight),
            );
        }
    }
    (rows, reference.map(|r| r.sampler))
}

/// The Markdown table of `rows` under `header`, with the cheapest match named below it.
pub fn table_markdown(rows: &[CurveRow], reference: Option<&str>, header: &str) -> String {
    let mut s = format!("{header}\n\n");
    s.push_str(
        "| sampler | NFE | seeds | accuracy (τ) | accuracy (tight τ) | multi | empty | \
         single-wrong | malformed | sampling wall s | scores like the reference |\n",
    );
    s.push_str("| --- | ---: | ---: | --- | --- | --- | --- | --- | --- | --- | --- |\n");
    for r in rows {
        let verdict = match r.matches_reference {
            None if reference == Some(r.sampler.as_str()) => "reference".to_string(),
            None => "–".to_string(),
            Some(true) => "yes".to_string(),
            Some(false) => "no".to_string(),
        };
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {:.1} ± {:.1} | {verdict} |",
            r.sampler,
            r.nfe,
            r.seeds,
            r.accuracy,
            r.accuracy_tight,
            r.multi_bump_rate,
            r.empty_rate,
            r.single_wrong_rate,
            r.malformed_rate,
            r.wall_s.mean,
            r.wall_s.sd,
        );
    }
    s.push('\n');
    match (reference, cheapest_match(rows)) {
        (Some(rf), Some(c)) => {
            let _ = writeln!(
                s,
                "Cheapest sampler within the seed spread of {rf} (both accuracies ≥ reference \
                 mean − (reference sd + its sd)): **{}** ({} NFE).",
                c.sampler, c.nfe
            );
        }
        (Some(rf), None) => {
            let _ = writeln!(s, "No sampler scores within the seed spread of {rf}.");
        }
        (None, _) => s.push_str("No DDPM sampler was run, so there is no reference.\n"),
    }
    s
}

/// Accuracy (τ and tight τ) against NFE on a log axis: one line per family through the
/// per-sampler means, each seed a faint dot, the seed range a vertical bar, and the reference's
/// mean ± sd as a grey band.
pub fn plot_curve(
    path: &Path,
    points: &[CurvePoint],
    rows: &[CurveRow],
    reference: Option<&str>,
) -> Result<()> {
    register_fonts();
    let root = BitMapBackend::new(path, (1100, 460)).into_drawing_area();
    root.fill(&WHITE).map_err(plot_err)?;
    let max_nfe = rows.iter().map(|r| r.nfe).max().unwrap_or(1).max(2) as f64;
    let min_nfe = rows.iter().map(|r| r.nfe).min().unwrap_or(1).max(1) as f64;
    let x_range = (min_nfe / 1.5)..(max_nfe * 1.5);
    type Get = fn(&CurvePoint) -> f64;
    type GetRow = fn(&CurveRow) -> MeanSd;
    let panels: [(&str, Get, GetRow); 2] = [
        ("accuracy (τ)", |q| q.accuracy, |r| r.accuracy),
        (
            "accuracy (tight τ)",
            |q| q.accuracy_tight,
            |r| r.accuracy_tight,
        ),
    ];
    let areas = root.split_evenly((1, 2));
    for ((title, get, get_row), area) in panels.iter().zip(&areas) {
        // Each panel's own range, with room below the lowest point for the legend.
        let lo = points.iter().map(get).fold(1.0f64, f64::min);
        let y_lo = ((lo - (0.5 * (1.0 - lo)).max(0.02)) * 100.0)
            .floor()
            .max(0.0)
            / 100.0;
        let y_range = y_lo..1.0 + (1.0 - y_lo) * 0.04;
        let mut chart = ChartBuilder::on(area)
            .caption(*title, ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(50)
            .build_cartesian_2d(x_range.clone().log_scale(), y_range.clone())
            .map_err(plot_err)?;
        chart
            .configure_mesh()
            .x_desc("network evaluations per image (NFE, log scale)")
            .y_desc(*title)
            .draw()
            .map_err(plot_err)?;
        if let Some(rf) = reference.and_then(|name| rows.iter().find(|r| r.sampler == name)) {
            let m = get_row(rf);
            let (a, b) = (m.mean - m.sd, (m.mean + m.sd).min(y_range.end));
            chart
                .draw_series(std::iter::once(Rectangle::new(
                    [(x_range.start, a), (x_range.end, b)],
                    BLACK.mix(0.12).filled(),
                )))
                .map_err(plot_err)?;
            chart
                .draw_series(DashedLineSeries::new(
                    [(x_range.start, m.mean), (x_range.end, m.mean)],
                    6,
                    4,
                    BLACK.mix(0.6).stroke_width(1),
                ))
                .map_err(plot_err)?
                .label(format!("{} (reference) mean ± sd", rf.sampler))
                .legend(|(x, y)| {
                    PathElement::new(vec![(x, y), (x + 18, y)], BLACK.mix(0.6).stroke_width(1))
                });
        }
        for family in [Family::Ddpm, Family::Ddim, Family::Dpmpp] {
            let colour = family.colour();
            let mut fam: Vec<&CurveRow> = rows.iter().filter(|r| r.family == family).collect();
            if fam.is_empty() {
                continue;
            }
            fam.sort_by_key(|r| r.nfe);
            for r in &fam {
                let vals: Vec<f64> = points
                    .iter()
                    .filter(|q| q.sampler == r.sampler)
                    .map(get)
                    .collect();
                let x = r.nfe as f64;
                let (vmin, vmax) = vals
                    .iter()
                    .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| {
                        (a.min(v), b.max(v))
                    });
                chart
                    .draw_series(std::iter::once(PathElement::new(
                        vec![(x, vmin), (x, vmax)],
                        colour.stroke_width(2),
                    )))
                    .map_err(plot_err)?;
                chart
                    .draw_series(
                        vals.iter()
                            .map(|&v| Circle::new((x, v), 2, colour.mix(0.45).filled())),
                    )
                    .map_err(plot_err)?;
            }
            let means: Vec<(f64, f64)> = fam
                .iter()
                .map(|r| (r.nfe as f64, get_row(r).mean))
                .collect();
            chart
                .draw_series(LineSeries::new(means.clone(), colour.stroke_width(2)))
                .map_err(plot_err)?
                .label(family.label())
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 18, y)], colour.stroke_width(2))
                });
            chart
                .draw_series(
                    means
                        .iter()
                        .map(|&(x, y)| Circle::new((x, y), 4, colour.filled())),
                )
                .map_err(plot_err)?;
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerRight)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .draw()
            .map_err(plot_err)?;
    }
    root.present().map_err(plot_err)?;
    Ok(())
}
