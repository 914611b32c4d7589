//! The NeurIPS 2024 follow-up's torus result: on periodic bumps, is the learned representation
//! closer to a factorized 4D Clifford torus or to a 3D torus?
//!
//! Trains the periodic dataset once per seed of the `[torus]` section, each run in its own
//! directory under `--out`, recording layer 4's torus statistics and Rips persistence at every
//! checkpoint; then compares the runs (docs/followup.md).
//!
//! ```sh
//! cargo run --release --example torus -- --out runs/torus            # 3 runs, then the report
//! cargo run --release --example torus -- --out runs/torus --resume   # continue after a kill
//! cargo run --release --example torus -- --out runs/torus --report   # compare the finished runs
//! ```

use bump_ddpm::cli::{exit_code, ExperimentArgs};
use bump_ddpm::experiment::{run_cli, MultiRunArgs};
use bump_ddpm::torus;
use clap::Parser;
use std::process::ExitCode;

#[global_allocator]
static GLOBAL: bump_ddpm::unet::alloc::MiMalloc = bump_ddpm::unet::alloc::MiMalloc;

/// Periodic bumps: trains on bumps that wrap around the canvas for several seeds and measures,
/// at every checkpoint, how close layer 4 is to an ideal 4D Clifford torus and to a 3D torus
/// (cosine statistics of difference vectors) and how many loops Rips persistence finds.
///
/// Without --preset or --config the `torus` preset is used (3 runs). Each run is a directory
/// `<out>/periodic-seed<seed>`; the comparison is written to `<out>/torus.html`, `torus.json`
/// and `torus.md`.
#[derive(Debug, Parser)]
#[command(version, about, long_about)]
struct Args {
    #[command(flatten)]
    experiment: ExperimentArgs,
    #[command(flatten)]
    runs: MultiRunArgs,
}

fn main() -> ExitCode {
    exit_code(real_main())
}

fn real_main() -> Result<(), Box<dyn std::error::Error>> {
    bump_ddpm::unet::alloc::keep_freed_memory();
    let args = Args::parse();
    run_cli::<torus::Torus>(&args.experiment, &args.runs)?;
    Ok(())
}
