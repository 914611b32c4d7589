//! The sampler quality/cost curve of one checkpoint of a finished run: accuracy and failure mix
//! against network evaluations (NFE) for DDPM (all T steps and respaced), DDIM (η = 0) and
//! DPM-Solver++(2M), several noise seeds each. Writes `sampler_curve.jsonl`, `sampler_curve.md`
//! and `sampler_curve.png` to `--out` (default `<run>/sampler_curve/`); docs/samplers.md shows
//! a measured curve.
//!
//! ```sh
//! cargo run --release --example sampler_curve -- --run runs/quick-1700000000 --out curve
//! cargo run --release --example sampler_curve -- --run runs/x --samplers ddim-10,dpmpp-10,ddpm \
//!     --seeds 5 --step 600 --weights ema
//! ```

use bump_ddpm::cli::exit_code;
use bump_ddpm::config::EvalWeights;
use bump_ddpm::run_dir::RunDir;
use bump_ddpm::sampler_curve::{run_curve, CurveSampler, CurveSpec, DEFAULT_SAMPLERS};
use bump_ddpm::unet::DeviceKind;
use clap::Parser;
use std::path::PathBuf;
use std::process::ExitCode;

#[global_allocator]
static GLOBAL: bump_ddpm::unet::alloc::MiMalloc = bump_ddpm::unet::alloc::MiMalloc;

/// Accuracy and failure mix against NFE for several samplers on one checkpoint of a run.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// The finished run directory whose checkpoint is sampled.
    #[arg(long, value_name = "DIR")]
    run: PathBuf,
    /// Checkpoint step (default: the run's last checkpoint).
    #[arg(long)]
    step: Option<u64>,
    /// Weights: `raw` or `ema` (default: the run's `eval.weights`).
    #[arg(long, value_parser = parse_weights)]
    weights: Option<EvalWeights>,
    /// Samplers, comma-separated: `ddpm` (all T steps), `ddpm-N` (respaced), `ddim-N` (η = 0),
    /// `dpmpp-N` (DPM-Solver++(2M)). Default: ddim-{5,10,20,50}, dpmpp-{5,10,20,50},
    /// ddpm-{50,100,250}, ddpm.
    #[arg(long, value_delimiter = ',', value_name = "LIST")]
    samplers: Option<Vec<String>>,
    /// Sampler-noise seeds per sampler (each point gets a spread).
    #[arg(long, default_value_t = 3)]
    seeds: usize,
    /// Output directory (default: <run>/sampler_curve/).
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Keep the points already in <out>/sampler_curve.jsonl and run only the missing ones.
    #[arg(long)]
    resume: bool,
    /// Compute device: `cpu`, `cuda[:N]` or `metal[:N]`.
    #[arg(long, default_value = "cpu")]
    device: DeviceKind,
}

fn parse_weights(s: &str) -> Result<EvalWeights, String> {
    match s {
        "raw" => Ok(EvalWeights::Raw),
        "ema" => Ok(EvalWeights::Ema),
        _ => Err(format!("expected `raw` or `ema`, got `{s}`")),
    }
}

fn main() -> ExitCode {
    exit_code(real_main())
}

fn real_main() -> Result<(), Box<dyn std::error::Error>> {
    bump_ddpm::unet::alloc::keep_freed_memory();
    let args = Args::parse();
    let names: Vec<String> = args
        .samplers
        .unwrap_or_else(|| DEFAULT_SAMPLERS.iter().map(|s| s.to_string()).collect());
    let samplers = names
        .iter()
        .map(|s| s.parse::<CurveSampler>())
        .collect::<Result<Vec<_>, _>>()?;
    let spec = CurveSpec {
        step: args.step,
        weights: args.weights,
        samplers,
        seeds: args.seeds,
        resume: args.resume,
        progress: true,
    };
    let run = RunDir::new(&args.run);
    let out = args.out.unwrap_or_else(|| args.run.join("sampler_curve"));
    let device = bump_ddpm::unet::device(args.device)?;
    eprintln!(
        "sampler curve of {} into {}",
        run.root().display(),
        out.display()
    );
    let outcome = run_curve(&run, &out, &spec, &device)?;
    print!("{}", std::fs::read_to_string(&outcome.table)?);
    println!("points: {}", outcome.jsonl.display());
    println!("figure: {}", outcome.figure.display());
    Ok(())
}
