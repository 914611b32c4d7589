//! The NeurIPS 2024 follow-up's composition result: trained on bumps with a region of
//! (μx, μy) held out, does the model generate correct bumps inside it, and when?
//!
//! Trains every case of the `[compose]` section (a central square, a corner square, a vertical
//! band) for every seed, each run in its own directory under `--out`, scoring training
//! conditions, the held-out region and off-lattice points at every checkpoint; then compares the
//! cases (docs/followup.md).
//!
//! ```sh
//! cargo run --release --example compose -- --out runs/compose            # all 9 runs, then the report
//! cargo run --release --example compose -- --out runs/compose --resume   # continue after a kill
//! cargo run --release --example compose -- --out runs/compose --only corner:2   # one run
//! cargo run --release --example compose -- --out runs/compose --report   # compare the finished runs
//! ```

use bump_ddpm::cli::{exit_code, ExperimentArgs};
use bump_ddpm::compose;
use bump_ddpm::experiment::{run_cli, MultiRunArgs};
use clap::Parser;
use std::process::ExitCode;

#[global_allocator]
static GLOBAL: bump_ddpm::unet::alloc::MiMalloc = bump_ddpm::unet::alloc::MiMalloc;

/// Composition from held-out regions: trains on bumps with a region of (μx, μy) removed (a
/// central square, a corner square, a band along x) for several seeds, and scores the training
/// conditions, the held-out region and off-lattice points at every checkpoint.
///
/// Without --preset or --config the `compose` preset is used (9 runs). Each run is a directory
/// `<out>/<case>-seed<seed>`; the comparison is written to `<out>/compose.html`, `compose.json`
/// and `compose.md`.
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
    run_cli::<compose::Compose>(&args.experiment, &args.runs)?;
    Ok(())
}
