//! Learning curves of several seeds in one figure: a grid of panels, each with named series
//! drawn as thin per-seed lines and a thick mean (the experiments' comparison figures).

use crate::report::{plot_err, register_fonts};
use crate::Result;
use plotters::prelude::*;
use std::path::Path;

/// One curve of one seed: (step, value) with `None` where the value is not measured.
pub type Curve = Vec<(f64, Option<f64>)>;

/// A named quantity over several seeds.
pub struct SeedSeries {
    /// Legend label.
    pub label: String,
    /// Colour of the mean and (faded) of the seeds.
    pub colour: RGBColor,
    /// One curve per seed.
    pub seeds: Vec<Curve>,
}

/// One panel of the figure.
pub struct SeedPanel {
    /// Caption.
    pub title: String,
    /// x-axis label (e.g. "training step").
    pub x_desc: String,
    /// y-axis label.
    pub y_desc: String,
    /// y range.
    pub y_range: std::ops::Range<f64>,
    /// Dashed horizontal reference lines.
    pub levels: Vec<f64>,
    /// Where the legend goes (errors fall, accuracies rise).
    pub legend: SeriesLabelPosition,
    /// The series.
    pub series: Vec<SeedSeries>,
}

/// The mean of the curves at each step where every curve has a value (curves share their steps;
/// a step missing from any curve is skipped).
pub fn mean_curve(curves: &[Curve]) -> Vec<(f64, f64)> {
    let Some(first) = curves.first() else {
        return Vec::new();
    };
    first
        .iter()
        .enumerate()
        .filter_map(|(i, &(step, _))| {
            let vals: Option<Vec<f64>> = curves
                .iter()
                .map(|c| c.get(i).filter(|p| p.0 == step).and_then(|p| p.1))
                .collect();
            vals.map(|v| (step, v.iter().sum::<f64>() / v.len() as f64))
        })
        .collect()
}

/// Draws `panels` in a grid of `columns` columns (row-major); the x axis is shared.
pub fn plot_seed_panels(path: &Path, panels: &[SeedPanel], columns: usize) -> Result<()> {
    register_fonts();
    if panels.is_empty() || columns == 0 {
        return Ok(());
    }
    let rows = panels.len().div_ceil(columns);
    let root =
        BitMapBackend::new(path, (420 * columns as u32, 380 * rows as u32)).into_drawing_area();
    root.fill(&WHITE).map_err(plot_err)?;
    let areas = root.split_evenly((rows, columns));
    let max_x = panels
        .iter()
        .flat_map(|p| p.series.iter())
        .flat_map(|s| s.seeds.iter())
        .flat_map(|c| c.iter().map(|p| p.0))
        .fold(1.0f64, f64::max);
    for (panel, area) in panels.iter().zip(&areas) {
        let mut chart = ChartBuilder::on(area)
            .caption(&panel.title, ("sans-serif", 16))
            .margin(10)
            .x_label_area_size(36)
            .y_label_area_size(46)
            .build_cartesian_2d(0.0..max_x, panel.y_range.clone())
            .map_err(plot_err)?;
        chart
            .configure_mesh()
            // No minor grid: it doubles the PNG's size and adds nothing a reader uses.
            .max_light_lines(0)
            .x_label_formatter(&|v| format!("{v:.0}"))
            .x_desc(&panel.x_desc)
            .y_desc(&panel.y_desc)
            .draw()
            .map_err(plot_err)?;
        for &level in &panel.levels {
            chart
                .draw_series(DashedLineSeries::new(
                    [(0.0, level), (max_x, level)],
                    6,
                    4,
                    BLACK.mix(0.5).stroke_width(1),
                ))
                .map_err(plot_err)?;
        }
        for s in &panel.series {
            let colour = s.colour;
            for curve in &s.seeds {
                // Thin per-seed lines, broken where the value is not measured.
                for seg in curve.split(|p| p.1.is_none()) {
                    chart
                        .draw_series(LineSeries::new(
                            seg.iter().filter_map(|p| p.1.map(|v| (p.0, v))),
                            colour.mix(0.35).stroke_width(1),
                        ))
                        .map_err(plot_err)?;
                }
            }
            chart
                .draw_series(LineSeries::new(
                    mean_curve(&s.seeds),
                    colour.stroke_width(3),
                ))
                .map_err(plot_err)?
                .label(format!("{} (mean of {} seeds)", s.label, s.seeds.len()))
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 18, y)], colour.stroke_width(3))
                });
        }
        if panel.series.is_empty() {
            continue;
        }
        chart
            .configure_series_labels()
            .position(panel.legend.clone())
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .draw()
            .map_err(plot_err)?;
    }
    root.present().map_err(plot_err)?;
    Ok(())
}
