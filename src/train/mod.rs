//! The training loop: config → run directory, with checkpoints, resume, evaluation and the
//! report.
//!
//! [`run`] is the loop only; the pieces it composes each live in their own file:
//! [`state`] (fresh or resumed model, optimiser and EMA), [`update`] (one optimiser step on a
//! mini-batch), `progress` (the progress bar and per-checkpoint lines) and [`summarize`]
//! (`summary.json`). The run directory is a [`RunDir`].

mod progress;
pub mod state;
pub mod stop;
mod summary;
pub mod update;

use crate::config::{EvalWeights, ExperimentConfig};
use crate::eval::Evaluator;
use crate::record::{EvalRecord, RunSummary};
use crate::run_dir::RunDir;
use crate::{Error, Result};
use bump_diffusion::NoiseSchedule;
use candle_core::Device;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::path::PathBuf;
use std::time::Instant;

pub use crate::run_dir::{latest_checkpoint, read_records};
pub use state::TrainState;
pub use stop::StopFlag;
pub use summary::summarize;

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
    /// A write failure to inject into the run directory's writes (tests of failing disks;
    /// `None` in real runs).
    pub write_fault: Option<crate::io::WriteFault>,
    /// Graceful stop: when set, the loop checkpoints the current step and returns
    /// [`Error::Interrupted`] before its next step ([`stop`] has the guarantee and the exit
    /// status convention). Unset unless [`RunOptions::with_stop`] is given one.
    pub stop: StopFlag,
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
            write_fault: None,
            stop: StopFlag::new(),
        }
    }

    /// Stops the run when `flag` is set, e.g. the one [`StopFlag::from_signals`] returns.
    pub fn with_stop(mut self, flag: StopFlag) -> Self {
        self.stop = flag;
        self
    }
}

/// What a finished (or stopped) run leaves behind.
#[derive(Debug, Clone)]
pub struct RunOutcome {
    /// Where the run went: its directory ([`RunDir::root`] is [`RunOptions::out_dir`]), whose
    /// readers give back the records (bit for bit), the summary, snapshots and checkpoints.
    pub run_dir: RunDir,
    /// Every evaluation record of the run, including those from before a resume.
    pub records: Vec<EvalRecord>,
    /// The summary (also in `summary.json`); `None` when stopped early by `stop_after`.
    pub summary: Option<RunSummary>,
    /// `report.html`, when the run finished.
    pub report: Option<PathBuf>,
    /// The last checkpoint written.
    pub last_checkpoint: Option<PathBuf>,
}

/// Counter-based randomness: the stream for (`seed`, `purpose`, `step`) never depends on how
/// many numbers earlier steps drew, so a resumed run draws exactly what an uninterrupted one does.
pub(crate) fn step_rng(seed: u64, purpose: u64, step: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ purpose.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    rng.set_stream(step);
    rng
}

/// Purposes of the counter-based streams ([`step_rng`]).
pub(crate) const PURPOSE_TIMESTEPS: u64 = 1;
pub(crate) const PURPOSE_NOISE: u64 = 2;
pub(crate) const PURPOSE_SUBSAMPLE: u64 = 3;

