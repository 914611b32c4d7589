//! The CPU nearest ×2 upsampling kernel against the reshape/broadcast reference.

mod ops_common;

use bump_unet::ops::{upsample_nearest2x, upsample_nearest2x_stock};
use ops_common::{check_against_stock, rand_tensor, rng};

#[test]
fn upsample_matches_stock_forward_and_backward() {
    for (i, &(b, c, h, w)) in [(1, 1, 1, 1), (2, 3, 4, 5), (3, 8, 7, 3)]
        .iter()
        .enumerate()
    {
        let x = rand_tensor(&mut rng(400 + i as u64), &[b, c, h, w]);
        check_against_stock(
            &format!("upsample case {i}"),
            &[x],
            &[b, c, 2 * h, 2 * w],
            i as u64,
            |t| upsample_nearest2x(&t[0]).expect("custom"),
            |t| upsample_nearest2x_stock(&t[0]).expect("stock"),
        );
    }
}

#[test]
fn upsample_known_answer_and_gradient_accumulates() {
    let x = candle_core::Tensor::new(&[[[[1f32, 2.], [3., 4.]]]], &candle_core::Device::Cpu)
        .expect("x");
    let y = upsample_nearest2x(&x).expect("up");
    let rows: Vec<Vec<f32>> = y
        .squeeze(0)
        .and_then(|t| t.squeeze(0))
        .expect("sq")
        .to_vec2()
        .expect("vec");
    assert_eq!(
        rows,
        vec![
            vec![1., 1., 2., 2.],
            vec![1., 1., 2., 2.],
            vec![3., 3., 4., 4.],
            vec![3., 3., 4., 4.]
        ]
    );
    // Each input pixel feeds four outputs, so d(sum y)/dx = 4 everywhere.
    let v = candle_core::Var::from_tensor(&x).expect("var");
    let grads = upsample_nearest2x(v.as_tensor())
        .and_then(|y| y.sum_all())
        .and_then(|l| l.backward())
        .expect("backward");
    let g: Vec<f32> = grads
        .get(v.as_tensor())
        .expect("grad")
        .flatten_all()
        .expect("flat")
        .to_vec1()
        .expect("vec");
    assert_eq!(g, vec![4.0; 4]);
}

#[test]
fn upsample_accepts_non_contiguous_inputs() {
    let xt = rand_tensor(&mut rng(5), &[2, 3, 5, 4]);
    check_against_stock(
        "transposed input",
        &[xt],
        &[2, 3, 8, 10],
        5,
        |t| upsample_nearest2x(&t[0].transpose(2, 3).expect("t")).expect("custom"),
        |t| upsample_nearest2x_stock(&t[0].transpose(2, 3).expect("t")).expect("stock"),
    );
}
