//! Trains a conditional DDPM on Gaussian bumps and reports how its layer-4 representation moves
//! through phases A → B → C.
//!
//! ```sh
//! cargo run --release --example phase_sweep                 # the `quick` preset, minutes on a CPU
//! cargo run --release --example phase_sweep -- --config configs/quick.toml --set data.sigma=2.0
//! cargo run --release --example phase_sweep -- --preset paper --device cuda
//! cargo run --release --example phase_sweep -- --out runs/my_run --resume
//! cargo run --release --example phase_sweep -- --print-config   # every key, as TOML
//! ```
//!
//! SIGTERM, SIGINT (Ctrl-C), SIGUSR1 or SIGUSR2 stop the run gracefully: it checkpoints the
//! current step and exits with status 75; `--resume` continues bit-identically
//! (`bump_ddpm::train::stop`).

use bump_ddpm::cli::ExperimentArgs;
use bump_ddpm::train::{run, stop};
use clap::Parser;
use std::process::ExitCode;

#[global_allocator]
static GLOBAL: bump_ddpm::unet::alloc::MiMalloc = bump_ddpm::unet::alloc::MiMalloc;

/// Train a conditional DDPM on 2D Gaussian bumps and watch its representation form.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    #[command(flatten)]
    experiment: ExperimentArgs,
}

fn main() -> ExitCode {
    stop::exit_code(real_main())
}

fn real_main() -> Result<(), Box<dyn std::error::Error>> {
    bump_ddpm::unet::alloc::keep_freed_memory();
    let resolved = Args::parse().experiment.resolve()?;
    if resolved.print_config_if_asked()? {
        return Ok(());
    }
    let cfg = &resolved.config;
    let opts = resolved
        .run_options()?
        .with_stop(stop::StopFlag::from_signals()?);
    eprintln!(
        "bump-ddpm phase sweep: {}, {} steps, batch {}, data: {}, output {}",
        cfg.name,
        cfg.train.steps,
        cfg.train.batch,
        cfg.data.describe(),
        resolved.out.display()
    );
    let outcome = run(cfg, &opts)?;

    println!(
        "\n{:>8}  {:>8}  {:>6}  {:>6}  {:>8}",
        "step", "accuracy", "gen", "layer4", "wall (s)"
    );
    for r in &outcome.records {
        println!(
            "{:>8}  {:>7.1}%  {:>6}  {:>6}  {:>8.1}",
            r.step,
            100.0 * r.accuracy,
            r.gen_phase.to_string(),
            r.rep_phase.to_string(),
            r.wall_s
        );
    }
    if let Some(s) = &outcome.summary {
        println!(
            "\nfinal accuracy {:.1} %, layer-4 phase {}, wall time {:.0} s",
            100.0 * s.final_accuracy,
            s.final_rep_phase,
            s.wall_s
        );
    }
    if let Some(p) = &outcome.report {
        println!("report: {}", p.display());
    }
    Ok(())
}
