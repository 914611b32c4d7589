//! The Rust half of the PyTorch side-by-side (`benches/peer/`): exports UNet checkpoints for
//! the peer and times one forward pass or one training step, printing one JSON line per run.
//!
//! ```text
//! cargo run --release --example unet_timing -- export --preset tiny --seed 7 --out tiny.safetensors
//! cargo run --release --example unet_timing -- time --preset tiny --what forward --batch 64 --iters 5
//! ```
//!
//! The training step is the facade's: forward in training mode, MSE against a fixed target,
//! backward, gradient clipping at norm 1, AdamW, EMA update (the same work `benches/train.rs`
//! measures and `benches/peer/peer.py` mirrors with `torch.optim.AdamW`).

use bump_ddpm::config::ExperimentConfig;
use bump_ddpm::diffusion::gaussian_noise;
use bump_ddpm::optim::{optimizer_step, AdamW, Ema};
use bump_ddpm::unet::ops::{self, Isa};
use bump_ddpm::unet::{save_checkpoint, CheckpointMeta, UNet, UNetConfig};
use candle_core::{Device, Tensor};
use clap::{Parser, Subcommand, ValueEnum};
use std::path::PathBuf;
use std::time::Instant;

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

#[global_allocator]
static GLOBAL: bump_ddpm::unet::alloc::MiMalloc = bump_ddpm::unet::alloc::MiMalloc;

#[derive(Parser)]
#[command(about = "Export UNet checkpoints and time forward passes / training steps")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Clone, Copy, ValueEnum)]
enum Preset {
    /// `UNetConfig::tiny()` (199k parameters).
    Tiny,
    /// The model of `ExperimentConfig::quick()` (272k parameters).
    Quick,
    /// `UNetConfig::paper()` (20.1M parameters).
    Paper,
}

#[derive(Clone, Copy, ValueEnum)]
enum MaxIsa {
    Baseline,
    Avx2,
    Avx512,
}

impl From<MaxIsa> for Isa {
    fn from(m: MaxIsa) -> Self {
        match m {
            MaxIsa::Baseline => Isa::Baseline,
            MaxIsa::Avx2 => Isa::Avx2Fma,
            MaxIsa::Avx512 => Isa::Avx512,
        }
    }
}

#[derive(Clone, Copy, ValueEnum)]
enum What {
    /// `UNet::forward` (evaluation mode, no gradient).
    Forward,
    /// One optimiser step (forward, MSE, backward, clip, AdamW, EMA).
    Train,
}

#[derive(clap::Args)]
struct ModelArgs {
    /// Architecture preset (ignored when --config is given).
    #[arg(long, value_enum, default_value = "tiny")]
    preset: Preset,
    /// A `UNetConfig` JSON file instead of a preset.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Seed of the initial weights.
    #[arg(long, default_value_t = 0)]
    seed: u64,
}

impl ModelArgs {
    fn config(&self) -> Result<UNetConfig> {
        if let Some(path) = &self.config {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("reading {}: {e}", path.display()))?;
            return Ok(serde_json::from_str(&text)
                .map_err(|e| format!("{} is not a UNetConfig: {e}", path.display()))?);
        }
        Ok(match self.preset {
            Preset::Tiny => UNetConfig::tiny(),
            Preset::Quick => ExperimentConfig::quick().model,
            Preset::Paper => UNetConfig::paper(),
        })
    }

    fn name(&self) -> String {
        match (&self.config, self.preset) {
            (Some(p), _) => p.display().to_string(),
            (None, Preset::Tiny) => "tiny".into(),
            (None, Preset::Quick) => "quick".into(),
            (None, Preset::Paper) => "paper".into(),
        }
    }
}

#[derive(Subcommand)]
enum Cmd {
    /// Write a checkpoint of a freshly initialised model.
    Export {
        #[command(flatten)]
        model: ModelArgs,
        /// Output path (.safetensors).
        #[arg(long)]
        out: PathBuf,
    },
    /// Time forward passes or training steps; prints one JSON line.
    Time {
        #[command(flatten)]
        model: ModelArgs,
        #[arg(long, value_enum, default_value = "forward")]
        what: What,
        #[arg(long, default_value_t = 64)]
        batch: usize,
        /// Untimed iterations first (allocator and caches warm up).
        #[arg(long, default_value_t = 1)]
        warmup: usize,
        /// Timed iterations.
        #[arg(long, default_value_t = 3)]
        iters: usize,
        /// Cap the instruction set of our CPU kernels (A/B on one machine; gemm's own choice
        /// is not affected).
        #[arg(long, value_enum)]
        max_isa: Option<MaxIsa>,
    },
}

