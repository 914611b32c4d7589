//! The imbalance experiment's outputs: `coupling.json`, the per-axis curves, layer-4
//! embeddings at matched checkpoints, the onset table (`coupling.md`) and `imbalance.html`,
//! with a verdict generated from the numbers.

use super::coupling::{Axis, DeltaSummary, Verdict};
use super::{Comparison, FinishedRun};
use crate::report::{escape, plot_embeddings};
use crate::run_dir::RunDir;
use crate::seed_curves::{plot_seed_panels, SeedPanel, SeedSeries};
use crate::Result;
use plotters::style::RGBColor;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// File names under the experiment directory.
pub const COUPLING_JSON: &str = "coupling.json";
/// The onset table and verdict, as Markdown.
pub const COUPLING_MD: &str = "coupling.md";
/// The HTML report.
pub const REPORT_HTML: &str = "imbalance.html";
/// The per-axis curves.
pub const AXIS_FIGURE: &str = "figures/axis_curves.png";

fn fmt_opt(v: Option<f64>, digits: usize) -> String {
    v.map_or_else(|| "–".into(), |v| format!("{v:.digits$}"))
}

fn fmt_interval(i: Option<[f64; 2]>) -> String {
    i.map_or_else(|| "–".into(), |[a, b]| format!("[{a:+.2}, {b:+.2}]"))
}

/// One row of the onset table.
fn delta_cells(d: &DeltaSummary) -> String {
    format!(
        "{} | {} | {} | {} | {}",
        fmt_opt(d.mean, 2),
        fmt_interval(d.t_interval),
        fmt_interval(d.bootstrap_interval),
        d.n,
        d.verdict
    )
}

/// The onset table as Markdown: per dataset, mean onsets of x and y (error and accuracy rules)
/// and Δ with both intervals; then every run.
pub fn onset_table(c: &Comparison) -> String {
    let conf = 100.0 * c.coupling.confidence;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "| dataset | dx | dy | dense | error onset x | error onset y | Δ error (mean) | {conf:.0} % t interval | bootstrap | runs | verdict | accuracy onset x | accuracy onset y | Δ accuracy (mean) | {conf:.0} % t interval | bootstrap | runs | verdict |"
    );
    s.push_str("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
    for d in &c.per_dataset {
        let _ = writeln!(
            s,
            "| {} | {:.3} | {:.3} | {} | {} | {} | {} | {} | {} | {} |",
            d.dataset,
            d.spacing[0],
            d.spacing[1],
            d.dense_axis,
            fmt_opt(d.mean_error_onset[0], 0),
            fmt_opt(d.mean_error_onset[1], 0),
            delta_cells(&d.delta_error),
            fmt_opt(d.mean_accuracy_onset[0], 0),
            fmt_opt(d.mean_accuracy_onset[1], 0),
            delta_cells(&d.delta_accuracy),
        );
    }
    s.push_str("\n| run | dense | x: reference error (px) | x: error onset | x: accuracy onset | y: reference error (px) | y: error onset | y: accuracy onset | Δ error | Δ accuracy |\n");
    s.push_str("|---|---|---|---|---|---|---|---|---|---|\n");
    for r in &c.per_run {
        let _ = writeln!(
            s,
            "| {}:{} | {} | {:.2}{} | {} | {} | {:.2}{} | {} | {} | {} | {} |",
            r.dataset,
            r.seed,
            r.dense_axis,
            r.x.reference_error,
            if r.x.reference_measured {
                ""
            } else {
                " (chance)"
            },
            fmt_opt(r.x.error, 0),
            fmt_opt(r.x.accuracy, 0),
            r.y.reference_error,
            if r.y.reference_measured {
                ""
            } else {
                " (chance)"
            },
            fmt_opt(r.y.error, 0),
            fmt_opt(r.y.accuracy, 0),
            fmt_opt(r.delta_error, 3),
            fmt_opt(r.delta_accuracy, 3),
        );
    }
    s
}

/// What one Δ summary says, in words.
fn verdict_clause(d: &DeltaSummary, rule: &str, dense: Axis, conf: f64) -> String {
    match (d.verdict, d.mean, d.t_interval) {
        (Verdict::Undetermined, _, _) => format!(
            "the {rule} rule is undetermined ({} runs reached both onsets, {} did not)",
            d.n, d.missing
        ),
        (v, Some(m), Some([lo, hi])) => {
            let what = match v {
                Verdict::Coupled => format!(
                    "coupled: the {conf:.0} % interval covers 0, so the axes cannot be told apart"
                ),
                Verdict::DenseFirst => format!("the dense axis ({dense}) is learned first"),
                Verdict::SparseFirst => {
                    format!("the sparse axis ({}) is learned first", dense.other())
                }
                Verdict::Undetermined => unreachable!("handled above"),
            };
            format!(
                "by the {rule} rule Δ = {m:+.2} [{lo:+.2}, {hi:+.2}] over {} runs: {what}",
                d.n
            )
        }
        _ => format!("the {rule} rule has no interval"),
    }
}

