//! The command line every experiment entry point shares.
//!
//! Flatten [`ExperimentArgs`] into an example's own clap parser and call
//! [`ExperimentArgs::resolve`]: it builds the configuration (preset or `--config FILE`, then the
//! shorthand flags, then `--set key=value` overrides, in that order), validates it, and only then
//! decides the output directory and opens the device. Nothing is written before the
//! configuration validates.
//!
//! ```
//! use bump_ddpm::cli::ExperimentArgs;
//! use clap::Parser;
//!
//! #[derive(Parser)]
//! struct Args {
//!     #[command(flatten)]
//!     experiment: ExperimentArgs,
//! }
//!
//! let args = Args::parse_from(["my_experiment", "--set", "data.sigma=2.0", "--steps", "600"]);
//! let resolved = args.experiment.resolve()?;
//! assert_eq!(resolved.config.train.steps, 600);
//! # Ok::<(), bump_ddpm::Error>(())
//! ```

use crate::config::{ExperimentConfig, Override, Preset};
use crate::run_dir::{RunDir, RunFile};
use crate::train::RunOptions;
use crate::{Error, Result};
use bump_unet::DeviceKind;
use std::path::PathBuf;
use std::process::ExitCode;

/// Flags shared by every experiment entry point.
#[derive(Debug, Clone, clap::Args)]
pub struct ExperimentArgs {
    /// Starting configuration: a built-in preset (quick, paper, imbalance, compose, torus,
    /// stripes, and their paper-scale versions imbalance-paper, compose-paper, torus-paper,
    /// stripes-paper);
    /// default: the entry point's own (quick for phase_sweep, imbalance for imbalance).
    #[arg(long, conflicts_with = "config")]
    pub preset: Option<Preset>,
    /// Starting configuration: a complete TOML or JSON file (e.g. configs/quick.toml).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Override one setting, e.g. `--set data.sigma=2.0 --set train.steps=600` (repeatable;
    /// applied after the shorthand flags). `--print-config` lists every key.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<Override>,
    /// Print the merged configuration as TOML and exit.
    #[arg(long)]
    pub print_config: bool,
    /// Output directory (default: `runs/<name>-<unix time>`).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Continue the run in --out from its newest checkpoint. Without --config its saved
    /// config.json is the starting configuration.
    #[arg(long)]
    pub resume: bool,
    /// Compute device: `cpu`, `cuda[:N]` or `metal[:N]`.
    #[arg(long, default_value = "cpu")]
    pub device: DeviceKind,
    /// Shorthands for common overrides.
    #[command(flatten)]
    pub shorthands: Shorthands,
}

/// A flag that stands for one `--set` override.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shorthand {
    /// The long flag, without `--`.
    pub flag: &'static str,
    /// The configuration key it sets.
    pub key: &'static str,
    /// `--help` text.
    pub help: &'static str,
}

impl Shorthand {
    const fn new(flag: &'static str, key: &'static str, help: &'static str) -> Self {
        Self { flag, key, help }
    }
}

/// Every shorthand flag (kept from before config files existed), in the order they are applied.
#[rustfmt::skip]
pub const SHORTHANDS: [Shorthand; 10] = [
    Shorthand::new("steps", "train.steps", "Optimiser updates"),
    Shorthand::new("batch", "train.batch", "Images per update"),
    Shorthand::new("lr", "train.lr", "Peak learning rate"),
    Shorthand::new("seed", "train.seed", "Master seed: weights, data order, noise"),
    Shorthand::new("sigma", "data.sigma", "Bump width σ in pixels"),
    Shorthand::new("dx", "data.dx", "Centre spacing along x"),
    Shorthand::new("dy", "data.dy", "Centre spacing along y"),
    Shorthand::new("sampler", "eval.sampler.kind", "Evaluation sampler: ddpm, ddim or dpmpp"),
    Shorthand::new("sample-steps", "eval.sampler.steps", "Evaluation sampler steps"),
    Shorthand::new("eval-every", "train.checkpoints.every", "Also evaluate every this many steps"),
];

/// The values given to the [`SHORTHANDS`] flags, as `key=value` overrides.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Shorthands {
    given: Vec<Override>,
}

impl Shorthands {
    /// The overrides these flags stand for, in [`SHORTHANDS`] order. Values are checked when
    /// the configuration is built, with errors naming the key.
    pub fn overrides(&self) -> Vec<Override> {
        self.given.clone()
    }
}

impl clap::FromArgMatches for Shorthands {
    fn from_arg_matches(matches: &clap::ArgMatches) -> std::result::Result<Self, clap::Error> {
        let mut out = Self::default();
        out.update_from_arg_matches(matches)?;
        Ok(out)
    }

