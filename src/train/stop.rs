//! Graceful stop: a flag that the training loop checks between steps, and the signal handlers
//! that set it.
//!
//! # The guarantee
//! When the flag is set, [`run`](super::run) finishes the optimiser step under way, writes a
//! checkpoint of the current step through the same atomic path as the periodic checkpoints
//! (skipped when that step's checkpoint was just written or resumed from), and returns
//! [`Error::Interrupted`](crate::Error::Interrupted). Resuming the run (`--resume`, or
//! [`RunOptions::resume`](super::RunOptions::resume)) continues from that checkpoint and ends
//! bit-identical to an uninterrupted run: weights, AdamW and EMA state, records (all but
//! `wall_s`) and snapshots. The only trace is one extra checkpoint file at the stop step when
//! it is not a scheduled one.
//!
//! # Use in an entry point
//! ```no_run
//! use bump_ddpm::train::{run, stop, RunOptions};
//! # fn main() -> std::process::ExitCode {
//! # let cfg = bump_ddpm::config::ExperimentConfig::quick();
//! let flag = stop::StopFlag::from_signals().expect("signal handlers");
//! let opts = RunOptions::new("runs/x").with_stop(flag);
//! // `Error::Interrupted` → exit status 75 (`EXIT_INTERRUPTED`), any other error → 1.
//! stop::exit_code(run(&cfg, &opts).map(|_| ()).map_err(Into::into))
//! # }
//! ```
//!
//! # Exit status convention
//! [`EXIT_INTERRUPTED`] (75, `EX_TEMPFAIL` of sysexits.h: "try again later") means *stopped on
//! request with a checkpoint written: resume me*. 0 is a finished run, 1 any other error. A
//! second SIGINT or SIGTERM while the first is being handled ends the process at once with
//! 128 + the signal number (130, 143), without a new checkpoint; the run then resumes from its
//! newest checkpoint as after a kill.

use crate::Result;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

/// Exit status of a process whose run stopped on request after writing a checkpoint
/// ([`Error::Interrupted`](crate::Error::Interrupted)): 75, sysexits' `EX_TEMPFAIL`.
/// The Slurm batch script of the sweeps ([`crate::sweep::slurm`]) reads it as "requeue me".
pub const EXIT_INTERRUPTED: u8 = 75;

/// The signals that set the flag installed by [`StopFlag::from_signals`]: SIGTERM (Slurm's
/// preemption and `scancel`), SIGINT (Ctrl-C), SIGUSR1 and SIGUSR2 (what `sbatch --signal`
/// usually asks for before the time limit).
pub const STOP_SIGNALS: [i32; 4] = [
    signal_hook::consts::SIGTERM,
    signal_hook::consts::SIGINT,
    signal_hook::consts::SIGUSR1,
    signal_hook::consts::SIGUSR2,
];

/// A shared "please stop" flag. Clones share the same flag; setting it from any thread or a
/// signal handler makes the training loop checkpoint and stop before its next step.
#[derive(Debug, Clone)]
pub struct StopFlag {
    flag: Arc<AtomicBool>,
    /// Stop once this many steps are done ([`StopFlag::stop_at_step`]); `u64::MAX`: never.
    at_step: Arc<AtomicU64>,
}

impl Default for StopFlag {
    fn default() -> Self {
        Self {
            flag: Arc::default(),
            at_step: Arc::new(AtomicU64::new(u64::MAX)),
        }
    }
}

impl StopFlag {
    /// A new, unset flag (not tied to any signal).
    pub fn new() -> Self {
        Self::default()
    }

    /// Also stops, as if set, once `step` optimiser steps are done (a planned graceful stop:
    /// time slices of a long run, and the tests of the guarantee). Shared by the clones.
    pub fn stop_at_step(&self, step: u64) {
        self.at_step.store(step, Ordering::SeqCst);
    }

    /// Whether the loop should stop with `step` steps done: [`StopFlag::is_set`], or
    /// [`StopFlag::stop_at_step`] reached.
    pub fn should_stop(&self, step: u64) -> bool {
        self.is_set() || step >= self.at_step.load(Ordering::SeqCst)
    }

