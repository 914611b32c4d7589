//! `summary.json`: the run at a glance, from its records.

use crate::config::ExperimentConfig;
use crate::record::{EvalRecord, PhaseOnsets, RunSummary};
use crate::{Error, Result};
use std::path::PathBuf;

/// Summarises a finished run.
pub fn summarize(
    cfg: &ExperimentConfig,
    records: &[EvalRecord],
    parameters: usize,
    wall_s: f64,
    last_checkpoint: &Option<PathBuf>,
) -> Result<RunSummary> {
    let last = records
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
        steps: last.step,
        wall_s,
        final_accuracy: last.accuracy,
        final_rep_phase: last.rep_phase,
        final_gen_phase: last.gen_phase,
        rep_phase_onsets: PhaseOnsets::from_records(records.iter().map(|r| (&r.rep_phase, r.step))),
        gen_phase_onsets: PhaseOnsets::from_records(records.iter().map(|r| (&r.gen_phase, r.step))),
        phase_agreement: agree,
        parameters,
        final_checkpoint: last_checkpoint
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_default(),
    })
}
