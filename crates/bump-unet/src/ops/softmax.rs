//! `softmax(scale · x)` over the last dimension, with its own backward, as candle custom ops.
//!
//! The attention scores are the largest tensors of the paper preset's attention levels
//! (B·heads·N², N = H·W). `candle_nn::ops::softmax` builds the softmax from five ops (max,
//! subtract, exp, sum, divide), each a pass over the scores and an autograd node, and the
//! attention scaling is one more. Here the forward pass is one task per row (max, then
//! `exp` and the sum, then the division, on a row that stays in cache), and the backward pass is
//! `gx = scale · y ⊙ (g − Σ g⊙y)` per row, from the saved output.
//!
//! The row loops keep lane accumulators (maxima, sums, dot products) so that they vectorise,
//! and are compiled for the baseline, AVX2+FMA (8 lanes) and AVX-512F (16 lanes), picked at run
//! time ([`super::isa`]); the 16-lane sums add in another order, so paths agree to rounding.

use super::isa::{kernel_isa, Isa};

use candle_core::{bail, CpuStorage, CustomOp1, CustomOp2, Layout, Result, Shape, Tensor};

use super::conv::contiguous_f32;
use super::norm::exp_approx;
use super::par::chunked_vec;

/// Accumulator lanes of the baseline and AVX2 paths.
const LANES: usize = 8;
/// Accumulator lanes of the AVX-512 path.
#[cfg(target_arch = "x86_64")]
const LANES_512: usize = 16;

/// `ys = softmax(scale · xs)` for each row of length `n` (`xs`, `ys` hold whole rows).
#[inline(always)]
fn fwd_rows_generic<const L: usize>(xs: &[f32], ys: &mut [f32], n: usize, scale: f32) {
    for (yr, xr) in ys.chunks_exact_mut(n).zip(xs.chunks_exact(n)) {
        // The row maximum keeps every exponent ≤ 0 (max is exact: any order gives it).
        let mut lane_max = [f32::NEG_INFINITY; L];
        let chunks = xr.chunks_exact(L);
        let mut shift = chunks
            .remainder()
            .iter()
            .fold(f32::NEG_INFINITY, |a, &v| a.max(scale * v));
        for c in chunks {
            for (m, &v) in lane_max.iter_mut().zip(c) {
                *m = m.max(scale * v);
            }
        }
        shift = lane_max.iter().fold(shift, |a, &m| a.max(m));
        // The exponentials, then their sum, as two passes over a row in L1: fused into one
        // loop, the 8-lane AVX2 build left the exp scalar (its lanes were unrolled, not
        // vectorised).
        for (y, &v) in yr.iter_mut().zip(xr) {
            *y = exp_approx(scale * v - shift);
        }
        let mut acc = [0f32; L];
        let chunks = yr.chunks_exact(L);
        let tail: f32 = chunks.remainder().iter().sum();
        for c in chunks {
            for (a, &e) in acc.iter_mut().zip(c) {
                *a += e;
            }
        }
        let inv = 1.0 / (acc.iter().sum::<f32>() + tail);
        for y in yr.iter_mut() {
            *y *= inv;
        }
    }
}

