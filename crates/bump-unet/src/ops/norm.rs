//! Fused GroupNorm (+ optional SiLU) forward and backward on contiguous f32, as candle custom ops.
//!
//! One task per (image, group) slice of N = (C/G)·H·W contiguous values. The forward pass reads
//! the slice three times (mean, variance, output); the backward pass recomputes the statistics
//! and makes two more passes (per-channel sums, then the input gradient). Inner loops are
//! branch-free over contiguous slices with lane accumulators so they vectorise; on x86-64 they
//! are compiled again for AVX2+FMA (8 lanes, as the baseline) and AVX-512F (16 lanes, one zmm
//! register per accumulator), and the path is picked at run time ([`super::isa`]). The 16-lane
//! sums add in another order, so the AVX-512 path agrees with the others to rounding, not bits.

use candle_core::{bail, CpuStorage, CustomOp3, Layout, Result, Shape, Tensor};

use super::par::{chunk_ranges_vec, chunked_vec};

use super::conv::contiguous_f32;
use super::isa::{kernel_isa, Isa};

/// Accumulator lanes of the baseline and AVX2 paths (one ymm register).
const LANES: usize = 8;
/// Accumulator lanes of the AVX-512 path (one zmm register).
#[cfg(target_arch = "x86_64")]
const LANES_512: usize = 16;

/// `e^x` to about 2e-7 relative error for x in [-87, 88] (clamped outside), branch-free so that
/// loops calling it vectorise (libm's `expf` does not).
#[inline(always)]
pub(crate) fn exp_approx(x: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    // 1.5·2^23: adding it rounds to an integer held in the low mantissa bits.
    const MAGIC: f32 = 12_582_912.0;
    let x = x.clamp(-87.0, 88.0);
    let t = x * LOG2E + MAGIC;
    let n = t - MAGIC;
    let r = x - n * LN2_HI - n * LN2_LO;
    let p = 1.0
        + r * (1.0
            + r * (0.5
                + r * (1.0 / 6.0 + r * (1.0 / 24.0 + r * (1.0 / 120.0 + r * (1.0 / 720.0))))));
    let ni = (t.to_bits() as i32).wrapping_sub(0x4B40_0000);
    p * f32::from_bits((ni.wrapping_add(127) << 23) as u32)
}

#[inline(always)]
fn sigmoid(v: f32) -> f32 {
    1.0 / (1.0 + exp_approx(-v))
}

#[inline(always)]
fn lane_sum<const L: usize>(xs: &[f32]) -> f32 {
    let mut acc = [0f32; L];
    let chunks = xs.chunks_exact(L);
    let rest: f32 = chunks.remainder().iter().sum();
    for c in chunks {
        for (a, v) in acc.iter_mut().zip(c) {
            *a += v;
        }
    }
    acc.iter().sum::<f32>() + rest
}

#[inline(always)]
fn lane_sq_dev<const L: usize>(xs: &[f32], mean: f32) -> f32 {
    let mut acc = [0f32; L];
    let chunks = xs.chunks_exact(L);
    let rest: f32 = chunks
        .remainder()
        .iter()
        .map(|v| (v - mean) * (v - mean))
        .sum();
    for c in chunks {
        for (a, v) in acc.iter_mut().zip(c) {
            *a += (v - mean) * (v - mean);
        }
    }
    acc.iter().sum::<f32>() + rest
}

/// Mean and 1/sqrt(var + eps) of one slice (two-pass, biased variance).
#[inline(always)]
fn stats<const L: usize>(xs: &[f32], eps: f32) -> (f32, f32) {
    let n = xs.len().max(1) as f32;
    let mean = lane_sum::<L>(xs) / n;
    let var = lane_sq_dev::<L>(xs, mean) / n;
    (mean, 1.0 / (var + eps).sqrt())
}

/// Shared arguments of one (image, group) task.
#[derive(Clone, Copy)]
struct Task<'a> {
    hw: usize,
    eps: f32,
    silu: bool,
    gamma: &'a [f32],
    beta: &'a [f32],
}

#[inline(always)]
fn fwd_task_generic<const L: usize>(t: Task<'_>, xs: &[f32], ys: &mut [f32]) {
    let (mean, rstd) = stats::<L>(xs, t.eps);
    for ((xc, yc), (&g, &b)) in xs
        .chunks_exact(t.hw)
        .zip(ys.chunks_exact_mut(t.hw))
        .zip(t.gamma.iter().zip(t.beta))
    {
        let a = rstd * g;
        let b = b - mean * a;
        if t.silu {
            for (y, &x) in yc.iter_mut().zip(xc) {
                let v = x * a + b;
                *y = v * sigmoid(v);
            }
        } else {
            for (y, &x) in yc.iter_mut().zip(xc) {
                *y = x * a + b;
            }
        }
    }
}

