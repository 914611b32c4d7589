//! The progress bar of a run and its one line per evaluated checkpoint.

use crate::record::EvalRecord;
use indicatif::{ProgressBar, ProgressStyle};

/// A step counter on stderr (hidden when `enabled` is false).
pub fn bar(enabled: bool, total: u64, start: u64) -> ProgressBar {
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

/// Prints the checkpoint's headline numbers above the bar.
pub fn checkpoint_line(bar: &ProgressBar, enabled: bool, r: &EvalRecord) {
    if !enabled {
        return;
    }
    let line = format!(
        "step {:>6}  loss {:.4}  acc {:.3} (τ 0.5: {:.3})  gen {}  layer4 {}  (signal {:.2}, T {:.2}, UMAP R² {:.2}/{:.2})",
        r.step, r.train_loss, r.accuracy, r.accuracy_tight, r.gen_phase, r.rep_phase,
        r.condition_signal, r.trustworthiness, r.umap_r2_x, r.umap_r2_y
    );
    // indicatif hides the bar (and its println) when stderr is not a terminal; logs redirected
    // to a file still get one line per checkpoint.
    if bar.is_hidden() {
        eprintln!("{line}");
    } else {
        bar.println(line);
    }
}
