//! The training loop: config → run, with checkpoints, resume, evaluation and the report.

use crate::config::{EvalWeights, ExperimentConfig};
use crate::error::io_err;
use crate::eval::{EvalOutput, Evaluator};
use crate::optim::{optimizer_step, AdamW, Ema};
use crate::record::{EvalRecord, PhaseOnsets, RunSummary};
use crate::report::{write_report, Snapshot};
use crate::{Error, Result};
use bump_analysis::Phase;
use bump_data::Dataset;
use bump_diffusion::NoiseSchedule;
use bump_unet::UNet;
use candle_core::{DType, Device, Tensor};
use indicatif::{ProgressBar, ProgressStyle};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Where and how a run executes (not part of the experiment's identity).
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Output directory (created if needed).
    pub out_dir: PathBuf,
    /// Continue from the last checkpoint in `out_dir`.
    pub resume: bool,
    /// Compute device.
    pub device: Device,
    /// Draw a progress bar on stderr.
    pub progress: bool,
    /// Stop after this many completed steps (simulates a kill; used by the resume test).
    pub stop_after: Option<u64>,
}

impl RunOptions {
    /// CPU, no resume, progress bar on.
    pub fn new(out_dir: impl Into<PathBuf>) -> Self {
        Self {
            out_dir: out_dir.into(),
            resume: false,
            device: Device::Cpu,
            progress: true,
            stop_after: None,
        }
    }
}

/// What a finished (or stopped) run leaves behind.
#[derive(Debug, Clone)]
pub struct RunOutcome {
    /// Every evaluation record of the run, including those from before a resume.
    pub records: Vec<EvalRecord>,
    /// The summary (also in `summary.json`); `None` when stopped early by `stop_after`.
    pub summary: Option<RunSummary>,
    /// `report.html`, when the run finished.
    pub report: Option<PathBuf>,
    /// The last checkpoint written.
    pub last_checkpoint: Option<PathBuf>,
}

/// Paths inside a run directory.
pub struct RunPaths {
    /// The run directory.
    pub root: PathBuf,
}

impl RunPaths {
    /// `metrics.jsonl`.
    pub fn metrics(&self) -> PathBuf {
        self.root.join("metrics.jsonl")
    }
    /// `summary.json`.
    pub fn summary(&self) -> PathBuf {
        self.root.join("summary.json")
    }
    /// `config.json`.
    pub fn config(&self) -> PathBuf {
        self.root.join("config.json")
    }
    /// The checkpoint directory.
    pub fn checkpoints(&self) -> PathBuf {
        self.root.join("checkpoints")
    }
    /// The checkpoint of `step`.
    pub fn checkpoint(&self, step: u64) -> PathBuf {
        self.checkpoints()
            .join(format!("step_{step:08}.safetensors"))
    }
    /// The snapshot directory (per-checkpoint samples and embeddings for the report).
    pub fn snapshots(&self) -> PathBuf {
        self.root.join("snapshots")
    }
}

/// The most recent checkpoint in `dir`, by step number.
pub fn latest_checkpoint(dir: &Path) -> Result<Option<(u64, PathBuf)>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(Error::Io {
                path: dir.to_path_buf(),
                source: e,
            })
        }
    };
    let mut best: Option<(u64, PathBuf)> = None;
    for entry in entries {
        let path = entry.map_err(io_err(dir))?.path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        let Some(num) = name
            .strip_prefix("step_")
            .and_then(|s| s.strip_suffix(".safetensors"))
        else {
            continue;
        };
        if let Ok(step) = num.parse::<u64>() {
            if best.as_ref().is_none_or(|(b, _)| step > *b) {
                best = Some((step, path));
            }
        }
    }
    Ok(best)
}

/// Counter-based randomness: the stream for (`seed`, `purpose`, `step`) never depends on how
/// many numbers earlier steps drew, so a resumed run draws exactly what an uninterrupted one does.
pub(crate) fn step_rng(seed: u64, purpose: u64, step: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ purpose.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    rng.set_stream(step);
    rng
}

const PURPOSE_TIMESTEPS: u64 = 1;
const PURPOSE_NOISE: u64 = 2;
const PURPOSE_SUBSAMPLE: u64 = 3;

