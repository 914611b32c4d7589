//! The sweep spec (TOML) and its expansion into cells.
//!
//! ```toml
//! name = "density-width"        # optional; default: the spec file's stem
//! base = "quick"                # a preset, or base_file = "my.toml" (relative to the spec)
//!
//! [set]                         # fixed overrides, applied to every cell
//! "train.steps" = 800
//!
//! [axes]                        # one list per key; the first axis varies slowest
//! "data.sigma" = [1.0, 1.5, 2.0]
//! "train.seed" = [0, 1]
//!
//! [[zip]]                       # keys that vary together (lists of equal length)
//! "data.dx" = [1.0, 2.0]
//! "data.dy" = [1.0, 2.0]
//! ```
//!
//! Keys are configuration key paths as `--set` takes them. A quoted key with dots is one path;
//! unquoted nested tables (`[set.train] steps = 800`) are flattened into paths down to the first
//! value that is not a table (under `[axes]` and `[[zip]]`: down to the first list). To set a
//! table-valued key as a whole, quote its path: `"train.decay" = { cosine = { min_ratio = 0.1 } }`.

use super::cell::{axis_label, cell_id, Cell};
use crate::config::{ExperimentConfig, Override, Preset};
use crate::error::io_err;
use crate::{Error, Result};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Where a sweep's cells start from.
#[derive(Debug, Clone, PartialEq)]
pub enum Base {
    /// A built-in preset (`base = "quick"`).
    Preset(Preset),
    /// A configuration file (`base_file = "…"`), resolved against the spec's directory.
    File(PathBuf),
}

/// One dimension of the grid: a single key, or several keys zipped together.
#[derive(Debug, Clone, PartialEq)]
pub struct Axis {
    /// The configuration key paths (one for a plain axis, several for a `[[zip]]` group).
    pub keys: Vec<String>,
    /// The grid's points along this axis: `points[j][k]` is the value of `keys[k]` at point `j`.
    pub points: Vec<Vec<toml::Value>>,
}

/// A parsed sweep spec (see the module docs for the format).
#[derive(Debug, Clone, PartialEq)]
pub struct SweepSpec {
    /// Name of the sweep.
    pub name: String,
    /// The base configuration.
    pub base: Base,
    /// Fixed overrides applied to every cell before its axis values.
    pub set: Vec<Override>,
    /// The grid's dimensions, in expansion order (`[axes]` in file order, then each `[[zip]]`).
    pub axes: Vec<Axis>,
    /// The spec's text, as read (copied into the sweep directory).
    pub text: String,
}

/// The spec file's keys (anything else is an error naming the key).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSpec {
    name: Option<String>,
    description: Option<String>,
    base: Option<String>,
    base_file: Option<PathBuf>,
    #[serde(default)]
    set: toml::Table,
    #[serde(default)]
    axes: toml::Table,
    #[serde(default)]
    zip: Vec<toml::Table>,
}

/// Flattens `table` into `(path, value)` pairs: a key containing a dot is a whole path, a nested
/// table is descended into unless `is_leaf` says its value is one.
fn flatten(
    prefix: &str,
    table: &toml::Table,
    is_leaf: &dyn Fn(&toml::Value) -> bool,
    out: &mut Vec<(String, toml::Value)>,
) {
    for (k, v) in table {
        let path = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        match v {
            toml::Value::Table(t) if !k.contains('.') && !is_leaf(v) => {
                flatten(&path, t, is_leaf, out)
            }
            _ => out.push((path, v.clone())),
        }
    }
}

fn spec_err(what: &str, message: impl std::fmt::Display) -> Error {
    Error::Config(format!("sweep spec {what}: {message}"))
}

/// Checks a key path and turns it into an [`Override`] (the override parser's own checks).
fn to_override(section: &str, key: &str, value: toml::Value) -> Result<Override> {
    let path: Vec<String> = key.split('.').map(|p| p.trim().to_string()).collect();
    if path.iter().any(String::is_empty) {
        return Err(spec_err(
            section,
            format!("key `{key}` has an empty part; write path.to.key"),
        ));
    }
    Ok(Override { path, value })
}

/// The values of one `[axes]` key or `[[zip]]` key: a non-empty list.
fn axis_values(section: &str, key: &str, value: toml::Value) -> Result<Vec<toml::Value>> {
    match value {
        toml::Value::Array(a) if !a.is_empty() => Ok(a),
        toml::Value::Array(_) => Err(spec_err(
            section,
            format!("`{key}` has no values; give at least one"),
        )),
        other => Err(spec_err(
            section,
            format!(
                "`{key}` must be a list of values, e.g. `\"{key}\" = [..]`, got a {}",
                other.type_str()
            ),
        )),
    }
}

