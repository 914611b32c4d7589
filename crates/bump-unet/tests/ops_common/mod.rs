//! Helpers shared by the `ops_*` tests: seeded random tensors and gradient comparison.
#![allow(dead_code)]

use candle_core::{Device, Tensor, Var};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Max abs error the custom kernels must meet against stock candle.
pub const TOL: f32 = 1e-4;

/// Uniform(-1, 1) values from a seeded generator, shaped as asked.
pub fn rand_tensor(rng: &mut ChaCha8Rng, dims: &[usize]) -> Tensor {
    let n: usize = dims.iter().product();
    let v: Vec<f32> = (0..n).map(|_| rng.random_range(-1.0f32..1.0)).collect();
    Tensor::from_vec(v, dims, &Device::Cpu).expect("tensor")
}

/// A fresh seeded generator.
pub fn rng(seed: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(seed)
}

/// Max abs difference of two same-shaped tensors.
pub fn max_abs_diff(a: &Tensor, b: &Tensor) -> f32 {
    assert_eq!(a.dims(), b.dims(), "shape mismatch");
    a.sub(b)
        .expect("sub")
        .abs()
        .expect("abs")
        .flatten_all()
        .expect("flatten")
        .max(0)
        .expect("max")
        .to_scalar::<f32>()
        .expect("scalar")
}

/// Max abs value of a tensor (to check the comparison is not trivially between zeros).
pub fn max_abs(a: &Tensor) -> f32 {
    a.abs()
        .expect("abs")
        .flatten_all()
        .expect("flatten")
        .max(0)
        .expect("max")
        .to_scalar::<f32>()
        .expect("scalar")
}

/// Runs `f` on fresh `Var`s built from `inputs`, backpropagates `sum(f(..) * weight)` and returns
/// the output and the gradient of every input.
pub fn value_and_grads(
    inputs: &[Tensor],
    weight: &Tensor,
    f: impl Fn(&[Tensor]) -> Tensor,
) -> (Tensor, Vec<Tensor>) {
    let vars: Vec<Var> = inputs
        .iter()
        .map(|t| Var::from_tensor(t).expect("var"))
        .collect();
    let ts: Vec<Tensor> = vars.iter().map(|v| v.as_tensor().clone()).collect();
    let y = f(&ts);
    let loss = y.mul(weight).expect("mul").sum_all().expect("sum");
    let grads = loss.backward().expect("backward");
    let g = vars
        .iter()
        .map(|v| {
            grads
                .get(v.as_tensor())
                .expect("every input gets a gradient")
                .clone()
        })
        .collect();
    (y.detach(), g)
}

/// Compares the custom and the stock function, forward and backward, to [`TOL`].
pub fn check_against_stock(
    label: &str,
    inputs: &[Tensor],
    out_dims: &[usize],
    seed: u64,
    custom: impl Fn(&[Tensor]) -> Tensor,
    stock: impl Fn(&[Tensor]) -> Tensor,
) {
    let weight = rand_tensor(&mut rng(seed ^ 0x5eed), out_dims);
    let (yc, gc) = value_and_grads(inputs, &weight, custom);
    let (ys, gs) = value_and_grads(inputs, &weight, stock);
    assert_eq!(yc.dims(), out_dims, "{label}: output shape");
    let d = max_abs_diff(&yc, &ys);
    assert!(d <= TOL, "{label}: forward differs by {d}");
    assert!(max_abs(&ys) > 1e-3, "{label}: degenerate reference output");
    for (i, (a, b)) in gc.iter().zip(&gs).enumerate() {
        let d = max_abs_diff(a, b);
        let scale = max_abs(b).max(1.0);
        assert!(
            d <= TOL * scale,
            "{label}: gradient of input {i} differs by {d} (scale {scale})"
        );
        assert!(
            max_abs(b) > 1e-4,
            "{label}: degenerate reference gradient {i}"
        );
    }
}
