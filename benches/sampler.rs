//! Sampler throughput in images/s with the real UNet.
//!
//! Default selection (a few minutes on 2 cores): the `quick` model, batch 64, DDIM-50 and
//! DPM-Solver++-20. `BUMP_BENCH_FULL=1` adds the `paper` model, batches 1 and 256, DDPM-1000 and
//! respaced DDPM-100.
//!
//! `cargo bench --bench sampler`

use bump_ddpm::config::ExperimentConfig;
use bump_ddpm::diffusion::{sample, NoiseSchedule, SamplerConfig};
use bump_ddpm::unet::{UNet, UNetConfig};
use candle_core::{Device, Tensor};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::time::Duration;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn bench(c: &mut Criterion) {
    // SAFETY: plain option setter of the linked mimalloc (purging off; docs/performance.md).
    unsafe { libmimalloc_sys::mi_option_set(15, -1) };
    let full = std::env::var("BUMP_BENCH_FULL").is_ok_and(|v| v == "1");
    let dev = Device::Cpu;
    let quick = ExperimentConfig::quick();
    let schedule = NoiseSchedule::new(&quick.diffusion).unwrap();
    let mut models = vec![("quick", quick.model.clone())];
    let mut batches = vec![64usize];
    let mut samplers = vec![
        ("ddim50", SamplerConfig::ddim(50)),
        ("dpmpp20", SamplerConfig::dpm_solver_pp(20)),
    ];
    if full {
        models.push(("paper", UNetConfig::paper()));
        batches = vec![1, 64, 256];
        samplers.push(("ddpm100", SamplerConfig::respaced_ddpm(100)));
        samplers.push(("ddpm1000", SamplerConfig::ddpm()));
    }
    let mut g = c.benchmark_group("sampler");
    g.sample_size(10)
        .measurement_time(Duration::from_secs(10))
        .warm_up_time(Duration::from_secs(1));
    for (mname, mcfg) in &models {
        let model = UNet::new(mcfg, 0, &dev).unwrap();
        for &b in &batches {
            let coords: Vec<f32> = (0..b)
                .flat_map(|i| [(i % 32) as f32, ((i / 32) % 32) as f32])
                .collect();
            let cond = Tensor::from_vec(coords, (b, 2), &dev).unwrap();
            let seeds: Vec<u64> = (0..b as u64).collect();
            for (sname, scfg) in &samplers {
                g.throughput(Throughput::Elements(b as u64));
                g.bench_function(format!("cpu_{mname}_b{b}_{sname}"), |bench| {
                    bench.iter(|| {
                        let mut den = |x: &Tensor, t: &Tensor, c: &Tensor| model.forward(x, t, c);
                        sample(&schedule, scfg, &mut den, &cond, (1, 32, 32), &seeds, None).unwrap()
                    })
                });
            }
        }
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