/// Backward of one task. Writes the input gradient into `gx` and the per-channel sums
/// Σ dy·x̂ and Σ dy (dy = gradient before the affine map) into `dgamma`, `dbeta`.
#[inline(always)]
fn bwd_task_generic<const L: usize>(
    t: Task<'_>,
    xs: &[f32],
    gys: &[f32],
    gx: &mut [f32],
    dgamma: &mut [f32],
    dbeta: &mut [f32],
) {
    let (mean, rstd) = stats::<L>(xs, t.eps);
    let n = xs.len().max(1) as f32;
    let (mut s_dy, mut s_dyx) = (0f32, 0f32);
    for (c, ((xc, gyc), gxc)) in xs
        .chunks_exact(t.hw)
        .zip(gys.chunks_exact(t.hw))
        .zip(gx.chunks_exact_mut(t.hw))
        .enumerate()
    {
        let (g, b) = (t.gamma[c], t.beta[c]);
        let (mut acc_dy, mut acc_dyx) = ([0f32; L], [0f32; L]);
        // dy = gradient before the affine map (through the SiLU when fused); x̂ recomputed.
        let grad_pre = |x: f32, gy: f32| -> (f32, f32) {
            let xhat = (x - mean) * rstd;
            let dy = if t.silu {
                let v = xhat * g + b;
                let s = sigmoid(v);
                gy * s * (1.0 + v * (1.0 - s))
            } else {
                gy
            };
            (dy, xhat)
        };
        let mut xi = xc.chunks_exact(L);
        let mut gyi = gyc.chunks_exact(L);
        let mut gxi = gxc.chunks_exact_mut(L);
        for ((xv, gyv), gxv) in (&mut xi).zip(&mut gyi).zip(&mut gxi) {
            for l in 0..L {
                let (dy, xhat) = grad_pre(xv[l], gyv[l]);
                gxv[l] = dy;
                acc_dy[l] += dy;
                acc_dyx[l] += dy * xhat;
            }
        }
        for ((&x, &gy), d) in xi
            .remainder()
            .iter()
            .zip(gyi.remainder())
            .zip(gxi.into_remainder())
        {
            let (dy, xhat) = grad_pre(x, gy);
            *d = dy;
            acc_dy[0] += dy;
            acc_dyx[0] += dy * xhat;
        }
        let sum_dy: f32 = acc_dy.iter().sum();
        let sum_dyx: f32 = acc_dyx.iter().sum();
        dbeta[c] = sum_dy;
        dgamma[c] = sum_dyx;
        s_dy += g * sum_dy;
        s_dyx += g * sum_dyx;
    }
    let (m1, m2) = (s_dy / n, s_dyx / n);
    for ((xc, gxc), &g) in xs
        .chunks_exact(t.hw)
        .zip(gx.chunks_exact_mut(t.hw))
        .zip(t.gamma)
    {
        for (d, &x) in gxc.iter_mut().zip(xc) {
            let xhat = (x - mean) * rstd;
            *d = rstd * (*d * g - m1 - xhat * m2);
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn fwd_task_avx2(t: Task<'_>, xs: &[f32], ys: &mut [f32]) {
    fwd_task_generic::<LANES>(t, xs, ys)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn bwd_task_avx2(
    t: Task<'_>,
    xs: &[f32],
    gys: &[f32],
    gx: &mut [f32],
    dgamma: &mut [f32],
    dbeta: &mut [f32],
) {
    bwd_task_generic::<LANES>(t, xs, gys, gx, dgamma, dbeta)
}

// AVX-512F alone (no BW/DQ/VL): the loops are f32 and i32 arithmetic, which AVX-512F covers,
// so every AVX-512 CPU (Knights Landing included) can take this path.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn fwd_task_avx512(t: Task<'_>, xs: &[f32], ys: &mut [f32]) {
    fwd_task_generic::<LANES_512>(t, xs, ys)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn bwd_task_avx512(
    t: Task<'_>,
    xs: &[f32],
    gys: &[f32],
    gx: &mut [f32],
    dgamma: &mut [f32],
    dbeta: &mut [f32],
) {
    bwd_task_generic::<LANES_512>(t, xs, gys, gx, dgamma, dbeta)
}

/// Forward of one task on the given path, which the CPU must support (the callers pass
/// [`kernel_isa`], or, in tests, a path no wider than [`super::isa::detected_isa`]).
fn fwd_task(t: Task<'_>, xs: &[f32], ys: &mut [f32], isa: Isa) {
    #[cfg(target_arch = "x86_64")]
    match isa {
        // SAFETY: the CPU supports AVX-512F (the path was detected at run time).
        Isa::Avx512 => return unsafe { fwd_task_avx512(t, xs, ys) },
        // SAFETY: the CPU supports AVX2 and FMA (the path was detected at run time).
        Isa::Avx2Fma => return unsafe { fwd_task_avx2(t, xs, ys) },
        Isa::Baseline => {}
    }
    let _ = isa;
    fwd_task_generic::<LANES>(t, xs, ys)
}

fn bwd_task(
    t: Task<'_>,
    xs: &[f32],
    gys: &[f32],
    gx: &mut [f32],
    dgamma: &mut [f32],
    dbeta: &mut [f32],
    isa: Isa,
) {
    #[cfg(target_arch = "x86_64")]
    match isa {
        // SAFETY: the CPU supports AVX-512F (the path was detected at run time).
        Isa::Avx512 => return unsafe { bwd_task_avx512(t, xs, gys, gx, dgamma, dbeta) },
        // SAFETY: the CPU supports AVX2 and FMA (the path was detected at run time).
        Isa::Avx2Fma => return unsafe { bwd_task_avx2(t, xs, gys, gx, dgamma, dbeta) },
        Isa::Baseline => {}
    }
    let _ = isa;
    bwd_task_generic::<LANES>(t, xs, gys, gx, dgamma, dbeta)
}

/// Geometry of one group-norm call.
#[derive(Clone, Copy, Debug)]
pub(crate) struct GnGeom {
    pub c: usize,
    hw: usize,
    groups: usize,
}

impl GnGeom {
    /// The arguments of task `ti` (image `ti / groups`, group `ti % groups`): its slices of
    /// γ and β.
    fn task<'a>(
        &self,
        ti: usize,
        gamma: &'a [f32],
        beta: &'a [f32],
        eps: f32,
        silu: bool,
    ) -> Task<'a> {
        let (gi, cg) = (ti % self.groups, self.cg());
        Task {
            hw: self.hw,
            eps,
            silu,
            gamma: &gamma[gi * cg..(gi + 1) * cg],
            beta: &beta[gi * cg..(gi + 1) * cg],
        }
    }

    pub(crate) fn new(dims: &[usize], groups: usize) -> Result<Self> {
        let &[_, c, h, w] = dims else {
            bail!("group_norm: expected (B, C, H, W), got {dims:?}");
        };
        if groups == 0 || c % groups != 0 {
            bail!("group_norm: {c} channels are not divisible into {groups} groups");
        }
        Ok(Self {
            c,
            hw: h * w,
            groups,
        })
    }

    fn cg(&self) -> usize {
        self.c / self.groups
    }

    fn n(&self) -> usize {
        self.cg() * self.hw
    }
}

fn check_affine(g: &GnGeom, gamma: &[f32], beta: &[f32]) -> Result<()> {
    if gamma.len() != g.c || beta.len() != g.c {
        bail!(
            "group_norm: gamma/beta have {}/{} values for {} channels",
            gamma.len(),
            beta.len(),
            g.c
        );
    }
    Ok(())
}

/// Forward kernel over the whole batch.
pub(crate) fn group_norm_fwd(
    g: &GnGeom,
    x: &[f32],
    gamma: &[f32],
    beta: &[f32],
    eps: f32,
    silu: bool,
) -> Vec<f32> {
    group_norm_fwd_isa(g, x, gamma, beta, eps, silu, kernel_isa())
}

/// [`group_norm_fwd`] on a given path (no wider than the CPU supports).
fn group_norm_fwd_isa(
    g: &GnGeom,
    x: &[f32],
    gamma: &[f32],
    beta: &[f32],
    eps: f32,
    silu: bool,
    isa: Isa,
) -> Vec<f32> {
    let n = g.n();
    chunked_vec(x.len(), n, |ti, ys| {
        let t = g.task(ti, gamma, beta, eps, silu);
        fwd_task(t, &x[ti * n..(ti + 1) * n], ys, isa);
    })
}

/// Backward kernel: returns `[gx (B·C·H·W), dgamma (C), dbeta (C)]` packed; `addend` (the
/// input's length), when given, is added to `gx` while it is in cache (e.g. the gradient that
/// reaches the same input through a residual branch).
#[allow(clippy::too_many_arguments)]
pub(crate) fn group_norm_bwd(
    g: &GnGeom,
    x: &[f32],
    gy: &[f32],
    gamma: &[f32],
    beta: &[f32],
    eps: f32,
    silu: bool,
    addend: Option<&[f32]>,
) -> Vec<f32> {
    group_norm_bwd_isa(g, x, gy, gamma, beta, eps, silu, addend, kernel_isa())
}

/// [`group_norm_bwd`] on a given path (no wider than the CPU supports).
#[allow(clippy::too_many_arguments)]
fn group_norm_bwd_isa(
    g: &GnGeom,
    x: &[f32],
    gy: &[f32],
    gamma: &[f32],
    beta: &[f32],
    eps: f32,
    silu: bool,
    addend: Option<&[f32]>,
    isa: Isa,
) -> Vec<f32> {
    let total = x.len();
    let (n, cg) = (g.n(), g.cg());
    // Sums over a fixed range of (image, group) tasks per thread, reduced in range order:
    // bit-reproducible γ/β gradients. Layout: [dgamma (C), dbeta (C)].
    let (mut out, partials) = chunk_ranges_vec(total, 2 * g.c, n, |range, gx_range| {
        let mut acc = vec![0f32; 2 * g.c];
        let mut scratch = vec![0f32; 2 * cg];
        for (ti, gx) in range.zip(gx_range.chunks_exact_mut(n)) {
            let gi = ti % g.groups;
            let t = g.task(ti, gamma, beta, eps, silu);
            let xs = &x[ti * n..(ti + 1) * n];
            let gys = &gy[ti * n..(ti + 1) * n];
            let (dg, db) = scratch.split_at_mut(cg);
            bwd_task(t, xs, gys, gx, dg, db, isa);
            if let Some(add) = addend {
                for (d, a) in gx.iter_mut().zip(&add[ti * n..(ti + 1) * n]) {
                    *d += a;
                }
            }
            let (acc_g, acc_b) = acc.split_at_mut(g.c);
            for (a, v) in acc_g[gi * cg..(gi + 1) * cg].iter_mut().zip(dg.iter()) {
                *a += v;
            }
            for (a, v) in acc_b[gi * cg..(gi + 1) * cg].iter_mut().zip(db.iter()) {
                *a += v;
            }
        }
        acc
    });
    for part in partials {
        for (d, v) in out[total..].iter_mut().zip(&part) {
            *d += v;
        }
    }
    out
}

/// Fused group norm (+ SiLU) custom op on `(x, gamma, beta)`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct GroupNormOp {
    pub groups: usize,
    pub eps: f32,
    pub silu: bool,
}

impl CustomOp3 for GroupNormOp {
    fn name(&self) -> &'static str {
        if self.silu {
            "bump-group-norm-silu"
        } else {
            "bump-group-norm"
        }
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
        let g = GnGeom::new(l1.dims(), self.groups)?;
        let (gamma, beta) = (contiguous_f32(s2, l2)?, contiguous_f32(s3, l3)?);
        check_affine(&g, gamma, beta)?;
        let y = group_norm_fwd(
            &g,
            contiguous_f32(s1, l1)?,
            gamma,
            beta,
            self.eps,
            self.silu,
        );
        Ok((CpuStorage::F32(y), l1.shape().clone()))
    }

    fn bwd(
        &self,
        x: &Tensor,
        gamma: &Tensor,
        beta: &Tensor,
        _res: &Tensor,
        grad_res: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let gy = grad_res.contiguous()?;
        let affine = Tensor::cat(&[gamma, beta], 0)?;
        let packed = x.apply_op3_no_bwd(&gy, &affine, &GroupNormBwdOp(*self))?;
        let (total, c) = (x.elem_count(), gamma.elem_count());
        let gx = packed.narrow(0, 0, total)?.reshape(x.shape())?;
        let dgamma = packed.narrow(0, total, c)?;
        let dbeta = packed.narrow(0, total + c, c)?;
        Ok((Some(gx), Some(dgamma), Some(dbeta)))
    }
}

