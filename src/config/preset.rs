//! The built-in presets: TOML files under `configs/`, embedded in the library so that
//! `--preset quick` needs no file on disk.

use super::ExperimentConfig;
use crate::{Error, Result};
use std::fmt;
use std::str::FromStr;

/// A built-in starting configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Preset {
    /// `configs/quick.toml`: the whole A → B → C story on a 2-core CPU in about a quarter of an
    /// hour (a 272 k-parameter UNet, v-prediction, σ = 1.5, 1,200 steps).
    Quick,
    /// `configs/paper.toml`: the paper-scale model and data, for a GPU or a long CPU run.
    Paper,
    /// `configs/imbalance.toml`: the imbalance experiment (3 datasets × 3 seeds of the quick
    /// model) on a 2-core CPU in about two hours.
    Imbalance,
    /// `configs/imbalance-paper.toml`: the imbalance experiment at paper scale, for a GPU.
    ImbalancePaper,
    /// `configs/compose.toml`: the follow-up's held-out composition experiment (3 regions × 3
    /// seeds of the quick model) on a 2-core CPU.
    Compose,
    /// `configs/compose-paper.toml`: the composition experiment at paper scale, for a GPU.
    ComposePaper,
    /// `configs/torus.toml`: the follow-up's periodic-bump torus experiment (3 seeds of the quick
    /// model) on a 2-core CPU.
    Torus,
    /// `configs/torus-paper.toml`: the torus experiment at paper scale, for a GPU.
    TorusPaper,
    /// `configs/stripes.toml`: the follow-up's data-efficiency experiment (stripes plus a
    /// fraction of 2D bumps; 5 fractions × 2 seeds of the quick model) on a 2-core CPU.
    Stripes,
    /// `configs/stripes-paper.toml`: the data-efficiency experiment at paper scale, for a GPU.
    StripesPaper,
}

impl Preset {
    /// Every preset, in the order `--help` lists them.
    pub const ALL: [Preset; 10] = [
        Preset::Quick,
        Preset::Paper,
        Preset::Imbalance,
        Preset::ImbalancePaper,
        Preset::Compose,
        Preset::ComposePaper,
        Preset::Torus,
        Preset::TorusPaper,
        Preset::Stripes,
        Preset::StripesPaper,
    ];

    /// The preset's name (`quick`, `paper`), also its file stem under `configs/`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Quick => "quick",
            Self::Paper => "paper",
            Self::Imbalance => "imbalance",
            Self::ImbalancePaper => "imbalance-paper",
            Self::Compose => "compose",
            Self::ComposePaper => "compose-paper",
            Self::Torus => "torus",
            Self::TorusPaper => "torus-paper",
            Self::Stripes => "stripes",
            Self::StripesPaper => "stripes-paper",
        }
    }

    /// The embedded TOML text of the preset (the file under `configs/`, comments included).
    pub fn toml(self) -> &'static str {
        match self {
            Self::Quick => include_str!("../../configs/quick.toml"),
            Self::Paper => include_str!("../../configs/paper.toml"),
            Self::Imbalance => include_str!("../../configs/imbalance.toml"),
            Self::ImbalancePaper => include_str!("../../configs/imbalance-paper.toml"),
            Self::Compose => include_str!("../../configs/compose.toml"),
            Self::ComposePaper => include_str!("../../configs/compose-paper.toml"),
            Self::Torus => include_str!("../../configs/torus.toml"),
            Self::TorusPaper => include_str!("../../configs/torus-paper.toml"),
            Self::Stripes => include_str!("../../configs/stripes.toml"),
            Self::StripesPaper => include_str!("../../configs/stripes-paper.toml"),
        }
    }

    /// The preset as a configuration.
    ///
    /// The embedded files are parsed and validated by this crate's tests
    /// (`every_preset_parses_validates_and_round_trips`), so parsing cannot fail at run time.
    pub fn config(self) -> ExperimentConfig {
        match ExperimentConfig::from_toml_str(self.toml()) {
            Ok(cfg) => cfg,
            // Unreachable for a tested build; a clear message beats a silent default.
            Err(e) => panic!(
                "embedded preset configs/{}.toml is invalid: {e}",
                self.name()
            ),
        }
    }
}

impl fmt::Display for Preset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Preset {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        Self::ALL
            .into_iter()
            .find(|p| p.name() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = Self::ALL.iter().map(|p| p.name()).collect();
                Error::Config(format!(
                    "unknown preset `{s}`; expected one of: {}",
                    names.join(", ")
                ))
            })
    }
}
