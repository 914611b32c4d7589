//! Trains a conditional DDPM on Gaussian bumps and reports how its layer-4 representation moves
//! through phases A → B → C.
//!
//! ```sh
//! cargo run --release --example phase_sweep                 # the `quick` preset, minutes on a CPU
//! cargo run --release --example phase_sweep -- --preset paper --device cuda
//! cargo run --release --example phase_sweep -- --out runs/my_run --resume
//! ```

use bump_ddpm::config::{EvalSampler, ExperimentConfig};
use bump_ddpm::train::{run, RunOptions};
use bump_ddpm::unet::DeviceKind;
use clap::{Parser, ValueEnum};
use std::path::PathBuf;
use std::process::ExitCode;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Keeps freed memory mapped (mimalloc's `purge_delay` = -1, option 15): a training step
/// allocates the same activation buffers every time, and re-faulting them costs ~20 %.
fn keep_allocator_memory() {
    // SAFETY: a plain option setter of the linked mimalloc, called before any other thread exists.
    unsafe { libmimalloc_sys::mi_option_set(15, -1) };
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Preset {
    Quick,
    Paper,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum SamplerArg {
    Ddpm,
    Ddim,
    Dpmpp,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum DeviceArg {
    Cpu,
    Cuda,
    Metal,
}

/// Train a conditional DDPM on 2D Gaussian bumps and watch its representation form.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// Starting configuration; the flags below override it.
    #[arg(long, value_enum, default_value = "quick")]
    preset: Preset,
    /// Optimiser updates.
    #[arg(long)]
    steps: Option<u64>,
    /// Images per update.
    #[arg(long)]
    batch: Option<usize>,
    /// Peak learning rate.
    #[arg(long)]
    lr: Option<f64>,
    /// Master seed (weights, data order, noise).
    #[arg(long)]
    seed: Option<u64>,
    /// Bump width σ in pixels.
    #[arg(long)]
    sigma: Option<f64>,
    /// Centre spacing along x.
    #[arg(long)]
    dx: Option<f64>,
    /// Centre spacing along y.
    #[arg(long)]
    dy: Option<f64>,
    /// Evaluation sampler.
    #[arg(long, value_enum)]
    sampler: Option<SamplerArg>,
    /// Evaluation sampler steps.
    #[arg(long)]
    sample_steps: Option<usize>,
    /// Evaluate (and checkpoint) every this many steps, besides the log-spaced ones.
    #[arg(long)]
    eval_every: Option<u64>,
    /// Compute device.
    #[arg(long, value_enum, default_value = "cpu")]
    device: DeviceArg,
    /// Output directory (default: runs/<timestamp>).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Continue from the last checkpoint in --out.
    #[arg(long)]
    resume: bool,
    /// Print the configuration as JSON and exit.
    #[arg(long)]
    print_config: bool,
}

fn main() -> ExitCode {
    match real_main() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn real_main() -> Result<(), Box<dyn std::error::Error>> {
    keep_allocator_memory();
    let args = Args::parse();
    let mut cfg = ExperimentConfig::preset(match args.preset {
        Preset::Quick => "quick",
        Preset::Paper => "paper",
    })?;
    if let Some(v) = args.steps {
        cfg.train.steps = v;
    }
    if let Some(v) = args.batch {
        cfg.train.batch = v;
    }
    if let Some(v) = args.lr {
        cfg.train.lr = v;
    }
    if let Some(v) = args.seed {
        cfg.train.seed = v;
    }
    if let Some(v) = args.sigma {
        cfg.data.sigma = v;
    }
    if let Some(v) = args.dx {
        cfg.data.dx = v;
    }
    if let Some(v) = args.dy {
        cfg.data.dy = v;
    }
    if let Some(v) = args.sampler {
        cfg.eval.sampler = match v {
            SamplerArg::Ddpm => EvalSampler::Ddpm,
            SamplerArg::Ddim => EvalSampler::Ddim,
            SamplerArg::Dpmpp => EvalSampler::Dpmpp,
        };
    }
    if let Some(v) = args.sample_steps {
        cfg.eval.sample_steps = v;
    }
    if let Some(v) = args.eval_every {
        cfg.train.checkpoints.every = v;
    }
    cfg.validate()?;
    if args.print_config {
        println!("{}", serde_json::to_string_pretty(&cfg)?);
        return Ok(());
    }
    if args.resume && args.out.is_none() {
        return Err("--resume needs --out DIR (the run to continue)".into());
    }
    let out = args.out.unwrap_or_else(|| {
        let secs = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        PathBuf::from("runs").join(format!("{}-{secs}", cfg.preset))
    });
    let device = bump_ddpm::unet::device(match args.device {
        DeviceArg::Cpu => DeviceKind::Cpu,
        DeviceArg::Cuda => DeviceKind::Cuda(0),
        DeviceArg::Metal => DeviceKind::Metal(0),
    })?;
    eprintln!(
        "bump-ddpm phase sweep: preset {}, {} steps, batch {}, σ = {}, dx = {}, dy = {}, output {}",
        cfg.preset,
        cfg.train.steps,
        cfg.train.batch,
        cfg.data.sigma,
        cfg.data.dx,
        cfg.data.dy,
        out.display()
    );
    let mut opts = RunOptions::new(&out);
    opts.resume = args.resume;
    opts.device = device;
    let outcome = run(&cfg, &opts)?;

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
