//! Heatmaps of a sweep's results: one numeric column over two axes, the other axes (seeds, or
//! the axis the user names) aggregated to mean ± sd. Cells without a value are left blank.

use super::merge::{self, ResultRow};
use super::{Sweep, FIGURES_DIR};
use crate::report::{plot_err, register_fonts};
use crate::{Error, Result};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// What to draw: `X,Y,COLUMN[,OVER]` on the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeatmapSpec {
    /// Axis along x (a key, or its last part when that is unique, e.g. `sigma`).
    pub x: String,
    /// Axis along y.
    pub y: String,
    /// The numeric results column ([`merge::COLUMNS`], or `set:<name>:<column>` of
    /// [`merge::SET_COLUMNS`]).
    pub column: String,
    /// The axis aggregated to mean ± sd; `None`: every axis other than x and y.
    pub over: Option<String>,
}

impl FromStr for HeatmapSpec {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        let parts: Vec<&str> = s.split(',').map(str::trim).collect();
        if !(3..=4).contains(&parts.len()) || parts.iter().any(|p| p.is_empty()) {
            return Err(Error::Config(format!(
                "--heatmap {s:?}: expected X,Y,COLUMN[,OVER], e.g. data.sigma,data.dx,gen_c,train.seed"
            )));
        }
        Ok(Self {
            x: parts[0].into(),
            y: parts[1].into(),
            column: parts[2].into(),
            over: parts.get(3).map(|p| p.to_string()),
        })
    }
}

/// Mean, sample sd and counts of one heatmap cell.
#[derive(Debug, Clone, PartialEq)]
pub struct Aggregate {
    /// Cells with a value.
    pub n: usize,
    /// Cells in the group (finished or not).
    pub of: usize,
    /// Mean of the values (`None` when n = 0).
    pub mean: Option<f64>,
    /// Sample standard deviation (`None` when n < 2).
    pub sd: Option<f64>,
}

/// A computed heatmap.
#[derive(Debug, Clone, PartialEq)]
pub struct Heatmap {
    /// Axis key along x.
    pub x_key: String,
    /// Axis key along y.
    pub y_key: String,
    /// The column shown.
    pub column: String,
    /// The axes aggregated.
    pub over: Vec<String>,
    /// Labels of the x values, ascending.
    pub x_labels: Vec<String>,
    /// Labels of the y values, ascending.
    pub y_labels: Vec<String>,
    /// `grid[j][i]`: the aggregate at y value j, x value i.
    pub grid: Vec<Vec<Aggregate>>,
}

/// The axis key `name` stands for: the key itself, or the one key whose last part it is.
/// `flag` names the option in errors (`--heatmap`).
pub(crate) fn resolve_axis(flag: &str, name: &str, keys: &[String]) -> Result<String> {
    if keys.iter().any(|k| k == name) {
        return Ok(name.into());
    }
    let matches: Vec<&String> = keys
        .iter()
        .filter(|k| k.rsplit('.').next() == Some(name))
        .collect();
    match matches.as_slice() {
        [one] => Ok((*one).clone()),
        [] => Err(Error::Config(format!(
            "{flag}: `{name}` is not an axis of this sweep; the axes are {keys:?}"
        ))),
        many => Err(Error::Config(format!(
            "{flag}: `{name}` is ambiguous ({many:?}); give the full key"
        ))),
    }
}

/// The axis keys of an x and a y axis ([`resolve_axis`]), which must differ.
pub(crate) fn resolve_xy(
    flag: &str,
    x: &str,
    y: &str,
    keys: &[String],
) -> Result<(String, String)> {
    let x_key = resolve_axis(flag, x, keys)?;
    let y_key = resolve_axis(flag, y, keys)?;
    if x_key == y_key {
        return Err(Error::Config(format!(
            "{flag}: x and y are the same axis `{x_key}`"
        )));
    }
    Ok((x_key, y_key))
}

/// Orders axis values: numbers numerically, then everything else by its text.
fn cmp_values(a: &serde_json::Value, b: &serde_json::Value) -> Ordering {
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) => x.total_cmp(&y),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => a.to_string().cmp(&b.to_string()),
    }
}

