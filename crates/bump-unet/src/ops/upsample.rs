//! Nearest-neighbour ×2 upsampling and its backward (2×2 block sums) as candle custom ops.

use candle_core::{bail, CpuStorage, CustomOp1, Layout, Result, Shape, Tensor};

use super::par::chunked_vec;

use super::conv::contiguous_f32;

fn dims4(l: &Layout) -> Result<(usize, usize, usize, usize)> {
    match *l.dims() {
        [b, c, h, w] => Ok((b, c, h, w)),
        ref d => bail!("upsample_nearest2x: expected (B, C, H, W), got {d:?}"),
    }
}

/// Forward: (B, C, H, W) → (B, C, 2H, 2W).
pub(crate) struct Upsample2xOp;

impl CustomOp1 for Upsample2xOp {
    fn name(&self) -> &'static str {
        "bump-upsample-nearest2x"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let (b, c, h, w) = dims4(l)?;
        let x = contiguous_f32(s, l)?;
        // One task per input plane: its output plane is 4·H·W contiguous values.
        let y = chunked_vec(4 * x.len(), 4 * h * w, |i, yp| {
            let xp = &x[i * h * w..(i + 1) * h * w];
            for (yrows, xrow) in yp.chunks_exact_mut(4 * w).zip(xp.chunks_exact(w)) {
                let (top, bottom) = yrows.split_at_mut(2 * w);
                for (pair, &v) in top.chunks_exact_mut(2).zip(xrow) {
                    pair[0] = v;
                    pair[1] = v;
                }
                bottom.copy_from_slice(top);
            }
        });
        Ok((CpuStorage::F32(y), Shape::from((b, c, 2 * h, 2 * w))))
    }

    fn bwd(&self, _arg: &Tensor, _res: &Tensor, grad_res: &Tensor) -> Result<Option<Tensor>> {
        Ok(Some(grad_res.contiguous()?.apply_op1_no_bwd(&Downsum2xOp)?))
    }
}

/// Backward: (B, C, 2H, 2W) → (B, C, H, W), each output the sum of its 2×2 block.
struct Downsum2xOp;

impl CustomOp1 for Downsum2xOp {
    fn name(&self) -> &'static str {
        "bump-upsample-nearest2x-bwd"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let (b, c, h2, w2) = dims4(l)?;
        if h2 % 2 != 0 || w2 % 2 != 0 {
            bail!("upsample_nearest2x backward: odd gradient size {h2}×{w2}");
        }
        let (h, w) = (h2 / 2, w2 / 2);
        let gy = contiguous_f32(s, l)?;
        let gx = chunked_vec(gy.len() / 4, h * w, |i, xp| {
            let yp = &gy[i * 4 * h * w..(i + 1) * 4 * h * w];
            for (xrow, yrows) in xp.chunks_exact_mut(w).zip(yp.chunks_exact(4 * w)) {
                let (top, bottom) = yrows.split_at(2 * w);
                for ((d, t), b) in xrow
                    .iter_mut()
                    .zip(top.chunks_exact(2))
                    .zip(bottom.chunks_exact(2))
                {
                    *d = (t[0] + t[1]) + (b[0] + b[1]);
                }
            }
        });
        Ok((CpuStorage::F32(gx), Shape::from((b, c, h, w))))
    }
}
