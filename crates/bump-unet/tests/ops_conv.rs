//! The custom CPU conv2d (im2col + gemm, own backward) against stock candle, forward and backward.

mod ops_common;

use bump_unet::ops::{conv2d, conv2d_stock};
use ops_common::{check_against_stock, rand_tensor, rng};

/// (batch, c_in, h, w, c_out, k, padding, stride, bias)
type Case = (usize, usize, usize, usize, usize, usize, usize, usize, bool);

const CASES: &[Case] = &[
    (1, 3, 8, 8, 4, 3, 1, 1, true),
    (2, 5, 7, 9, 6, 3, 1, 1, true),
    (3, 4, 9, 7, 5, 3, 1, 2, true),
    (2, 4, 8, 8, 8, 3, 1, 2, false),
    (2, 6, 5, 6, 3, 1, 0, 1, true),
    (1, 6, 5, 6, 3, 1, 0, 1, false),
    (2, 3, 7, 7, 4, 1, 0, 2, true),
    (2, 3, 6, 5, 4, 3, 0, 1, true),
    // Stock candle's conv2d backward derives the output padding from H only, so H and W
    // must leave the same remainder for the reference to work; ours has no such limit.
    (3, 2, 7, 9, 3, 3, 0, 2, false),
    (2, 3, 4, 4, 2, 1, 1, 1, true),
    // Images smaller than the kernel (the 1×1 bottom of a UNet on 4×4 inputs).
    (2, 3, 1, 1, 4, 3, 1, 1, true),
    (1, 2, 2, 1, 3, 3, 1, 1, false),
    (5, 16, 16, 16, 32, 3, 1, 1, true),
    // Images of fewer than 256 output pixels go through gemm in groups (conv.rs, GROUP_COLUMNS):
    // 4×4 outputs in groups of 16 (16, 16, 5; per thread in the backward pass: 16 + 3, 16 + 2),
    // 8×8 in groups of 4 with a group of one left over (also pointwise), and a strided conv.
    (37, 3, 4, 4, 5, 3, 1, 1, true),
    (9, 4, 8, 8, 6, 3, 1, 1, false),
    (9, 4, 8, 8, 6, 1, 0, 1, true),
    (20, 3, 8, 8, 4, 3, 1, 2, true),
];

#[test]
fn conv2d_matches_stock_forward_and_backward() {
    for (i, &(b, ci, h, w, co, k, pad, stride, bias)) in CASES.iter().enumerate() {
        let mut r = rng(100 + i as u64);
        let mut inputs = vec![
            rand_tensor(&mut r, &[b, ci, h, w]),
            rand_tensor(&mut r, &[co, ci, k, k]),
        ];
        if bias {
            inputs.push(rand_tensor(&mut r, &[co]));
        }
        let ho = (h + 2 * pad - k) / stride + 1;
        let wo = (w + 2 * pad - k) / stride + 1;
        check_against_stock(
            &format!("case {i}"),
            &inputs,
            &[b, co, ho, wo],
            i as u64,
            |t| conv2d(&t[0], &t[1], t.get(2), pad, stride).expect("custom conv"),
            |t| conv2d_stock(&t[0], &t[1], t.get(2), pad, stride).expect("stock conv"),
        );
    }
}

#[test]
fn conv2d_accepts_non_contiguous_inputs() {
    let mut r = rng(7);
    // x is built as (B, C, W, H) and transposed, so the op sees a strided view.
    let xt = rand_tensor(&mut r, &[2, 3, 6, 5]);
    let w = rand_tensor(&mut r, &[4, 3, 3, 3]);
    let b = rand_tensor(&mut r, &[4]);
    check_against_stock(
        "transposed input",
        &[xt, w, b],
        &[2, 4, 5, 6],
        7,
        |t| {
            let x = t[0].transpose(2, 3).expect("transpose");
            assert!(!x.is_contiguous());
            conv2d(&x, &t[1], Some(&t[2]), 1, 1).expect("custom conv")
        },
        |t| {
            let x = t[0].transpose(2, 3).expect("transpose");
            conv2d_stock(&x, &t[1], Some(&t[2]), 1, 1).expect("stock conv")
        },
    );
}

#[test]
fn conv2d_rejects_mismatched_channels() {
    let mut r = rng(9);
    let x = rand_tensor(&mut r, &[1, 3, 5, 5]);
    let w = rand_tensor(&mut r, &[4, 2, 3, 3]);
    assert!(conv2d(&x, &w, None, 1, 1).is_err());
}

#[test]
fn conv2d_gradients_are_bit_reproducible() {
    let mut r = rng(11);
    let inputs = [
        rand_tensor(&mut r, &[7, 4, 9, 9]),
        rand_tensor(&mut r, &[5, 4, 3, 3]),
        rand_tensor(&mut r, &[5]),
    ];
    let weight = rand_tensor(&mut r, &[7, 5, 9, 9]);
    let run = || {
        ops_common::value_and_grads(&inputs, &weight, |t| {
            conv2d(&t[0], &t[1], Some(&t[2]), 1, 1).expect("conv")
        })
    };
    let ((y1, g1), (y2, g2)) = (run(), run());
    let bits = |t: &candle_core::Tensor| -> Vec<u32> {
        let v: Vec<f32> = t.flatten_all().and_then(|t| t.to_vec1()).expect("vec");
        v.into_iter().map(f32::to_bits).collect()
    };
    assert_eq!(bits(&y1), bits(&y2));
    for (a, b) in g1.iter().zip(&g2) {
        assert_eq!(bits(a), bits(b));
    }
}
