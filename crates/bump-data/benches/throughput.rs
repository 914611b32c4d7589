//! Render and score throughput in images/s.

use std::time::Duration;

use bump_data::{score_batch, Dataset, GridSpec, RenderConfig, ScoreConfig};
use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};

fn bench(c: &mut Criterion) {
    let centres = GridSpec::square(32, 1.0).centres().expect("grid");
    let count = centres.len() as u64; // 1,024 images of 32×32
    let cfg = RenderConfig::default();

    let mut g = c.benchmark_group("bump_data");
    g.sample_size(10)
        .measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_secs(1))
        .throughput(Throughput::Elements(count));
    g.bench_function("render_1024_images_32x32", |b| {
        b.iter(|| Dataset::render(black_box(&cfg), black_box(&centres)).expect("render"))
    });

    let ds = Dataset::render(&cfg, &centres).expect("render");
    let targets = ds.image_centres();
    for (name, sc) in [
        ("score_1024_images_refined", ScoreConfig::default()),
        (
            "score_1024_images_centroid",
            ScoreConfig::default().with_refine(false),
        ),
    ] {
        g.bench_function(name, |b| {
            b.iter(|| score_batch(black_box(ds.images()), 32, &targets, &sc).expect("score"))
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
