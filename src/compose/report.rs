//! The composition experiment's outputs: `compose.json`, the per-set accuracy curves, layer-4
//! embeddings with the held-out conditions ringed, the table (`compose.md`) and `compose.html`,
//! with a verdict generated from the numbers.

use super::{Comparison, ComposeVerdict, FinishedRun, Spread, SETS};
use crate::report::{escape, plot_embeddings_marked};
use crate::run_dir::RunDir;
use crate::seed_curves::{plot_seed_panels, Curve, SeedPanel, SeedSeries};
use crate::Result;
use plotters::style::RGBColor;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// The comparison as JSON.
pub const COMPOSE_JSON: &str = "compose.json";
/// The table and verdict, as Markdown.
pub const COMPOSE_MD: &str = "compose.md";
/// The HTML report.
pub const REPORT_HTML: &str = "compose.html";
/// Accuracy on the three sets (top) and the held-out failure mix (bottom) against step.
pub const SETS_FIGURE: &str = "figures/set_curves.png";

/// The per-case table as Markdown: what the region asks, final accuracies (%) with intervals,
/// onsets, the ratio and the verdict; then every run.
pub fn table(c: &Comparison) -> String {
    let conf = 100.0 * c.rule.confidence;
    let mut s = String::from(
        "| case | region | asks for | train acc. (%) | held-out acc. (%) | off-lattice acc. (%) | held-out / train | onset train | onset held-out | onset off-lattice | verdict |\n\
         |---|---|---|---|---|---|---|---|---|---|---|\n",
    );
    for r in &c.per_case {
        let _ = writeln!(
            s,
            "| {} | `{}` | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            r.case,
            serde_json::to_string(&r.region).unwrap_or_default(),
            r.kind.describe(),
            &r.final_accuracy[0].describe(100.0, 1),
            &r.final_accuracy[1].describe(100.0, 1),
            &r.final_accuracy[2].describe(100.0, 1),
            &r.ratio.describe(1.0, 2),
            &r.onset[0].describe(1.0, 0),
            &r.onset[1].describe(1.0, 0),
            &r.onset[2].describe(1.0, 0),
            r.verdict,
        );
    }
    let _ = writeln!(
        s,
        "\nIntervals: Student t at {conf:.0} % over seeds. Onset: the step at which a set's accuracy first reaches {:.0} % (runs that reached it).\n\n| run | train acc. | held-out acc. | off-lattice acc. | ratio | onsets (train, held-out, off-lattice) |\n|---|---|---|---|---|---|",
        100.0 * c.rule.onset_level
    );
    for r in &c.per_run {
        let onset = r
            .onset
            .map(|o| o.map_or_else(|| "–".to_string(), |v| format!("{v:.0}")));
        let _ = writeln!(
            s,
            "| {}:{} | {:.3} | {:.3} | {:.3} | {} | {} |",
            r.case,
            r.seed,
            r.final_accuracy[0],
            r.final_accuracy[1],
            r.final_accuracy[2],
            r.ratio.map_or_else(|| "–".into(), |v| format!("{v:.2}")),
            onset.join(", ")
        );
    }
    s
}

/// The verdict paragraph, generated from the numbers.
pub fn verdict(c: &Comparison) -> String {
    let mut s = String::new();
    for r in &c.per_case {
        let m = |sp: &Spread| {
            sp.mean
                .map_or_else(|| "–".into(), |v| format!("{:.0} %", 100.0 * v))
        };
        let _ = write!(
            s,
            "**{}** ({}): final accuracy {} on training conditions, {} inside the held-out region, {} off-lattice; {}",
            r.case,
            r.kind.describe(),
            m(&r.final_accuracy[0]),
            m(&r.final_accuracy[1]),
            m(&r.final_accuracy[2]),
            match r.verdict {
                ComposeVerdict::Composes => format!(
                    "it composes (held-out ≥ {:.0} % of train)",
                    100.0 * c.rule.ratio_min
                ),
                ComposeVerdict::DoesNotCompose => format!(
                    "it does not compose (held-out < {:.0} % of train)",
                    100.0 * c.rule.ratio_min
                ),
                ComposeVerdict::Undetermined =>
                    "undetermined (the training conditions were not learned, or no run finished)"
                        .to_string(),
            }
        );
        match (r.onset[0].mean, r.onset[1].mean) {
            (Some(t), Some(h)) => {
                let _ = write!(
                    s,
                    "; held-out accuracy reached {:.0} % at step {h:.0} on average, training conditions at {t:.0}. ",
                    100.0 * c.rule.onset_level
                );
            }
            _ => s.push_str(". "),
        }
    }
    let composes: Vec<&str> = c
        .per_case
        .iter()
        .filter(|r| r.verdict == ComposeVerdict::Composes)
        .map(|r| r.case.as_str())
        .collect();
    let _ = write!(
        s,
        "The follow-up reports that held-out regions enclosed by training data are generated \
         correctly (composition) and that interpolation fails more often than composition of seen \
         x and seen y values. Here the cases that compose are: {}.",
        if composes.is_empty() {
            "none".to_string()
        } else {
            composes.join(", ")
        }
    );
    s
}

