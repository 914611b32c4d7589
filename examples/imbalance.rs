//! The first paper's second result: on imbalanced data (bump centres every 0.1 px along x but
//! every 1 px along y), are x and y learned together or as two separate 1D problems?
//!
//! Trains every dataset of the `[imbalance]` section (imbalanced, its mirror, a balanced control
//! of the same size) for every seed, each run in its own directory under `--out`, then compares
//! the per-axis onsets (docs/imbalance.md).
//!
//! ```sh
//! cargo run --release --example imbalance -- --out runs/imbalance            # all 9 runs, then the report
//! cargo run --release --example imbalance -- --out runs/imbalance --resume   # continue after a kill
//! cargo run --release --example imbalance -- --out runs/imbalance --only mirror:1   # one run (a cluster job)
//! cargo run --release --example imbalance -- --out runs/imbalance --report   # compare the finished runs
//! cargo run --release --example imbalance -- --set imbalance.seeds=[0,1,2,3,4] --out runs/imb5
//! cargo run --release --features cuda --example imbalance -- --preset imbalance-paper --device cuda
//! ```

use bump_ddpm::cli::{exit_code, ExperimentArgs};
use bump_ddpm::experiment::{run_cli, MultiRunArgs};
use bump_ddpm::imbalance;
use clap::Parser;
use std::process::ExitCode;

#[global_allocator]
static GLOBAL: bump_ddpm::unet::alloc::MiMalloc = bump_ddpm::unet::alloc::MiMalloc;

/// Imbalanced data: are x and y learned together? Trains imbalanced (dx 0.1, dy 1), mirror
/// (dx 1, dy 0.1) and balanced (dx = dy = √0.1) datasets for several seeds, then measures when
/// each axis becomes accurate and whether the two onsets differ (the coupling statistic).
///
/// Without --preset or --config the `imbalance` preset is used (9 runs, about two hours on 2
/// cores). Each run is a directory `<out>/<dataset>-seed<seed>`; the comparison is written to
/// `<out>/imbalance.html`, `coupling.json` and `coupling.md`.
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
    run_cli::<imbalance::Imbalance>(&args.experiment, &args.runs)?;
    Ok(())
}
