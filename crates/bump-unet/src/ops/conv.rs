//! Conv2d as im2col + gemm on the CPU, with a gemm-based backward (weight, input and bias
//! gradients), packaged as candle custom ops.
//!
//! Layouts (all row-major f32):
//! - image `x_b`: (C_in, H, W); weights `w`: (C_out, KD) with KD = C_in·K·K;
//! - column matrix `col_b`: (KD, P) with P = H_out·W_out, row `(ci·K + ky)·K + kx`;
//! - output `y_b`: (C_out, P).
//!
//! Forward `y_b = w · col_b (+ bias)`; backward `dw = Σ_b gy_b · col_bᵀ`,
//! `dcol_b = wᵀ · gy_b` scattered back by col2im, `db = Σ_b Σ_p gy_b`.
//! A 1×1, stride-1, unpadded conv skips im2col/col2im altogether.
//! Work is split over the batch on candle's worker pool (one single-threaded gemm per image); a
//! batch smaller than the thread count lets gemm use rayon threads instead.

use candle_core::{bail, CpuStorage, CustomOp2, CustomOp3, DType, Layout, Result, Shape, Tensor};
use gemm::{gemm, Parallelism};

use super::par::{chunk_ranges_vec, chunked_vec, num_threads};

/// Geometry of one conv2d call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ConvGeom {
    pub batch: usize,
    pub c_in: usize,
    pub h: usize,
    pub w: usize,
    pub c_out: usize,
    pub k: usize,
    pub padding: usize,
    pub stride: usize,
    pub h_out: usize,
    pub w_out: usize,
}

impl ConvGeom {
    /// Builds the geometry; `None` when the shapes do not describe a valid square conv.
    pub(crate) fn new(
        x_dims: &[usize],
        w_dims: &[usize],
        padding: usize,
        stride: usize,
    ) -> Option<Self> {
        let (&[batch, c_in, h, w], &[c_out, wc_in, kh, kw]) = (x_dims, w_dims) else {
            return None;
        };
        if wc_in != c_in || kh != kw || kh == 0 || stride == 0 || c_out == 0 || c_in == 0 {
            return None;
        }
        if h + 2 * padding < kh || w + 2 * padding < kw {
            return None;
        }
        let h_out = (h + 2 * padding - kh) / stride + 1;
        let w_out = (w + 2 * padding - kw) / stride + 1;
        Some(Self {
            batch,
            c_in,
            h,
            w,
            c_out,
            k: kh,
            padding,
            stride,
            h_out,
            w_out,
        })
    }

    /// Forward FLOPs, counting a multiply-add as 2.
    pub(crate) fn flops(&self) -> u64 {
        2 * (self.batch * self.c_out * self.p() * self.kd()) as u64
    }

    fn kd(&self) -> usize {
        self.c_in * self.k * self.k
    }

    fn p(&self) -> usize {
        self.h_out * self.w_out
    }

    fn in_len(&self) -> usize {
        self.c_in * self.h * self.w
    }

    fn out_len(&self) -> usize {
        self.c_out * self.p()
    }

    /// 1×1, stride 1, no padding: the image itself is the column matrix, unless its rows are
    /// a multiple of 2 KiB apart (32×32 and larger power-of-two images), where they would alias
    /// in L1 and a copy to padded rows is cheaper (see [`ConvGeom::ld`]).
    fn is_pointwise(&self) -> bool {
        self.k == 1 && self.stride == 1 && self.padding == 0 && self.p() % 512 != 0
    }

    fn col_len(&self) -> usize {
        if self.is_pointwise() {
            0
        } else {
            self.kd() * self.ld()
        }
    }

    /// Row stride of the column matrix: P rounded up to 16 floats, then to an odd multiple of
    /// 16 floats (64 bytes). With a stride of P = 1024 floats (a 32×32 image) every row starts
    /// 4 KiB after the previous one, so the rows gemm walks down all map to the same L1 set and
    /// evict each other; an odd number of cache lines spreads them over every set.
    fn ld(&self) -> usize {
        if self.is_pointwise() {
            self.p()
        } else {
            padded_stride(self.p())
        }
    }

    pub(crate) fn out_shape(&self) -> Shape {
        Shape::from((self.batch, self.c_out, self.h_out, self.w_out))
    }
}