/// Trains, checkpoints and evaluates one experiment.
pub fn run(cfg: &ExperimentConfig, opts: &RunOptions) -> Result<RunOutcome> {
    cfg.validate()?;
    let paths = RunPaths {
        root: opts.out_dir.clone(),
    };
    let device = &opts.device;
    let start = Instant::now();

    // Everything that can fail on bad input happens before any output is touched.
    let dataset = build_dataset(cfg)?;
    let schedule = NoiseSchedule::new(&cfg.diffusion)?;
    let model = UNet::new(&cfg.model, cfg.train.seed, device)?;
    let mut opt = AdamW::new(model.vars(), cfg.train.adamw)?;
    let mut ema = Ema::new(&model.vars(), cfg.train.ema_decay)?;
    let mut start_step = 0u64;
    let mut records: Vec<EvalRecord> = Vec::new();
    let mut wall_offset = 0.0f64;

    if opts.resume {
        let (step, path) = latest_checkpoint(&paths.checkpoints())?.ok_or_else(|| {
            Error::Checkpoint(format!(
                "--resume: no checkpoint found in {}",
                paths.checkpoints().display()
            ))
        })?;
        let resumed = load_training_checkpoint(&path, cfg, device)?;
        model.load_weights(&resumed.weights)?;
        opt.load_state(&resumed.extras, resumed.adam_step)?;
        ema.load_state(&resumed.extras, resumed.ema_updates)?;
        start_step = step;
        wall_offset = resumed.wall_s;
        records = read_records(&paths.metrics())?
            .into_iter()
            .filter(|r| r.step <= step)
            .collect();
        // Drop records written after the checkpoint we resume from (a kill between the two).
        rewrite_records(&paths.metrics(), &records)?;
    } else {
        std::fs::create_dir_all(&paths.root).map_err(io_err(&paths.root))?;
        if paths.metrics().exists() {
            std::fs::remove_file(paths.metrics()).map_err(io_err(paths.metrics()))?;
        }
    }
    std::fs::create_dir_all(paths.checkpoints()).map_err(io_err(paths.checkpoints()))?;
    std::fs::create_dir_all(paths.snapshots()).map_err(io_err(paths.snapshots()))?;
    crate::io::write_atomic(
        &paths.config(),
        serde_json::to_string_pretty(cfg)?.as_bytes(),
    )?;

    let evaluator = Evaluator::new(cfg, &schedule, device)?;
    let total = cfg.train.steps;
    let lr = cfg.train.lr_schedule();
    let batch = cfg.train.batch.min(dataset.len());
    let batches =
        bump_data::Batches::new(dataset.len(), batch, cfg.train.seed)?.with_drop_last(true);
    let steps_per_epoch = batches.batches_per_epoch().max(1) as u64;
    let n = cfg.data.n;

    let bar = progress_bar(opts.progress, total, start_step);
    let mut loss_sum = 0.0f64;
    let mut loss_count = 0u64;
    let mut last_checkpoint = latest_checkpoint(&paths.checkpoints())?.map(|(_, p)| p);
    let mut x_buf: Vec<f32> = Vec::with_capacity(batch * n * n);
    let mut label_buf: Vec<f32> = Vec::with_capacity(batch * 2);
    let mut order: (u64, Vec<usize>) = (u64::MAX, Vec::new());

    let mut step = start_step;
    loop {
        if cfg.train.checkpoints.contains(step, total) && !(opts.resume && step == start_step) {
            let ckpt = paths.checkpoint(step);
            let wall = wall_offset + start.elapsed().as_secs_f64();
            save_training_checkpoint(&ckpt, &model, &opt, &ema, cfg, step, wall)?;
            last_checkpoint = Some(ckpt);
            let train_loss = if loss_count > 0 {
                loss_sum / loss_count as f64
            } else {
                0.0
            };
            loss_sum = 0.0;
            loss_count = 0;
            let eval_weights = match cfg.eval.weights {
                EvalWeights::Raw => None,
                EvalWeights::Ema => Some(ema.weights()),
            };
            let out = evaluator.evaluate(&model, eval_weights.as_ref(), step)?;
            let record = out.record(
                step,
                train_loss,
                wall_offset + start.elapsed().as_secs_f64(),
                cfg,
            );
            crate::io::append_line(&paths.metrics(), &serde_json::to_string(&record)?)?;
            write_snapshot(&paths, &out)?;
            if opts.progress {
                let line = format!(
                    "step {step:>6}  loss {train_loss:.4}  acc {:.3}  gen {}  layer4 {}  (ID {:.2}, T {:.2}, ρ {:.2}, R² {:.2}/{:.2})",
                    record.accuracy, record.gen_phase, record.rep_phase, record.intrinsic_dim,
                    record.trustworthiness, record.spearman, record.r2_x, record.r2_y
                );
                // indicatif hides the bar (and its println) when stderr is not a terminal;
                // logs redirected to a file still get one line per checkpoint.
                if bar.is_hidden() {
                    eprintln!("{line}");
                } else {
                    bar.println(line);
                }
            }
            records.push(record);
        }
        if step >= total || opts.stop_after.is_some_and(|s| step >= s) {
            break;
        }

        // One update.
        let epoch = step / steps_per_epoch;
        let within = (step % steps_per_epoch) as usize;
        if order.0 != epoch {
            order = (epoch, batches.permutation(epoch));
        }
        let idx = &order.1[within * batch..(within + 1) * batch];
        dataset.gather(idx, &mut x_buf, &mut label_buf)?;
        let x0 = Tensor::from_slice(&x_buf, (batch, 1, n, n), device)?;
        let cond = Tensor::from_slice(&label_buf, (batch, 2), device)?;
        let t_vals = bump_diffusion::sample_timesteps(
            &mut step_rng(cfg.train.seed, PURPOSE_TIMESTEPS, step),
            batch,
            schedule.num_train_timesteps(),
        );
        let t = Tensor::from_iter(t_vals.iter().map(|&v| v as f32), device)?;
        let noise_seeds: Vec<u64> = {
            use rand::Rng;
            let mut r = step_rng(cfg.train.seed, PURPOSE_NOISE, step);
            (0..batch).map(|_| r.random::<u64>()).collect()
        };
        let noise = bump_diffusion::gaussian_noise(&noise_seeds, &[1, n, n], device)?;
        let x_t = bump_diffusion::add_noise(&schedule, &x0, &noise, &t)?;
        let target = bump_diffusion::training_target(
            &schedule,
            schedule.prediction_type(),
            &x0,
            &noise,
            &t,
        )?;
        let pred = model.forward_t(&x_t, &t, &cond, true)?;
        let loss = (pred - &target)?.sqr()?.mean_all()?;
        let loss_v = loss.to_dtype(DType::F64)?.to_scalar::<f64>()?;
        if !loss_v.is_finite() {
            bar.abandon();
            return Err(Error::NonFiniteLoss {
                step,
                loss: loss_v,
                last_good: last_checkpoint,
            });
        }
        optimizer_step(&loss, &mut opt, &mut ema, lr.at(step), cfg.train.grad_clip)?;
        loss_sum += loss_v;
        loss_count += 1;
        step += 1;
        bar.set_position(step);
        bar.set_message(format!("loss {loss_v:.4}"));
    }
    bar.finish_and_clear();

    if opts.stop_after.is_some_and(|s| s < total) {
        return Ok(RunOutcome {
            records,
            summary: None,
            report: None,
            last_checkpoint,
        });
    }
    let summary = summarize(
        cfg,
        &records,
        model.parameter_count(),
        wall_offset + start.elapsed().as_secs_f64(),
        &last_checkpoint,
    )?;
    crate::io::write_atomic(
        &paths.summary(),
        serde_json::to_string_pretty(&summary)?.as_bytes(),
    )?;
    let snapshots = choose_snapshots(&paths, &records, cfg.eval.snapshots)?;
    let report = write_report(&paths.root, &records, &snapshots, &summary)?;
    Ok(RunOutcome {
        records,
        summary: Some(summary),
        report: Some(report),
        last_checkpoint,
    })
}