    fn update_from_arg_matches(
        &mut self,
        matches: &clap::ArgMatches,
    ) -> std::result::Result<(), clap::Error> {
        self.given.clear();
        for s in SHORTHANDS {
            if let Some(raw) = matches.get_one::<String>(s.flag) {
                // `dpmpp` is the flag's short name for the sampler kind `dpm_solver_pp2m`.
                let value = if s.flag == "sampler" && raw == "dpmpp" {
                    "dpm_solver_pp2m"
                } else {
                    raw.as_str()
                };
                let o = format!("{}={value}", s.key)
                    .parse::<Override>()
                    .map_err(|e| {
                        clap::Error::raw(clap::error::ErrorKind::InvalidValue, e.to_string())
                    })?;
                self.given.push(o);
            }
        }
        Ok(())
    }
}

impl clap::Args for Shorthands {
    fn augment_args(mut cmd: clap::Command) -> clap::Command {
        for s in SHORTHANDS {
            let mut arg = clap::Arg::new(s.flag)
                .long(s.flag)
                .value_name("VALUE")
                .help(format!("{} (`--set {}=VALUE`)", s.help, s.key));
            if s.flag == "sampler" {
                arg = arg.value_parser(["ddpm", "ddim", "dpmpp"]);
            }
            cmd = cmd.arg(arg);
        }
        cmd
    }

    fn augment_args_for_update(cmd: clap::Command) -> clap::Command {
        Self::augment_args(cmd)
    }
}

/// A validated configuration and where and how to run it.
#[derive(Debug, Clone)]
pub struct Resolved {
    /// The merged, validated configuration.
    pub config: ExperimentConfig,
    /// The run directory (`--out`, or `runs/<name>-<unix time>`).
    pub out: PathBuf,
    /// `--resume`.
    pub resume: bool,
    /// `--device`.
    pub device: DeviceKind,
    /// `--print-config`.
    pub print_config: bool,
}

impl ExperimentArgs {
    /// The starting configuration: `--config FILE`, the saved `config.json` of a resumed run,
    /// or the preset (`--preset`, else `quick`).
    pub fn base_config(&self) -> Result<ExperimentConfig> {
        self.base_config_or(Preset::Quick)
    }

    /// [`Self::base_config`] with `default` as the preset when `--preset` is not given.
    pub fn base_config_or(&self, default: Preset) -> Result<ExperimentConfig> {
        if let Some(path) = &self.config {
            return ExperimentConfig::load(path);
        }
        if self.resume {
            if let Some(out) = &self.out {
                let run = RunDir::new(out);
                if run.path(RunFile::Config).exists() {
                    return run.read_config();
                }
            }
        }
        Ok(self.preset.unwrap_or(default).config())
    }

    /// Every override in the order it is applied: shorthand flags, then `--set`.
    pub fn overrides(&self) -> Vec<Override> {
        let mut all = self.shorthands.overrides();
        all.extend(self.set.iter().cloned());
        all
    }

    /// Builds and validates the configuration, then the output directory. Writes nothing.
    /// Without `--preset` or `--config` the starting point is `quick`.
    pub fn resolve(&self) -> Result<Resolved> {
        self.resolve_for(Preset::Quick)
    }

    /// [`Self::resolve`] for an entry point whose own preset is `default` (used when neither
    /// `--preset` nor `--config` is given).
    pub fn resolve_for(&self, default: Preset) -> Result<Resolved> {
        let mut config = self.base_config_or(default)?;
        // Every base is validated when read (file, saved run, embedded preset), and
        // `apply_overrides` validates what it changes.
        config.apply_overrides(&self.overrides())?;
        if self.resume && self.out.is_none() {
            return Err(Error::Config(
                "--resume needs --out DIR (the run to continue)".into(),
            ));
        }
        let out = self.out.clone().unwrap_or_else(|| {
            let secs = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0);
            PathBuf::from("runs").join(format!("{}-{secs}", config.name))
        });
        Ok(Resolved {
            config,
            out,
            resume: self.resume,
            device: self.device,
            print_config: self.print_config,
        })
    }
}

impl Resolved {
    /// Run options for [`crate::train::run`]: opens the device (an uncompiled backend is an
    /// error naming the feature to enable).
    pub fn run_options(&self) -> Result<RunOptions> {
        let mut opts = RunOptions::new(&self.out);
        opts.resume = self.resume;
        opts.device = bump_unet::device(self.device)?;
        Ok(opts)
    }

    /// Prints the configuration as TOML when `--print-config` was given; returns whether it did
    /// (the caller then exits).
    pub fn print_config_if_asked(&self) -> Result<bool> {
        if self.print_config {
            print!("{}", self.config.to_toml_string()?);
        }
        Ok(self.print_config)
    }
}

/// Turns an entry point's result into its exit status, printing the error on stderr.
pub fn exit_code<E: std::fmt::Display>(result: std::result::Result<(), E>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