/// The verdict paragraph, generated from the numbers.
pub fn verdict(c: &Comparison) -> String {
    let conf = 100.0 * c.coupling.confidence;
    let mut s = String::new();
    for d in &c.per_dataset {
        // The largest per-run |Δ| bounds what the interval cannot: how far apart the axes ever were.
        let largest = |f: fn(&super::coupling::RunCoupling) -> Option<f64>| {
            c.per_run
                .iter()
                .filter(|r| r.dataset == d.dataset)
                .filter_map(f)
                .map(f64::abs)
                .fold(None, |m: Option<f64>, v| Some(m.map_or(v, |m| m.max(v))))
        };
        let spread = match (largest(|r| r.delta_error), largest(|r| r.delta_accuracy)) {
            (Some(e), Some(a)) => format!(
                "; in every run the two onsets differed by at most {:.0} % (error rule) and {:.0} % (accuracy rule) of their mean",
                100.0 * e,
                100.0 * a
            ),
            _ => String::new(),
        };
        let _ = write!(
            s,
            "**{}** (dx = {:.3}, dy = {:.3}; dense axis {}): mean error onsets x {} and y {} steps; {}; {}{spread}. ",
            d.dataset,
            d.spacing[0],
            d.spacing[1],
            d.dense_axis,
            fmt_opt(d.mean_error_onset[0], 0),
            fmt_opt(d.mean_error_onset[1], 0),
            verdict_clause(&d.delta_error, "error-onset", d.dense_axis, conf),
            verdict_clause(&d.delta_accuracy, "accuracy-onset", d.dense_axis, conf),
        );
    }
    let imbalanced: Vec<_> = c
        .per_dataset
        .iter()
        .filter(|d| d.spacing[0] != d.spacing[1])
        .collect();
    let coupled = imbalanced
        .iter()
        .filter(|d| d.delta_error.verdict == Verdict::Coupled)
        .count();
    let decided = imbalanced
        .iter()
        .filter(|d| d.delta_error.verdict != Verdict::Undetermined)
        .count();
    let _ = write!(
        s,
        "The paper reports that on imbalanced data x and y are learned together (coupled). \
         By the error-onset rule, {coupled} of the {decided} imbalanced datasets with a \
         determined verdict are coupled here{}.",
        if decided == 0 {
            " (no verdict yet)"
        } else if coupled == decided {
            ", as the paper reports"
        } else if coupled == 0 {
            ", which disagrees with the paper"
        } else {
            ", which agrees with the paper only in part"
        }
    );
    s
}

/// Per-axis mean error (top row) and 1-px accuracy (bottom row) against step, one column per
/// dataset; seeds thin, their mean thick; x blue, y red; the dashed line is the error level of
/// the onset rule on the uniform-guess reference.
pub fn plot_axis_curves(path: &Path, c: &Comparison, runs: &[FinishedRun]) -> Result<()> {
    let colours = [RGBColor(30, 90, 200), RGBColor(210, 50, 40)];
    let err_top = c.chance_error[0].max(c.chance_error[1]).max(1.0) * 1.1;
    let min_single = c.coupling.min_single_share;
    let mut top = Vec::new();
    let mut bottom = Vec::new();
    for d in &c.per_dataset {
        let mine: Vec<&FinishedRun> = runs.iter().filter(|r| r.dataset == d.dataset).collect();
        let title = format!(
            "{} (dx {:.2}, dy {:.2}), {} seeds",
            d.dataset,
            d.spacing[0],
            d.spacing[1],
            mine.len()
        );
        let series = |error: bool| {
            [Axis::X, Axis::Y]
                .into_iter()
                .map(|axis| SeedSeries {
                    label: axis.to_string(),
                    colour: colours[axis.index()],
                    seeds: mine
                        .iter()
                        .map(|r| {
                            r.records
                                .iter()
                                .map(|x| {
                                    let v = if error {
                                        x.axes.as_ref().and_then(|a| {
                                            (a.single_share >= min_single)
                                                .then_some([a.err_x, a.err_y][axis.index()])
                                                .flatten()
                                        })
                                    } else {
                                        Some([x.acc_x, x.acc_y][axis.index()])
                                    };
                                    (x.step as f64, v)
                                })
                                .collect()
                        })
                        .collect(),
                })
                .collect()
        };
        top.push(SeedPanel {
            title: title.clone(),
            x_desc: "training step".into(),
            y_desc: "mean |error| (px)".into(),
            y_range: 0.0..err_top,
            levels: vec![c.coupling.error_fraction * c.chance_error[0]],
            legend: plotters::chart::SeriesLabelPosition::UpperRight,
            series: series(true),
        });
        bottom.push(SeedPanel {
            title,
            x_desc: "training step".into(),
            y_desc: "accuracy at 1 px".into(),
            y_range: 0.0..1.02,
            levels: Vec::new(),
            legend: plotters::chart::SeriesLabelPosition::LowerRight,
            series: series(false),
        });
    }
    let columns = top.len();
    top.extend(bottom);
    plot_seed_panels(path, &top, columns)
}

