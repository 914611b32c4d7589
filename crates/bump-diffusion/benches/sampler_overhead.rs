//! Per-step overhead of the samplers with a trivial denoiser (returns zeros), so model benches
//! can show that the model dominates; plus the seeded noise they draw.
//! `cargo bench -p bump-diffusion --bench sampler_overhead`.
//!
//! Throughput is reported in steps (elements = 50 steps per iteration). Note that candle's CPU
//! element-wise kernels go multi-threaded from 64 Ki elements (batch 64 of 32×32 hits it), so
//! on a loaded machine the batch-64 figures mostly measure thread-pool hand-offs; compare with
//! `RAYON_NUM_THREADS=1`.

use bump_diffusion::{gaussian_noise, sample, NoiseSchedule, SamplerConfig, ScheduleConfig};
use candle_core::{DType, Device, Tensor};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::time::Duration;

const STEPS: usize = 50;

fn overhead(c: &mut Criterion) {
    let dev = Device::Cpu;
    let schedule = NoiseSchedule::new(&ScheduleConfig::default()).unwrap();
    let mut g = c.benchmark_group("sampler_overhead_per_step");
    g.sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    for batch in [1usize, 16, 64] {
        let cond = Tensor::zeros((batch, 2), DType::F32, &dev).unwrap();
        let seeds: Vec<u64> = (0..batch as u64).collect();
        for (name, cfg) in [
            ("ddpm", SamplerConfig::respaced_ddpm(STEPS)),
            ("ddim", SamplerConfig::ddim(STEPS)),
            ("dpmpp", SamplerConfig::dpm_solver_pp(STEPS)),
        ] {
            g.throughput(Throughput::Elements(STEPS as u64));
            g.bench_function(format!("cpu_{name}_b{batch}_32x32"), |b| {
                b.iter(|| {
                    let mut zero = |x: &Tensor, _t: &Tensor, _c: &Tensor| x.zeros_like();
                    sample(&schedule, &cfg, &mut zero, &cond, (1, 32, 32), &seeds, None).unwrap()
                })
            });
        }
        // The per-step noise of the stochastic samplers alone (one draw per step).
        g.throughput(Throughput::Elements(1));
        g.bench_function(format!("cpu_gaussian_noise_b{batch}_32x32"), |b| {
            b.iter(|| gaussian_noise(&seeds, &[1, 32, 32], &dev).unwrap())
        });
    }
    g.finish();
}

criterion_group!(benches, overhead);
criterion_main!(benches);
