//! One full checkpoint evaluation (issue 18): `Evaluator::evaluate` on the `quick` experiment's
//! 256 conditions — DDIM-20 sampling and scoring, layer 4 under all 7 probes (noise and noised
//! real images, K = 4, at T − 1, T/2 and T/10, plus the shared-noise probe: 25 passes of 256
//! images), every probe's metrics and label, UMAP, PCA, Isomap and the factorization of the main
//! probe's means. Target: ≤ 5 s per evaluation on 2 cores.
//!
//! The model is the quick preset's UNet at its initial weights (seed `train.seed`): evaluation
//! does the same work whatever the weights. `BUMP_BENCH_CHECKPOINT=path/step_N.safetensors`
//! evaluates a checkpoint of a quick run instead. Before criterion runs, one evaluation is timed
//! phase by phase through the public APIs and printed to stderr, in wall and process CPU seconds
//! (CPU time is steadier than wall time on a shared machine; CPU / 2 approximates an idle
//! 2-core wall time). Bench names start with the device (`cpu_`, `cuda_`, `metal_`).
//! `cargo bench --bench eval` (≈ 4–6 min on 2 cores).

use bump_ddpm::analysis::{self, Activations, MetricConfig};
use bump_ddpm::config::ExperimentConfig;
use bump_ddpm::diffusion::NoiseSchedule;
use bump_ddpm::eval::Evaluator;
use bump_ddpm::probe::{build_probes, read_probes, PROBE_CHUNK};
use bump_ddpm::unet::{compiled_devices, device, UNet};
use candle_core::{Device, Tensor};
use criterion::{criterion_group, criterion_main, Criterion};
use std::time::{Duration, Instant};

#[global_allocator]
static GLOBAL: bump_ddpm::unet::alloc::MiMalloc = bump_ddpm::unet::alloc::MiMalloc;

/// User + system CPU seconds of this process (all threads), from `/proc/self/stat`; `None`
/// where that file does not exist.
fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the `(comm)`: state is field 3, utime 14 and stime 15 (1-based).
    let rest: Vec<&str> = stat.rsplit(')').next()?.split_whitespace().collect();
    let ticks: f64 = rest.get(11)?.parse::<f64>().ok()? + rest.get(12)?.parse::<f64>().ok()?;
    // USER_HZ is 100 on every Linux target Rust supports.
    Some(ticks / 100.0)
}

/// A phase's wall and CPU seconds.
struct Phase {
    wall: Instant,
    cpu: Option<f64>,
}

impl Phase {
    fn start() -> Self {
        Self {
            wall: Instant::now(),
            cpu: cpu_seconds(),
        }
    }

    fn stop(self) -> String {
        let wall = self.wall.elapsed().as_secs_f64();
        match (self.cpu, cpu_seconds()) {
            (Some(a), Some(b)) => format!("{wall:.2} s (cpu {:.2} s)", b - a),
            _ => format!("{wall:.2} s"),
        }
    }
}

