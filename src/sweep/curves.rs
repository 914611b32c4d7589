//! Learning curves of a sweep: one panel per pair of values of two axes, accuracy over training
//! steps on the main evaluation grid (at τ = 1 px and at the tight 0.5 px) and on each further
//! evaluation set; the panel's cells (seeds, and any other axis) are thin lines, their mean is
//! thick.

use super::heatmap::{distinct, label, resolve_xy};
use super::merge::ResultRow;
use super::percolation_plot::COLOURS;
use super::{Sweep, FIGURES_DIR};
use crate::record::EvalRecord;
use crate::run_dir::RunDir;
use crate::seed_curves::{plot_seed_panels, Curve, SeedPanel, SeedSeries};
use crate::{Error, Result};
use plotters::style::RGBColor;
use std::path::PathBuf;
use std::str::FromStr;

/// What to draw: `X,Y` on the command line (panels across X, down Y).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CurvesSpec {
    /// Axis across the panel columns (a key, or its last part when that is unique).
    pub x: String,
    /// Axis down the panel rows.
    pub y: String,
}

impl FromStr for CurvesSpec {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s.split(',').map(str::trim).collect::<Vec<_>>().as_slice() {
            [x, y] if !x.is_empty() && !y.is_empty() => Ok(Self {
                x: x.to_string(),
                y: y.to_string(),
            }),
            _ => Err(Error::Config(format!(
                "--curves {s:?}: expected X,Y, e.g. data.dx,data.sigma"
            ))),
        }
    }
}

/// The colour of series `i`: the main grid (τ = 1 px, then its tight tolerance in a lighter
/// shade), then the evaluation sets in name order (cycled over the percolation figure's).
fn colour(i: usize) -> RGBColor {
    const LIGHT_BLUE: RGBColor = RGBColor(140, 190, 230);
    match i {
        0 => COLOURS[0],
        1 => LIGHT_BLUE,
        _ => COLOURS[1 + (i - 2) % (COLOURS.len() - 1)],
    }
}

/// One series of a panel: which accuracy it reads.
#[derive(Clone, Copy)]
enum Source<'a> {
    /// The main grid at τ = 1 px.
    Main,
    /// The main grid at the tight tolerance.
    MainTight,
    /// An evaluation set at τ = 1 px.
    Set(&'a str),
}

impl Source<'_> {
    fn label(self) -> String {
        match self {
            Self::Main => "main grid".into(),
            Self::MainTight => "main grid, τ 0.5 px".into(),
            Self::Set(name) => format!("set `{name}`"),
        }
    }

    /// Accuracy over steps (`None` where a record lacks the set).
    fn curve(self, records: &[EvalRecord]) -> Curve {
        records
            .iter()
            .map(|r| {
                let v = match self {
                    Self::Main => Some(r.accuracy),
                    Self::MainTight => Some(r.accuracy_tight),
                    Self::Set(name) => r.sets.get(name).map(|s| s.accuracy),
                };
                (r.step as f64, v)
            })
            .collect()
    }
}

/// Draws `figures/curves-<x>-<y>.png` (written to a temporary file and renamed into place) from
/// the finished cells of `rows`; returns its path. An error when no cell has finished.
pub fn write_curves(sweep: &Sweep, rows: &[ResultRow], spec: &CurvesSpec) -> Result<PathBuf> {
    let (x_key, y_key) = resolve_xy("--curves", &spec.x, &spec.y, &sweep.axis_keys)?;
    let mut records: Vec<(&ResultRow, Vec<EvalRecord>)> = Vec::new();
    for r in rows.iter().filter(|r| r.metrics.is_some()) {
        let cell = sweep.cell(r.index)?;
        records.push((r, RunDir::new(sweep.cell_dir(cell)).read_records()?));
    }
    let sets = super::merge::set_names(rows);
    let short = |k: &str| k.rsplit('.').next().unwrap_or(k).to_string();
    let (xs, ys) = (distinct(rows, &x_key), distinct(rows, &y_key));
    let mut panels = Vec::new();
    for yv in &ys {
        for xv in &xs {
            let members: Vec<&Vec<EvalRecord>> = records
                .iter()
                .filter(|(r, _)| r.axes.get(&x_key) == Some(xv) && r.axes.get(&y_key) == Some(yv))
                .map(|(_, recs)| recs)
                .collect();
            // A panel without a finished cell stays, empty, so that the grid keeps its order.
            let sources = [Source::Main, Source::MainTight]
                .into_iter()
                .chain(sets.iter().map(|s| Source::Set(s)));
            let series = sources
                .filter(|_| !members.is_empty())
                .enumerate()
                .map(|(i, source)| SeedSeries {
                    label: source.label(),
                    colour: colour(i),
                    seeds: members.iter().map(|recs| source.curve(recs)).collect(),
                })
                .collect();
            panels.push(SeedPanel {
                title: format!(
                    "{} = {}, {} = {}{}",
                    short(&x_key),
                    label(xv),
                    short(&y_key),
                    label(yv),
                    if members.is_empty() {
                        " (none finished)"
                    } else {
                        ""
                    }
                ),
                x_desc: "training step".into(),
                y_desc: "accuracy".into(),
                y_range: -0.02..1.05,
                levels: vec![0.5],
                legend: plotters::chart::SeriesLabelPosition::UpperLeft,
                series,
            });
        }
    }
    if records.is_empty() {
        return Err(Error::Config(
            "--curves: no finished cell to draw; run the sweep first".into(),
        ));
    }
    let path =
        sweep
            .dir
            .join(FIGURES_DIR)
            .join(format!("curves-{}-{}.png", short(&x_key), short(&y_key)));
    crate::io::write_via_temp(&path, |tmp| plot_seed_panels(tmp, &panels, xs.len().max(1)))?;
    Ok(path)
}
