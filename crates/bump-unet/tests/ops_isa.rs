//! The instruction-set paths of the CPU kernels through the public API: with the process-wide
//! cap at the baseline and without it (AVX-512 on a CPU that has it), the fused GroupNorm(+SiLU)
//! and softmax give the same values and gradients to rounding, and `isa_report` says which path
//! ran. One test in its own process, because the cap is process-wide.

mod ops_common;

use bump_unet::ops::{
    self, detected_isa, group_norm_silu, isa_report, kernel_isa, scaled_softmax_last_dim,
    set_max_isa, Isa,
};
use candle_core::Tensor;
use ops_common::{max_abs, max_abs_diff, rand_tensor, rng, value_and_grads};

/// Outputs and input gradients of GroupNorm+SiLU, plain GroupNorm and the scaled softmax.
fn run() -> Vec<Tensor> {
    let mut r = rng(18);
    let x = (rand_tensor(&mut r, &[3, 32, 9, 11]) * 3.0).expect("x");
    let gamma = (rand_tensor(&mut r, &[32]) + 1.0).expect("gamma");
    let beta = rand_tensor(&mut r, &[32]);
    let w = rand_tensor(&mut r, &[3, 32, 9, 11]);
    let scores = (rand_tensor(&mut r, &[2, 4, 37, 37]) * 5.0).expect("scores");
    let ws = rand_tensor(&mut r, &[2, 4, 37, 37]);
    let mut out = Vec::new();
    for silu in [true, false] {
        let (y, g) = value_and_grads(&[x.clone(), gamma.clone(), beta.clone()], &w, |t| {
            if silu {
                group_norm_silu(&t[0], 8, &t[1], &t[2], 1e-5).expect("gn silu")
            } else {
                ops::group_norm(&t[0], 8, &t[1], &t[2], 1e-5).expect("gn")
            }
        });
        out.push(y);
        out.extend(g);
    }
    let (y, g) = value_and_grads(&[scores], &ws, |t| {
        scaled_softmax_last_dim(&t[0], 0.125).expect("softmax")
    });
    out.push(y);
    out.extend(g);
    out
}

#[test]
fn capped_and_widest_paths_agree() {
    set_max_isa(Some(Isa::Baseline));
    assert_eq!(kernel_isa(), Isa::Baseline);
    let report = isa_report();
    assert_eq!(report.cap, Some(Isa::Baseline));
    assert!(report
        .to_string()
        .contains("group_norm(+silu) fwd/bwd: baseline"));
    let base = run();
    set_max_isa(None);
    let widest = detected_isa();
    assert_eq!(kernel_isa(), widest);
    println!("{}", isa_report());
    if widest == Isa::Baseline {
        println!("skipped: this CPU has neither AVX2+FMA nor AVX-512F");
        return;
    }
    let other = run();
    for (i, (a, b)) in base.iter().zip(&other).enumerate() {
        let (diff, scale) = (max_abs_diff(a, b), max_abs(a));
        assert!(scale > 0.0, "tensor {i} is all zeros");
        // Values and gradients here are at most ~20; float rounding of reordered sums only.
        assert!(
            diff <= 1e-5 * (1.0 + scale),
            "tensor {i}: {widest} off the baseline by {diff} (max |value| {scale})"
        );
    }
}