/// `(x, gy, [gamma; beta]) → [gx, dgamma, dbeta]` packed in one flat vector.
struct GroupNormBwdOp(GroupNormOp);

impl CustomOp3 for GroupNormBwdOp {
    fn name(&self) -> &'static str {
        "bump-group-norm-bwd"
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
        let g = GnGeom::new(l1.dims(), self.0.groups)?;
        if l2.dims() != l1.dims() {
            bail!(
                "group_norm backward: gradient shape {:?} does not match",
                l2.dims()
            );
        }
        let affine = contiguous_f32(s3, l3)?;
        if affine.len() != 2 * g.c {
            bail!("group_norm backward: affine has {} values", affine.len());
        }
        let (gamma, beta) = affine.split_at(g.c);
        let out = group_norm_bwd(
            &g,
            contiguous_f32(s1, l1)?,
            contiguous_f32(s2, l2)?,
            gamma,
            beta,
            self.0.eps,
            self.0.silu,
            None,
        );
        let n = out.len();
        Ok((CpuStorage::F32(out), Shape::from(n)))
    }
}

#[cfg(test)]
mod tests {
    use super::super::isa::{detected_isa, Isa};
    use super::{exp_approx, group_norm_bwd_isa, group_norm_fwd_isa, GnGeom};
    use rand::{Rng, SeedableRng};

