//! Offline re-evaluation: the checkpoints of an existing run evaluated again with another probe,
//! sampler, evaluation grid or classifier, without retraining. The new records go to their own
//! run directory (by default `<run>/evaluations/<name>/`), beside the originals.

use crate::config::{EvalWeights, ExperimentConfig, Override};
use crate::eval::Evaluator;
use crate::record::EvalRecord;
use crate::run_dir::RunDir;
use crate::{Error, Result};
use bump_diffusion::NoiseSchedule;
use candle_core::{Device, Tensor};
use std::collections::HashMap;

/// Which checkpoints to re-evaluate and how.
#[derive(Debug, Clone)]
pub struct Reevaluation {
    /// Overrides of the run's own configuration; only `eval.*` keys are allowed (the model and
    /// data must stay those the checkpoints were trained with).
    pub overrides: Vec<Override>,
    /// Steps to evaluate (`None`: every checkpoint).
    pub steps: Option<Vec<u64>>,
    /// Draw a progress line per checkpoint on stderr.
    pub progress: bool,
}

/// The configuration a re-evaluation uses: the run's own, with `eval.*` overrides.
pub fn reevaluation_config(run: &RunDir, overrides: &[Override]) -> Result<ExperimentConfig> {
    if let Some(o) = overrides
        .iter()
        .find(|o| o.path.first().is_none_or(|p| p != "eval"))
    {
        return Err(Error::Config(format!(
            "re-evaluation may only change `eval.*` keys (the checkpoints fix the model and \
             data), got `{}`",
            o.key()
        )));
    }
    let mut cfg = run.read_config()?;
    cfg.apply_overrides(overrides)?;
    Ok(cfg)
}

/// Re-evaluates the checkpoints of `run` into `out` and returns the new records. `train_loss`
/// and `wall_s` are copied from the run's own records of the same step (0 when absent).
pub fn reevaluate(
    run: &RunDir,
    out: &RunDir,
    spec: &Reevaluation,
    device: &Device,
) -> Result<Vec<EvalRecord>> {
    let cfg = reevaluation_config(run, &spec.overrides)?;
    let available = run.checkpoint_steps()?;
    let steps: Vec<u64> = match &spec.steps {
        None => available.clone(),
        Some(wanted) => {
            if let Some(s) = wanted.iter().find(|s| !available.contains(s)) {
                return Err(Error::Checkpoint(format!(
                    "{} has no checkpoint of step {s}; it has {available:?}",
                    run.root().display()
                )));
            }
            wanted.clone()
        }
    };
    if steps.is_empty() {
        return Err(Error::Checkpoint(format!(
            "{} has no checkpoints to evaluate",
            run.root().display()
        )));
    }
    let original: HashMap<u64, EvalRecord> = run
        .read_records()?
        .into_iter()
        .map(|r| (r.step, r))
        .collect();
    let schedule = NoiseSchedule::new(&cfg.diffusion)?;
    let evaluator = Evaluator::new(&cfg, &schedule, device)?;
    out.create()?;
    out.clear_records()?;
    out.write_config(&cfg)?;
    let mut records = Vec::with_capacity(steps.len());
    for step in steps {
        let loaded = run.load_checkpoint(&run.checkpoint_path(step), device)?;
        let ema: Option<HashMap<String, Tensor>> = match cfg.eval.weights {
            EvalWeights::Raw => None,
            EvalWeights::Ema => Some(
                loaded
                    .extras
                    .iter()
                    .filter_map(|(k, v)| k.strip_prefix("ema.").map(|n| (n.to_string(), v.clone())))
                    .collect(),
            ),
        };
        let result = evaluator.evaluate(&loaded.model, ema.as_ref(), step)?;
        let before = original.get(&step);
        let record = result.record(
            step,
            before.map_or(0.0, |r| r.train_loss),
            before.map_or(0.0, |r| r.wall_s),
        );
        out.append_record(&record)?;
        out.write_snapshot(&result.snapshot())?;
        if spec.progress {
            eprintln!(
                "step {:>6}  acc {:.3}  gen {}  layer4 {}  (signal {:.2}, UMAP R² {:.2}/{:.2})",
                record.step,
                record.accuracy,
                record.gen_phase,
                record.rep_phase,
                record.condition_signal,
                record.umap_r2_x,
                record.umap_r2_y
            );
        }
        records.push(record);
    }
    Ok(records)
}