thread_local! {
    /// Per-thread column/gradient scratch, kept between calls: a fresh zeroed buffer per call
    /// cost a memset (and, when the allocator returned it, page faults) of up to a few MB.
    static SCRATCH: std::cell::RefCell<Vec<f32>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Runs `f` on this thread's scratch buffer of at least `len` floats (contents unspecified:
/// callers overwrite what they read). Re-entrant calls get a fresh buffer.
fn with_scratch<R>(len: usize, f: impl FnOnce(&mut [f32]) -> R) -> R {
    SCRATCH.with(|cell| match cell.try_borrow_mut() {
        Ok(mut buf) => {
            if buf.len() < len {
                buf.resize(len, 0.0);
            }
            f(&mut buf[..len])
        }
        Err(_) => f(&mut vec![0f32; len]),
    })
}

/// The smallest odd multiple of 16 floats (64-byte cache lines) that holds `n` floats: rows at
/// this stride spread over every L1 set instead of aliasing (see [`ConvGeom::ld`]).
fn padded_stride(n: usize) -> usize {
    let l = n.next_multiple_of(16);
    if (l / 16) % 2 == 0 {
        l + 16
    } else {
        l
    }
}

/// Range of output columns `ox` whose input column `ox + kx − pad` (stride 1) lies in `[0, w)`.
fn valid_range_stride1(w: usize, w_out: usize, kx: usize, pad: usize) -> (usize, usize) {
    let lo = pad.saturating_sub(kx).min(w_out);
    let hi = (w + pad).saturating_sub(kx).min(w_out).max(lo);
    (lo, hi)
}

/// Fills `col` (KD, P), row stride `ld` ≥ P, from one image `x` (C_in, H, W).
fn im2col(g: &ConvGeom, x: &[f32], col: &mut [f32], ld: usize) {
    let (k, s, pad, p) = (g.k, g.stride, g.padding, g.p());
    if s == 1 && g.h_out == g.h && g.w_out == g.w {
        im2col_same(g, x, col, ld);
        return;
    }
    for ci in 0..g.c_in {
        let src = &x[ci * g.h * g.w..(ci + 1) * g.h * g.w];
        for ky in 0..k {
            for kx in 0..k {
                let row = (ci * k + ky) * k + kx;
                let dst = &mut col[row * ld..row * ld + p];
                for oy in 0..g.h_out {
                    let d = &mut dst[oy * g.w_out..(oy + 1) * g.w_out];
                    let iy = (oy * s + ky) as isize - pad as isize;
                    if iy < 0 || iy >= g.h as isize {
                        d.fill(0.0);
                        continue;
                    }
                    let srow = &src[iy as usize * g.w..(iy as usize + 1) * g.w];
                    if s == 1 {
                        let (lo, hi) = valid_range_stride1(g.w, g.w_out, kx, pad);
                        d[..lo].fill(0.0);
                        d[hi..].fill(0.0);
                        d[lo..hi].copy_from_slice(&srow[lo + kx - pad..hi + kx - pad]);
                    } else {
                        for (ox, v) in d.iter_mut().enumerate() {
                            let ix = (ox * s + kx) as isize - pad as isize;
                            *v = if ix >= 0 && ix < g.w as isize {
                                srow[ix as usize]
                            } else {
                                0.0
                            };
                        }
                    }
                }
            }
        }
    }
}

/// [`im2col`] for a stride-1 "same" conv (output size = input size): row `(ci, ky, kx)` is the
/// channel image shifted by `(ky − pad, kx − pad)`, i.e. one contiguous copy of H·W values at
/// a fixed offset, then zeros where the shift leaves the image (whole rows at the top or
/// bottom, and the columns that wrapped around a row end). One large copy per row instead of
/// one small copy per image row.
fn im2col_same(g: &ConvGeom, x: &[f32], col: &mut [f32], ld: usize) {
    let (k, pad, w) = (g.k, g.padding as isize, g.w);
    let hw = g.h * g.w;
    for ci in 0..g.c_in {
        let src = &x[ci * hw..(ci + 1) * hw];
        for ky in 0..k {
            for kx in 0..k {
                let (dy, dx) = (ky as isize - pad, kx as isize - pad);
                let off = dy * w as isize + dx;
                let row = (ci * k + ky) * k + kx;
                let dst = &mut col[row * ld..row * ld + hw];
                // dst[i] = src[i + off] where 0 ≤ i + off < H·W.
                let lo = (-off).clamp(0, hw as isize) as usize;
                let hi = (hw as isize - off).clamp(lo as isize, hw as isize) as usize;
                dst[..lo].fill(0.0);
                // (A shift larger than the image leaves nothing to copy, and the source
                // bounds below would leave the image.)
                if hi > lo {
                    dst[lo..hi].copy_from_slice(
                        &src[(lo as isize + off) as usize..(hi as isize + off) as usize],
                    );
                }
                dst[hi..].fill(0.0);
                // Columns whose source x = ox + dx lies outside [0, W) wrapped into the
                // neighbouring image row: zero them.
                if dx != 0 {
                    let (c0, c1) = if dx < 0 {
                        (0, (-dx).min(w as isize) as usize)
                    } else {
                        ((w as isize - dx).max(0) as usize, w)
                    };
                    if c1 == c0 + 1 {
                        // The common 3×3 case: one value per row (a `fill` here was a libc
                        // memset call per image row).
                        for r in dst.chunks_exact_mut(w) {
                            r[c0] = 0.0;
                        }
                    } else {
                        for r in dst.chunks_exact_mut(w) {
                            r[c0..c1].fill(0.0);
                        }
                    }
                }
            }
        }
    }
}

/// Accumulates `col` (KD, P), row stride `ld` ≥ P, into the zero-initialised image gradient
/// `gx` (C_in, H, W).
fn col2im(g: &ConvGeom, col: &[f32], gx: &mut [f32], ld: usize) {
    let (k, s, pad, p) = (g.k, g.stride, g.padding, g.p());
    for ci in 0..g.c_in {
        let dst = &mut gx[ci * g.h * g.w..(ci + 1) * g.h * g.w];
        for ky in 0..k {
            for kx in 0..k {
                let row = (ci * k + ky) * k + kx;
                let src = &col[row * ld..row * ld + p];
                for oy in 0..g.h_out {
                    let iy = (oy * s + ky) as isize - pad as isize;
                    if iy < 0 || iy >= g.h as isize {
                        continue;
                    }
                    let c = &src[oy * g.w_out..(oy + 1) * g.w_out];
                    let drow = &mut dst[iy as usize * g.w..(iy as usize + 1) * g.w];
                    if s == 1 {
                        let (lo, hi) = valid_range_stride1(g.w, g.w_out, kx, pad);
                        for (d, v) in drow[lo + kx - pad..hi + kx - pad]
                            .iter_mut()
                            .zip(&c[lo..hi])
                        {
                            *d += v;
                        }
                    } else {
                        for (ox, v) in c.iter().enumerate() {
                            let ix = (ox * s + kx) as isize - pad as isize;
                            if ix >= 0 && ix < g.w as isize {
                                drow[ix as usize] += v;
                            }
                        }
                    }
                }
            }
        }
    }
}

/// A gemm operand: a pointer and its column and row strides, in floats.
#[derive(Clone, Copy)]
struct Mat {
    ptr: *const f32,
    cs: usize,
    rs: usize,
}

impl Mat {
    fn new(ptr: *const f32, cs: usize, rs: usize) -> Self {
        Self { ptr, cs, rs }
    }
}

/// The output of [`gemm_into`], as [`Mat`].
struct MatMut {
    ptr: *mut f32,
    cs: usize,
    rs: usize,
}

impl MatMut {
    fn new(ptr: *mut f32, cs: usize, rs: usize) -> Self {
        Self { ptr, cs, rs }
    }
}

/// `dst (m × n) = lhs (m × k) · rhs (k × n)`, added to `dst`'s contents when `accumulate`.
///
/// # Safety
/// Each operand must cover its m × k, k × n or m × n elements at its strides, and `dst` must
/// not overlap `lhs` or `rhs`.
unsafe fn gemm_into(
    (m, n, k): (usize, usize, usize),
    dst: MatMut,
    accumulate: bool,
    lhs: Mat,
    rhs: Mat,
    par: Parallelism,
) {
    // SAFETY: forwarded from the caller.
    unsafe {
        gemm(
            m,
            n,
            k,
            dst.ptr,
            dst.cs as isize,
            dst.rs as isize,
            accumulate,
            lhs.ptr,
            lhs.cs as isize,
            lhs.rs as isize,
            rhs.ptr,
            rhs.cs as isize,
            rhs.rs as isize,
            1.0,
            1.0,
            false,
            false,
            false,
            par,
        );
    }
}

/// Gemm parallelism inside one gemm call: the threads go to the calls (images or groups of
/// images) when there are enough of them.
fn inner_parallelism(calls: usize) -> Parallelism {
    let n = num_threads();
    if calls >= n || n <= 1 {
        Parallelism::None
    } else {
        Parallelism::Rayon(n)
    }
}

/// Output columns one gemm call should have at least. gemm packs the weights (C_out × KD) at
/// every call, and for the deep levels of a UNet the weights are larger than the column matrix
/// of one image (256 × 2,304 weights against 2,304 × 16 columns for a 4×4 image): packing them
/// once per image cost more than the multiply. Images with fewer output pixels are therefore
/// convolved in groups, their column matrices side by side.
const GROUP_COLUMNS: usize = 256;

/// Images per gemm call: enough for [`GROUP_COLUMNS`] output columns, at most the batch. It
/// depends on the geometry only (not on the thread count), so the forward pass gives the same
/// bits for any number of threads.
fn group_len(g: &ConvGeom) -> usize {
    GROUP_COLUMNS.div_ceil(g.p()).clamp(1, g.batch.max(1))
}

/// Row stride of the column matrix of `n` images side by side: [`ConvGeom::ld`] for one image
/// (which may be the image itself, for a pointwise conv), else `n·P` padded like it.
fn group_ld(g: &ConvGeom, n: usize) -> usize {
    if n == 1 {
        g.ld()
    } else {
        padded_stride(n * g.p())
    }
}

/// Length of the column matrix of `n` images (0 for one image of a pointwise conv).
fn group_col_len(g: &ConvGeom, n: usize) -> usize {
    if n == 1 {
        g.col_len()
    } else {
        g.kd() * group_ld(g, n)
    }
}

/// Scratch floats [`conv_images`] needs for `n` images: their column matrix, and for more than
/// one image the gemm's output before it is scattered to the images.
fn fwd_scratch_len(g: &ConvGeom, n: usize) -> usize {
    group_col_len(g, n) + if n > 1 { g.c_out * n * g.p() } else { 0 }
}

/// Fills the column matrix of the images `xs` (n·C_in·H·W), side by side: image `j` takes
/// columns `j·P..(j+1)·P` of every row. Returns the matrix and its row stride; for one image of a
/// pointwise conv that is the image itself.
fn group_columns<'a>(g: &ConvGeom, xs: &'a [f32], col: &'a mut [f32]) -> (&'a [f32], usize) {
    let n = xs.len() / g.in_len();
    if n == 1 && g.is_pointwise() {
        return (xs, g.p());
    }
    let ld = group_ld(g, n);
    for (j, xj) in xs.chunks_exact(g.in_len()).enumerate() {
        im2col(g, xj, &mut col[j * g.p()..], ld);
    }
    (&col[..group_col_len(g, n)], ld)
}

