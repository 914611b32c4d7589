//! Inference timestep grids: diffusers' `timestep_spacing` options and custom grids.

use crate::{Error, Result};
use serde::{Deserialize, Serialize};

/// How inference timesteps are chosen from `0..T` (diffusers `timestep_spacing`).
///
/// For DPM-Solver++ the leading and linspace grids are those of diffusers'
/// `DPMSolverMultistepScheduler`: S + 1 points with the last (t = 0) dropped, e.g. leading uses
/// `⌊T/(S+1)⌋` and linspace `round(linspace(0, T−1, S+1))[..S]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Spacing {
    /// `i·⌊T/S⌋` for i = S−1, …, 0 (ends at 0).
    Leading,
    /// `round(linspace(0, T−1, S))`, reversed (starts at T − 1, ends at 0).
    Linspace,
    /// `round(T − i·T/S) − 1` for i in 0..S (starts at T − 1). Rounding is half-to-even.
    #[default]
    Trailing,
}

/// The descending grid of `steps` inference timesteps in `0..t` for `spacing`.
///
/// `multistep` selects the grids of diffusers' multistep solvers
/// (`DPMSolverMultistepScheduler`), which lay S + 1 points for the leading and linspace grids and
/// drop the last one (t = 0): the final step then goes from the smallest grid point straight to
/// σ = 0 instead of taking a second-order step onto t = 0, which is badly conditioned (a tiny
/// previous step against a large last one). Rounding is half-to-even and the products are formed
/// in numpy's order, so the grids equal diffusers' exactly.
///
/// # Errors
/// `t = 0` ([`Error::ZeroTimesteps`]), `steps` outside `1..=t` ([`Error::InvalidSteps`]), or a grid
/// with repeated points ([`Error::NotMonotone`], e.g. multistep leading with S = T).
pub fn spaced_timesteps(
    spacing: Spacing,
    t: usize,
    steps: usize,
    multistep: bool,
) -> Result<Vec<usize>> {
    if t == 0 {
        return Err(Error::ZeroTimesteps);
    }
    if steps == 0 || steps > t {
        return Err(Error::InvalidSteps { steps, max: t });
    }
    let s = steps;
    let n = if multistep { s + 1 } else { s };
    let ts: Vec<usize> = match spacing {
        // diffusers: (arange(0, n) * (T // n)).round()[::-1]
        Spacing::Leading => {
            let ratio = t / n;
            (0..n).rev().take(s).map(|i| i * ratio).collect()
        }
        // diffusers: linspace(0, T − 1, n).round()[::-1]
        Spacing::Linspace => {
            let step = if n == 1 {
                0.0
            } else {
                (t - 1) as f64 / (n - 1) as f64
            };
            (0..n)
                .rev()
                .take(s)
                .map(|i| {
                    if n > 1 && i + 1 == n {
                        t - 1 // numpy's linspace sets the endpoint exactly
                    } else {
                        (i as f64 * step).round_ties_even() as usize
                    }
                })
                .collect()
        }
        // diffusers: round(arange(T, 0, −T/S)) − 1
        Spacing::Trailing => {
            let ratio = t as f64 / s as f64;
            (0..s)
                .map(|i| {
                    ((t as f64 - i as f64 * ratio).round_ties_even() as usize).saturating_sub(1)
                })
                .collect()
        }
    };
    check_descending(&ts)?;
    Ok(ts)
}

/// Checks a custom grid for `t` training timesteps: non-empty, at most `t` entries, strictly
/// decreasing, each `< t`.
///
/// # Errors
/// [`Error::ZeroTimesteps`], [`Error::InvalidSteps`] (empty or too long), [`Error::NotMonotone`]
/// or [`Error::InvalidArgument`] (a timestep `≥ t`).
pub fn check_custom_timesteps(timesteps: &[usize], t: usize) -> Result<()> {
    if t == 0 {
        return Err(Error::ZeroTimesteps);
    }
    if timesteps.is_empty() || timesteps.len() > t {
        return Err(Error::InvalidSteps {
            steps: timesteps.len(),
            max: t,
        });
    }
    check_descending(timesteps)?;
    if timesteps[0] >= t {
        return Err(Error::InvalidArgument(format!(
            "custom timestep {} is not below T = {t}",
            timesteps[0]
        )));
    }
    Ok(())
}

/// Fails unless `ts` is strictly decreasing.
pub fn check_descending(ts: &[usize]) -> Result<()> {
    match (1..ts.len()).find(|&i| ts[i] >= ts[i - 1]) {
        Some(i) => Err(Error::NotMonotone {
            what: "inference timesteps",
            index: i,
        }),
        None => Ok(()),
    }
}

/// The grid a scheduler walks, and how [`Scheduler::set_timesteps`](super::Scheduler) lays a new
/// one: every scheduler holds one, so spacing, validation and lookup live here once.
#[derive(Debug, Clone)]
pub(crate) struct TimestepGrid {
    t_total: usize,
    spacing: Spacing,
    multistep: bool,
    timesteps: Vec<usize>,
}

impl TimestepGrid {
    /// `steps` timesteps of `0..t_total` laid by `spacing` ([`spaced_timesteps`]).
    pub(crate) fn spaced(
        t_total: usize,
        spacing: Spacing,
        multistep: bool,
        steps: usize,
    ) -> Result<Self> {
        let timesteps = spaced_timesteps(spacing, t_total, steps, multistep)?;
        Ok(Self {
            t_total,
            spacing,
            multistep,
            timesteps,
        })
    }

    /// Exactly `timesteps` ([`check_custom_timesteps`]); `spacing` serves later re-spacing.
    pub(crate) fn custom(
        t_total: usize,
        spacing: Spacing,
        multistep: bool,
        timesteps: &[usize],
    ) -> Result<Self> {
        check_custom_timesteps(timesteps, t_total)?;
        Ok(Self {
            t_total,
            spacing,
            multistep,
            timesteps: timesteps.to_vec(),
        })
    }

    /// Replaces the grid by `steps` timesteps laid by the grid's spacing.
    pub(crate) fn respace(&mut self, steps: usize) -> Result<()> {
        self.timesteps = spaced_timesteps(self.spacing, self.t_total, steps, self.multistep)?;
        Ok(())
    }

    /// Replaces the grid by exactly `timesteps`.
    pub(crate) fn set_custom(&mut self, timesteps: &[usize]) -> Result<()> {
        check_custom_timesteps(timesteps, self.t_total)?;
        self.timesteps = timesteps.to_vec();
        Ok(())
    }

    /// The timesteps, descending.
    pub(crate) fn as_slice(&self) -> &[usize] {
        &self.timesteps
    }

    /// The grid position of `timestep` ([`Error::UnknownTimestep`] when it is not on the grid).
    pub(crate) fn position(&self, timestep: usize) -> Result<usize> {
        let ts = &self.timesteps;
        ts.binary_search_by(|t| timestep.cmp(t))
            .map_err(|_| Error::UnknownTimestep {
                timestep,
                first: ts.first().copied().unwrap_or(0),
                last: ts.last().copied().unwrap_or(0),
                count: ts.len(),
            })
    }

    /// The grid entry after position `k` (`None` after the last).
    pub(crate) fn after(&self, k: usize) -> Option<usize> {
        self.timesteps.get(k + 1).copied()
    }
}