/// Times the phases of one evaluation through the public APIs and prints them.
fn breakdown(cfg: &ExperimentConfig, schedule: &NoiseSchedule, model: &UNet, dev: &Device) {
    let extent = cfg.data.extent();
    let coords = cfg.eval.centres.centres(extent).unwrap();
    let grid = cfg.eval.centres.grid_shape(extent).unwrap();
    let b = coords.len();
    let flat: Vec<f32> = coords
        .iter()
        .flat_map(|c| [c[0] as f32, c[1] as f32])
        .collect();
    let cond = Tensor::from_slice(&flat, (b, 2), dev).unwrap();
    let n = cfg.data.n;
    let seeds: Vec<u64> = (0..b as u64).map(|i| cfg.eval.seed + i).collect();
    let mut lines = Vec::new();

    let phase = Phase::start();
    let mut denoiser = |x: &Tensor, t: &Tensor, c: &Tensor| model.forward(x, t, c);
    let out = bump_ddpm::diffusion::sample(
        schedule,
        &cfg.eval.sampler,
        &mut denoiser,
        &cond,
        (1, n, n),
        &seeds,
        None,
    )
    .unwrap();
    let images: Vec<f32> = out.images.flatten_all().unwrap().to_vec1().unwrap();
    lines.push(format!(
        "sampling ({:?} {:?} steps × {b}): {}",
        cfg.eval.sampler.kind,
        cfg.eval.sampler.steps.unwrap_or_default(),
        phase.stop()
    ));

    let phase = Phase::start();
    let targets: Vec<[f32; 2]> = coords.iter().map(|c| [c[0] as f32, c[1] as f32]).collect();
    bump_ddpm::data::score_batch(&images, n, &targets, &cfg.data.score_config()).unwrap();
    lines.push(format!("scoring: {}", phase.stop()));

    let phase = Phase::start();
    let probes = build_probes(cfg, schedule, &coords, dev).unwrap();
    lines.push(format!("probe inputs: {}", phase.stop()));
    let passes: usize = probes.iter().map(|p| p.samples()).sum();
    // Two rounds: the first batched call is also the first to touch buffers of PROBE_CHUNK
    // images (fresh pages), so only the second round compares the two like for like.
    let mut readings = Vec::new();
    for round in 1..=2 {
        let phase = Phase::start();
        for p in &probes {
            p.read(model, &cond).unwrap();
        }
        lines.push(format!(
            "probe forwards, one call per pass ({} probes, {passes} passes of {b}), round {round}: {}",
            probes.len(),
            phase.stop()
        ));
        let phase = Phase::start();
        readings = read_probes(&probes, model, &cond, PROBE_CHUNK).unwrap();
        lines.push(format!(
            "probe forwards, batched ({PROBE_CHUNK} images per call, as evaluate), round {round}: {}",
            phase.stop()
        ));
    }

    let mcfg = MetricConfig {
        k: cfg.eval.k,
        ..MetricConfig::default()
    };
    let phase = Phase::start();
    for r in &readings {
        let a = analysis::analyze_probe(r, &coords, grid, &mcfg).unwrap();
        analysis::classify_representation(&a, &cfg.eval.classifier);
    }
    lines.push(format!("probe metrics and labels: {}", phase.stop()));

    let main = &readings[0];
    let (rows, d) = (main[0].n(), main[0].d());
    let mut sum = vec![0.0; rows * d];
    for a in main {
        sum.iter_mut().zip(a.as_slice()).for_each(|(s, v)| *s += v);
    }
    sum.iter_mut().for_each(|s| *s /= main.len() as f64);
    let means = Activations::from_f64(&sum, rows, d).unwrap();
    let phase = Phase::start();
    analysis::umap_r2(&means, &coords, &cfg.eval.umap).unwrap();
    lines.push(format!("UMAP + R²: {}", phase.stop()));
    let phase = Phase::start();
    analysis::pca(&means, 2).unwrap();
    // Isomap may fail on a disconnected neighbourhood graph; evaluate records `None` then.
    let _ = analysis::isomap_2d(&means, cfg.eval.k);
    if let Some(g) = grid {
        analysis::factorization(&means, g, mcfg.factor_rank, cfg.eval.seed).unwrap();
    }
    lines.push(format!("PCA + Isomap + factorization: {}", phase.stop()));
    eprintln!("evaluation breakdown, {b} conditions:");
    for l in lines {
        eprintln!("  {l}");
    }
}

fn bench(c: &mut Criterion) {
    bump_ddpm::unet::alloc::keep_freed_memory();
    eprintln!("{}", bump_ddpm::unet::ops::isa_report());
    let cfg = ExperimentConfig::quick();
    let schedule = NoiseSchedule::new(&cfg.diffusion).unwrap();
    let checkpoint = std::env::var_os("BUMP_BENCH_CHECKPOINT");
    let mut g = c.benchmark_group("evaluation");
    g.sample_size(10)
        .measurement_time(Duration::from_secs(180))
        .warm_up_time(Duration::from_secs(1));
    for kind in compiled_devices() {
        let dev = device(kind).unwrap();
        let (model, weights) = match &checkpoint {
            Some(path) => {
                let (model, meta, _) =
                    bump_ddpm::unet::load_checkpoint(path.as_ref(), &dev).unwrap();
                assert_eq!(model.config(), &cfg.model, "not a quick-preset checkpoint");
                (model, format!("step{}", meta.step))
            }
            None => (
                UNet::new(&cfg.model, cfg.train.seed, &dev).unwrap(),
                "init".to_string(),
            ),
        };
        let evaluator = Evaluator::new(&cfg, &schedule, &dev).unwrap();
        breakdown(&cfg, &schedule, &model, &dev);
        let phase = Phase::start();
        evaluator.evaluate(&model, None, 0).unwrap();
        eprintln!("  one full evaluation (evaluate): {}", phase.stop());
        let conditions = cfg.eval.centres.centres(cfg.data.extent()).unwrap().len();
        g.bench_function(
            format!("{}_quick_{weights}_{conditions}_conditions", kind.family()),
            |bench| {
                bench.iter(|| {
                    let out = evaluator.evaluate(&model, None, 0).unwrap();
                    dev.synchronize().unwrap();
                    out.score.accuracy
                })
            },
        );
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