/// Forward conv of `n` consecutive images `xs` (n·C_in·H·W) into `ys` (n·C_out·P), added to the
/// current contents of `ys` (e.g. a preloaded bias) when `accumulate`: one gemm call for all of
/// them (see [`GROUP_COLUMNS`]), `y_b (C_out, P) = w (C_out, KD) · im2col(x_b)`. `scratch`
/// holds at least [`fwd_scratch_len`] floats.
fn conv_images(
    g: &ConvGeom,
    xs: &[f32],
    w: &[f32],
    ys: &mut [f32],
    scratch: &mut [f32],
    accumulate: bool,
    par: Parallelism,
) {
    let (kd, p) = (g.kd(), g.p());
    let n = ys.len() / g.out_len();
    let cols = n * p;
    let (col, tmp) = scratch.split_at_mut(group_col_len(g, n));
    let (rhs, ld) = group_columns(g, xs, col);
    // One image: gemm writes (or adds to) its output directly. More: it writes all of them,
    // side by side, to `tmp`, scattered to the images below.
    let (dst, read_dst) = if n == 1 {
        (ys.as_mut_ptr(), accumulate)
    } else {
        (tmp.as_mut_ptr(), false)
    };
    // SAFETY: dst is (co, cols) row-major (ys for one image, else the first co·cols floats of
    // tmp, which fwd_scratch_len provides), w is (co, kd), rhs is (kd, cols) with row stride
    // ld; all in bounds.
    unsafe {
        gemm_into(
            (g.c_out, cols, kd),
            MatMut::new(dst, 1, cols),
            read_dst,
            Mat::new(w.as_ptr(), 1, kd),
            Mat::new(rhs.as_ptr(), 1, ld),
            par,
        );
    }
    if n == 1 {
        return;
    }
    let tmp = &tmp[..g.c_out * cols];
    for (j, yj) in ys.chunks_exact_mut(g.out_len()).enumerate() {
        for (row, src) in yj
            .chunks_exact_mut(p)
            .zip(tmp.chunks_exact(cols).map(|r| &r[j * p..(j + 1) * p]))
        {
            if accumulate {
                for (y, v) in row.iter_mut().zip(src) {
                    *y += v;
                }
            } else {
                row.copy_from_slice(src);
            }
        }
    }
}

