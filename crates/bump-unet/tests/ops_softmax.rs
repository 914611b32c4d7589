//! The fused CPU scaled softmax against `candle_nn::ops::softmax` of the scaled input, forward
//! and backward, plus known answers.

mod ops_common;

use bump_unet::ops::{scaled_softmax_last_dim, scaled_softmax_last_dim_stock};
use candle_core::{Device, Tensor};
use ops_common::{check_against_stock, rand_tensor, rng};

#[test]
fn scaled_softmax_matches_stock_forward_and_backward() {
    let cases: &[(&[usize], f64)] = &[
        (&[2, 3, 5], 1.0),
        (&[4, 16], 0.125),
        (&[3, 64, 64], 0.25),
        (&[2, 7, 300], 2.0),
        (&[5, 3], -0.5),
    ];
    for (i, &(dims, scale)) in cases.iter().enumerate() {
        // Scores spread over ±4 make the softmax far from uniform.
        let x = (rand_tensor(&mut rng(600 + i as u64), dims) * 4.0).expect("x");
        check_against_stock(
            &format!("softmax case {i}"),
            &[x],
            dims,
            i as u64,
            |t| scaled_softmax_last_dim(&t[0], scale).expect("custom"),
            |t| scaled_softmax_last_dim_stock(&t[0], scale).expect("stock"),
        );
    }
}

#[test]
fn scaled_softmax_known_answers() {
    let dev = Device::Cpu;
    // softmax([0, ln 2, ln 3]) = [1, 2, 3] / 6; scale 2 on half the logits gives the same.
    let x = Tensor::new(&[[0f32, 2f32.ln() / 2.0, 3f32.ln() / 2.0]], &dev).expect("x");
    let y: Vec<Vec<f32>> = scaled_softmax_last_dim(&x, 2.0)
        .expect("softmax")
        .to_vec2()
        .expect("vec");
    for (got, want) in y[0].iter().zip([1.0 / 6.0, 2.0 / 6.0, 3.0 / 6.0]) {
        assert!((got - want).abs() < 1e-6, "{y:?}");
    }
    // Large logits must not overflow: the row maximum is subtracted first.
    let big = Tensor::new(&[[1000f32, 1000.0], [-1000.0, 1000.0]], &dev).expect("big");
    let y: Vec<Vec<f32>> = scaled_softmax_last_dim(&big, 1.0)
        .expect("softmax")
        .to_vec2()
        .expect("vec");
    // (e^-2000 underflows; the kernel's exp floors at e^-87 ≈ 1.6e-38.)
    let want = [[0.5f32, 0.5], [0.0, 1.0]];
    for (row, want_row) in y.iter().zip(want) {
        for (got, w) in row.iter().zip(want_row) {
            assert!(got.is_finite() && (got - w).abs() < 1e-30, "{y:?}");
        }
    }
    // The gradient of Σ softmax is zero (the outputs always sum to 1).
    let v = candle_core::Var::from_tensor(&(rand_tensor(&mut rng(1), &[3, 9]) * 3.0).expect("v"))
        .expect("var");
    let g = scaled_softmax_last_dim(v.as_tensor(), 0.7)
        .and_then(|y| y.sum_all())
        .and_then(|l| l.backward())
        .expect("backward");
    let gx = g.get(v.as_tensor()).expect("grad");
    let worst = gx
        .abs()
        .and_then(|t| t.flatten_all())
        .and_then(|t| t.max(0))
        .and_then(|t| t.to_scalar::<f32>())
        .expect("max");
    assert!(worst < 1e-6, "gradient of a constant sum is {worst}");
}

#[test]
fn scaled_softmax_survives_an_empty_last_dimension() {
    let x = Tensor::zeros((2, 0), candle_core::DType::F32, &Device::Cpu).expect("x");
    // Zero-width rows take the stock path: an empty result or an error, never a panic.
    if let Ok(y) = scaled_softmax_last_dim(&x, 1.0) {
        assert_eq!(y.dims(), [2, 0]);
    }
}