    /// The process-wide flag set by SIGTERM, SIGINT, SIGUSR1 and SIGUSR2 ([`STOP_SIGNALS`]).
    ///
    /// Installs the handlers on the first call and returns the same flag on every later call.
    /// From then on these signals no longer end the process by themselves: the training loop
    /// checkpoints and returns [`Error::Interrupted`](crate::Error::Interrupted) — an entry
    /// point that installs this must run training (or check [`StopFlag::is_set`]) to stop at
    /// all. A second SIGINT or SIGTERM ends the process at once with status 128 + signal.
    pub fn from_signals() -> Result<Self> {
        static INSTALLED: OnceLock<StopFlag> = OnceLock::new();
        if let Some(f) = INSTALLED.get() {
            return Ok(f.clone());
        }
        let flag = Self::new();
        for sig in STOP_SIGNALS {
            if sig == signal_hook::consts::SIGTERM || sig == signal_hook::consts::SIGINT {
                // Registered before the flag setter, so it sees the flag of an *earlier* signal.
                signal_hook::flag::register_conditional_shutdown(sig, 128 + sig, flag.flag.clone())
                    .map_err(|e| signal_error(sig, e))?;
            }
            signal_hook::flag::register(sig, flag.flag.clone())
                .map_err(|e| signal_error(sig, e))?;
        }
        Ok(INSTALLED.get_or_init(|| flag).clone())
    }

    /// Asks the loop to stop (what the signal handlers do).
    pub fn set(&self) {
        self.flag.store(true, Ordering::SeqCst);
    }

    /// Whether a stop was asked for.
    pub fn is_set(&self) -> bool {
        self.flag.load(Ordering::SeqCst)
    }
}

fn signal_error(sig: i32, e: std::io::Error) -> crate::Error {
    crate::Error::Config(format!(
        "cannot install the handler of signal {sig} for the graceful stop: {e}"
    ))
}

/// Turns an entry point's result into its exit status: [`EXIT_INTERRUPTED`] for
/// [`Error::Interrupted`](crate::Error::Interrupted) (its message printed as a note), else as
/// [`crate::cli::exit_code`] (0, or the error printed and 1).
pub fn exit_code(result: std::result::Result<(), Box<dyn std::error::Error>>) -> ExitCode {
    match result {
        Err(e) if is_interrupted(e.as_ref()) => {
            eprintln!("{e}");
            ExitCode::from(EXIT_INTERRUPTED)
        }
        other => crate::cli::exit_code(other),
    }
}

/// Whether `e` (or an error it wraps) is [`Error::Interrupted`](crate::Error::Interrupted).
pub fn is_interrupted(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur = Some(e);
    while let Some(err) = cur {
        if matches!(
            err.downcast_ref::<crate::Error>(),
            Some(crate::Error::Interrupted { .. })
        ) {
            return true;
        }
        cur = err.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clones_share_the_flag() {
        let a = StopFlag::new();
        let b = a.clone();
        assert!(!b.is_set());
        a.set();
        assert!(b.is_set());
    }

    #[test]
    fn stop_at_step_is_shared_and_counts_done_steps() {
        let a = StopFlag::new();
        let b = a.clone();
        assert!(!b.should_stop(1_000_000));
        a.stop_at_step(5);
        assert!(!b.should_stop(4) && b.should_stop(5) && b.should_stop(6));
        assert!(!b.is_set());
    }

    #[test]
    fn interrupted_is_recognised_through_boxing() {
        let e: Box<dyn std::error::Error> = Box::new(crate::Error::Interrupted {
            step: 3,
            run_dir: "r".into(),
            checkpoint: "r/c".into(),
        });
        assert!(is_interrupted(e.as_ref()));
        let other: Box<dyn std::error::Error> = Box::new(crate::Error::Config("x".into()));
        assert!(!is_interrupted(other.as_ref()));
    }
}