/// `y = w · col (+ bias)` for every image. `bias` has length C_out.
pub(crate) fn conv2d_fwd(g: &ConvGeom, x: &[f32], w: &[f32], bias: Option<&[f32]>) -> Vec<f32> {
    conv2d_fwd_ext(g, x, w, bias, None)
}

/// `y = w · col (+ bias) (+ addend)` for every image: `bias` has length C_out (shared) or
/// B·C_out (one row per image); `addend` has the output's length (e.g. a residual). Both are
/// preloaded into the output so that gemm adds them while it writes it, with no extra pass.
pub(crate) fn conv2d_fwd_ext(
    g: &ConvGeom,
    x: &[f32],
    w: &[f32],
    bias: Option<&[f32]>,
    addend: Option<&[f32]>,
) -> Vec<f32> {
    let (p, co, out_len, in_len) = (g.p(), g.c_out, g.out_len(), g.in_len());
    let nb = group_len(g);
    let par = inner_parallelism(g.batch.div_ceil(nb));
    chunked_vec(g.batch * out_len, nb * out_len, |gi, ys| {
        let b0 = gi * nb;
        for (j, yb) in ys.chunks_exact_mut(out_len).enumerate() {
            let bi = b0 + j;
            let bias = bias.map(|b| {
                if b.len() == co {
                    b
                } else {
                    &b[bi * co..(bi + 1) * co]
                }
            });
            let add = addend.map(|a| &a[bi * out_len..(bi + 1) * out_len]);
            match (bias, add) {
                (Some(bias), Some(add)) => {
                    for ((row, &bv), arow) in
                        yb.chunks_exact_mut(p).zip(bias).zip(add.chunks_exact(p))
                    {
                        for (y, &a) in row.iter_mut().zip(arow) {
                            *y = a + bv;
                        }
                    }
                }
                (Some(bias), None) => {
                    for (row, &bv) in yb.chunks_exact_mut(p).zip(bias) {
                        row.fill(bv);
                    }
                }
                (None, Some(add)) => yb.copy_from_slice(add),
                (None, None) => {}
            }
        }
        let n = ys.len() / out_len;
        let xs = &x[b0 * in_len..(b0 + n) * in_len];
        let accumulate = bias.is_some() || addend.is_some();
        with_scratch(fwd_scratch_len(g, n), |scratch| {
            conv_images(g, xs, w, ys, scratch, accumulate, par)
        });
    })
}