    fn rand_vec(rng: &mut rand_chacha::ChaCha8Rng, n: usize, scale: f32, offset: f32) -> Vec<f32> {
        (0..n)
            .map(|_| offset + scale * rng.random_range(-1.0f32..1.0))
            .collect()
    }

    /// Forward and backward of every (silu, shape) case on `isa`, concatenated.
    fn run_all(isa: Isa) -> Vec<f32> {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(18);
        let mut out = Vec::new();
        // (B, C, H, W, groups): slices shorter than 16, not a multiple of 16 (tails of both
        // lane widths), and the UNet's own shapes.
        for &(b, c, h, w, groups) in &[
            (1, 4, 3, 3, 2),
            (2, 8, 7, 9, 4),
            (3, 6, 5, 5, 3),
            (2, 32, 16, 16, 8),
            (1, 64, 8, 8, 8),
            (1, 12, 1, 1, 4),
        ] {
            let g = GnGeom::new(&[b, c, h, w], groups).unwrap();
            let n = b * c * h * w;
            let x = rand_vec(&mut rng, n, 3.0, 0.5);
            let gy = rand_vec(&mut rng, n, 1.0, 0.0);
            let gamma = rand_vec(&mut rng, c, 0.5, 1.0);
            let beta = rand_vec(&mut rng, c, 0.5, 0.0);
            let add = rand_vec(&mut rng, n, 1.0, 0.0);
            for silu in [false, true] {
                out.extend(group_norm_fwd_isa(&g, &x, &gamma, &beta, 1e-5, silu, isa));
                out.extend(group_norm_bwd_isa(
                    &g,
                    &x,
                    &gy,
                    &gamma,
                    &beta,
                    1e-5,
                    silu,
                    Some(&add),
                    isa,
                ));
            }
        }
        out
    }

