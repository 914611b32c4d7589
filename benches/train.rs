//! Training throughput (steps/s; images/s = steps/s × batch): one full optimiser step of the
//! facade's loop — forward, v/ε target, backward, gradient clipping, AdamW, EMA.
//!
//! Criterion prints the time per step (steps/s = 1 / time) and images/s (batch 64 per step).
//! Default: the `tiny` preset and the `quick` experiment's model at batch 64, ≈ 1 min on 2
//! cores. `BUMP_BENCH_FULL=1` adds the `paper` preset (≈ 9 s per step on 2 cores).
//! Bench names start with the device (`cpu_`, `cuda_`, `metal_`); every compiled-in device runs.
//! `cargo bench --bench train`

use bump_ddpm::config::ExperimentConfig;
use bump_ddpm::diffusion::{add_noise, gaussian_noise, training_target, NoiseSchedule};
use bump_ddpm::optim::{optimizer_step, AdamW, Ema};
use bump_ddpm::unet::{compiled_devices, device, UNet, UNetConfig};
use candle_core::Tensor;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::time::Duration;

#[global_allocator]
static GLOBAL: bump_ddpm::unet::alloc::MiMalloc = bump_ddpm::unet::alloc::MiMalloc;

fn bench(c: &mut Criterion) {
    bump_ddpm::unet::alloc::keep_freed_memory();
    eprintln!("{}", bump_ddpm::unet::ops::isa_report());
    let full = std::env::var("BUMP_BENCH_FULL").is_ok_and(|v| v == "1");
    let quick = ExperimentConfig::quick();
    let schedule = NoiseSchedule::new(&quick.diffusion).unwrap();
    let mut models = vec![("tiny", UNetConfig::tiny()), ("quick", quick.model.clone())];
    if full {
        models.push(("paper", UNetConfig::paper()));
    }
    let mut g = c.benchmark_group("train_step");
    g.sample_size(10)
        .measurement_time(Duration::from_secs(15))
        .warm_up_time(Duration::from_secs(2));
    for kind in compiled_devices() {
        let dev = device(kind).unwrap();
        let prefix = kind.family();
        for (name, cfg) in &models {
            let b = 64usize;
            let model = UNet::new(cfg, 0, &dev).unwrap();
            let mut opt = AdamW::new(model.vars(), Default::default()).unwrap();
            let mut ema = Ema::new(&model.vars(), 0.995).unwrap();
            let x0 = gaussian_noise(&(0..b as u64).collect::<Vec<_>>(), &[1, 32, 32], &dev)
                .unwrap()
                .tanh()
                .unwrap();
            let noise = gaussian_noise(
                &(100..100 + b as u64).collect::<Vec<_>>(),
                &[1, 32, 32],
                &dev,
            )
            .unwrap();
            let t = Tensor::from_vec(
                (0..b).map(|i| (i * 15 % 1000) as f32).collect::<Vec<_>>(),
                b,
                &dev,
            )
            .unwrap();
            let cond = Tensor::from_vec(
                (0..b)
                    .flat_map(|i| [(i % 32) as f32, (i / 2) as f32])
                    .collect::<Vec<_>>(),
                (b, 2),
                &dev,
            )
            .unwrap();
            g.throughput(Throughput::Elements(b as u64));
            g.bench_function(format!("{prefix}_{name}_b{b}"), |bench| {
                bench.iter(|| {
                    let xt = add_noise(&schedule, &x0, &noise, &t).unwrap();
                    let target =
                        training_target(&schedule, schedule.prediction_type(), &x0, &noise, &t)
                            .unwrap();
                    let pred = model.forward_t(&xt, &t, &cond, true).unwrap();
                    let loss = (pred - target).unwrap().sqr().unwrap().mean_all().unwrap();
                    optimizer_step(&loss, &mut opt, &mut ema, 1e-4, 1.0).unwrap();
                    dev.synchronize().unwrap();
                })
            });
        }
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