/// The geometry of the input gradient of a stride-1 conv written as a forward conv: the
/// gradient `gy` (C_out, H_out, W_out) convolved with the flipped, transposed kernel at padding
/// `k − 1 − pad` gives `gx` (C_in, H, W). `None` for strided, pointwise or over-padded convs.
fn transposed_geom(g: &ConvGeom) -> Option<ConvGeom> {
    if g.stride != 1 || g.is_pointwise() || g.padding >= g.k {
        return None;
    }
    let t = ConvGeom::new(
        &[g.batch, g.c_out, g.h_out, g.w_out],
        &[g.c_in, g.c_out, g.k, g.k],
        g.k - 1 - g.padding,
        1,
    )?;
    (t.h_out == g.h && t.w_out == g.w).then_some(t)
}

/// `w` (C_out, C_in, K, K) → the kernel of [`transposed_geom`]: (C_in, C_out, K, K), each
/// filter rotated by 180°.
fn flip_transpose(g: &ConvGeom, w: &[f32]) -> Vec<f32> {
    let (k, ci_n, co_n) = (g.k, g.c_in, g.c_out);
    let mut out = vec![0f32; w.len()];
    for co in 0..co_n {
        for ci in 0..ci_n {
            for ky in 0..k {
                for kx in 0..k {
                    let src = ((co * ci_n + ci) * k + ky) * k + kx;
                    let dst = ((ci * co_n + co) * k + (k - 1 - ky)) * k + (k - 1 - kx);
                    out[dst] = w[src];
                }
            }
        }
    }
    out
}