    #[test]
    fn every_isa_path_matches_the_baseline() {
        let base = run_all(Isa::Baseline);
        let detected = detected_isa();
        if detected < Isa::Avx2Fma {
            println!("skipped: this CPU has neither AVX2+FMA nor AVX-512F (only the baseline)");
            return;
        }
        // Same 8-lane sums, and Rust never fuses a multiply and an add: the same bits.
        let avx2 = run_all(Isa::Avx2Fma);
        assert!(
            base.iter()
                .zip(&avx2)
                .all(|(a, b)| a.to_bits() == b.to_bits()),
            "the AVX2 path differs from the baseline"
        );
        if detected < Isa::Avx512 {
            println!("skipped the AVX-512 comparison: this CPU lacks AVX-512F");
            return;
        }
        // 16-lane sums add in another order: equal to rounding. Values and gradients are O(1)
        // here; the worst case seen is ~1e-6, the bound leaves room for other data.
        let avx512 = run_all(Isa::Avx512);
        assert_eq!(base.len(), avx512.len());
        let worst = base
            .iter()
            .zip(&avx512)
            .map(|(a, b)| (a - b).abs() / (1.0 + a.abs()))
            .fold(0f32, f32::max);
        assert!(worst <= 1e-5, "AVX-512 path off the baseline by {worst}");
        assert!(base.iter().all(|v| v.is_finite()));
    }

    #[test]
    fn exp_approx_is_close_to_libm() {
        let mut worst = 0f32;
        for i in -8700..=8800 {
            let x = i as f32 * 0.01;
            let (a, e) = (exp_approx(x), x.exp());
            worst = worst.max(((a - e) / e).abs());
        }
        assert!(worst < 1e-6, "worst relative error {worst}");
    }
}