/// The most cells one sweep may have (far beyond what a cluster runs; the bound keeps a
/// mistyped spec from expanding without end).
pub const MAX_CELLS: usize = 10_000;

impl SweepSpec {
    /// Reads a spec file; a `base_file` is resolved against the file's directory.
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(io_err(path))?;
        let stem = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "sweep".into());
        let dir = path.parent().unwrap_or_else(|| Path::new(""));
        Self::parse(&text, &stem, dir).map_err(|e| match e {
            Error::Config(m) => Error::Config(format!("{}: {m}", path.display())),
            e => e,
        })
    }

    /// Parses a spec's text. `default_name` names the sweep when the spec has no `name`;
    /// `dir` is where a relative `base_file` is looked for.
    pub fn parse(text: &str, default_name: &str, dir: &Path) -> Result<Self> {
        let value: toml::Value =
            toml::from_str(text).map_err(|e| spec_err("syntax", e.message().trim_end()))?;
        let raw: RawSpec = serde_path_to_error::deserialize(value).map_err(|e| {
            let path = e.path().to_string();
            let inner = e.into_inner().to_string();
            let inner = inner.lines().next().unwrap_or_default().to_string();
            if path.is_empty() || path == "." {
                spec_err("", inner)
            } else {
                spec_err("", format!("key `{path}`: {inner}"))
            }
        })?;
        let _ = raw.description;
        let base = match (raw.base, raw.base_file) {
            (Some(p), None) => Base::Preset(p.parse()?),
            (None, Some(f)) => Base::File(if f.is_absolute() { f } else { dir.join(f) }),
            (Some(_), Some(_)) => {
                return Err(spec_err(
                    "",
                    "give either `base` (a preset) or `base_file`, not both",
                ))
            }
            (None, None) => {
                return Err(spec_err(
                    "",
                    "needs a base configuration: `base = \"quick\"` (a preset) or \
                     `base_file = \"path.toml\"`",
                ))
            }
        };
        let name = raw.name.unwrap_or_else(|| default_name.to_string());
        if !crate::config::is_plain_name(&name) {
            return Err(spec_err(
                "name",
                format!("must be letters, digits, '-' or '_', got {name:?}"),
            ));
        }

        let mut seen: BTreeMap<String, String> = BTreeMap::new();
        let mut claim = |key: &str, section: &str| -> Result<()> {
            if let Some(first) = seen.insert(key.to_string(), section.to_string()) {
                return Err(spec_err(
                    section,
                    format!("key `{key}` is already given in {first}; give each key once"),
                ));
            }
            Ok(())
        };

        let mut set = Vec::new();
        let mut flat = Vec::new();
        flatten("", &raw.set, &|_| false, &mut flat);
        for (k, v) in flat {
            claim(&k, "[set]")?;
            set.push(to_override("[set]", &k, v)?);
        }

        let is_list = |v: &toml::Value| v.is_array();
        let mut axes = Vec::new();
        let mut flat = Vec::new();
        flatten("", &raw.axes, &is_list, &mut flat);
        for (k, v) in flat {
            claim(&k, "[axes]")?;
            to_override("[axes]", &k, toml::Value::Boolean(false))?;
            let values = axis_values("[axes]", &k, v)?;
            axes.push(Axis {
                keys: vec![k],
                points: values.into_iter().map(|v| vec![v]).collect(),
            });
        }
        for (g, group) in raw.zip.iter().enumerate() {
            let section = format!("[[zip]] #{}", g + 1);
            let mut flat = Vec::new();
            flatten("", group, &is_list, &mut flat);
            if flat.is_empty() {
                return Err(spec_err(&section, "is empty; give at least one key"));
            }
            let mut keys = Vec::new();
            let mut columns = Vec::new();
            for (k, v) in flat {
                claim(&k, &section)?;
                to_override(&section, &k, toml::Value::Boolean(false))?;
                columns.push(axis_values(&section, &k, v)?);
                keys.push(k);
            }
            let len = columns[0].len();
            if let Some(i) = columns.iter().position(|c| c.len() != len) {
                return Err(spec_err(
                    &section,
                    format!(
                        "zipped lists must have equal lengths: `{}` has {len} values, `{}` has {}",
                        keys[0],
                        keys[i],
                        columns[i].len()
                    ),
                ));
            }
            let points = (0..len)
                .map(|j| columns.iter().map(|c| c[j].clone()).collect())
                .collect();
            axes.push(Axis { keys, points });
        }
        // The grid's size is checked here, before anything is allocated per cell: a spec of a
        // few lines can describe more cells than memory holds (or than usize counts).
        let mut cells: usize = 1;
        for a in &axes {
            cells = cells
                .checked_mul(a.points.len())
                .filter(|&c| c <= MAX_CELLS)
                .ok_or_else(|| {
                    spec_err(
                        "axes",
                        format!(
                            "the grid has more than {MAX_CELLS} cells (the product of the axis \
                             lengths {}); split the sweep into several specs",
                            axes.iter()
                                .map(|a| a.points.len().to_string())
                                .collect::<Vec<_>>()
                                .join(" × ")
                        ),
                    )
                })?;
        }
        Ok(Self {
            name,
            base,
            set,
            axes,
            text: text.to_string(),
        })
    }

    /// The base configuration (the preset, or the file read and validated).
    pub fn base_config(&self) -> Result<ExperimentConfig> {
        match &self.base {
            Base::Preset(p) => Ok(p.config()),
            Base::File(f) => ExperimentConfig::load(f),
        }
    }

    /// Every axis key, in expansion order (zipped keys one after another).
    pub fn axis_keys(&self) -> Vec<String> {
        self.axes.iter().flat_map(|a| a.keys.clone()).collect()
    }

    /// Number of cells of the full grid.
    pub fn cell_count(&self) -> usize {
        self.axes.iter().map(|a| a.points.len()).product()
    }

    /// Expands the grid into validated cells (the first axis varies slowest). Every invalid
    /// cell is reported, with the axis values that made it, in one [`Error::Config`]; so are
    /// cells that expand to the same configuration.
    pub fn expand(&self) -> Result<Vec<Cell>> {
        let base = self.base_config()?;
        let keys = self.axis_keys();
        let labels = axis_labels(&keys);
        let total = self.cell_count();
        let mut cells = Vec::with_capacity(total);
        let mut problems = Vec::new();
        for index in 0..total {
            // Mixed radix, last axis fastest.
            let mut rest = index;
            let mut picks = vec![0usize; self.axes.len()];
            for (a, axis) in self.axes.iter().enumerate().rev() {
                picks[a] = rest % axis.points.len();
                rest /= axis.points.len();
            }
            let mut overrides = self.set.clone();
            let mut values = Vec::new();
            for (axis, &j) in self.axes.iter().zip(&picks) {
                for (key, v) in axis.keys.iter().zip(&axis.points[j]) {
                    overrides.push(Override {
                        path: key.split('.').map(str::to_string).collect(),
                        value: v.clone(),
                    });
                    values.push((key.clone(), v.clone()));
                }
            }
            let described = describe_values(&values);
            let mut cfg = base.clone();
            match cfg.apply_overrides(&overrides) {
                Ok(()) => {
                    let prefix = values
                        .iter()
                        .map(|(k, v)| axis_label(&labels[k], v))
                        .collect::<Vec<_>>()
                        .join("_");
                    let id = cell_id(&prefix, &cfg)?;
                    let axes = values
                        .into_iter()
                        .map(|(k, v)| Ok((k, serde_json::to_value(v)?)))
                        .collect::<Result<BTreeMap<_, _>>>()?;
                    cells.push(Cell {
                        index,
                        id,
                        axes,
                        config: cfg,
                    });
                }
                Err(e) => problems.push(format!("  cell {index} ({described}): {e}")),
            }
        }
        if problems.is_empty() {
            let mut by_id: BTreeMap<&str, usize> = BTreeMap::new();
            for c in &cells {
                if let Some(first) = by_id.insert(&c.id, c.index) {
                    problems.push(format!(
                        "  cells {first} and {} expand to the same configuration (id {}); \
                         remove the repeated axis value",
                        c.index, c.id
                    ));
                }
            }
        }
        if !problems.is_empty() {
            return Err(Error::Config(format!(
                "sweep `{}`: {} of {total} cells are invalid:\n{}",
                self.name,
                problems.len(),
                problems.join("\n")
            )));
        }
        Ok(cells)
    }
}

/// `key = value, key = value`.
fn describe_values(values: &[(String, toml::Value)]) -> String {
    values
        .iter()
        .map(|(k, v)| format!("{k} = {v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The short name of each axis key in cell ids: its last path part, or the whole path (dots
/// as `-`) where two keys share a last part.
fn axis_labels(keys: &[String]) -> BTreeMap<String, String> {
    let last = |k: &str| k.rsplit('.').next().unwrap_or(k).to_string();
    keys.iter()
        .map(|k| {
            let short = last(k);
            let shared = keys.iter().filter(|o| last(o) == short).count() > 1;
            let label = if shared { k.replace('.', "-") } else { short };
            (k.clone(), label)
        })
        .collect()
}
