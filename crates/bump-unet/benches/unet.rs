//! UNet benches: the forward pass (evaluation mode) and one AdamW training step
//! (forward in training mode, ε-MSE-style loss, backward, update) on 32×32 single-channel inputs.
//!
//! ```text
//! RAYON_NUM_THREADS=2 cargo bench -p bump-unet --bench unet
//! ```
//! Default selection (a few minutes on 2 cores): tiny at batch 64 (forward and step) and paper
//! at batch 64 (forward). Environment switches:
//! - `BUMP_BENCH_FULL=1`: both presets × batch 64 and 256 × forward and step (long: the paper
//!   step at batch 256 alone takes several minutes per sample on 2 cores);
//! - `BUMP_BENCH_STOCK=1`: also run every selected case with the custom CPU kernels switched off
//!   (stock candle ops), named `.../stock`.
//!
//! Before the benches, the FLOPs of one forward pass per image are printed for each preset
//! (`UNetConfig::forward_flops`: every conv plus the attention matmuls).
//! Criterion's throughput is set to images, so it prints images/s.

use bump_unet::{ops, UNet, UNetConfig};
use candle_core::{DType, Device, Tensor};
use candle_nn::{AdamW, Optimizer, ParamsAdamW};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::time::Duration;

#[global_allocator]
static GLOBAL: bump_unet::alloc::MiMalloc = bump_unet::alloc::MiMalloc;

const SIZE: usize = 32;

fn flag(name: &str) -> bool {
    std::env::var(name).is_ok_and(|v| !v.is_empty() && v != "0")
}

/// A seeded batch: x (B, 1, 32, 32), t (B,), cond (B, 2).
fn batch(b: usize) -> (Tensor, Tensor, Tensor) {
    let dev = Device::Cpu;
    let mut rng = ChaCha8Rng::seed_from_u64(b as u64);
    let x: Vec<f32> = (0..b * SIZE * SIZE)
        .map(|_| rng.random_range(-1.0f32..1.0))
        .collect();
    let t: Vec<f32> = (0..b).map(|_| rng.random_range(0..1000) as f32).collect();
    let c: Vec<f32> = (0..2 * b)
        .map(|_| rng.random_range(0.0f32..SIZE as f32))
        .collect();
    (
        Tensor::from_vec(x, (b, 1, SIZE, SIZE), &dev).expect("x"),
        Tensor::from_vec(t, b, &dev).expect("t"),
        Tensor::from_vec(c, (b, 2), &dev).expect("cond"),
    )
}

/// Forward FLOPs per image of a preset (`UNetConfig::forward_flops`), printed once.
fn report_flops(name: &str, unet: &UNet, cfg: &UNetConfig) {
    println!(
        "{name}: {} parameters; forward FLOPs per image: {:.3} G",
        unet.parameter_count(),
        cfg.forward_flops(SIZE, SIZE) as f64 * 1e-9
    );
}

fn bench_preset(c: &mut Criterion, name: &str, cfg: &UNetConfig, cases: &[(usize, bool)]) {
    let unet = UNet::new(cfg, 0, &Device::Cpu).expect("unet");
    report_flops(name, &unet, cfg);
    let vars = unet.vars().into_iter().map(|(_, v)| v).collect();
    let mut opt = AdamW::new(
        vars,
        ParamsAdamW {
            lr: 1e-4,
            ..Default::default()
        },
    )
    .expect("adamw");
    let paths: &[(&str, bool)] = if flag("BUMP_BENCH_STOCK") {
        &[("custom", true), ("stock", false)]
    } else {
        &[("custom", true)]
    };
    let mut g = c.benchmark_group(format!("unet_{name}"));
    g.sample_size(10)
        .warm_up_time(Duration::from_millis(100))
        .measurement_time(Duration::from_secs(5));
    for &(b, with_step) in cases {
        let (x, t, cond) = batch(b);
        let target = Tensor::zeros((b, 1, SIZE, SIZE), DType::F32, &Device::Cpu).expect("target");
        g.throughput(Throughput::Elements(b as u64));
        for &(path, custom) in paths {
            ops::set_custom_cpu_kernels(custom);
            g.bench_function(BenchmarkId::new(format!("forward/{path}"), b), |bch| {
                bch.iter(|| std::hint::black_box(unet.forward(&x, &t, &cond).expect("forward")))
            });
            if with_step {
                g.bench_function(BenchmarkId::new(format!("train_step/{path}"), b), |bch| {
                    bch.iter(|| {
                        let pred = unet.forward_t(&x, &t, &cond, true).expect("forward");
                        let loss = pred
                            .sub(&target)
                            .and_then(|d| d.sqr())
                            .and_then(|d| d.mean_all());
                        opt.backward_step(&loss.expect("loss")).expect("step");
                    })
                });
            }
        }
        ops::set_custom_cpu_kernels(true);
    }
    g.finish();
}

fn unet_benches(c: &mut Criterion) {
    bump_unet::alloc::keep_freed_memory();
    eprintln!("{}", ops::isa_report());
    if flag("BUMP_BENCH_FULL") {
        let all = [(64, true), (256, true)];
        bench_preset(c, "tiny", &UNetConfig::tiny(), &all);
        bench_preset(c, "paper", &UNetConfig::paper(), &all);
    } else {
        bench_preset(c, "tiny", &UNetConfig::tiny(), &[(64, true)]);
        bench_preset(c, "paper", &UNetConfig::paper(), &[(64, false)]);
    }
}

criterion_group!(benches, unet_benches);
criterion_main!(benches);
