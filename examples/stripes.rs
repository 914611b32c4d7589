//! The NeurIPS 2024 follow-up's data-efficiency result: trained on 1D stripes plus a small
//! fraction of 2D images, does a model learn 2D images from far fewer 2D examples?
//!
//! Trains one run per variant (`bump`: stripes + 2D bumps; `sos`: sums of stripes), fraction f
//! of the 2D images and seed (`[stripes]`), each in its own directory under `--out`, scoring the
//! 2D images at every checkpoint; then puts the runs on one axis, the number of 2D images shown
//! (docs/followup.md).
//!
//! ```sh
//! cargo run --release --example stripes -- --out runs/stripes            # 20 runs, then the report
//! cargo run --release --example stripes -- --out runs/stripes --resume   # continue after a kill
//! cargo run --release --example stripes -- --out runs/stripes --only sos-f005:1   # one run
//! cargo run --release --example stripes -- --out runs/stripes --report   # compare the finished runs
//! ```

use bump_ddpm::cli::{exit_code, ExperimentArgs};
use bump_ddpm::experiment::{run_cli, MultiRunArgs};
use bump_ddpm::stripes;
use clap::Parser;
use std::process::ExitCode;

#[global_allocator]
static GLOBAL: bump_ddpm::unet::alloc::MiMalloc = bump_ddpm::unet::alloc::MiMalloc;

/// Stripes and data efficiency: trains on 1D stripes plus a fraction f of the 2D images
/// (f = 0, 0.01, 0.05, 0.2, 1 by default) in two variants — `bump` (stripes + 2D bumps) and `sos`
/// (the follow-up's sums of stripes) — for several seeds, scores the 2D images at every
/// checkpoint, and reports 2D accuracy against the number of 2D images shown.
///
/// Without --preset or --config the `stripes` preset is used (20 runs). Each run is a directory
/// `<out>/<variant>-f<percent>-seed<seed>`; the comparison is written to `<out>/stripes.html`,
/// `stripes.json` and `stripes.md`.
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
    run_cli::<stripes::Stripes>(&args.experiment, &args.runs)?;
    Ok(())
}
