//! The fused CPU group norm (+ SiLU) against the stock candle composition, forward and backward.

mod ops_common;

use bump_unet::ops::{group_norm, group_norm_silu, group_norm_silu_stock, group_norm_stock};
use candle_core::Tensor;
use ops_common::{check_against_stock, rand_tensor, rng};

/// (batch, channels, h, w, groups)
const CASES: &[(usize, usize, usize, usize, usize)] = &[
    (1, 4, 5, 5, 1),
    (2, 8, 7, 9, 4),
    (3, 6, 3, 5, 3),
    (2, 32, 8, 8, 8),
    (1, 12, 1, 1, 4),
    (4, 16, 6, 6, 16),
];

fn inputs(seed: u64, b: usize, c: usize, h: usize, w: usize) -> Vec<Tensor> {
    let mut r = rng(seed);
    // An offset and scale on x make the normalisation do real work.
    let x = (rand_tensor(&mut r, &[b, c, h, w]) * 3.0)
        .and_then(|t| t + 0.5)
        .expect("x");
    let gamma = (rand_tensor(&mut r, &[c]) + 1.0).expect("gamma");
    let beta = rand_tensor(&mut r, &[c]);
    vec![x, gamma, beta]
}

#[test]
fn group_norm_matches_stock_forward_and_backward() {
    for (i, &(b, c, h, w, g)) in CASES.iter().enumerate() {
        check_against_stock(
            &format!("group_norm case {i}"),
            &inputs(200 + i as u64, b, c, h, w),
            &[b, c, h, w],
            i as u64,
            |t| group_norm(&t[0], g, &t[1], &t[2], 1e-5).expect("custom"),
            |t| group_norm_stock(&t[0], g, &t[1], &t[2], 1e-5).expect("stock"),
        );
    }
}

#[test]
fn group_norm_silu_matches_stock_forward_and_backward() {
    for (i, &(b, c, h, w, g)) in CASES.iter().enumerate() {
        check_against_stock(
            &format!("group_norm_silu case {i}"),
            &inputs(300 + i as u64, b, c, h, w),
            &[b, c, h, w],
            i as u64,
            |t| group_norm_silu(&t[0], g, &t[1], &t[2], 1e-5).expect("custom"),
            |t| group_norm_silu_stock(&t[0], g, &t[1], &t[2], 1e-5).expect("stock"),
        );
    }
}

#[test]
fn group_norm_accepts_non_contiguous_inputs() {
    let ins = inputs(9, 2, 8, 5, 7);
    check_against_stock(
        "transposed input",
        &ins,
        &[2, 8, 7, 5],
        9,
        |t| {
            let x = t[0].transpose(2, 3).expect("transpose");
            assert!(!x.is_contiguous());
            group_norm_silu(&x, 4, &t[1], &t[2], 1e-5).expect("custom")
        },
        |t| {
            let x = t[0].transpose(2, 3).expect("transpose");
            group_norm_silu_stock(&x, 4, &t[1], &t[2], 1e-5).expect("stock")
        },
    );
}

#[test]
fn group_norm_rejects_indivisible_groups() {
    let ins = inputs(1, 1, 6, 3, 3);
    assert!(group_norm(&ins[0], 4, &ins[1], &ins[2], 1e-5).is_err());
    assert!(group_norm_silu(&ins[0], 0, &ins[1], &ins[2], 1e-5).is_err());
}

#[test]
fn group_norm_gradients_are_bit_reproducible() {
    let ins = inputs(12, 6, 8, 6, 6);
    let weight = rand_tensor(&mut rng(13), &[6, 8, 6, 6]);
    let run = || {
        ops_common::value_and_grads(&ins, &weight, |t| {
            group_norm_silu(&t[0], 4, &t[1], &t[2], 1e-5).expect("gn")
        })
    };
    let ((y1, g1), (y2, g2)) = (run(), run());
    let bits = |t: &Tensor| -> Vec<u32> {
        let v: Vec<f32> = t.flatten_all().and_then(|t| t.to_vec1()).expect("vec");
        v.into_iter().map(f32::to_bits).collect()
    };
    assert_eq!(bits(&y1), bits(&y2));
    for (a, b) in g1.iter().zip(&g2) {
        assert_eq!(bits(a), bits(b));
    }
}