/// Trains, checkpoints and evaluates one experiment.
///
/// Everything that can fail on bad input (configuration, dataset, model, the checkpoint to
/// resume from) is checked before any output is written.
pub fn run(cfg: &ExperimentConfig, opts: &RunOptions) -> Result<RunOutcome> {
    cfg.validate()?;
    let run_dir = RunDir::new(&opts.out_dir).with_write_fault(opts.write_fault.clone());
    let device = &opts.device;
    let start = Instant::now();

    let dataset = cfg.data.build(cfg.train.seed ^ PURPOSE_SUBSAMPLE)?;
    let schedule = NoiseSchedule::new(&cfg.diffusion)?;
    let mut state = if opts.resume {
        TrainState::resume(cfg, &run_dir, device)?
    } else {
        TrainState::fresh(cfg, device)?
    };
    run_dir.create()?;
    if opts.resume {
        // Drop records written after the checkpoint we resume from (a kill between the two).
        run_dir.rewrite_records(&state.records)?;
    } else {
        run_dir.clear_records()?;
    }
    run_dir.write_config(cfg)?;

    let evaluator = Evaluator::new(cfg, &schedule, device)?;
    let mut updater = update::Updater::new(cfg, &dataset, &schedule, device)?;
    let total = cfg.train.steps;
    let lr = cfg.train.lr_schedule();
    let bar = progress::bar(opts.progress, total, state.step);
    let mut last_checkpoint = run_dir.latest_checkpoint()?.map(|(_, p)| p);
    let resumed_at = opts.resume.then_some(state.step);
    let wall = |state: &TrainState| state.wall_offset + start.elapsed().as_secs_f64();

    loop {
        let step = state.step;
        if cfg.train.checkpoints.contains(step, total) {
            // A resumed run starts at a checkpoint that exists; it evaluates it again only when
            // the run was killed before its record or snapshot was written.
            let resumed_here = resumed_at == Some(step);
            let has_record = resumed_here && state.records.iter().any(|r| r.step == step);
            let has_snapshot = resumed_here && run_dir.snapshot_path(step).is_file();
            if !resumed_here {
                let checkpoint = state.checkpoint(cfg, wall(&state));
                last_checkpoint = Some(run_dir.save_checkpoint(
                    &checkpoint,
                    &state.model,
                    &state.opt,
                    &state.ema,
                )?);
            }
            if !(has_record && has_snapshot) {
                let train_loss = state.take_mean_loss();
                let ema_weights = match cfg.eval.weights {
                    EvalWeights::Raw => None,
                    EvalWeights::Ema => Some(state.ema.weights()),
                };
                let out = evaluator.evaluate(&state.model, ema_weights.as_ref(), step)?;
                let record = out.record(step, train_loss, wall(&state));
                if !has_record {
                    run_dir.append_record(&record)?;
                }
                run_dir.write_snapshot(&out.snapshot())?;
                progress::checkpoint_line(&bar, opts.progress, &record);
                if !has_record {
                    state.records.push(record);
                }
            } else {
                state.take_mean_loss();
            }
        }
        if step >= total || opts.stop_after.is_some_and(|s| step >= s) {
            break;
        }
        if opts.stop.should_stop(step) {
            bar.abandon();
            // A scheduled step's checkpoint was written above (or is the one resumed from).
            let written = cfg.train.checkpoints.contains(step, total) || resumed_at == Some(step);
            let checkpoint = if written {
                run_dir.checkpoint_path(step)
            } else {
                let checkpoint = state.checkpoint(cfg, wall(&state));
                run_dir.save_checkpoint(&checkpoint, &state.model, &state.opt, &state.ema)?
            };
            return Err(Error::Interrupted {
                step,
                run_dir: run_dir.root().to_path_buf(),
                checkpoint,
            });
        }
        let loss = updater.step(&mut state, lr.at(step))?;
        if !loss.is_finite() {
            bar.abandon();
            return Err(Error::NonFiniteLoss {
                step,
                loss,
                last_good: last_checkpoint,
            });
        }
        bar.set_position(state.step);
        bar.set_message(format!("loss {loss:.4}"));
    }
    bar.finish_and_clear();

    if opts.stop_after.is_some_and(|s| s < total) {
        return Ok(RunOutcome {
            run_dir,
            records: state.records,
            summary: None,
            report: None,
            last_checkpoint,
        });
    }
    let summary = summarize(
        cfg,
        &state.records,
        state.model.parameter_count(),
        wall(&state),
        &last_checkpoint,
    )?;
    run_dir.write_summary(&summary)?;
    let report =
        crate::report::write_run_report(&run_dir, &state.records, &summary, cfg.eval.snapshots)?;
    Ok(RunOutcome {
        run_dir,
        records: state.records,
        summary: Some(summary),
        report: Some(report),
        last_checkpoint,
    })
}