/// The whole backward pass, a group of images at a time (one image when its output has at
/// least [`GROUP_COLUMNS`] pixels) so that `gy` and the column buffer stay in cache: weight
/// gradient `Σ_b gy_b · col_bᵀ` (im2col), bias gradient `Σ_b Σ_p gy_b`, input gradient as a
/// forward conv of `gy_b` with the flipped, transposed kernel for stride-1 convs
/// ([`transposed_geom`]) and `col2im(wᵀ · gy_b)` otherwise. Returns
/// `[gx (B·C_in·H·W), dw (C_out·KD), db (C_out)]`, `db` only when `with_bias`.
pub(crate) fn conv2d_bwd(
    g: &ConvGeom,
    x: &[f32],
    gy: &[f32],
    w: &[f32],
    with_bias: bool,
) -> Vec<f32> {
    let (co, in_len, out_len) = (g.c_out, g.in_len(), g.out_len());
    let nb = group_len(g);
    let tg = transposed_geom(g);
    let w_flip = tg.map(|_| flip_transpose(g, w));
    let wlen = co * g.kd();
    let acc_len = wlen + if with_bias { co } else { 0 };
    let gx_len = g.batch * in_len;
    let scratch_len = (group_col_len(g, nb) + co * padded_stride(nb * g.p()))
        .max(tg.map_or(0, |t| fwd_scratch_len(&t, nb)));
    let par = inner_parallelism(g.batch);
    // Fixed image ranges per thread, weight/bias sums reduced in range order: bit-reproducible.
    let (mut out, partials) = chunk_ranges_vec(gx_len, acc_len, in_len, |range, gx_range| {
        let mut acc = vec![0f32; acc_len];
        with_scratch(scratch_len, |scratch| {
            for (b0, gxs) in range.step_by(nb).zip(gx_range.chunks_mut(nb * in_len)) {
                let n = gxs.len() / in_len;
                let xs = &x[b0 * in_len..(b0 + n) * in_len];
                let gys = &gy[b0 * out_len..(b0 + n) * out_len];
                let grads = GroupGrads {
                    acc: &mut acc,
                    with_bias,
                    gx: gxs,
                };
                conv_bwd_images(
                    g,
                    xs,
                    gys,
                    w,
                    tg.as_ref(),
                    w_flip.as_deref(),
                    grads,
                    scratch,
                    par,
                );
            }
        });
        acc
    });
    let total = &mut out[gx_len..];
    for part in partials {
        for (t, v) in total.iter_mut().zip(&part) {
            *t += v;
        }
    }
    out
}

/// Where [`conv_bwd_images`] writes: the weight (and bias) gradient sums, and the input
/// gradient of its images.
struct GroupGrads<'a> {
    /// `dw` (C_out·KD) then, when `with_bias`, `db` (C_out); added to.
    acc: &'a mut [f32],
    with_bias: bool,
    /// The images' input gradient (n·C_in·H·W), zero on entry.
    gx: &'a mut [f32],
}