/// `gxs = scale · y ⊙ (g − Σ g⊙y)` for each row of length `n`.
#[inline(always)]
fn bwd_rows_generic<const L: usize>(ys: &[f32], gs: &[f32], gxs: &mut [f32], n: usize, scale: f32) {
    for ((gxr, yr), gr) in gxs
        .chunks_exact_mut(n)
        .zip(ys.chunks_exact(n))
        .zip(gs.chunks_exact(n))
    {
        let mut acc = [0f32; L];
        let (yc, gc) = (yr.chunks_exact(L), gr.chunks_exact(L));
        let tail: f32 = yc
            .remainder()
            .iter()
            .zip(gc.remainder())
            .map(|(a, b)| a * b)
            .sum();
        for (y, g) in yc.zip(gc) {
            for l in 0..L {
                acc[l] += y[l] * g[l];
            }
        }
        let dot = acc.iter().sum::<f32>() + tail;
        for ((d, &yv), &gv) in gxr.iter_mut().zip(yr).zip(gr) {
            *d = scale * yv * (gv - dot);
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn fwd_rows_avx2(xs: &[f32], ys: &mut [f32], n: usize, scale: f32) {
    fwd_rows_generic::<LANES>(xs, ys, n, scale)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn fwd_rows_avx512(xs: &[f32], ys: &mut [f32], n: usize, scale: f32) {
    fwd_rows_generic::<LANES_512>(xs, ys, n, scale)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn bwd_rows_avx2(ys: &[f32], gs: &[f32], gxs: &mut [f32], n: usize, scale: f32) {
    bwd_rows_generic::<LANES>(ys, gs, gxs, n, scale)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn bwd_rows_avx512(ys: &[f32], gs: &[f32], gxs: &mut [f32], n: usize, scale: f32) {
    bwd_rows_generic::<LANES_512>(ys, gs, gxs, n, scale)
}

/// [`fwd_rows_generic`] on `isa`, which the CPU must support.
fn fwd_rows(xs: &[f32], ys: &mut [f32], n: usize, scale: f32, isa: Isa) {
    #[cfg(target_arch = "x86_64")]
    match isa {
        // SAFETY: the CPU supports AVX-512F (the path was detected at run time).
        Isa::Avx512 => return unsafe { fwd_rows_avx512(xs, ys, n, scale) },
        // SAFETY: the CPU supports AVX2 and FMA (the path was detected at run time).
        Isa::Avx2Fma => return unsafe { fwd_rows_avx2(xs, ys, n, scale) },
        Isa::Baseline => {}
    }
    let _ = isa;
    fwd_rows_generic::<LANES>(xs, ys, n, scale)
}

/// [`bwd_rows_generic`] on `isa`, which the CPU must support.
fn bwd_rows(ys: &[f32], gs: &[f32], gxs: &mut [f32], n: usize, scale: f32, isa: Isa) {
    #[cfg(target_arch = "x86_64")]
    match isa {
        // SAFETY: the CPU supports AVX-512F (the path was detected at run time).
        Isa::Avx512 => return unsafe { bwd_rows_avx512(ys, gs, gxs, n, scale) },
        // SAFETY: the CPU supports AVX2 and FMA (the path was detected at run time).
        Isa::Avx2Fma => return unsafe { bwd_rows_avx2(ys, gs, gxs, n, scale) },
        Isa::Baseline => {}
    }
    let _ = isa;
    bwd_rows_generic::<LANES>(ys, gs, gxs, n, scale)
}

/// Allocates an output shaped like `l` and fills it in parallel blocks of whole rows (rows of
/// the last dimension, several per task so that short rows do not make one task each):
/// `body(start, n, out)` writes `out`, the rows beginning at flat offset `start`, each `n` long.
fn by_row_blocks<F>(l: &Layout, what: &str, body: F) -> Result<Vec<f32>>
where
    F: Fn(usize, usize, &mut [f32]) + Sync,
{
    let n = match l.dims().last() {
        Some(&n) if n > 0 => n,
        _ => bail!("{what}: empty last dimension in {:?}", l.dims()),
    };
    let chunk = n * (4096 / n).max(1);
    Ok(chunked_vec(l.shape().elem_count(), chunk, |i, out| {
        body(i * chunk, n, out)
    }))
}

/// Forward: `y = softmax(scale · x)` along the last dimension.
pub(crate) struct ScaledSoftmaxOp {
    pub scale: f32,
}

impl CustomOp1 for ScaledSoftmaxOp {
    fn name(&self) -> &'static str {
        "bump-scaled-softmax"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let x = contiguous_f32(s, l)?;
        let (scale, isa) = (self.scale, kernel_isa());
        let y = by_row_blocks(l, "softmax", |start, n, ys| {
            fwd_rows(&x[start..start + ys.len()], ys, n, scale, isa)
        })?;
        Ok((CpuStorage::F32(y), l.shape().clone()))
    }

    fn bwd(&self, _arg: &Tensor, res: &Tensor, grad_res: &Tensor) -> Result<Option<Tensor>> {
        let g = grad_res.contiguous()?;
        Ok(Some(res.apply_op2_no_bwd(
            &g,
            &ScaledSoftmaxBwdOp { scale: self.scale },
        )?))
    }
}

/// Backward: `(y, g) → scale · y ⊙ (g − Σ_row g⊙y)`.
struct ScaledSoftmaxBwdOp {
    scale: f32,
}

impl CustomOp2 for ScaledSoftmaxBwdOp {
    fn name(&self) -> &'static str {
        "bump-scaled-softmax-bwd"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        if l1.dims() != l2.dims() {
            bail!(
                "softmax backward: gradient {:?} against output {:?}",
                l2.dims(),
                l1.dims()
            );
        }
        let y = contiguous_f32(s1, l1)?;
        let g = contiguous_f32(s2, l2)?;
        let (scale, isa) = (self.scale, kernel_isa());
        let gx = by_row_blocks(l1, "softmax backward", |start, n, gxs| {
            let range = start..start + gxs.len();
            bwd_rows(&y[range.clone()], &g[range], gxs, n, scale, isa)
        })?;
        Ok((CpuStorage::F32(gx), l1.shape().clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::super::isa::{detected_isa, Isa};
    use super::{bwd_rows, fwd_rows};
    use rand::{Rng, SeedableRng};

    /// Forward and backward over rows of several lengths (shorter than, and not multiples of,
    /// both lane widths; and an attention row of 256), concatenated.
    fn run_all(isa: Isa) -> Vec<f32> {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
        let mut out = Vec::new();
        for &(rows, n) in &[(3, 1), (4, 7), (5, 17), (2, 40), (3, 256)] {
            let x: Vec<f32> = (0..rows * n)
                .map(|_| rng.random_range(-6.0f32..6.0))
                .collect();
            let g: Vec<f32> = (0..rows * n)
                .map(|_| rng.random_range(-1.0f32..1.0))
                .collect();
            let mut y = vec![0f32; rows * n];
            fwd_rows(&x, &mut y, n, 0.7, isa);
            let mut gx = vec![0f32; rows * n];
            bwd_rows(&y, &g, &mut gx, n, 0.7, isa);
            out.extend(y);
            out.extend(gx);
        }
        out
    }

    #[test]
    fn every_isa_path_matches_the_baseline() {
        let base = run_all(Isa::Baseline);
        assert!(base.iter().all(|v| v.is_finite()));
        for isa in [Isa::Avx2Fma, Isa::Avx512] {
            if detected_isa() < isa {
                println!("skipped {isa}: this CPU lacks it");
                continue;
            }
            let other = run_all(isa);
            // Same lane count as the baseline: the same bits; 16 lanes: equal to rounding
            // (probabilities ≤ 1, gradients O(1)).
            let worst = base
                .iter()
                .zip(&other)
                .map(|(a, b)| (a - b).abs())
                .fold(0f32, f32::max);
            let bound = if isa == Isa::Avx2Fma { 0.0 } else { 1e-6 };
            assert!(worst <= bound, "{isa} off the baseline by {worst}");
        }
    }
}
