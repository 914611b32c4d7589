//! UMAP (3D, protocol defaults) + OLS R² at the sizes of a checkpoint evaluation: N = 256
//! points in D = 512, 4096 and 8192, and N = 1024 in D = 4096 (a 16×16 or 32×32 grid through a
//! random smooth map). `cargo bench -p bump-analysis --bench umap`.

use bump_analysis::{umap_r2, Activations, UmapConfig};
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
    let mut coords = Vec::with_capacity(side * side);
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
    let mut g = c.benchmark_group("umap_r2");
    g.sample_size(10).measurement_time(Duration::from_secs(8));
    let cfg = UmapConfig::default();
    for (side, d) in [(16, 512), (16, 4096), (16, 8192), (32, 4096)] {
        let (a, coords) = sheet(side, d);
        g.bench_function(format!("n{}_d{d}", side * side), |b| {
            b.iter(|| umap_r2(&a, &coords, &cfg).unwrap())
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
