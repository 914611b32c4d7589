//! `softmax(scale · x)` over the last dimension, with its own backward, as candle custom ops.
//!
//! The attention scores are the largest tensors of the paper preset's attention levels
//! (B·heads·N², N = H·W). `candle_nn::ops::softmax` builds the softmax from five ops (max,
//! subtract, exp, sum, divide), each a pass over the scores and an autograd node, and the
//! attention scaling is one more. Here the forward pass is one task per row (max, then
//! `exp` and the sum, then the division, on a row that stays in cache), and the backward pass is
//! `gx = scale · y ⊙ (g − Σ g⊙y)` per row, from the saved output.

use candle_core::{bail, CpuStorage, CustomOp1, CustomOp2, Layout, Result, Shape, Tensor};

use super::conv::contiguous_f32;
use super::norm::exp_approx;
use super::par::chunked_vec;

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
        let scale = self.scale;
        let y = by_row_blocks(l, "softmax", |start, n, ys| {
            let xs = &x[start..start + ys.len()];
            for (yr, xr) in ys.chunks_exact_mut(n).zip(xs.chunks_exact(n)) {
                // The row maximum keeps every exponent ≤ 0.
                let shift = xr.iter().fold(f32::NEG_INFINITY, |a, &v| a.max(scale * v));
                let mut sum = 0f32;
                for (y, &v) in yr.iter_mut().zip(xr) {
                    let e = exp_approx(scale * v - shift);
                    *y = e;
                    sum += e;
                }
                let inv = 1.0 / sum;
                for y in yr.iter_mut() {
                    *y *= inv;
                }
            }
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
        let scale = self.scale;
        let gx = by_row_blocks(l1, "softmax backward", |start, n, gxs| {
            let (ys, gs) = (&y[start..start + gxs.len()], &g[start..start + gxs.len()]);
            for ((gxr, yr), gr) in gxs
                .chunks_exact_mut(n)
                .zip(ys.chunks_exact(n))
                .zip(gs.chunks_exact(n))
            {
                let dot: f32 = yr.iter().zip(gr).map(|(a, b)| a * b).sum();
                for ((d, &yv), &gv) in gxr.iter_mut().zip(yr).zip(gr) {
                    *d = scale * yv * (gv - dot);
                }
            }
        })?;
        Ok((CpuStorage::F32(gx), l1.shape().clone()))
    }
}