pub(crate) fn label(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

pub(crate) fn distinct(rows: &[ResultRow], key: &str) -> Vec<serde_json::Value> {
    let mut vals: Vec<serde_json::Value> = Vec::new();
    for r in rows {
        if let Some(v) = r.axes.get(key) {
            if !vals.contains(v) {
                vals.push(v.clone());
            }
        }
    }
    vals.sort_by(cmp_values);
    vals
}

impl Heatmap {
    /// Aggregates `rows` (with axes `keys`) as `spec` asks. An axis other than x, y and the
    /// aggregated ones that takes several values is an error naming it.
    pub fn compute(rows: &[ResultRow], keys: &[String], spec: &HeatmapSpec) -> Result<Self> {
        let (x_key, y_key) = resolve_xy("--heatmap", &spec.x, &spec.y, keys)?;
        let column = merge::column(&spec.column)?;
        if let merge::ColumnRef::Set(set, _) = &column {
            let names = merge::set_names(rows);
            let any_finished = rows.iter().any(|r| r.metrics.is_some());
            if any_finished && !names.contains(set.as_str()) {
                let listed: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
                return Err(Error::Config(format!(
                    "--heatmap: no finished cell has an evaluation set `{set}`; sets: {}",
                    if listed.is_empty() {
                        "none".to_string()
                    } else {
                        listed.join(", ")
                    }
                )));
            }
        }
        let rest: Vec<String> = keys
            .iter()
            .filter(|k| **k != x_key && **k != y_key)
            .cloned()
            .collect();
        let over = match &spec.over {
            None => rest.clone(),
            Some(o) => {
                let o = resolve_axis("--heatmap", o, keys)?;
                if o == x_key || o == y_key {
                    return Err(Error::Config(format!(
                        "--heatmap: `{o}` is plotted; it cannot also be aggregated"
                    )));
                }
                for k in rest.iter().filter(|k| **k != o) {
                    if distinct(rows, k).len() > 1 {
                        return Err(Error::Config(format!(
                            "--heatmap: axis `{k}` takes several values; plot it as x or y, or \
                             aggregate over it (omit OVER to aggregate over every other axis)"
                        )));
                    }
                }
                vec![o]
            }
        };
        let xs = distinct(rows, &x_key);
        let ys = distinct(rows, &y_key);
        let mut groups: BTreeMap<(usize, usize), (usize, Vec<f64>)> = BTreeMap::new();
        for r in rows {
            let (Some(xv), Some(yv)) = (r.axes.get(&x_key), r.axes.get(&y_key)) else {
                continue;
            };
            let i = xs.iter().position(|v| v == xv).unwrap_or(0);
            let j = ys.iter().position(|v| v == yv).unwrap_or(0);
            let g = groups.entry((i, j)).or_default();
            g.0 += 1;
            if let Some(v) = r.metrics.as_ref().and_then(|m| column.get(m)) {
                g.1.push(v);
            }
        }
        let grid = (0..ys.len())
            .map(|j| {
                (0..xs.len())
                    .map(|i| {
                        let (of, vals) = groups.get(&(i, j)).cloned().unwrap_or_default();
                        aggregate(of, &vals)
                    })
                    .collect()
            })
            .collect();
        Ok(Self {
            x_key,
            y_key,
            column: spec.column.clone(),
            over,
            x_labels: xs.iter().map(label).collect(),
            y_labels: ys.iter().map(label).collect(),
            grid,
        })
    }

    /// `heatmap-<column>-<x>-<y>`, from the keys' last parts (a set column's colons become
    /// dashes).
    pub fn file_stem(&self) -> String {
        let last = |k: &str| k.rsplit('.').next().unwrap_or(k).to_string();
        format!(
            "heatmap-{}-{}-{}",
            self.column.replace(':', "-"),
            last(&self.x_key),
            last(&self.y_key)
        )
    }

    /// Decimals used for this column's values.
    fn digits(&self) -> usize {
        let max = self
            .grid
            .iter()
            .flatten()
            .filter_map(|a| a.mean)
            .fold(0.0f64, |m, v| m.max(v.abs()));
        if max >= 10.0 {
            0
        } else if max > 1.0 {
            2
        } else {
            3
        }
    }

    /// The text of one cell: `mean ± sd (n/of)`, `mean (n/of)`, or `– (0/of)`.
    pub fn cell_text(&self, a: &Aggregate) -> String {
        let d = self.digits();
        match (a.mean, a.sd) {
            (Some(m), Some(s)) => format!("{m:.d$} ± {s:.d$} ({}/{})", a.n, a.of),
            (Some(m), None) => format!("{m:.d$} ({}/{})", a.n, a.of),
            _ => format!("– (0/{})", a.of),
        }
    }

    /// The heatmap as a Markdown table (y down the rows, x across).
    pub fn to_markdown(&self) -> String {
        let mut s = format!("| {} \\ {} |", self.y_key, self.x_key);
        for l in &self.x_labels {
            s.push_str(&format!(" {l} |"));
        }
        s.push_str("\n| --- |");
        s.push_str(&" --- |".repeat(self.x_labels.len()));
        s.push('\n');
        for (j, row) in self.grid.iter().enumerate() {
            s.push_str(&format!("| {} |", self.y_labels[j]));
            for a in row {
                s.push_str(&format!(" {} |", self.cell_text(a)));
            }
            s.push('\n');
        }
        s
    }

    fn title(&self) -> String {
        if self.over.is_empty() {
            self.column.clone()
        } else {
            format!(
                "{}: mean ± sd over {} (n with a value / cells)",
                self.column,
                self.over.join(", ")
            )
        }
    }

    fn size(&self) -> (u32, u32) {
        // Wide enough for the caption too (≈ 8.5 px per character at 17 px, plus the scale).
        let caption = 9 * self.title().chars().count() as u32 + 150;
        let w = (260 + 150 * self.x_labels.len() as u32)
            .max(640)
            .max(caption);
        let h = (170 + 60 * self.y_labels.len() as u32).max(360);
        (w, h)
    }

    /// Draws the heatmap onto `root`.
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<()>
    where
        DB::ErrorType: 'static,
    {
        register_fonts();
        root.fill(&WHITE).map_err(plot_err)?;
        let (w, _) = root.dim_in_pixel();
        let (main, _) = root.split_horizontally(w.saturating_sub(110));
        let (nx, ny) = (self.x_labels.len().max(1), self.y_labels.len().max(1));
        let mut chart = ChartBuilder::on(&main)
            .caption(self.title(), ("sans-serif", 17))
            .margin(12)
            .x_label_area_size(55)
            .y_label_area_size(90)
            .build_cartesian_2d(0.0..nx as f64, 0.0..ny as f64)
            .map_err(plot_err)?;
        let means: Vec<f64> = self.grid.iter().flatten().filter_map(|a| a.mean).collect();
        let lo = means.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = means.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let hi = if hi > lo { hi } else { lo + 1e-9 };
        let grey = RGBColor(200, 200, 200);
        for (j, row) in self.grid.iter().enumerate() {
            for (i, a) in row.iter().enumerate() {
                let rect = [(i as f64, j as f64), (i as f64 + 1.0, j as f64 + 1.0)];
                let t = a.mean.map(|m| ((m - lo) / (hi - lo)).clamp(0.0, 1.0));
                if let Some(m) = a.mean {
                    let c = ViridisRGB::get_color_normalized(m, lo, hi);
                    chart
                        .draw_series(std::iter::once(Rectangle::new(rect, c.filled())))
                        .map_err(plot_err)?;
                }
                chart
                    .draw_series(std::iter::once(Rectangle::new(rect, grey.stroke_width(1))))
                    .map_err(plot_err)?;
                let colour = match t {
                    Some(t) if t < 0.55 => WHITE,
                    Some(_) => BLACK,
                    None => RGBColor(120, 120, 120),
                };
                let style = ("sans-serif", 13)
                    .into_font()
                    .color(&colour)
                    .pos(Pos::new(HPos::Center, VPos::Center));
                let centre = (i as f64 + 0.5, j as f64 + 0.5);
                chart
                    .draw_series(std::iter::once(Text::new(self.cell_text(a), centre, style)))
                    .map_err(plot_err)?;
            }
        }
        let tick = ("sans-serif", 13).into_font().color(&BLACK);
        for (i, l) in self.x_labels.iter().enumerate() {
            let (px, py) = chart.backend_coord(&(i as f64 + 0.5, 0.0));
            root.draw(&Text::new(
                l.clone(),
                (px, py + 8),
                tick.pos(Pos::new(HPos::Center, VPos::Top)),
            ))
            .map_err(plot_err)?;
        }
        for (j, l) in self.y_labels.iter().enumerate() {
            let (px, py) = chart.backend_coord(&(0.0, j as f64 + 0.5));
            root.draw(&Text::new(
                l.clone(),
                (px - 8, py),
                tick.pos(Pos::new(HPos::Right, VPos::Center)),
            ))
            .map_err(plot_err)?;
        }
        let desc = ("sans-serif", 15).into_font().color(&BLACK);
        let (x0, y0) = chart.backend_coord(&(0.0, 0.0));
        let (x1, y1) = chart.backend_coord(&(nx as f64, ny as f64));
        root.draw(&Text::new(
            self.x_key.clone(),
            ((x0 + x1) / 2, y0 + 30),
            desc.pos(Pos::new(HPos::Center, VPos::Top)),
        ))
        .map_err(plot_err)?;
        root.draw(&Text::new(
            self.y_key.clone(),
            (12, (y0 + y1) / 2),
            desc.transform(FontTransform::Rotate270)
                .pos(Pos::new(HPos::Center, VPos::Top)),
        ))
        .map_err(plot_err)?;
        // Colour bar: the scale of the means, right of the grid.
        if !means.is_empty() {
            let (bx, top, bottom) = (w as i32 - 95, y1, y0);
            let steps = 64;
            for s in 0..steps {
                let v = lo + (hi - lo) * (s as f64 + 0.5) / steps as f64;
                let ya = bottom - (bottom - top) * s / steps;
                let yb = bottom - (bottom - top) * (s + 1) / steps;
                root.draw(&Rectangle::new(
                    [(bx, yb), (bx + 18, ya)],
                    ViridisRGB::get_color_normalized(v, lo, hi).filled(),
                ))
                .map_err(plot_err)?;
            }
            let d = self.digits();
            for (v, y) in [(lo, bottom), (hi, top)] {
                root.draw(&Text::new(
                    format!("{v:.d$}"),
                    (bx + 24, y),
                    tick.pos(Pos::new(HPos::Left, VPos::Center)),
                ))
                .map_err(plot_err)?;
            }
        }
        root.present().map_err(plot_err)?;
        Ok(())
    }

    /// Writes `<stem>.png` and `<stem>.svg` into `dir` (each written to a temporary file and
    /// renamed into place). Returns the two paths.
    pub fn write(&self, dir: &Path) -> Result<[PathBuf; 2]> {
        std::fs::create_dir_all(dir).map_err(crate::error::io_err(dir))?;
        let stem = self.file_stem();
        let png = dir.join(format!("{stem}.png"));
        crate::io::write_via_temp(&png, |tmp| {
            self.draw(&BitMapBackend::new(tmp, self.size()).into_drawing_area())
        })?;
        let svg = dir.join(format!("{stem}.svg"));
        let mut text = String::new();
        {
            let root = SVGBackend::with_string(&mut text, self.size()).into_drawing_area();
            self.draw(&root)?;
        }
        crate::io::write_atomic(&svg, text.as_bytes())?;
        Ok([png, svg])
    }
}

fn aggregate(of: usize, vals: &[f64]) -> Aggregate {
    let n = vals.len();
    let mean = (n > 0).then(|| vals.iter().sum::<f64>() / n as f64);
    let sd = (n > 1).then(|| {
        let m = mean.unwrap_or(0.0);
        (vals.iter().map(|v| (v - m).powi(2)).sum::<f64>() / (n - 1) as f64).sqrt()
    });
    Aggregate { n, of, mean, sd }
}

/// Computes and writes the heatmap `spec` asks for from the sweep's rows into
/// `<sweep>/figures/`.
pub fn write_heatmap(
    sweep: &Sweep,
    rows: &[ResultRow],
    spec: &HeatmapSpec,
) -> Result<(Heatmap, [PathBuf; 2])> {
    let hm = Heatmap::compute(rows, &sweep.axis_keys, spec)?;
    let paths = hm.write(&sweep.dir.join(FIGURES_DIR))?;
    Ok((hm, paths))
}