/// Checkpoints at which every dataset's embeddings are shown: the checkpoint nearest half the
/// mean error onset over all runs, the one nearest the mean onset, and the last.
pub fn matched_steps(c: &Comparison, runs: &[FinishedRun]) -> Vec<u64> {
    let Some(first) = runs.first() else {
        return Vec::new();
    };
    let steps: Vec<u64> = first.records.iter().map(|r| r.step).collect();
    let onsets: Vec<f64> = c
        .per_run
        .iter()
        .flat_map(|r| [r.x.error, r.y.error])
        .flatten()
        .collect();
    let nearest = |t: f64| {
        steps
            .iter()
            .copied()
            .min_by(|a, b| (*a as f64 - t).abs().total_cmp(&(*b as f64 - t).abs()))
    };
    let mut out = Vec::new();
    if !onsets.is_empty() {
        let mean = onsets.iter().sum::<f64>() / onsets.len() as f64;
        out.extend(nearest(0.5 * mean));
        out.extend(nearest(mean));
    }
    out.extend(steps.last().copied());
    out.sort_unstable();
    out.dedup();
    out
}

/// Writes `coupling.json`, `coupling.md`, the figures and `imbalance.html` into `out`; returns
/// the report's path.
pub fn write(out: &Path, c: &Comparison, runs: &[FinishedRun]) -> Result<PathBuf> {
    crate::io::write_atomic(
        &out.join(COUPLING_JSON),
        serde_json::to_string_pretty(c)?.as_bytes(),
    )?;
    let table = onset_table(c);
    let verdict = verdict(c);
    crate::io::write_atomic(
        &out.join(COUPLING_MD),
        format!("# Imbalance experiment: coupling of x and y\n\n{table}\n{verdict}\n").as_bytes(),
    )?;
    let fig_dir = out.join("figures");
    std::fs::create_dir_all(&fig_dir).map_err(crate::error::io_err(&fig_dir))?;
    let mut html = String::from(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>bump-ddpm imbalance report</title>\
         <style>body{font-family:sans-serif;max-width:1300px;margin:auto;padding:1em}\
         table{border-collapse:collapse}td,th{border:1px solid #bbb;padding:2px 6px;text-align:right}\
         img{max-width:100%}</style></head><body><h1>Imbalance: are x and y learned together?</h1>",
    );
    let _ = write!(html, "<p>{}</p>", escape(&verdict).replace("**", ""));
    html.push_str("<h2>Runs</h2><ul>");
    for (id, st) in &c.runs {
        let _ = write!(html, "<li>{} — {}</li>", escape(id), escape(st));
    }
    html.push_str("</ul>");
    if !runs.is_empty() {
        plot_axis_curves(&out.join(AXIS_FIGURE), c, runs)?;
        let _ = write!(
            html,
            "<h2>Per-axis curves</h2><p>Thin: seeds; thick: their mean; x blue, y red. Dashed: \
             the error-onset level ({} × the uniform-guess error).</p><img src=\"{AXIS_FIGURE}\" alt=\"per-axis curves\">",
            c.coupling.error_fraction
        );
    }
    html.push_str("<h2>Onsets</h2><pre>");
    html.push_str(&escape(&table));
    html.push_str("</pre>");
    let steps = matched_steps(c, runs);
    if !steps.is_empty() {
        html.push_str("<h2>Layer-4 embeddings at matched checkpoints</h2><p>The first seed of each dataset; colour = true x (left), true y (right).</p>");
    }
    for d in &c.per_dataset {
        let Some(run) = runs.iter().find(|r| r.dataset == d.dataset) else {
            continue;
        };
        let rd = RunDir::new(&run.dir);
        for &step in &steps {
            let Some(snap) = rd.read_snapshot(step)? else {
                continue;
            };
            let name = format!("figures/embedding_{}_step{step:07}.png", d.dataset);
            plot_embeddings(&out.join(&name), &snap)?;
            let _ = write!(
                html,
                "<h3>{} seed {}, step {step}</h3><img src=\"{name}\" alt=\"embeddings\" style=\"width:640px\">",
                escape(&d.dataset),
                run.seed
            );
        }
    }
    html.push_str("</body></html>");
    let path = out.join(REPORT_HTML);
    crate::io::write_atomic(&path, html.as_bytes())?;
    Ok(path)
}