/// Accuracy on the three sets (top row) and the held-out failure mix (bottom row) against step,
/// one column per case; seeds thin, mean thick.
pub fn plot_set_curves(path: &Path, c: &Comparison, runs: &[FinishedRun]) -> Result<()> {
    let set_colours = [
        RGBColor(20, 20, 20),
        RGBColor(210, 50, 40),
        RGBColor(30, 90, 200),
    ];
    type MixSeries = (&'static str, RGBColor, fn(&crate::record::SetScore) -> f64);
    let mix: [MixSeries; 4] = [
        ("single, wrong place", RGBColor(230, 150, 20), |s| {
            s.single_wrong_rate
        }),
        ("several bumps", RGBColor(150, 60, 170), |s| {
            s.multi_bump_rate
        }),
        ("no bump", RGBColor(120, 120, 120), |s| s.empty_rate),
        ("malformed", RGBColor(40, 160, 150), |s| s.malformed_rate),
    ];
    let curves = |mine: &[&FinishedRun], f: &dyn Fn(&crate::record::EvalRecord) -> Option<f64>| {
        mine.iter()
            .map(|r| r.records.iter().map(|x| (x.step as f64, f(x))).collect())
            .collect::<Vec<Curve>>()
    };
    let mut top = Vec::new();
    let mut bottom = Vec::new();
    for case in &c.per_case {
        let mine: Vec<&FinishedRun> = runs.iter().filter(|r| r.dataset == case.case).collect();
        top.push(SeedPanel {
            title: format!("{}: accuracy (τ 1 px)", case.case),
            x_desc: "training step".into(),
            y_desc: "accuracy".into(),
            y_range: 0.0..1.02,
            levels: Vec::new(),
            legend: plotters::chart::SeriesLabelPosition::LowerRight,
            series: SETS
                .iter()
                .zip(set_colours)
                .map(|(&set, colour)| SeedSeries {
                    label: set.into(),
                    colour,
                    seeds: curves(&mine, &|x| x.sets.get(set).map(|s| s.accuracy)),
                })
                .collect(),
        });
        bottom.push(SeedPanel {
            title: format!("{}: failures inside the held-out region", case.case),
            x_desc: "training step".into(),
            y_desc: "fraction of samples".into(),
            y_range: 0.0..1.02,
            levels: Vec::new(),
            legend: plotters::chart::SeriesLabelPosition::UpperRight,
            series: mix
                .iter()
                .map(|&(label, colour, f)| SeedSeries {
                    label: label.into(),
                    colour,
                    seeds: curves(&mine, &|x| x.sets.get(super::SET_HELD_OUT).map(f)),
                })
                .collect(),
        });
    }
    let columns = top.len();
    top.extend(bottom);
    plot_seed_panels(path, &top, columns)
}

/// Writes `compose.json`, `compose.md`, the figures and `compose.html` into `out`; returns the
/// report's path.
pub fn write(out: &Path, c: &Comparison, runs: &[FinishedRun]) -> Result<PathBuf> {
    crate::io::write_atomic(
        &out.join(COMPOSE_JSON),
        serde_json::to_string_pretty(c)?.as_bytes(),
    )?;
    let table = table(c);
    let verdict = verdict(c);
    crate::io::write_atomic(
        &out.join(COMPOSE_MD),
        format!("# Composition from held-out regions\n\n{table}\n{verdict}\n").as_bytes(),
    )?;
    let fig_dir = out.join("figures");
    std::fs::create_dir_all(&fig_dir).map_err(crate::error::io_err(&fig_dir))?;
    let mut html = String::from(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>bump-ddpm compose report</title>\
         <style>body{font-family:sans-serif;max-width:1300px;margin:auto;padding:1em}\
         img{max-width:100%}</style></head><body><h1>Composition from held-out regions</h1>",
    );
    let _ = write!(
        html,
        "<p>{}</p><h2>Runs</h2><ul>",
        escape(&verdict).replace("**", "")
    );
    for (id, st) in &c.runs {
        let _ = write!(html, "<li>{} — {}</li>", escape(id), escape(st));
    }
    html.push_str("</ul>");
    if !runs.is_empty() {
        plot_set_curves(&out.join(SETS_FIGURE), c, runs)?;
        let _ = write!(
            html,
            "<h2>Accuracy on the three sets</h2><p>Thin: seeds; thick: their mean.</p><img src=\"{SETS_FIGURE}\" alt=\"per-set curves\">"
        );
    }
    html.push_str("<h2>Table</h2><pre>");
    html.push_str(&escape(&table));
    html.push_str("</pre><h2>Layer-4 embeddings</h2><p>The first seed of each case at its last checkpoint; conditions inside the held-out region are ringed.</p>");
    for case in &c.per_case {
        let Some(run) = runs.iter().find(|r| r.dataset == case.case) else {
            continue;
        };
        let Some(step) = run.records.last().map(|r| r.step) else {
            continue;
        };
        let Some(snap) = RunDir::new(&run.dir).read_snapshot(step)? else {
            continue;
        };
        let name = format!("figures/embedding_{}_step{step:07}.png", case.case);
        let region = case.region;
        plot_embeddings_marked(&out.join(&name), &snap, &|c| region.contains(c))?;
        let _ = write!(
            html,
            "<h3>{} seed {}, step {step}</h3><img src=\"{name}\" alt=\"embeddings\" style=\"width:640px\">",
            escape(&case.case),
            run.seed
        );
    }
    html.push_str("</body></html>");
    let path = out.join(REPORT_HTML);
    crate::io::write_atomic(&path, html.as_bytes())?;
    Ok(path)
}
