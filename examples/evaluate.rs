//! Re-evaluates the checkpoints of an existing run with another probe, sampler, evaluation grid
//! or classifier, without retraining. The new records, snapshots and report go to
//! `<run>/evaluations/<name>/`, beside the originals.
//!
//! ```sh
//! cargo run --release --example evaluate -- --run runs/quick-1700000000 --name dpm10 \
//!     --set eval.sampler.kind=dpm_solver_pp2m --set eval.sampler.steps=10
//! cargo run --release --example evaluate -- --run runs/x --name k8 --set eval.probe.samples=8 --steps 0,50,100
//! ```

use bump_ddpm::cli::exit_code;
use bump_ddpm::config::Override;
use bump_ddpm::reevaluate::{reevaluate, Reevaluation};
use bump_ddpm::run_dir::RunDir;
use bump_ddpm::unet::DeviceKind;
use clap::Parser;
use std::path::PathBuf;
use std::process::ExitCode;

#[global_allocator]
static GLOBAL: bump_ddpm::unet::alloc::MiMalloc = bump_ddpm::unet::alloc::MiMalloc;

/// Re-evaluate a run's checkpoints without retraining.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// The run directory whose checkpoints are evaluated.
    #[arg(long, value_name = "DIR")]
    run: PathBuf,
    /// Name of this evaluation: its outputs go to <run>/evaluations/<name>/.
    #[arg(long, default_value = "reeval")]
    name: String,
    /// Where to write instead of <run>/evaluations/<name>/.
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Change one evaluation setting, e.g. `--set eval.probe.samples=8` (repeatable; only
    /// `eval.*` keys: the checkpoints fix the model and data).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    set: Vec<Override>,
    /// Only these steps, comma-separated (default: every checkpoint).
    #[arg(long, value_delimiter = ',')]
    steps: Option<Vec<u64>>,
    /// Compute device: `cpu`, `cuda[:N]` or `metal[:N]`.
    #[arg(long, default_value = "cpu")]
    device: DeviceKind,
}

fn main() -> ExitCode {
    exit_code(real_main())
}

fn real_main() -> Result<(), Box<dyn std::error::Error>> {
    bump_ddpm::unet::alloc::keep_freed_memory();
    let args = Args::parse();
    if args.name.is_empty() || args.name.contains(['/', '\\']) {
        return Err(format!("--name must be a plain name, got {:?}", args.name).into());
    }
    let run = RunDir::new(&args.run);
    // Validate everything before writing anything.
    let cfg = bump_ddpm::reevaluate::reevaluation_config(&run, &args.set)?;
    let out = RunDir::new(
        args.out
            .unwrap_or_else(|| args.run.join("evaluations").join(&args.name)),
    );
    let device = bump_ddpm::unet::device(args.device)?;
    eprintln!(
        "re-evaluating {} into {}",
        run.root().display(),
        out.root().display()
    );
    let spec = Reevaluation {
        overrides: args.set,
        steps: args.steps,
        progress: true,
    };
    let records = reevaluate(&run, &out, &spec, &device)?;
    let parameters = run
        .load_checkpoint(
            &run.checkpoint_path(records[records.len() - 1].step),
            &device,
        )?
        .model
        .parameter_count();
    let last = run.latest_checkpoint()?.map(|(_, p)| p);
    let wall = records.last().map_or(0.0, |r| r.wall_s);
    let summary = bump_ddpm::train::summarize(&cfg, &records, parameters, wall, &last)?;
    out.write_summary(&summary)?;
    let report = bump_ddpm::report::write_run_report(&out, &records, &summary, cfg.eval.snapshots)?;
    println!("report: {}", report.display());
    Ok(())
}
