//! Per-step overhead of the samplers with a trivial denoiser (returns zeros), so model benches
//! can show that the model dominates. `cargo bench -p bump-diffusion --bench sampler_overhead`.

use bump_diffusion::{sample, NoiseSchedule, SamplerConfig, ScheduleConfig};
use candle_core::{DType, Device, Tensor};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::time::Duration;

fn overhead(c: &mut Criterion) {
    let dev = Device::Cpu;
    let schedule = NoiseSchedule::new(&ScheduleConfig::default()).unwrap();
    let mut g = c.benchmark_group("sampler_overhead_per_step");
    g.sample_size(10).measurement_time(Duration::from_secs(3));
    for batch in [1usize, 64] {
        let cond = Tensor::zeros((batch, 2), DType::F32, &dev).unwrap();
        let seeds: Vec<u64> = (0..batch as u64).collect();
        for (name, cfg) in [
            ("ddpm", SamplerConfig::respaced_ddpm(50)),
            ("ddim", SamplerConfig::ddim(50)),
            ("dpmpp", SamplerConfig::dpm_solver_pp(50)),
        ] {
            // 50 steps per iteration: elements = steps, so the report reads as steps/s.
            g.throughput(Throughput::Elements(50));
            g.bench_function(format!("cpu_{name}_b{batch}_32x32"), |b| {
                b.iter(|| {
                    let mut zero = |x: &Tensor, _t: &Tensor, _c: &Tensor| x.zeros_like();
                    sample(&schedule, &cfg, &mut zero, &cond, (1, 32, 32), &seeds, None).unwrap()
                })
            });
        }
    }
    g.finish();
}

criterion_group!(benches, overhead);
criterion_main!(benches);
