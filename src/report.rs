//! Figures (PNG, drawn with plotters) and the self-contained `report.html`.

use crate::error::io_err;
use crate::record::{EvalRecord, RunSummary};
use crate::run_dir::{RunDir, RunFile};
pub use crate::snapshot::Snapshot;
use crate::{Error, Result};
use bump_analysis::Phase;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Once;

pub(crate) fn register_fonts() {
    static FONTS: Once = Once::new();
    FONTS.call_once(|| {
        // The embedded DejaVu font keeps figure text independent of system fonts.
        let _ = plotters::style::register_font(
            "sans-serif",
            FontStyle::Normal,
            dejavu::sans::regular(),
        );
    });
}

/// A named, coloured curve of one record field.
type Series = (&'static str, RGBColor, fn(&EvalRecord) -> f64);

pub(crate) fn plot_err<E: std::fmt::Display>(e: E) -> Error {
    Error::Plot(e.to_string())
}

fn phase_colour(p: Phase) -> RGBColor {
    match p {
        Phase::A => RGBColor(250, 210, 210),
        Phase::B => RGBColor(252, 236, 190),
        Phase::C => RGBColor(205, 238, 205),
    }
}

/// Shaded spans `[start, end)` of constant phase along the step axis.
fn phase_spans(
    records: &[EvalRecord],
    phase: impl Fn(&EvalRecord) -> Phase,
) -> Vec<(f64, f64, Phase)> {
    let mut spans = Vec::new();
    for (i, r) in records.iter().enumerate() {
        let start = r.step as f64;
        let end = records.get(i + 1).map_or(start, |n| n.step as f64);
        spans.push((start, end.max(start), phase(r)));
    }
    spans
}

fn step_range(records: &[EvalRecord]) -> (f64, f64) {
    let max = records.iter().map(|r| r.step).max().unwrap_or(1).max(1) as f64;
    (0.0, max)
}

type Chart<'a, 'b> =
    ChartContext<'a, BitMapBackend<'b>, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// One panel of line charts against training step.
struct LinePanel<'s> {
    caption: &'s str,
    y: std::ops::Range<f64>,
    y_desc: &'s str,
    series: &'s [Series],
    /// Dots at every checkpoint as well as lines.
    markers: bool,
    legend: SeriesLabelPosition,
}

impl<'s> LinePanel<'s> {
    /// A [0, 1.08] panel with dots, room above 1 for the generation-phase strip.
    fn phase_shaded(caption: &'s str, y_desc: &'s str, series: &'s [Series]) -> Self {
        Self {
            caption,
            y: 0.0..1.08,
            y_desc,
            series,
            markers: true,
            legend: SeriesLabelPosition::LowerRight,
        }
    }

    /// Draws the panel on `area`: `underlay` draws below the lines (e.g. phase shading),
    /// `overlay` above them and before the legend (reference lines, extra legend entries).
    fn draw<'b>(
        self,
        area: &DrawingArea<BitMapBackend<'b>, plotters::coord::Shift>,
        records: &[EvalRecord],
        underlay: impl FnOnce(&mut Chart<'_, 'b>) -> Result<()>,
        overlay: impl FnOnce(&mut Chart<'_, 'b>) -> Result<()>,
    ) -> Result<()> {
        let (x0, x1) = step_range(records);
        let mut chart = ChartBuilder::on(area)
            .caption(self.caption, ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(50)
            .build_cartesian_2d(x0..x1, self.y.clone())
            .map_err(plot_err)?;
        chart
            .configure_mesh()
            .x_desc("training step")
            .y_desc(self.y_desc)
            .draw()
            .map_err(plot_err)?;
        underlay(&mut chart)?;
        for &(name, colour, f) in self.series {
            let points = records
                .iter()
                .map(|r| (r.step as f64, f(r)))
                .filter(|p| p.1.is_finite());
            chart
                .draw_series(LineSeries::new(points.clone(), colour.stroke_width(2)))
                .map_err(plot_err)?
                .label(name)
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 18, y)], colour.stroke_width(2))
                });
            if self.markers {
                chart
                    .draw_series(points.map(|p| Circle::new(p, 3, colour.filled())))
                    .map_err(plot_err)?;
            }
        }
        overlay(&mut chart)?;
        chart
            .configure_series_labels()
            .position(self.legend)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .draw()
            .map_err(plot_err)?;
        Ok(())
    }
}