fn main() -> Result<()> {
    bump_ddpm::unet::alloc::keep_freed_memory();
    match Cli::parse().cmd {
        Cmd::Export { model, out } => {
            let cfg = model.config()?;
            let unet = UNet::new(&cfg, model.seed, &Device::Cpu)?;
            let meta = CheckpointMeta {
                step: 0,
                seed: model.seed,
                ..Default::default()
            };
            save_checkpoint(&out, &unet, &meta, &[])?;
            eprintln!(
                "wrote {} ({} parameters)",
                out.display(),
                unet.parameter_count()
            );
        }
        Cmd::Time {
            model,
            what,
            batch,
            warmup,
            iters,
            max_isa,
        } => {
            if batch == 0 || iters == 0 {
                return Err("--batch and --iters must be > 0".into());
            }
            ops::set_max_isa(max_isa.map(Isa::from));
            eprintln!("{}", ops::isa_report());
            let secs = time(&model, what, batch, warmup, iters)?;
            let flops = model.config()?.forward_flops(32, 32);
            let line = serde_json::json!({
                "impl": "candle",
                "model": model.name(),
                "what": match what { What::Forward => "forward", What::Train => "train" },
                "batch": batch,
                "threads": rayon_threads(),
                // Convolutions and attention matmuls of one 32×32 forward pass.
                "forward_flops_per_image": flops,
                // The instruction-set paths taken (`ops::isa_report`).
                "kernel_isa": ops::kernel_isa().name(),
                "gemm_isa": ops::gemm_isa().name(),
                "seconds": secs,
            });
            println!("{line}");
        }
    }
    Ok(())
}

fn rayon_threads() -> Option<usize> {
    std::env::var("RAYON_NUM_THREADS")
        .ok()
        .and_then(|v| v.parse().ok())
}

/// Seeded inputs shared by both measurements: x in model range, t spread over [0, 1000),
/// conditions on the 32×32 grid.
fn inputs(b: usize, dev: &Device) -> Result<(Tensor, Tensor, Tensor, Tensor)> {
    let seeds: Vec<u64> = (0..b as u64).collect();
    let x = gaussian_noise(&seeds, &[1, 32, 32], dev)?;
    let target = gaussian_noise(
        &seeds.iter().map(|s| s + 1_000_000).collect::<Vec<_>>(),
        &[1, 32, 32],
        dev,
    )?;
    let t = Tensor::from_vec((0..b).map(|i| (i * 15 % 1000) as f32).collect(), b, dev)?;
    let cond = Tensor::from_vec(
        (0..b)
            .flat_map(|i| [(i % 32) as f32, ((i / 32) % 32) as f32])
            .collect(),
        (b, 2),
        dev,
    )?;
    Ok((x, t, cond, target))
}

fn time(m: &ModelArgs, what: What, b: usize, warmup: usize, iters: usize) -> Result<Vec<f64>> {
    let dev = Device::Cpu;
    let unet = UNet::new(&m.config()?, m.seed, &dev)?;
    let (x, t, cond, target) = inputs(b, &dev)?;
    let mut secs = Vec::with_capacity(iters);
    match what {
        What::Forward => {
            for i in 0..warmup + iters {
                let start = Instant::now();
                let y = unet.forward(&x, &t, &cond)?;
                // Materialise (candle is eager, but make the dependency explicit).
                let _ = y.dims();
                if i >= warmup {
                    secs.push(start.elapsed().as_secs_f64());
                }
            }
        }
        What::Train => {
            let mut opt = AdamW::new(unet.vars(), Default::default())?;
            let mut ema = Ema::new(&unet.vars(), 0.995)?;
            for i in 0..warmup + iters {
                let start = Instant::now();
                let pred = unet.forward_t(&x, &t, &cond, true)?;
                let loss = (pred - &target)?.sqr()?.mean_all()?;
                optimizer_step(&loss, &mut opt, &mut ema, 1e-4, 1.0)?;
                if i >= warmup {
                    secs.push(start.elapsed().as_secs_f64());
                }
            }
        }
    }
    Ok(secs)
}