/// The backward pass of `n` consecutive images (`xs`, `gys`), all of them in each gemm call.
/// `tg`/`w_flip` are [`transposed_geom`] and its kernel; `scratch` holds the column matrix and
/// `gy` with padded rows, or [`fwd_scratch_len`] of `tg`.
#[allow(clippy::too_many_arguments)]
fn conv_bwd_images(
    g: &ConvGeom,
    xs: &[f32],
    gys: &[f32],
    w: &[f32],
    tg: Option<&ConvGeom>,
    w_flip: Option<&[f32]>,
    grads: GroupGrads<'_>,
    scratch: &mut [f32],
    par: Parallelism,
) {
    let (kd, p, co) = (g.kd(), g.p(), g.c_out);
    let n = gys.len() / g.out_len();
    let cols = n * p;
    let ldg = padded_stride(cols);
    let (col, rest) = scratch.split_at_mut(group_col_len(g, n));
    let gy_pad = &mut rest[..co * ldg];
    // gy with padded rows, image j in columns j·P..(j+1)·P: the weight-gradient gemm (and, for
    // strided convs, the input-gradient one) walks down its rows, which are 4 KiB apart for a
    // 32×32 image and would alias in L1 (see `ConvGeom::ld`).
    for (j, gy_j) in gys.chunks_exact(g.out_len()).enumerate() {
        for (dst, src) in gy_pad.chunks_exact_mut(ldg).zip(gy_j.chunks_exact(p)) {
            dst[j * p..(j + 1) * p].copy_from_slice(src);
        }
    }
    let (rhs, ld) = group_columns(g, xs, col);
    // SAFETY: acc[..co·kd] is (co, kd); gy_pad is (co, cols) with row stride ldg; colᵀ is read
    // from rhs (kd, cols, row stride ld) with swapped strides; all in bounds.
    unsafe {
        gemm_into(
            (co, kd, cols),
            MatMut::new(grads.acc.as_mut_ptr(), 1, kd),
            true,
            Mat::new(gy_pad.as_ptr(), 1, ldg),
            Mat::new(rhs.as_ptr(), ld, 1),
            par,
        );
    }
    if grads.with_bias {
        for gy_j in gys.chunks_exact(g.out_len()) {
            for (a, row) in grads.acc[co * kd..].iter_mut().zip(gy_j.chunks_exact(p)) {
                *a += row.iter().sum::<f32>();
            }
        }
    }
    if let (Some(t), Some(wf)) = (tg, w_flip) {
        // gx = w̃ · im2col(gy): (C_in, P_in) = (C_in, C_out·K²) · (C_out·K², P_in) per image;
        // the column matrix and gy_pad are free again.
        conv_images(t, gys, wf, grads.gx, scratch, false, par);
        return;
    }
    // The column buffer is free again: it receives wᵀ · gy (or, for one image of a pointwise
    // conv, gx directly).
    let direct = n == 1 && g.is_pointwise();
    let dst: *mut f32 = if direct {
        grads.gx.as_mut_ptr()
    } else {
        col.as_mut_ptr()
    };
    let ld_dst = if direct { p } else { group_ld(g, n) };
    // SAFETY: dst is (kd, cols) with row stride ld_dst, wᵀ is read from w (co, kd) with swapped
    // strides, gy_pad is (co, cols) with row stride ldg; all in bounds.
    unsafe {
        gemm_into(
            (kd, cols, co),
            MatMut::new(dst, 1, ld_dst),
            false,
            Mat::new(w.as_ptr(), kd, 1),
            Mat::new(gy_pad.as_ptr(), 1, ldg),
            par,
        );
    }
    if !direct {
        for (j, gx_j) in grads.gx.chunks_exact_mut(g.in_len()).enumerate() {
            col2im(g, &col[j * p..], gx_j, ld_dst);
        }
    }
}

/// Borrows the f32 data of a contiguous CPU tensor.
pub(crate) fn contiguous_f32<'a>(s: &'a CpuStorage, l: &Layout) -> Result<&'a [f32]> {
    let data = s.as_slice::<f32>()?;
    match l.contiguous_offsets() {
        Some((a, b)) => Ok(&data[a..b]),
        None => bail!("bump-unet custom op: input must be contiguous"),
    }
}