/// Shades `[start, end)` step spans by phase between heights `y0` and `y1`.
fn shade_phases(
    chart: &mut Chart<'_, '_>,
    records: &[EvalRecord],
    phase: impl Fn(&EvalRecord) -> Phase,
    (y0, y1): (f64, f64),
) -> Result<()> {
    for (s, e, p) in phase_spans(records, phase) {
        chart
            .draw_series(std::iter::once(Rectangle::new(
                [(s, y0), (e, y1)],
                phase_colour(p).filled(),
            )))
            .map_err(plot_err)?;
    }
    Ok(())
}

/// Shading by the layer-4 phase below 1, and the generation phase as a strip above.
fn shade_both_phases(chart: &mut Chart<'_, '_>, records: &[EvalRecord]) -> Result<()> {
    shade_phases(chart, records, |r| r.rep_phase, (0.0, 1.0))?;
    shade_phases(chart, records, |r| r.gen_phase, (1.02, 1.08))
}

/// Accuracy, acc_x and acc_y against step, shaded by representation phase (top band: generation
/// phase).
pub fn plot_accuracy(path: &Path, records: &[EvalRecord]) -> Result<()> {
    register_fonts();
    let root = BitMapBackend::new(path, (900, 480)).into_drawing_area();
    root.fill(&WHITE).map_err(plot_err)?;
    let series: [Series; 4] = [
        ("accuracy (τ 1 px)", BLACK, |r| r.accuracy),
        ("accuracy (τ 0.5 px)", RGBColor(120, 120, 120), |r| {
            r.accuracy_tight
        }),
        ("acc_x", RGBColor(30, 90, 200), |r| r.acc_x),
        ("acc_y", RGBColor(220, 90, 20), |r| r.acc_y),
    ];
    let panel = LinePanel::phase_shaded(
        "Generation accuracy (shading: layer-4 phase; top strip: generation phase)",
        "fraction correct",
        &series,
    );
    let underlay = |chart: &mut Chart<'_, '_>| shade_both_phases(chart, records);
    let phase_legend = |chart: &mut Chart<'_, '_>| {
        for p in [Phase::A, Phase::B, Phase::C] {
            let c = phase_colour(p);
            chart
                .draw_series(std::iter::empty::<Rectangle<(f64, f64)>>())
                .map_err(plot_err)?
                .label(format!("phase {p}"))
                .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 18, y + 5)], c.filled()));
        }
        Ok(())
    };
    panel.draw(&root, records, underlay, phase_legend)?;
    root.present().map_err(plot_err)?;
    Ok(())
}

/// Several runs (e.g. seeds) one above the other: accuracy at both tolerances, the condition
/// signal and the UMAP R² against step, each panel shaded by its run's layer-4 phase (top strip:
/// generation phase).
pub fn plot_runs(path: &Path, runs: &[(String, Vec<EvalRecord>)]) -> Result<()> {
    register_fonts();
    if runs.is_empty() {
        return Err(Error::Plot("no runs to plot".into()));
    }
    let root = BitMapBackend::new(path, (900, 330 * runs.len() as u32)).into_drawing_area();
    root.fill(&WHITE).map_err(plot_err)?;
    let series: [Series; 4] = [
        ("accuracy (τ 1 px)", BLACK, |r| r.accuracy),
        ("accuracy (τ 0.5 px)", RGBColor(120, 120, 120), |r| {
            r.accuracy_tight
        }),
        ("condition signal", RGBColor(40, 150, 60), |r| {
            r.condition_signal
        }),
        ("UMAP R² (min of x, y)", RGBColor(30, 90, 200), |r| {
            r.umap_r2_x.min(r.umap_r2_y)
        }),
    ];
    for (area, (name, records)) in root.split_evenly((runs.len(), 1)).iter().zip(runs) {
        let caption = format!("{name} (shading: layer-4 phase; top strip: generation phase)");
        let panel = LinePanel::phase_shaded(&caption, "", &series);
        let underlay = |chart: &mut Chart<'_, '_>| shade_both_phases(chart, records);
        panel.draw(area, records, underlay, |_| Ok(()))?;
    }
    root.present().map_err(plot_err)?;
    Ok(())
}