fn progress_bar(enabled: bool, total: u64, start: u64) -> ProgressBar {
    if !enabled {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(total);
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {bar:30} step {pos}/{len} {msg} {per_sec} ETA {eta}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.set_position(start);
    bar
}

fn build_dataset(cfg: &ExperimentConfig) -> Result<Dataset> {
    crate::data_glue::build_dataset(&cfg.data, cfg.train.seed ^ PURPOSE_SUBSAMPLE)
}

fn summarize(
    cfg: &ExperimentConfig,
    records: &[EvalRecord],
    parameters: usize,
    wall_s: f64,
    last: &Option<PathBuf>,
) -> Result<RunSummary> {
    let last_rec = records
        .last()
        .ok_or_else(|| Error::Config("the run produced no evaluation".into()))?;
    let agree = records
        .iter()
        .filter(|r| r.rep_phase == r.gen_phase)
        .count() as f64
        / records.len() as f64;
    Ok(RunSummary {
        config: serde_json::to_value(cfg)?,
        seed: cfg.train.seed,
        steps: last_rec.step,
        wall_s,
        final_accuracy: last_rec.accuracy,
        final_rep_phase: last_rec.rep_phase,
        final_gen_phase: last_rec.gen_phase,
        rep_phase_onsets: PhaseOnsets::from_records(records.iter().map(|r| (&r.rep_phase, r.step))),
        gen_phase_onsets: PhaseOnsets::from_records(records.iter().map(|r| (&r.gen_phase, r.step))),
        phase_agreement: agree,
        parameters,
        final_checkpoint: last
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_default(),
    })
}

/// Reads `metrics.jsonl` (missing file: no records).
pub fn read_records(path: &Path) -> Result<Vec<EvalRecord>> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => {
            return Err(Error::Io {
                path: path.to_path_buf(),
                source: e,
            })
        }
    };
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| Ok(serde_json::from_str(l)?))
        .collect()
}

