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
use bump_ddpm::imbalance::{self, report, PlannedRun};
use bump_ddpm::{Preset, RunDir};
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
    /// Train only this run, `DATASET:SEED` (repeatable), e.g. `--only imbalanced:0`; the
    /// comparison is then written only with --report. For separate processes or cluster jobs.
    #[arg(long, value_name = "DATASET:SEED")]
    only: Vec<String>,
    /// Write the comparison of the finished runs under --out. Alone (without --only) it trains
    /// nothing.
    #[arg(long)]
    report: bool,
}

fn main() -> ExitCode {
    exit_code(real_main())
}

/// The planned runs `--only` names (all of them when it is empty).
fn select(plan: Vec<PlannedRun>, only: &[String]) -> Result<Vec<PlannedRun>, String> {
    if only.is_empty() {
        return Ok(plan);
    }
    let ids: Vec<String> = plan.iter().map(PlannedRun::id).collect();
    for o in only {
        if !ids.contains(o) {
            return Err(format!(
                "--only {o:?} names no planned run; expected DATASET:SEED, one of {ids:?}"
            ));
        }
    }
    Ok(plan
        .into_iter()
        .filter(|p| only.contains(&p.id()))
        .collect())
}

fn real_main() -> Result<(), Box<dyn std::error::Error>> {
    bump_ddpm::unet::alloc::keep_freed_memory();
    let args = Args::parse();
    let resolved = args.experiment.resolve_for(Preset::Imbalance)?;
    if resolved.print_config_if_asked()? {
        return Ok(());
    }
    let cfg = &resolved.config;
    let out = &resolved.out;
    let plan = imbalance::plan(cfg, out)?;
    let report_only = args.report && args.only.is_empty();
    let selected = if report_only {
        Vec::new()
    } else {
        select(plan, &args.only)?
    };

    // The experiment's own configuration, so `--resume --out DIR` restarts from it.
    let exp_dir = RunDir::new(out);
    if exp_dir.path(bump_ddpm::run_dir::RunFile::Config).exists() {
        let saved = exp_dir.read_config()?;
        if &saved != cfg && !report_only {
            return Err(format!(
                "{} holds an imbalance experiment with a different configuration; pass --resume \
                 to continue it, or choose another --out",
                out.display()
            )
            .into());
        }
    } else if !report_only {
        exp_dir.write_config(cfg)?;
    }

    if !selected.is_empty() {
        let opts = resolved.run_options()?;
        eprintln!(
            "bump-ddpm imbalance: {} runs of {} steps (batch {}), output {}",
            selected.len(),
            cfg.train.steps,
            cfg.train.batch,
            out.display()
        );
        for (i, p) in selected.iter().enumerate() {
            eprintln!(
                "[{}/{}] {} ({}): {}",
                i + 1,
                selected.len(),
                p.id(),
                p.config.data.describe(),
                imbalance::status(p)?
            );
            if let Some(outcome) = imbalance::execute(p, &opts, resolved.resume)? {
                if let Some(s) = outcome.summary {
                    eprintln!(
                        "    final accuracy {:.1} %, wall time {:.0} s",
                        100.0 * s.final_accuracy,
                        s.wall_s
                    );
                }
            }
        }
    }

    if args.only.is_empty() || args.report {
        let (comparison, finished) = imbalance::compare(cfg, out)?;
        let path = report::write(out, &comparison, &finished)?;
        println!("{}", report::onset_table(&comparison));
        println!("{}\n", report::verdict(&comparison));
        println!("report: {}", path.display());
    }
    Ok(())
}
