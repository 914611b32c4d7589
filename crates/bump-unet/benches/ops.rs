//! Op-level benches: the custom CPU kernels (`bump_unet::ops::*`) against the stock candle
//! paths (`*_stock`), forward and forward+backward, on the shapes the UNet runs.
//!
//! `cargo bench -p bump-unet --bench ops` (set `RAYON_NUM_THREADS` to the core count).
//! `BUMP_BENCH_BATCH` sets the batch (default 16). Conv throughput is reported in FLOP/s
//! (criterion's "elem/s"), counting one multiply-add as 2 FLOPs and the backward as 2× the
//! forward. The GroupNorm and softmax kernels also run capped at AVX2+FMA (`custom_avx2`) when
//! the CPU has AVX-512, to compare the two paths on one machine; the ISA report is printed first.

use bump_unet::ops;
use candle_core::{Device, Result, Tensor, Var};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::time::Duration;

#[global_allocator]
static GLOBAL: bump_unet::alloc::MiMalloc = bump_unet::alloc::MiMalloc;

fn batch() -> usize {
    std::env::var("BUMP_BENCH_BATCH")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(16)
}

fn rand_tensor(rng: &mut ChaCha8Rng, dims: &[usize]) -> Tensor {
    let n: usize = dims.iter().product();
    let v: Vec<f32> = (0..n).map(|_| rng.random_range(-1.0f32..1.0)).collect();
    Tensor::from_vec(v, dims, &Device::Cpu).expect("tensor")
}

/// Runs `f` forward and backpropagates `sum(f(..))` into the vars.
fn fwd_bwd(vars: &[Var], f: &dyn Fn(&[Tensor]) -> Result<Tensor>) -> Result<()> {
    let ts: Vec<Tensor> = vars.iter().map(|v| v.as_tensor().clone()).collect();
    let grads = f(&ts)?.sum_all()?.backward()?;
    std::hint::black_box(grads);
    Ok(())
}

type OpFn = Box<dyn Fn(&[Tensor]) -> Result<Tensor>>;

fn bench_pair(
    c: &mut Criterion,
    group_name: &str,
    inputs: &[Tensor],
    fwd_flops: u64,
    capped_too: bool,
    custom: OpFn,
    stock: OpFn,
) {
    let mut g = c.benchmark_group(group_name);
    g.sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    let vars: Vec<Var> = inputs
        .iter()
        .map(|t| Var::from_tensor(t).expect("var"))
        .collect();
    // The AVX2-capped run only where it differs from the default one.
    let capped = if ops::detected_isa() > ops::Isa::Avx2Fma && capped_too {
        vec![ops::Isa::Avx2Fma]
    } else {
        vec![]
    };
    for (name, f, cap) in [("custom", &custom, None), ("stock", &stock, None)]
        .into_iter()
        .chain(
            capped
                .into_iter()
                .map(|c| ("custom_avx2", &custom, Some(c))),
        )
    {
        ops::set_max_isa(cap);
        if fwd_flops > 0 {
            g.throughput(Throughput::Elements(fwd_flops));
        }
        g.bench_function(BenchmarkId::new("fwd", name), |b| {
            b.iter(|| std::hint::black_box(f(inputs).expect("fwd")))
        });
        if fwd_flops > 0 {
            g.throughput(Throughput::Elements(3 * fwd_flops));
        }
        g.bench_function(BenchmarkId::new("fwd_bwd", name), |b| {
            b.iter(|| fwd_bwd(&vars, f.as_ref()).expect("fwd_bwd"))
        });
    }
    ops::set_max_isa(None);
    g.finish();
}

fn conv_benches(c: &mut Criterion) {
    bump_unet::alloc::keep_freed_memory();
    eprintln!("{}", ops::isa_report());
    let b = batch();
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    // (c_in, c_out, size, k, padding, stride): the tiny UNet's level-1/2 convs, its stride-2
    // downsample and a 1×1 skip projection.
    for &(ci, co, s, k, pad, stride) in &[
        (32, 32, 32, 3, 1, 1),
        (64, 64, 16, 3, 1, 1),
        (32, 32, 32, 3, 1, 2),
        (128, 64, 16, 1, 0, 1),
    ] {
        let x = rand_tensor(&mut rng, &[b, ci, s, s]);
        let w = rand_tensor(&mut rng, &[co, ci, k, k]);
        let bias = rand_tensor(&mut rng, &[co]);
        let so = (s + 2 * pad - k) / stride + 1;
        let flops = 2 * (b * co * so * so * ci * k * k) as u64;
        bench_pair(
            c,
            &format!("conv2d_{ci}to{co}_k{k}s{stride}_{s}x{s}_b{b}"),
            &[x, w, bias],
            flops,
            false,
            Box::new(move |t| ops::conv2d(&t[0], &t[1], Some(&t[2]), pad, stride)),
            Box::new(move |t| ops::conv2d_stock(&t[0], &t[1], Some(&t[2]), pad, stride)),
        );
    }
}

fn norm_benches(c: &mut Criterion) {
    let b = batch();
    let mut rng = ChaCha8Rng::seed_from_u64(2);
    for &(ch, s) in &[(32, 32), (64, 16)] {
        let x = rand_tensor(&mut rng, &[b, ch, s, s]);
        let gamma = rand_tensor(&mut rng, &[ch]);
        let beta = rand_tensor(&mut rng, &[ch]);
        let ins = [x, gamma, beta];
        bench_pair(
            c,
            &format!("group_norm_silu_c{ch}_{s}x{s}_b{b}"),
            &ins,
            0,
            true,
            Box::new(|t| ops::group_norm_silu(&t[0], 8, &t[1], &t[2], 1e-5)),
            Box::new(|t| ops::group_norm_silu_stock(&t[0], 8, &t[1], &t[2], 1e-5)),
        );
        bench_pair(
            c,
            &format!("group_norm_c{ch}_{s}x{s}_b{b}"),
            &ins,
            0,
            true,
            Box::new(|t| ops::group_norm(&t[0], 8, &t[1], &t[2], 1e-5)),
            Box::new(|t| ops::group_norm_stock(&t[0], 8, &t[1], &t[2], 1e-5)),
        );
    }
    let x = rand_tensor(&mut rng, &[b, 64, 16, 16]);
    bench_pair(
        c,
        &format!("upsample2x_c64_16x16_b{b}"),
        &[x],
        0,
        false,
        Box::new(|t| ops::upsample_nearest2x(&t[0])),
        Box::new(|t| ops::upsample_nearest2x_stock(&t[0])),
    );
    // Attention scores of the paper preset's 16×16 level: (B, heads, N, N), N = 256.
    let s = rand_tensor(&mut rng, &[b, 4, 256, 256]);
    bench_pair(
        c,
        &format!("scaled_softmax_4x256x256_b{b}"),
        &[s],
        0,
        true,
        Box::new(|t| ops::scaled_softmax_last_dim(&t[0], 0.125)),
        Box::new(|t| ops::scaled_softmax_last_dim_stock(&t[0], 0.125)),
    );
}

criterion_group!(benches, conv_benches, norm_benches);
criterion_main!(benches);
