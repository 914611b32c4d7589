//! Sampler throughput in images/s (`Throughput::Elements` = images per call) with the real UNet,
//! on every compiled-in device (bench names start `cpu_`, `cuda_` or `metal_`; GPU timings
//! synchronise the device before the timer stops).
//!
//! ```text
//! cargo bench --bench sampler                          # default selection, ≈ 4–5 min on 2 cores
//! BUMP_BENCH_FULL=1 cargo bench --bench sampler -- 'cpu_tiny_b64_'   # one slice of the full set
//! ```
//!
//! Full selection (`BUMP_BENCH_FULL=1`): presets `tiny` and `paper` × batch 1, 64, 256 ×
//! DDPM-1000, respaced DDPM-100, DDIM-50 and DPM-Solver++-20, the `quick` experiment's model at
//! batch 64. A call costs (sampler steps) × (one forward pass), and the paper preset's forward
//! pass at batch 256 takes ≈ 10 s on 2 cores, so `cpu_paper_b256_ddpm1000` is ≈ 3 hours per call:
//! pick slices with a filter. Criterion's minimum of 10 samples applies; long cases use
//! `sample_size(10)` with one iteration per sample and no extra measurement time.
//!
//! Default selection (≈ 4–5 min on 2 cores, well inside 10): `tiny` at batch 1 with all four
//! samplers, at batch 64 with DDIM-50 and DPM-Solver++-20 and at batch 256 with
//! DPM-Solver++-20, and `paper` at batch 1 with DPM-Solver++-20.

use bump_ddpm::config::ExperimentConfig;
use bump_ddpm::diffusion::{sample, NoiseSchedule, SamplerConfig};
use bump_ddpm::unet::{compiled_devices, device, UNet, UNetConfig};
use candle_core::{Device, Tensor};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::time::Duration;

#[global_allocator]
static GLOBAL: bump_ddpm::unet::alloc::MiMalloc = bump_ddpm::unet::alloc::MiMalloc;

/// (preset name, config, batch, sampler name, sampler config)
type Case = (&'static str, UNetConfig, usize, &'static str, SamplerConfig);

fn samplers() -> Vec<(&'static str, SamplerConfig)> {
    vec![
        ("ddpm1000", SamplerConfig::ddpm()),
        ("ddpm100", SamplerConfig::respaced_ddpm(100)),
        ("ddim50", SamplerConfig::ddim(50)),
        ("dpmpp20", SamplerConfig::dpm_solver_pp(20)),
    ]
}

fn cases(full: bool) -> Vec<Case> {
    let mut v: Vec<Case> = Vec::new();
    if full {
        for (name, cfg) in [("tiny", UNetConfig::tiny()), ("paper", UNetConfig::paper())] {
            for b in [1, 64, 256] {
                for (s, sc) in samplers() {
                    v.push((name, cfg.clone(), b, s, sc));
                }
            }
        }
        for (s, sc) in samplers() {
            v.push(("quick", ExperimentConfig::quick().model, 64, s, sc));
        }
    } else {
        for (s, sc) in samplers() {
            v.push(("tiny", UNetConfig::tiny(), 1, s, sc));
        }
        for (s, sc) in samplers().into_iter().skip(2) {
            v.push(("tiny", UNetConfig::tiny(), 64, s, sc));
        }
        v.push((
            "tiny",
            UNetConfig::tiny(),
            256,
            "dpmpp20",
            SamplerConfig::dpm_solver_pp(20),
        ));
        v.push((
            "paper",
            UNetConfig::paper(),
            1,
            "dpmpp20",
            SamplerConfig::dpm_solver_pp(20),
        ));
    }
    v
}

fn bench(c: &mut Criterion) {
    bump_ddpm::unet::alloc::keep_freed_memory();
    eprintln!("{}", bump_ddpm::unet::ops::isa_report());
    let full = std::env::var("BUMP_BENCH_FULL").is_ok_and(|v| v == "1");
    let schedule = NoiseSchedule::new(&ExperimentConfig::quick().diffusion).unwrap();
    let mut g = c.benchmark_group("sampler");
    g.sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(5));
    for kind in compiled_devices() {
        let dev = device(kind).unwrap();
        for (mname, mcfg, b, sname, scfg) in cases(full) {
            let model = UNet::new(&mcfg, 0, &dev).unwrap();
            let coords: Vec<f32> = (0..b)
                .flat_map(|i| [(i % 32) as f32, ((i / 32) % 32) as f32])
                .collect();
            let cond = Tensor::from_vec(coords, (b, 2), &dev).unwrap();
            let seeds: Vec<u64> = (0..b as u64).collect();
            g.throughput(Throughput::Elements(b as u64));
            g.bench_function(format!("{}_{mname}_b{b}_{sname}", kind.family()), |bench| {
                bench.iter(|| {
                    let mut den = |x: &Tensor, t: &Tensor, c: &Tensor| model.forward(x, t, c);
                    let x = sample(&schedule, &scfg, &mut den, &cond, (1, 32, 32), &seeds, None)
                        .unwrap();
                    sync(&dev);
                    x
                })
            });
        }
    }
    g.finish();
}

/// Waits for queued GPU work, so the timer measures it (a no-op on the CPU).
fn sync(dev: &Device) {
    dev.synchronize().unwrap();
}

criterion_group!(benches, bench);
criterion_main!(benches);
