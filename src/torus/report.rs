//! The torus experiment's outputs: `torus.json`, the topology curves, the final persistence
//! diagrams, the table (`torus.md`) and `torus.html`, with a verdict generated from the numbers.

use super::{Comparison, FinishedRun, Spread, TorusVerdict};
use crate::record::{EvalRecord, TopologyRecord};
use crate::report::{escape, plot_err, register_fonts};
use crate::seed_curves::{plot_seed_panels, Curve, SeedPanel, SeedSeries};
use crate::Result;
use plotters::prelude::*;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// The comparison as JSON.
pub const TORUS_JSON: &str = "torus.json";
/// The table and verdict, as Markdown.
pub const TORUS_MD: &str = "torus.md";
/// The HTML report.
pub const REPORT_HTML: &str = "torus.html";
/// Distances to the ideal tori, x-on-y cosine, prominent H1 and accuracy against step.
pub const CURVES_FIGURE: &str = "figures/topology_curves.png";
/// The final persistence diagram of every seed.
pub const DIAGRAM_FIGURE: &str = "figures/persistence.png";

/// The table as Markdown.
pub fn table(c: &Comparison) -> String {
    let mut s = String::from(
        "| seed | step | accuracy | distance to Clifford | distance to 3D torus | difference | prominent H0, H1 | closer to Clifford from step |\n|---|---|---|---|---|---|---|---|\n",
    );
    for r in &c.per_run {
        let _ = writeln!(
            s,
            "| {} | {} | {:.3} | {:.3} | {:.3} | {:+.3} | {}, {} | {} |",
            r.seed,
            r.step,
            r.final_accuracy,
            r.clifford_distance,
            r.torus_3d_distance,
            r.difference,
            r.prominent[0],
            r.prominent[1],
            r.clifford_from
                .map_or_else(|| "–".into(), |v| v.to_string())
        );
    }
    let _ = writeln!(
        s,
        "| mean [t interval] | | | {} | {} | {} | H1 {} | |",
        &c.clifford_distance.describe(1.0, 3),
        &c.torus_3d_distance.describe(1.0, 3),
        &c.difference.describe(1.0, 3),
        &c.h1.describe(1.0, 2),
    );
    s
}

/// The verdict paragraph, generated from the numbers.
pub fn verdict(c: &Comparison) -> String {
    let m = |s: &Spread| s.mean.map_or_else(|| "–".into(), |v| format!("{v:.3}"));
    let mut s = format!(
        "At the last checkpoint, layer 4's difference-vector statistics lie at a mean distance {} \
         from the Clifford torus's and {} from the 3D torus's (difference {}); the representation is \
         **{}**. ",
        m(&c.clifford_distance),
        m(&c.torus_3d_distance),
        &c.difference.describe(1.0, 3),
        c.verdict
    );
    let _ = write!(
        s,
        "Rips persistence finds {} prominent H1 loops on average (a torus has 2). The follow-up \
         reports a representation closer to a factorized 4D Clifford torus than to a 3D torus, \
         with two H1 loops; {}",
        m(&c.h1),
        match c.verdict {
            TorusVerdict::CloserToClifford => "the distances here agree.",
            TorusVerdict::CloserTo3d => "the distances here disagree.",
            TorusVerdict::Undecided => "the distances here do not separate the two ideals.",
            TorusVerdict::Undetermined => "too few runs have finished to say.",
        }
    );
    s
}

fn topology_curves(runs: &[FinishedRun], f: fn(&TopologyRecord) -> f64) -> Vec<Curve> {
    runs.iter()
        .map(|r| {
            r.records
                .iter()
                .map(|x| (x.step as f64, x.topology.as_ref().map(f)))
                .collect()
        })
        .collect()
}

fn record_curves(runs: &[FinishedRun], f: fn(&EvalRecord) -> f64) -> Vec<Curve> {
    runs.iter()
        .map(|r| {
            r.records
                .iter()
                .map(|x| (x.step as f64, Some(f(x))))
                .collect()
        })
        .collect()
}

