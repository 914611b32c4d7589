//! The percolation figure: per group (e.g. each σ), every cell's final accuracy and their mean
//! over λ (log scale), beside the simulated mean largest-cluster fraction of the same lattice
//! (dashed), with the level at which both thresholds are read.

use super::percolation::{PercolationRow, PercolationRule};
use crate::report::{plot_err, register_fonts};
use crate::Result;
use plotters::prelude::*;
use std::path::Path;

/// Line colours of the groups, in order (cycled; also the sweep's learning curves').
pub(crate) const COLOURS: [RGBColor; 5] = [
    RGBColor(31, 119, 180),
    RGBColor(214, 39, 40),
    RGBColor(44, 160, 44),
    RGBColor(148, 103, 189),
    RGBColor(255, 127, 14),
];

/// The legend name of a group: its axis values, or its σ when it has none.
fn group_name(r: &PercolationRow) -> String {
    if r.group.is_empty() {
        format!("σ = {}", r.sigma)
    } else {
        r.group
            .iter()
            .map(|(k, v)| format!("{} = {v}", k.rsplit('.').next().unwrap_or(k)))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Draws the figure to `path` (PNG; written to a temporary file and renamed into place).
pub fn plot(path: &Path, rows: &[PercolationRow], rule: &PercolationRule) -> Result<()> {
    let lambdas = rows
        .iter()
        .flat_map(|r| {
            r.accuracy
                .iter()
                .map(|a| a.0)
                .chain(r.simulation.iter().map(|p| p.0))
        })
        .filter(|l| *l > 0.0);
    let (lo, hi) = lambdas.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), l| {
        (a.min(l), b.max(l))
    });
    let (lo, hi) = if lo < hi {
        (lo / 1.3, hi * 1.3)
    } else {
        (0.01, 1.0)
    };
    crate::io::write_via_temp(path, |tmp| {
        register_fonts();
        let root = BitMapBackend::new(tmp, (900, 560)).into_drawing_area();
        root.fill(&WHITE).map_err(plot_err)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(
                "final accuracy (solid: mean, dots: cells) and simulated largest-cluster \
                 fraction (dashed)",
                ("sans-serif", 17),
            )
            .margin(14)
            .x_label_area_size(45)
            .y_label_area_size(55)
            .build_cartesian_2d((lo..hi).log_scale(), -0.02..1.05)
            .map_err(plot_err)?;
        chart
            .configure_mesh()
            .max_light_lines(0)
            .x_label_formatter(&|l| {
                let t = format!("{l:.3}");
                t.trim_end_matches('0').trim_end_matches('.').to_string()
            })
            .x_desc("λ, fraction of the training centres kept (log scale)")
            .y_desc("fraction")
            .draw()
            .map_err(plot_err)?;
        chart
            .draw_series(DashedLineSeries::new(
                [(lo, rule.level), (hi, rule.level)],
                3,
                5,
                BLACK.mix(0.4).stroke_width(1),
            ))
            .map_err(plot_err)?
            .label(format!("level {} (thresholds)", rule.level))
            .legend(|(x, y)| {
                PathElement::new(vec![(x, y), (x + 18, y)], BLACK.mix(0.4).stroke_width(1))
            });
        for (i, r) in rows.iter().enumerate() {
            let c = COLOURS[i % COLOURS.len()];
            let name = group_name(r);
            let means: Vec<(f64, f64)> = r
                .accuracy
                .iter()
                .filter_map(|(l, m, _)| m.map(|m| (*l, m)))
                .collect();
            chart
                .draw_series(LineSeries::new(means.iter().copied(), c.stroke_width(2)))
                .map_err(plot_err)?
                .label(format!("{name}: final accuracy"))
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 18, y)], c.stroke_width(2))
                });
            chart
                .draw_series(
                    r.cells
                        .iter()
                        .map(|&(l, a)| Circle::new((l, a), 4, c.mix(0.6).filled())),
                )
                .map_err(plot_err)?;
            if !r.simulation.is_empty() {
                chart
                    .draw_series(DashedLineSeries::new(
                        r.simulation.iter().copied(),
                        7,
                        4,
                        c.mix(0.8).stroke_width(2),
                    ))
                    .map_err(plot_err)?
                    .label(format!("{name}: simulated largest cluster"))
                    .legend(move |(x, y)| {
                        PathElement::new(vec![(x, y), (x + 18, y)], c.mix(0.8).stroke_width(1))
                    });
            }
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerRight)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK.mix(0.3))
            .label_font(("sans-serif", 13))
            .draw()
            .map_err(plot_err)?;
        root.present().map_err(plot_err)
    })
}
