//! The full metric suite on N = 1024 points in D = 4096 dimensions (a 32×32 grid through a
//! random smooth map), and on the facade's evaluation size N = 256; and the probe analysis
//! (`analyze_probe`: K = 4 samples of N = 256 conditions in D = 2048, both suites included).
//! `cargo bench -p bump-analysis --bench metrics`.

use bump_analysis::controls::{ControlMap, ControlSpec, NoiseKind};
use bump_analysis::{analyze_probe, compute_metrics, Activations, MetricConfig};
use criterion::{criterion_group, criterion_main, Criterion};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::time::Duration;

fn sheet(side: usize, d: usize) -> (Activations, Vec<[f64; 2]>) {
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let w: Vec<[f64; 3]> = (0..d)
        .map(|_| {
            [
                rng.random_range(-0.3..0.3),
                rng.random_range(-0.3..0.3),
                rng.random_range(0.0..std::f64::consts::TAU),
            ]
        })
        .collect();
    let mut data = Vec::with_capacity(side * side * d);
    let mut coords = Vec::new();
    for y in 0..side {
        for x in 0..side {
            coords.push([x as f64, y as f64]);
            data.extend(
                w.iter()
                    .map(|c| (c[0] * x as f64 + c[1] * y as f64 + c[2]).sin()),
            );
        }
    }
    (
        Activations::from_f64(&data, side * side, d).unwrap(),
        coords,
    )
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("metric_suite");
    // Criterion's minimum of 10 samples; at a few seconds per suite the run takes about a minute.
    g.sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5));
    for (side, d) in [(16usize, 2048usize), (32, 4096)] {
        let (a, coords) = sheet(side, d);
        g.bench_function(format!("n{}_d{d}", side * side), |b| {
            b.iter(|| {
                compute_metrics(&a, &coords, Some((side, side)), &MetricConfig::default()).unwrap()
            })
        });
    }
    g.finish();
    let mut g = c.benchmark_group("probe_analysis");
    g.sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(10));
    let probe = ControlSpec {
        map: ControlMap::Curved,
        signal: 0.3,
        noise: NoiseKind::Iso,
        dim: 2048,
    }
    .generate(0)
    .unwrap();
    g.bench_function("k4_n256_d2048", |b| {
        b.iter(|| {
            analyze_probe(
                &probe.samples,
                &probe.coords,
                Some(probe.grid),
                &MetricConfig::default(),
            )
            .unwrap()
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