/// Representation metrics against step: a panel of [0, 1] scores and a panel of dimensions.
pub fn plot_metrics(path: &Path, records: &[EvalRecord]) -> Result<()> {
    register_fonts();
    let root = BitMapBackend::new(path, (900, 760)).into_drawing_area();
    root.fill(&WHITE).map_err(plot_err)?;
    let (top, bottom) = root.split_vertically(400);
    let scores: [Series; 5] = [
        ("probe R² x", RGBColor(30, 90, 200), |r| r.r2_x),
        ("probe R² y", RGBColor(220, 90, 20), |r| r.r2_y),
        ("trustworthiness", RGBColor(40, 150, 60), |r| {
            r.trustworthiness
        }),
        ("continuity", RGBColor(120, 60, 160), |r| r.continuity),
        ("order ρ (geodesic Spearman)", BLACK, |r| r.order_rho),
    ];
    let finite = |series: &[Series]| -> Vec<f64> {
        records
            .iter()
            .flat_map(|r| series.iter().map(move |(_, _, f)| f(r)))
            .filter(|v| v.is_finite())
            .collect()
    };
    let lo = finite(&scores).into_iter().fold(0.0f64, f64::min).max(-1.0);
    let nothing = |_: &mut Chart<'_, '_>| Ok(());
    LinePanel {
        caption: "Layer-4 order and decodability",
        y: lo..1.02,
        y_desc: "",
        series: &scores,
        markers: false,
        legend: SeriesLabelPosition::LowerRight,
    }
    .draw(&top, records, nothing, nothing)?;

    let dims: [Series; 2] = [
        ("multiscale TwoNN dimension", RGBColor(200, 40, 40), |r| {
            r.twonn_multiscale_dim
        }),
        ("participation ratio", RGBColor(30, 90, 200), |r| {
            r.participation_ratio
        }),
    ];
    let hi = finite(&dims).into_iter().fold(3.0f64, f64::max) * 1.05;
    let (x0, x1) = step_range(records);
    let two = |chart: &mut Chart<'_, '_>| {
        chart
            .draw_series(LineSeries::new(vec![(x0, 2.0), (x1, 2.0)], BLACK.mix(0.4)))
            .map_err(plot_err)?;
        Ok(())
    };
    LinePanel {
        caption: "Layer-4 dimension",
        y: 0.0..hi,
        y_desc: "",
        series: &dims,
        markers: false,
        legend: SeriesLabelPosition::UpperRight,
    }
    .draw(&bottom, records, nothing, two)?;
    root.present().map_err(plot_err)?;
    Ok(())
}

/// A grid of generated images (at most `max` of them), 4 screen pixels per image pixel.
pub fn plot_samples(path: &Path, snap: &Snapshot, max: usize) -> Result<()> {
    let n = snap.n;
    let count = (snap.samples.len() / (n * n).max(1)).min(max);
    if count == 0 {
        return Err(Error::Plot("no samples to draw".into()));
    }
    let cols = (count as f64).sqrt().ceil() as usize;
    let rows = count.div_ceil(cols);
    let scale = 4usize;
    let cell = n * scale + 2;
    let (w, h) = ((cols * cell) as u32, (rows * cell) as u32);
    let root = BitMapBackend::new(path, (w, h)).into_drawing_area();
    root.fill(&RGBColor(60, 60, 160)).map_err(plot_err)?;
    let (lo, hi) = snap.range;
    for k in 0..count {
        let (r0, c0) = ((k / cols) * cell + 1, (k % cols) * cell + 1);
        let img = &snap.samples[k * n * n..(k + 1) * n * n];
        for y in 0..n {
            for x in 0..n {
                let v = ((img[y * n + x] - lo) / (hi - lo)).clamp(0.0, 1.0);
                let g = (v * 255.0).round() as u8;
                let (px, py) = ((c0 + x * scale) as i32, (r0 + y * scale) as i32);
                root.draw(&Rectangle::new(
                    [(px, py), (px + scale as i32, py + scale as i32)],
                    RGBColor(g, g, g).filled(),
                ))
                .map_err(plot_err)?;
            }
        }
    }
    root.present().map_err(plot_err)?;
    Ok(())
}