/// Distances to both ideals, the x-on-y cosine, prominent H1 and accuracy against step.
pub fn plot_curves(path: &Path, runs: &[FinishedRun]) -> Result<()> {
    let blue = RGBColor(30, 90, 200);
    let red = RGBColor(210, 50, 40);
    let panels = vec![
        SeedPanel {
            title: "distance of layer 4's cosine statistics to ideal tori".into(),
            x_desc: "training step".into(),
            y_desc: "mean W1".into(),
            y_range: 0.0..1.0,
            levels: Vec::new(),
            legend: plotters::chart::SeriesLabelPosition::UpperRight,
            series: vec![
                SeedSeries {
                    label: "Clifford (4D)".into(),
                    colour: blue,
                    seeds: topology_curves(runs, |t| t.clifford_distance),
                },
                SeedSeries {
                    label: "3D torus".into(),
                    colour: red,
                    seeds: topology_curves(runs, |t| t.torus_3d_distance),
                },
            ],
        },
        SeedPanel {
            title: "mean |cos| between x- and y-differences".into(),
            x_desc: "training step".into(),
            y_desc: "mean |cos|".into(),
            y_range: 0.0..1.0,
            levels: Vec::new(),
            legend: plotters::chart::SeriesLabelPosition::UpperRight,
            series: vec![SeedSeries {
                label: "x on y".into(),
                colour: BLACK,
                seeds: topology_curves(runs, |t| t.x_on_y_mean_abs),
            }],
        },
        SeedPanel {
            title: "prominent H1 loops (a torus has 2)".into(),
            x_desc: "training step".into(),
            y_desc: "count".into(),
            y_range: 0.0..6.0,
            levels: vec![2.0],
            legend: plotters::chart::SeriesLabelPosition::UpperRight,
            series: vec![SeedSeries {
                label: "H1".into(),
                colour: red,
                seeds: topology_curves(runs, |t| t.prominent[1] as f64),
            }],
        },
        SeedPanel {
            title: "generation accuracy (τ 1 px)".into(),
            x_desc: "training step".into(),
            y_desc: "accuracy".into(),
            y_range: 0.0..1.02,
            levels: Vec::new(),
            legend: plotters::chart::SeriesLabelPosition::LowerRight,
            series: vec![SeedSeries {
                label: "accuracy".into(),
                colour: BLACK,
                seeds: record_curves(runs, |r| r.accuracy),
            }],
        },
    ];
    plot_seed_panels(path, &panels, 2)
}

/// The final persistence diagram (ten most persistent H0 and H1 bars) of every seed.
pub fn plot_diagrams(path: &Path, runs: &[FinishedRun]) -> Result<()> {
    register_fonts();
    let finals: Vec<(u64, &TopologyRecord, u64)> = runs
        .iter()
        .filter_map(|r| {
            let last = r.records.iter().rev().find(|x| x.topology.is_some())?;
            Some((r.seed, last.topology.as_ref()?, last.step))
        })
        .collect();
    if finals.is_empty() {
        return Ok(());
    }
    let root = BitMapBackend::new(path, (380 * finals.len() as u32, 380)).into_drawing_area();
    root.fill(&WHITE).map_err(plot_err)?;
    for ((seed, t, step), area) in finals.iter().zip(root.split_evenly((1, finals.len()))) {
        let top =
            t.h0.iter()
                .chain(&t.h1)
                .map(|p| p[1])
                .fold(t.scale, f64::max)
                * 1.05;
        let mut chart = ChartBuilder::on(&area)
            .caption(
                format!("seed {seed}, step {step}: H0 grey, H1 red"),
                ("sans-serif", 15),
            )
            .margin(10)
            .x_label_area_size(36)
            .y_label_area_size(46)
            .build_cartesian_2d(0.0..top, 0.0..top)
            .map_err(plot_err)?;
        chart
            .configure_mesh()
            .x_desc("birth")
            .y_desc("death")
            .draw()
            .map_err(plot_err)?;
        chart
            .draw_series(LineSeries::new([(0.0, 0.0), (top, top)], BLACK.mix(0.4)))
            .map_err(plot_err)?;
        chart
            .draw_series(
                t.h0.iter()
                    .map(|p| Circle::new((p[0], p[1]), 4, RGBColor(120, 120, 120).filled())),
            )
            .map_err(plot_err)?;
        chart
            .draw_series(
                t.h1.iter()
                    .map(|p| Circle::new((p[0], p[1]), 4, RGBColor(210, 50, 40).filled())),
            )
            .map_err(plot_err)?;
    }
    root.present().map_err(plot_err)?;
    Ok(())
}

/// Writes `torus.json`, `torus.md`, the figures and `torus.html` into `out`; returns the
/// report's path.
pub fn write(out: &Path, c: &Comparison, runs: &[FinishedRun]) -> Result<PathBuf> {
    crate::io::write_atomic(
        &out.join(TORUS_JSON),
        serde_json::to_string_pretty(c)?.as_bytes(),
    )?;
    let table = table(c);
    let verdict = verdict(c);
    crate::io::write_atomic(
        &out.join(TORUS_MD),
        format!("# Periodic bumps: Clifford or 3D torus?\n\n{table}\n{verdict}\n").as_bytes(),
    )?;
    let fig_dir = out.join("figures");
    std::fs::create_dir_all(&fig_dir).map_err(crate::error::io_err(&fig_dir))?;
    let mut html = String::from(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>bump-ddpm torus report</title>\
         <style>body{font-family:sans-serif;max-width:1300px;margin:auto;padding:1em}\
         img{max-width:100%}</style></head><body><h1>Periodic bumps: Clifford or 3D torus?</h1>",
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
        plot_curves(&out.join(CURVES_FIGURE), runs)?;
        plot_diagrams(&out.join(DIAGRAM_FIGURE), runs)?;
        let _ = write!(
            html,
            "<h2>Topology over training</h2><p>Thin: seeds; thick: their mean.</p><img src=\"{CURVES_FIGURE}\" alt=\"topology curves\">\
             <h2>Final persistence diagrams</h2><img src=\"{DIAGRAM_FIGURE}\" alt=\"persistence diagrams\">"
        );
    }
    html.push_str("<h2>Table</h2><pre>");
    html.push_str(&escape(&table));
    html.push_str("</pre></body></html>");
    let path = out.join(REPORT_HTML);
    crate::io::write_atomic(&path, html.as_bytes())?;
    Ok(path)
}
