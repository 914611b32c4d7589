//! Which training steps get a checkpoint and an evaluation.

use serde::{Deserialize, Serialize};

/// Log-spaced checkpoints (1, 2, 5 × powers of ten), one every `every` steps, and a denser
/// stretch (one every `dense_every` steps up to `dense_until`) where the phases change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckpointSchedule {
    /// Include steps 0, 1, 2, 5, 10, 20, 50, …
    pub log_spaced: bool,
    /// Also every `every` steps (0 disables).
    pub every: u64,
    /// Also every `dense_every` steps while the step is at most `dense_until` (0 disables).
    #[serde(default)]
    pub dense_every: u64,
    /// Last step of the dense stretch.
    #[serde(default)]
    pub dense_until: u64,
}

impl Default for CheckpointSchedule {
    /// Log-spaced steps plus one every 500, no dense stretch (ours). Step 0 and the final
    /// step are always checkpointed.
    fn default() -> Self {
        Self {
            log_spaced: true,
            every: 500,
            dense_every: 0,
            dense_until: 0,
        }
    }
}

impl CheckpointSchedule {
    /// Whether `step` (number of completed updates) gets a checkpoint. The final step always does.
    pub fn contains(&self, step: u64, total: u64) -> bool {
        if step == total || step == 0 {
            return true;
        }
        if self.every > 0 && step % self.every == 0 {
            return true;
        }
        if self.dense_every > 0 && step <= self.dense_until && step % self.dense_every == 0 {
            return true;
        }
        self.log_spaced && is_log_step(step)
    }

    /// All checkpoint steps in `0..=total`, ascending.
    pub fn steps(&self, total: u64) -> Vec<u64> {
        (0..=total).filter(|&s| self.contains(s, total)).collect()
    }
}

/// 1, 2, 5, 10, 20, 50, …
fn is_log_step(step: u64) -> bool {
    let mut p = 1u64;
    while p <= step {
        if step == p || step == 2 * p || step == 5 * p {
            return true;
        }
        p = match p.checked_mul(10) {
            Some(q) => q,
            None => return false,
        };
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checkpoint_steps_match_the_documented_sequences() {
        // (log_spaced, every, dense_every, dense_until, total, expected steps)
        let cases: [(bool, u64, u64, u64, u64, Vec<u64>); 3] = [
            (true, 0, 0, 0, 120, vec![0, 1, 2, 5, 10, 20, 50, 100, 120]),
            (false, 30, 0, 0, 100, vec![0, 30, 60, 90, 100]),
            (false, 50, 10, 30, 100, vec![0, 10, 20, 30, 50, 100]),
        ];
        for (log_spaced, every, dense_every, dense_until, total, expected) in cases {
            let s = CheckpointSchedule {
                log_spaced,
                every,
                dense_every,
                dense_until,
            };
            assert_eq!(s.steps(total), expected, "{s:?}");
        }
    }
}