/// PCA and Isomap embeddings of layer 4, coloured by true x (left) and true y (right).
pub fn plot_embeddings(path: &Path, snap: &Snapshot) -> Result<()> {
    plot_embeddings_marked(path, snap, &|_| false)
}

/// [`plot_embeddings`] with the conditions for which `marked` holds (e.g. a held-out region)
/// drawn with a black ring.
pub fn plot_embeddings_marked(
    path: &Path,
    snap: &Snapshot,
    marked: &dyn Fn([f64; 2]) -> bool,
) -> Result<()> {
    register_fonts();
    let mut embeddings: Vec<(&str, Vec<[f64; 2]>)> = vec![("PCA", snap.pca.clone())];
    if let Some(iso) = &snap.isomap {
        embeddings.push(("Isomap", iso.clone()));
    }
    if let Some(u) = &snap.umap {
        // The paper's instrument: 3D UMAP, shown as two projections.
        embeddings.push(("UMAP 1-2", u.iter().map(|p| [p[0], p[1]]).collect()));
        embeddings.push(("UMAP 1-3", u.iter().map(|p| [p[0], p[2]]).collect()));
    }
    let rows = embeddings.len();
    let root = BitMapBackend::new(path, (900, 430 * rows as u32)).into_drawing_area();
    root.fill(&WHITE).map_err(plot_err)?;
    let panels = root.split_evenly((rows, 2));
    let (xmin, xmax) = minmax(snap.coords.iter().map(|c| c[0]));
    let (ymin, ymax) = minmax(snap.coords.iter().map(|c| c[1]));
    for (row, (name, pts)) in embeddings.iter().enumerate() {
        let (ax0, ax1) = pad(minmax(pts.iter().map(|p| p[0])));
        let (ay0, ay1) = pad(minmax(pts.iter().map(|p| p[1])));
        for col in 0..2 {
            let area = &panels[row * 2 + col];
            let label = if col == 0 { "true x" } else { "true y" };
            let mut chart = ChartBuilder::on(area)
                .caption(
                    format!("layer 4, {name}, step {}: colour = {label}", snap.step),
                    ("sans-serif", 15),
                )
                .margin(8)
                .x_label_area_size(28)
                .y_label_area_size(40)
                .build_cartesian_2d(ax0..ax1, ay0..ay1)
                .map_err(plot_err)?;
            chart
                .configure_mesh()
                .disable_mesh()
                .draw()
                .map_err(plot_err)?;
            chart
                .draw_series(pts.iter().zip(&snap.coords).map(|(p, c)| {
                    let v = if col == 0 {
                        (c[0], xmin, xmax)
                    } else {
                        (c[1], ymin, ymax)
                    };
                    let colour = ViridisRGB::get_color_normalized(v.0, v.1, v.2.max(v.1 + 1e-9));
                    Circle::new((p[0], p[1]), 3, colour.filled())
                }))
                .map_err(plot_err)?;
            chart
                .draw_series(
                    pts.iter()
                        .zip(&snap.coords)
                        .filter(|(_, c)| marked(**c))
                        .map(|(p, _)| Circle::new((p[0], p[1]), 5, BLACK.stroke_width(1))),
                )
                .map_err(plot_err)?;
        }
    }
    root.present().map_err(plot_err)?;
    Ok(())
}

fn minmax(it: impl Iterator<Item = f64>) -> (f64, f64) {
    it.filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
            (a.min(v), b.max(v))
        })
}

fn pad((lo, hi): (f64, f64)) -> (f64, f64) {
    if !lo.is_finite() || !hi.is_finite() {
        return (-1.0, 1.0);
    }
    let d = (hi - lo).max(1e-9) * 0.05;
    (lo - d, hi + d)
}