fn rewrite_records(path: &Path, records: &[EvalRecord]) -> Result<()> {
    let mut text = String::new();
    for r in records {
        text.push_str(&serde_json::to_string(r)?);
        text.push('\n');
    }
    crate::io::write_atomic(path, text.as_bytes())
}

/// Checkpoint metadata keys written by the facade (beyond bump-unet's own).
const META_ADAM_STEP: &str = "adam_step";
const META_EMA_UPDATES: &str = "ema_updates";
const META_WALL_S: &str = "wall_s";
const META_EXPERIMENT: &str = "experiment";
const META_RNG: &str = "rng";

fn save_training_checkpoint(
    path: &Path,
    model: &UNet,
    opt: &AdamW,
    ema: &Ema,
    cfg: &ExperimentConfig,
    step: u64,
    wall_s: f64,
) -> Result<()> {
    let mut extra = BTreeMap::new();
    extra.insert(META_ADAM_STEP.to_string(), opt.step_count().to_string());
    extra.insert(META_EMA_UPDATES.to_string(), ema.updates().to_string());
    extra.insert(META_WALL_S.to_string(), format!("{wall_s}"));
    extra.insert(META_EXPERIMENT.to_string(), serde_json::to_string(cfg)?);
    extra.insert(
        META_RNG.to_string(),
        format!(
            "chacha8 counter-based: key = seed {} ^ purpose, stream = step {step}",
            cfg.train.seed
        ),
    );
    let meta = bump_unet::CheckpointMeta {
        step,
        seed: cfg.train.seed,
        extra,
    };
    let mut tensors = opt.state_tensors();
    tensors.extend(ema.state_tensors());
    bump_unet::save_checkpoint(path, model, &meta, &tensors)?;
    Ok(())
}

struct ResumedState {
    weights: HashMap<String, Tensor>,
    extras: HashMap<String, Tensor>,
    adam_step: u64,
    ema_updates: u64,
    wall_s: f64,
}

fn load_training_checkpoint(
    path: &Path,
    cfg: &ExperimentConfig,
    device: &Device,
) -> Result<ResumedState> {
    let (model, meta, extras) = bump_unet::load_checkpoint(path, device)?;
    if model.config() != &cfg.model {
        return Err(Error::Checkpoint(format!(
            "{}: the checkpoint's model configuration differs from this run's",
            path.display()
        )));
    }
    let get = |k: &str| -> Result<String> {
        meta.extra
            .get(k)
            .cloned()
            .ok_or_else(|| Error::Checkpoint(format!("{}: metadata `{k}` missing", path.display())))
    };
    let parse = |k: &str| -> Result<u64> {
        get(k)?.parse().map_err(|_| {
            Error::Checkpoint(format!(
                "{}: metadata `{k}` is not a number",
                path.display()
            ))
        })
    };
    let weights = model
        .vars()
        .into_iter()
        .map(|(n, v)| (n, v.as_tensor().clone()))
        .collect();
    Ok(ResumedState {
        weights,
        extras,
        adam_step: parse(META_ADAM_STEP)?,
        ema_updates: parse(META_EMA_UPDATES)?,
        wall_s: get(META_WALL_S)?.parse().unwrap_or(0.0),
    })
}

fn write_snapshot(paths: &RunPaths, out: &EvalOutput) -> Result<()> {
    let path = paths.snapshots().join(format!("step_{:08}.json", out.step));
    crate::io::write_atomic(
        &path,
        serde_json::to_string(&out.snapshot_file())?.as_bytes(),
    )
}

/// Picks up to `count` checkpoints for the report: the first, the first of each phase, the last,
/// then evenly spaced others.
fn choose_snapshots(
    paths: &RunPaths,
    records: &[EvalRecord],
    count: usize,
) -> Result<Vec<Snapshot>> {
    if records.is_empty() || count == 0 {
        return Ok(Vec::new());
    }
    let mut steps: Vec<u64> = vec![records[0].step];
    for p in [Phase::A, Phase::B, Phase::C] {
        if let Some(r) = records.iter().find(|r| r.rep_phase == p) {
            steps.push(r.step);
        }
    }
    steps.push(records[records.len() - 1].step);
    let mut i = 1;
    while steps.len() < count && i < records.len() {
        let pick = records[i * records.len() / count.max(1)].step;
        steps.push(pick);
        i += 1;
    }
    steps.sort_unstable();
    steps.dedup();
    steps.truncate(count.max(2));
    let mut out = Vec::new();
    for s in steps {
        let path = paths.snapshots().join(format!("step_{s:08}.json"));
        if let Ok(text) = std::fs::read_to_string(&path) {
            let file: crate::eval::SnapshotFile = serde_json::from_str(&text)?;
            out.push(file.into_snapshot());
        }
    }
    Ok(out)
}
