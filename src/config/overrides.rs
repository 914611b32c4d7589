//! Reading and writing configurations (TOML, JSON) and `path.to.key=value` overrides.
//!
//! Every reader goes through `serde_path_to_error`, so a wrong type or an unknown key is reported
//! with its full path (`data.sigam`, `train.steps`), and every result is validated before it is
//! returned.

use super::ExperimentConfig;
use crate::error::io_err;
use crate::{Error, Result};
use serde::de::DeserializeOwned;
use std::fmt;
use std::path::Path;
use std::str::FromStr;

/// One `path.to.key=value` override.
///
/// The value is read as a TOML value (`2.0`, `600`, `true`, `[1, 2]`, `{ x = 1.0, y = 2.0 }`,
/// `"text"`); anything that is not valid TOML is taken as a bare string, so `eval.weights=ema`
/// works without quotes. Array elements are addressed by index (`data.mix.0.lambda=0.1`).
#[derive(Debug, Clone, PartialEq)]
pub struct Override {
    /// The key path, split at dots.
    pub path: Vec<String>,
    /// The value to put there.
    pub value: toml::Value,
}

impl Override {
    /// The dotted key path, as the user wrote it.
    pub fn key(&self) -> String {
        self.path.join(".")
    }
}

impl fmt::Display for Override {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}={}", self.key(), self.value)
    }
}

impl FromStr for Override {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        let (key, raw) = s.split_once('=').ok_or_else(|| {
            Error::Config(format!(
                "override `{s}` has no `=`; write path.to.key=value, e.g. data.sigma=2.0"
            ))
        })?;
        let key = key.trim();
        let path: Vec<String> = key.split('.').map(|p| p.trim().to_string()).collect();
        if path.iter().any(|p| p.is_empty()) {
            return Err(Error::Config(format!(
                "override `{s}`: the key `{key}` has an empty part; write path.to.key=value"
            )));
        }
        let raw = raw.trim();
        let value = match toml::from_str::<toml::Table>(&format!("v = {raw}")) {
            Ok(mut t) => t
                .remove("v")
                .unwrap_or_else(|| toml::Value::String(raw.into())),
            Err(_) => toml::Value::String(raw.into()),
        };
        Ok(Self { path, value })
    }
}

/// Deserialises `T` from any serde deserializer, naming the failing key path.
fn from_deserializer<'de, T, D>(what: &str, de: D) -> Result<T>
where
    T: DeserializeOwned,
    D: serde::Deserializer<'de>,
    D::Error: fmt::Display,
{
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        // Some deserializers append their own location lines ("in `data`"); the path says it.
        let inner = e.into_inner().to_string();
        let inner = inner.lines().next().unwrap_or_default().to_string();
        if path.is_empty() || path == "." {
            Error::Config(format!("{what}: {inner}"))
        } else {
            Error::Config(format!("{what}: key `{path}`: {inner}"))
        }
    })
}

impl ExperimentConfig {
    /// Parses and validates a TOML configuration.
    pub fn from_toml_str(text: &str) -> Result<Self> {
        let value: toml::Value = toml::from_str(text)
            .map_err(|e| Error::Config(format!("TOML syntax: {}", e.message())))?;
        Self::from_toml_value("configuration", value)
    }

    /// Parses and validates a JSON configuration.
    pub fn from_json_str(text: &str) -> Result<Self> {
        let mut de = serde_json::Deserializer::from_str(text);
        let cfg: Self = from_deserializer("configuration", &mut de)?;
        de.end()
            .map_err(|e| Error::Config(format!("configuration: {e}")))?;
        cfg.validate()?;
        Ok(cfg)
    }

    fn from_toml_value(what: &str, value: toml::Value) -> Result<Self> {
        let cfg: Self = from_deserializer(what, value)?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// The configuration as TOML (every key written; the format of `configs/*.toml`).
    pub fn to_toml_string(&self) -> Result<String> {
        toml::to_string(self).map_err(|e| Error::Config(format!("TOML output: {e}")))
    }

    /// The configuration as pretty-printed JSON (the format of a run's `config.json`).
    pub fn to_json_string(&self) -> Result<String> {
        Ok(serde_json::to_string_pretty(self)?)
    }

    /// Reads and validates a configuration file: `.toml` or `.json`, by extension.
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(io_err(path))?;
        let parsed = match path.extension().and_then(|e| e.to_str()) {
            Some("toml") => Self::from_toml_str(&text),
            Some("json") => Self::from_json_str(&text),
            other => {
                return Err(Error::Config(format!(
                    "{}: unknown configuration format {:?}; expected a .toml or .json file",
                    path.display(),
                    other.unwrap_or("")
                )))
            }
        };
        parsed.map_err(|e| Error::Config(format!("{}: {e}", path.display())))
    }

    /// Writes the configuration (atomically) as `.toml` or `.json`, by extension.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        let text = match path.extension().and_then(|e| e.to_str()) {
            Some("toml") => self.to_toml_string()?,
            Some("json") => self.to_json_string()?,
            _ => {
                return Err(Error::Config(format!(
                    "{}: expected a .toml or .json file name",
                    path.display()
                )))
            }
        };
        crate::io::write_atomic(path, text.as_bytes())
    }

    /// Applies `overrides` in order and validates the result. Unknown keys, wrong types and
    /// out-of-range values are errors naming the key; `self` is left unchanged on error.
    pub fn apply_overrides(&mut self, overrides: &[Override]) -> Result<()> {
        if overrides.is_empty() {
            return Ok(());
        }
        let mut tree = toml::Value::try_from(&*self)
            .map_err(|e| Error::Config(format!("cannot represent the configuration: {e}")))?;
        for o in overrides {
            set_path(&mut tree, o)?;
        }
        let keys: Vec<String> = overrides.iter().map(Override::key).collect();
        *self = Self::from_toml_value(&format!("--set {}", keys.join(", ")), tree)?;
        Ok(())
    }
}

/// Puts `o.value` at `o.path` inside `tree`, creating missing tables (so optional sections that
/// are absent can be set); deserialisation then rejects keys that do not exist.
fn set_path(tree: &mut toml::Value, o: &Override) -> Result<()> {
    let key = o.key();
    let mut node = tree;
    for (i, part) in o.path.iter().enumerate() {
        let last = i + 1 == o.path.len();
        let here = o.path[..i].join(".");
        node = match node {
            toml::Value::Table(t) => {
                if last {
                    t.insert(part.clone(), o.value.clone());
                    return Ok(());
                }
                t.entry(part.clone())
                    .or_insert_with(|| toml::Value::Table(toml::Table::new()))
            }
            toml::Value::Array(a) => {
                let idx: usize = part.parse().map_err(|_| {
                    Error::Config(format!(
                        "--set {key}: `{here}` is a list; address its elements by index (0..{})",
                        a.len()
                    ))
                })?;
                let len = a.len();
                let slot = a.get_mut(idx).ok_or_else(|| {
                    Error::Config(format!(
                        "--set {key}: `{here}` has {len} elements; index {idx} is out of range"
                    ))
                })?;
                if last {
                    *slot = o.value.clone();
                    return Ok(());
                }
                slot
            }
            other => {
                return Err(Error::Config(format!(
                    "--set {key}: `{here}` is a {} value, not a section with keys",
                    other.type_str()
                )))
            }
        };
    }
    Ok(())
}