/// Writes every figure and `report.html` into `out`; returns the report's path.
pub fn write_report(
    out: &Path,
    records: &[EvalRecord],
    snapshots: &[Snapshot],
    summary: &RunSummary,
) -> Result<PathBuf> {
    let fig_dir = out.join(RunFile::Figures.name());
    std::fs::create_dir_all(&fig_dir).map_err(io_err(&fig_dir))?;
    let mut html = String::new();
    let _ = write!(
        html,
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>bump-ddpm phase report</title>\
         <style>body{{font-family:sans-serif;max-width:1000px;margin:auto;padding:1em}}\
         table{{border-collapse:collapse}}td,th{{border:1px solid #bbb;padding:2px 8px;text-align:right}}\
         .A{{background:#fad2d2}}.B{{background:#fcecbe}}.C{{background:#cdeecd}}img{{max-width:100%}}</style>\
         </head><body><h1>bump-ddpm phase report</h1>"
    );
    let _ = write!(
        html,
        "<p>{} steps, seed {}, {} parameters, wall time {:.1} s. Final accuracy <b>{:.1} %</b>, \
         final layer-4 phase <b>{}</b>, generation phase <b>{}</b>. Phase onsets (layer 4): A {}, B {}, C {}. \
         The two phase labels agree at {:.0} % of checkpoints.</p>",
        summary.steps,
        summary.seed,
        summary.parameters,
        summary.wall_s,
        100.0 * summary.final_accuracy,
        summary.final_rep_phase,
        summary.final_gen_phase,
        fmt_onset(summary.rep_phase_onsets.a),
        fmt_onset(summary.rep_phase_onsets.b),
        fmt_onset(summary.rep_phase_onsets.c),
        100.0 * summary.phase_agreement,
    );
    if !records.is_empty() {
        plot_accuracy(&fig_dir.join("accuracy.png"), records)?;
        plot_metrics(&fig_dir.join("metrics.png"), records)?;
        html.push_str(
            "<h2>Accuracy</h2><img src=\"figures/accuracy.png\" alt=\"accuracy against step\">",
        );
        html.push_str("<h2>Representation metrics</h2><img src=\"figures/metrics.png\" alt=\"metrics against step\">");
    }
    html.push_str("<h2>Checkpoints</h2><table><tr><th>step</th><th>loss</th><th>accuracy (τ 1 px)</th><th>accuracy (τ 0.5 px)</th><th>multi-bump</th><th>empty</th><th>malformed</th><th>condition signal</th><th>UMAP R² x</th><th>UMAP R² y</th><th>T(k)</th><th>order ρ</th><th>TwoNN (multiscale)</th><th>gen</th><th>layer 4</th></tr>");
    for r in records {
        let _ = write!(
            html,
            "<tr><td>{}</td><td>{:.4}</td><td>{:.3}</td><td>{:.3}</td><td>{:.3}</td><td>{:.3}</td><td>{:.3}</td><td>{:.3}</td><td>{:.3}</td><td>{:.3}</td><td>{:.3}</td><td>{:.3}</td><td>{:.2}</td><td class=\"{g}\">{g}</td><td class=\"{p}\">{p}</td></tr>",
            r.step, r.train_loss, r.accuracy, r.accuracy_tight, r.multi_bump_rate, r.empty_rate,
            r.malformed_rate, r.condition_signal, r.umap_r2_x, r.umap_r2_y, r.trustworthiness,
            r.order_rho, r.twonn_multiscale_dim, g = r.gen_phase, p = r.rep_phase
        );
    }
    html.push_str("</table>");
    html.push_str(&probe_table(records));
    if !snapshots.is_empty() {
        html.push_str("<h2>Samples and layer-4 embeddings</h2><p>Left: generated samples, one per evaluation condition (row-major over the grid). Right: layer-4 activations embedded in 2D, coloured by the true x and y; an ordered sheet (phase C) shows smooth colour gradients.</p>");
    }
    for s in snapshots {
        let sp = format!("samples_step{:07}.png", s.step);
        let ep = format!("embedding_step{:07}.png", s.step);
        plot_samples(&fig_dir.join(&sp), s, 64)?;
        plot_embeddings(&fig_dir.join(&ep), s)?;
        let phase = records.iter().find(|r| r.step == s.step);
        let _ = write!(
            html,
            "<h3>Step {}{}</h3><img src=\"figures/{sp}\" alt=\"samples\" style=\"width:300px;vertical-align:top\"> \
             <img src=\"figures/{ep}\" alt=\"embeddings\" style=\"width:640px\">",
            s.step,
            phase.map(|r| format!(" — accuracy {:.1} %, layer-4 phase {}", 100.0 * r.accuracy, r.rep_phase)).unwrap_or_default()
        );
    }
    let cfg = serde_json::to_string_pretty(&summary.config)?;
    let _ = write!(
        html,
        "<h2>Configuration</h2><pre>{}</pre></body></html>",
        escape(&cfg)
    );
    let path = out.join(RunFile::Report.name());
    crate::io::write_atomic(&path, html.as_bytes())?;
    Ok(path)
}

/// The layer-4 label of every checkpoint under every probe (from `representation.probes`), with
/// the condition signal each probe measured.
fn probe_table(records: &[EvalRecord]) -> String {
    let probes = |r: &EvalRecord| -> Vec<(String, String, f64)> {
        r.representation
            .get("probes")
            .and_then(|p| p.as_object())
            .map(|m| {
                m.iter()
                    .map(|(name, v)| {
                        let phase = v["label"]["phase"].as_str().unwrap_or("?").to_string();
                        let signal = v["condition_signal"].as_f64().unwrap_or(f64::NAN);
                        (name.clone(), phase, signal)
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    let Some(first) = records.first() else {
        return String::new();
    };
    let names: Vec<String> = probes(first).into_iter().map(|p| p.0).collect();
    if names.is_empty() {
        return String::new();
    }
    let mut html = String::from(
        "<h2>Layer-4 label under each probe</h2><p>Each cell: the label and the condition \
         signal (between-condition share of layer-4 variance; blank for the shared-noise probe, \
         which has one input per condition). The first probe decides the table above.</p>\
         <table><tr><th>step</th>",
    );
    for n in &names {
        let _ = write!(html, "<th>{n}</th>");
    }
    html.push_str("</tr>");
    for r in records {
        let _ = write!(html, "<tr><td>{}</td>", r.step);
        for (_, phase, signal) in probes(r) {
            let signal = if signal.is_finite() {
                format!(" ({signal:.2})")
            } else {
                String::new()
            };
            let _ = write!(html, "<td class=\"{phase}\">{phase}{signal}</td>");
        }
        html.push_str("</tr>");
    }
    html.push_str("</table>");
    html
}

fn fmt_onset(s: Option<u64>) -> String {
    s.map_or_else(|| "never".to_string(), |v| format!("step {v}"))
}

pub(crate) fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Writes the report of a run directory: picks up to `count` checkpoints
/// ([`choose_snapshot_steps`]), reads their snapshots and calls [`write_report`].
pub fn write_run_report(
    run_dir: &RunDir,
    records: &[EvalRecord],
    summary: &RunSummary,
    count: usize,
) -> Result<PathBuf> {
    let mut snapshots = Vec::new();
    for step in choose_snapshot_steps(records, count) {
        snapshots.extend(run_dir.read_snapshot(step)?);
    }
    write_report(run_dir.root(), records, &snapshots, summary)
}

/// Up to `count` checkpoints to show: the first, the first of each layer-4 phase, the last,
/// then evenly spaced others; ascending.
pub fn choose_snapshot_steps(records: &[EvalRecord], count: usize) -> Vec<u64> {
    if records.is_empty() || count == 0 {
        return Vec::new();
    }
    let mut steps: Vec<u64> = vec![records[0].step];
    for p in [Phase::A, Phase::B, Phase::C] {
        if let Some(r) = records.iter().find(|r| r.rep_phase == p) {
            steps.push(r.step);
        }
    }
    steps.push(records[records.len() - 1].step);
    let mut i = 1;
    while steps.len() < count && i < records.len() {
        steps.push(records[i * records.len() / count].step);
        i += 1;
    }
    steps.sort_unstable();
    steps.dedup();
    steps.truncate(count.max(2));
    steps
}
