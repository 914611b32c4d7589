//! The fused CPU residual block against the same block built from stock candle ops, forward
//! and backward (every input and every parameter).

mod ops_common;

use bump_unet::ops::{res_block, res_block_fused, res_block_stock, ResBlockParams};
use candle_core::Tensor;
use ops_common::{check_against_stock, rand_tensor, rng};

/// (batch, c_in, c_out, h, w, cond dim, groups)
const CASES: &[(usize, usize, usize, usize, usize, usize, usize)] = &[
    (2, 8, 8, 6, 6, 4, 4),     // identity residual
    (3, 4, 8, 5, 7, 6, 2),     // 1×1 skip conv, odd sizes
    (1, 16, 8, 8, 8, 3, 4), // narrowing skip, batch 1 (8 groups of 1 channel would make the conditioning a no-op)
    (2, 6, 6, 1, 1, 2, 1),  // 1×1 image
    (2, 16, 16, 32, 32, 8, 8), // a 32×32 level: padded column rows
];

/// x, silu_c, then the parameters in `ResBlockParams` order.
fn inputs(seed: u64, b: usize, ci: usize, co: usize, h: usize, w: usize, d: usize) -> Vec<Tensor> {
    let mut r = rng(seed);
    let mut t = |dims: &[usize], scale: f64, offset: f64| {
        (rand_tensor(&mut r, dims) * scale)
            .and_then(|t| t + offset)
            .expect("tensor")
    };
    let mut v = vec![
        t(&[b, ci, h, w], 2.0, 0.3),
        t(&[b, d], 1.0, 0.0),
        t(&[ci], 0.5, 1.0),
        t(&[ci], 0.5, 0.0),
        t(&[co, ci, 3, 3], 0.3, 0.0),
        t(&[co], 0.3, 0.0),
        t(&[co, d], 0.5, 0.0),
        t(&[co], 0.5, 0.0),
        t(&[co], 0.5, 1.0),
        t(&[co], 0.5, 0.0),
        t(&[co, co, 3, 3], 0.3, 0.0),
        t(&[co], 0.3, 0.0),
    ];
    if ci != co {
        v.push(t(&[co, ci, 1, 1], 0.5, 0.0));
        v.push(t(&[co], 0.5, 0.0));
    }
    v
}

fn params(t: &[Tensor], groups: usize) -> ResBlockParams {
    let pair = |i: usize| (t[i].clone(), t[i + 1].clone());
    ResBlockParams {
        norm1: pair(2),
        conv1: pair(4),
        cond_proj: pair(6),
        norm2: pair(8),
        conv2: pair(10),
        skip: (t.len() > 12).then(|| pair(12)),
        groups,
        eps: 1e-5,
    }
}

#[test]
fn res_block_matches_stock_forward_and_backward() {
    for (i, &(b, ci, co, h, w, d, g)) in CASES.iter().enumerate() {
        check_against_stock(
            &format!("res_block case {i}"),
            &inputs(500 + i as u64, b, ci, co, h, w, d),
            &[b, co, h, w],
            i as u64,
            |t| res_block_fused(&t[0], &t[1], &params(t, g)).expect("fused"),
            |t| res_block_stock(&t[0], &t[1], &params(t, g)).expect("stock"),
        );
    }
}

#[test]
fn res_block_auto_path_matches_stock_on_both_sides_of_the_size_rule() {
    // (2, 16, 16, 32, 32): 32,768 outputs against ~5,000 parameters, fused;
    // (1, 16, 16, 4, 4): 256 outputs, composed.
    for (i, &(b, c, h, w)) in [(2, 16, 32, 32), (1, 16, 4, 4)].iter().enumerate() {
        check_against_stock(
            &format!("res_block auto {i}"),
            &inputs(900 + i as u64, b, c, c, h, w, 8),
            &[b, c, h, w],
            i as u64,
            |t| res_block(&t[0], &t[1], &params(t, 8)).expect("auto"),
            |t| res_block_stock(&t[0], &t[1], &params(t, 8)).expect("stock"),
        );
    }
}

#[test]
fn res_block_output_feeds_a_second_backward_consumer() {
    // The block's output used twice (as by a following block and a skip connection): the
    // gradients of both uses must add up.
    let (b, c, h, w, d, g) = (2, 8, 5, 5, 4, 4);
    check_against_stock(
        "res_block used twice",
        &inputs(77, b, c, c, h, w, d),
        &[b, c, h, w],
        7,
        |t| {
            let p = params(t, g);
            let y = res_block_fused(&t[0], &t[1], &p).expect("fused");
            let z = res_block_fused(&y, &t[1], &p).expect("fused");
            (z + y).expect("add")
        },
        |t| {
            let p = params(t, g);
            let y = res_block_stock(&t[0], &t[1], &p).expect("stock");
            let z = res_block_stock(&y, &t[1], &p).expect("stock");
            (z + y).expect("add")
        },
    );
}

#[test]
fn res_block_rejects_mismatched_inputs() {
    let t = inputs(3, 2, 8, 8, 4, 4, 4);
    let p = params(&t, 4);
    // Wrong channel count and wrong conditioning batch: errors, not panics.
    let x_bad = Tensor::zeros(
        (2, 6, 4, 4),
        candle_core::DType::F32,
        &candle_core::Device::Cpu,
    )
    .expect("zeros");
    assert!(res_block_fused(&x_bad, &t[1], &p).is_err());
    assert!(res_block(&x_bad, &t[1], &p).is_err());
    let c_bad =
        Tensor::zeros((3, 4), candle_core::DType::F32, &candle_core::Device::Cpu).expect("zeros");
    assert!(res_block_fused(&t[0], &c_bad, &p).is_err());
    assert!(res_block(&t[0], &c_bad, &p).is_err());
}