fn geom_of(l_x: &Layout, l_w: &Layout, padding: usize, stride: usize) -> Result<ConvGeom> {
    match ConvGeom::new(l_x.dims(), l_w.dims(), padding, stride) {
        Some(g) => Ok(g),
        None => bail!(
            "conv2d: incompatible shapes x {:?}, w {:?} (padding {padding}, stride {stride})",
            l_x.dims(),
            l_w.dims()
        ),
    }
}

/// Forward conv2d custom op: `(x, w)` or `(x, w, b)`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Conv2dOp {
    pub padding: usize,
    pub stride: usize,
}

impl Conv2dOp {
    /// Gradients of `x`, `w` and (if `with_bias`) the bias, through the gemm kernels.
    fn grads(
        &self,
        x: &Tensor,
        w: &Tensor,
        grad_res: &Tensor,
        with_bias: bool,
    ) -> Result<(Tensor, Tensor, Option<Tensor>)> {
        let gy = grad_res.contiguous()?;
        let packed = x.apply_op3_no_bwd(
            &gy,
            w,
            &Conv2dBwdOp {
                padding: self.padding,
                stride: self.stride,
                with_bias,
            },
        )?;
        let (xlen, wlen) = (x.elem_count(), w.elem_count());
        let gx = packed.narrow(0, 0, xlen)?.reshape(x.shape())?;
        let gw = packed.narrow(0, xlen, wlen)?.reshape(w.shape())?;
        let gb = if with_bias {
            Some(packed.narrow(0, xlen + wlen, w.dim(0)?)?)
        } else {
            None
        };
        Ok((gx, gw, gb))
    }
}

impl CustomOp2 for Conv2dOp {
    fn name(&self) -> &'static str {
        "bump-conv2d"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let g = geom_of(l1, l2, self.padding, self.stride)?;
        let y = conv2d_fwd(&g, contiguous_f32(s1, l1)?, contiguous_f32(s2, l2)?, None);
        Ok((CpuStorage::F32(y), g.out_shape()))
    }

    fn bwd(
        &self,
        x: &Tensor,
        w: &Tensor,
        _res: &Tensor,
        grad_res: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let (gx, gw, _) = self.grads(x, w, grad_res, false)?;
        Ok((Some(gx), Some(gw)))
    }
}

impl CustomOp3 for Conv2dOp {
    fn name(&self) -> &'static str {
        "bump-conv2d-bias"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let g = geom_of(l1, l2, self.padding, self.stride)?;
        let bias = contiguous_f32(s3, l3)?;
        if bias.len() != g.c_out {
            bail!(
                "conv2d: bias has {} values for {} output channels",
                bias.len(),
                g.c_out
            );
        }
        let y = conv2d_fwd(
            &g,
            contiguous_f32(s1, l1)?,
            contiguous_f32(s2, l2)?,
            Some(bias),
        );
        Ok((CpuStorage::F32(y), g.out_shape()))
    }

    fn bwd(
        &self,
        x: &Tensor,
        w: &Tensor,
        _b: &Tensor,
        _res: &Tensor,
        grad_res: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let (gx, gw, gb) = self.grads(x, w, grad_res, true)?;
        Ok((Some(gx), Some(gw), gb))
    }
}

/// `(x, gy, w) → [gx, dw, db]` packed in one flat vector (see [`conv2d_bwd`]).
struct Conv2dBwdOp {
    padding: usize,
    stride: usize,
    with_bias: bool,
}

impl CustomOp3 for Conv2dBwdOp {
    fn name(&self) -> &'static str {
        "bump-conv2d-bwd"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let g = match ConvGeom::new(l1.dims(), l3.dims(), self.padding, self.stride) {
            Some(g) if g.out_shape().dims() == l2.dims() => g,
            _ => bail!(
                "conv2d backward: gradient shape {:?} does not match",
                l2.dims()
            ),
        };
        let out = conv2d_bwd(
            &g,
            contiguous_f32(s1, l1)?,
            contiguous_f32(s2, l2)?,
            contiguous_f32(s3, l3)?,
            self.with_bias,
        );
        let n = out.len();
        Ok((CpuStorage::F32(out), Shape::from(n)))
    }
}

/// True when every tensor is an f32 tensor on the CPU: the custom kernels apply.
pub(crate) fn cpu_f32(ts: &[&Tensor]) -> bool {
    ts.iter()
        .all(|t| t.device().is_cpu() && t.dtype() == DType::F32)
}
