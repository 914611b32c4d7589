//! A whole pre-activation residual block as one candle custom op on the CPU:
//!
//! `y = skip(x) + conv2(gn_silu2(conv1(gn_silu1(x)) + silu_c · Wpᵀ + bp))`
//!
//! Built from the per-op kernels the block is about ten autograd nodes (norms, convs, the
//! conditioning matmul, broadcast and add, the residual add), and candle's `GradStore` meets
//! each full-size gradient with a zeroed allocation and an addition: about a fifth of a tiny
//! training step. As one node, the gradients pass between the same kernels directly:
//! - the conditioning becomes a per-image bias of conv1;
//! - the residual is preloaded into conv2's output, and its gradient is added by the norm
//!   backward while that is in cache.
//!
//! The block's parameters reach the op as one flat tensor (a `Tensor::cat` of all of them,
//! whose backward hands each parameter its slice). The activations the backward pass needs
//! (`a1 = gn_silu1(x)`, `h1`, `a2 = gn_silu2(h1)`) are kept by the op itself.

use std::sync::{Arc, Mutex, MutexGuard};

use candle_core::{bail, CpuStorage, CustomOp3, Layout, Result, Shape, Tensor};

use super::conv::{contiguous_f32, conv2d_bwd, conv2d_fwd, conv2d_fwd_ext, ConvGeom};
use super::norm::{group_norm_bwd, group_norm_fwd, GnGeom};

/// Sizes of one block.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct BlockShape {
    pub c_in: usize,
    pub c_out: usize,
    /// Width of the conditioning vector.
    pub d: usize,
    /// A 1×1 conv on the residual path (C_in ≠ C_out); identity otherwise.
    pub skip: bool,
    pub groups: usize,
    pub eps: f32,
}

impl BlockShape {
    /// Whether the fused kernel handles this block: an identity residual needs C_in = C_out,
    /// and the conditioning must have at least one component.
    pub(crate) fn is_valid(&self) -> bool {
        self.d > 0 && self.c_in > 0 && self.c_out > 0 && (self.skip || self.c_in == self.c_out)
    }

    /// Lengths of the flat parameters, in order: γ1, β1, W1, b1, Wp, bp, γ2, β2, W2, b2 and,
    /// with a skip conv, Ws, bs.
    pub(crate) fn param_lens(&self) -> Vec<usize> {
        let (ci, co, d) = (self.c_in, self.c_out, self.d);
        let mut v = vec![ci, ci, co * ci * 9, co, co * d, co, co, co, co * co * 9, co];
        if self.skip {
            v.extend([co * ci, co]);
        }
        v
    }
}

/// The flat parameter vector, split.
struct Params<'a> {
    gamma1: &'a [f32],
    beta1: &'a [f32],
    w1: &'a [f32],
    b1: &'a [f32],
    wp: &'a [f32],
    bp: &'a [f32],
    gamma2: &'a [f32],
    beta2: &'a [f32],
    w2: &'a [f32],
    b2: &'a [f32],
    skip: Option<(&'a [f32], &'a [f32])>,
}

fn split_params<'a>(s: &BlockShape, flat: &'a [f32]) -> Result<Params<'a>> {
    let lens = s.param_lens();
    let total: usize = lens.iter().sum();
    if flat.len() != total {
        bail!(
            "res_block: {} parameters for a block that needs {total}",
            flat.len()
        );
    }
    let mut rest = flat;
    let mut parts = Vec::with_capacity(lens.len());
    for l in lens {
        let (a, b) = rest.split_at(l);
        parts.push(a);
        rest = b;
    }
    Ok(Params {
        gamma1: parts[0],
        beta1: parts[1],
        w1: parts[2],
        b1: parts[3],
        wp: parts[4],
        bp: parts[5],
        gamma2: parts[6],
        beta2: parts[7],
        w2: parts[8],
        b2: parts[9],
        skip: s.skip.then(|| (parts[10], parts[11])),
    })
}

/// The geometries of one call on a (B, C_in, H, W) input.
struct Geoms {
    batch: usize,
    p: usize,
    gn1: GnGeom,
    gn2: GnGeom,
    conv1: ConvGeom,
    conv2: ConvGeom,
    skip: Option<ConvGeom>,
}

impl Geoms {
    fn new(s: &BlockShape, x_dims: &[usize]) -> Result<Self> {
        if !s.is_valid() {
            bail!("res_block: unsupported block {s:?}");
        }
        let &[b, c, h, w] = x_dims else {
            bail!("res_block: expected x (B, C, H, W), got {x_dims:?}");
        };
        if c != s.c_in {
            bail!(
                "res_block: x has {c} channels, the block expects {}",
                s.c_in
            );
        }
        let (ci, co) = (s.c_in, s.c_out);
        let conv = |cin: usize, k: usize, pad: usize| {
            ConvGeom::new(&[b, cin, h, w], &[co, cin, k, k], pad, 1)
                .filter(|g| g.h_out == h && g.w_out == w)
        };
        let (Some(conv1), Some(conv2)) = (conv(ci, 3, 1), conv(co, 3, 1)) else {
            bail!("res_block: invalid input size {x_dims:?}");
        };
        let skip = if s.skip {
            Some(conv(ci, 1, 0).ok_or_else(|| {
                candle_core::Error::Msg(format!("res_block: invalid input size {x_dims:?}"))
            })?)
        } else {
            None
        };
        Ok(Self {
            batch: b,
            p: h * w,
            gn1: GnGeom::new(x_dims, s.groups)?,
            gn2: GnGeom::new(&[b, co, h, w], s.groups)?,
            conv1,
            conv2,
            skip,
        })
    }

    /// Forward FLOPs of the block's convolutions.
    pub(crate) fn conv_flops(&self) -> u64 {
        self.conv1.flops() + self.conv2.flops() + self.skip.map_or(0, |g| g.flops())
    }
}

/// Forward FLOPs of the convolutions of a block on an input of `x_dims` (0 if invalid).
pub(crate) fn conv_flops(s: &BlockShape, x_dims: &[usize]) -> u64 {
    Geoms::new(s, x_dims).map_or(0, |g| g.conv_flops())
}

/// What the forward pass keeps for the backward pass, and what the backward kernel hands
/// back besides the input gradient.
#[derive(Default)]
struct Saved {
    a1: Vec<f32>,
    h1: Vec<f32>,
    a2: Vec<f32>,
    silu_c: Vec<f32>,
    /// `[g_silu_c (B·D), g_flat]`, set by the backward kernel.
    small_grads: Option<Vec<f32>>,
}

fn lock(saved: &Mutex<Saved>) -> Result<MutexGuard<'_, Saved>> {
    saved
        .lock()
        .map_err(|_| candle_core::Error::Msg("res_block: saved state poisoned".into()))
}

/// The fused block on `(x, silu_c, flat_params)`.
pub(crate) struct ResBlockOp {
    shape: BlockShape,
    saved: Arc<Mutex<Saved>>,
}

impl ResBlockOp {
    pub(crate) fn new(shape: BlockShape) -> Self {
        Self {
            shape,
            saved: Arc::new(Mutex::new(Saved::default())),
        }
    }
}

impl CustomOp3 for ResBlockOp {
    fn name(&self) -> &'static str {
        "bump-res-block"
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
        let s = &self.shape;
        let g = Geoms::new(s, l1.dims())?;
        let (b, co, d) = (g.batch, s.c_out, s.d);
        if l2.dims() != [b, d] {
            bail!(
                "res_block: conditioning {:?}, expected ({b}, {d})",
                l2.dims()
            );
        }
        let x = contiguous_f32(s1, l1)?;
        let silu_c = contiguous_f32(s2, l2)?;
        let p = split_params(s, contiguous_f32(s3, l3)?)?;
        let a1 = group_norm_fwd(&g.gn1, x, p.gamma1, p.beta1, s.eps, true);
        // Per-image bias of conv1: its own bias plus the projected conditioning.
        let mut bias1 = Vec::with_capacity(b * co);
        for c_row in silu_c.chunks_exact(d) {
            for ((w_row, &b1), &bp) in p.wp.chunks_exact(d).zip(p.b1).zip(p.bp) {
                let dot: f32 = w_row.iter().zip(c_row).map(|(w, c)| w * c).sum();
                bias1.push(b1 + bp + dot);
            }
        }
        let h1 = conv2d_fwd_ext(&g.conv1, &a1, p.w1, Some(&bias1), None);
        let a2 = group_norm_fwd(&g.gn2, &h1, p.gamma2, p.beta2, s.eps, true);
        let y = match (p.skip, &g.skip) {
            (Some((ws, bs)), Some(gs)) => {
                let residual = conv2d_fwd(gs, x, ws, Some(bs));
                conv2d_fwd_ext(&g.conv2, &a2, p.w2, Some(p.b2), Some(&residual))
            }
            _ => conv2d_fwd_ext(&g.conv2, &a2, p.w2, Some(p.b2), Some(x)),
        };
        let mut saved = lock(&self.saved)?;
        *saved = Saved {
            a1,
            h1,
            a2,
            silu_c: silu_c.to_vec(),
            small_grads: None,
        };
        Ok((CpuStorage::F32(y), g.conv2.out_shape()))
    }

    fn bwd(
        &self,
        x: &Tensor,
        silu_c: &Tensor,
        flat: &Tensor,
        _res: &Tensor,
        grad_res: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let gy = grad_res.contiguous()?;
        let gx = x.apply_op3_no_bwd(
            &gy,
            flat,
            &ResBlockBwdOp {
                shape: self.shape,
                saved: self.saved.clone(),
            },
        )?;
        let small = lock(&self.saved)?.small_grads.take().ok_or_else(|| {
            candle_core::Error::Msg("res_block: backward produced nothing".into())
        })?;
        let n_c = silu_c.elem_count();
        let g_c = Tensor::from_slice(&small[..n_c], silu_c.shape(), x.device())?;
        let g_flat = Tensor::from_slice(&small[n_c..], flat.shape(), x.device())?;
        Ok((Some(gx), Some(g_c), Some(g_flat)))
    }
}

/// `(x, gy, flat_params) → gx`; the parameter and conditioning gradients go to the shared
/// [`Saved::small_grads`].
struct ResBlockBwdOp {
    shape: BlockShape,
    saved: Arc<Mutex<Saved>>,
}

impl CustomOp3 for ResBlockBwdOp {
    fn name(&self) -> &'static str {
        "bump-res-block-bwd"
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
        let s = &self.shape;
        let g = Geoms::new(s, l1.dims())?;
        let (b, ci, co, d, p_len) = (g.batch, s.c_in, s.c_out, s.d, g.p);
        if l2.dims() != g.conv2.out_shape().dims() {
            bail!("res_block backward: gradient shape {:?}", l2.dims());
        }
        let x = contiguous_f32(s1, l1)?;
        let gy = contiguous_f32(s2, l2)?;
        let p = split_params(s, contiguous_f32(s3, l3)?)?;
        let mut saved = lock(&self.saved)?;
        if saved.a2.len() != b * co * p_len || saved.silu_c.len() != b * d {
            bail!("res_block backward: no matching forward pass");
        }
        let (n_x, n_h) = (b * ci * p_len, b * co * p_len);
        // conv2: [g_a2, dW2, db2]
        let o2 = conv2d_bwd(&g.conv2, &saved.a2, gy, p.w2, true);
        let (g_a2, w2_grads) = o2.split_at(n_h);
        // Residual path: [g_x_skip, dWs, dbs] or gy itself.
        let os = match (p.skip, &g.skip) {
            (Some((ws, _)), Some(gs)) => Some(conv2d_bwd(gs, x, gy, ws, true)),
            _ => None,
        };
        let g_x_skip = os.as_ref().map_or(gy, |o| &o[..n_x]);
        // norm2: [g_h1, dγ2, dβ2]
        let o3 = group_norm_bwd(
            &g.gn2, &saved.h1, g_a2, p.gamma2, p.beta2, s.eps, true, None,
        );
        let (g_h1, n2_grads) = o3.split_at(n_h);
        // The gradient of conv1's per-image bias (its own bias + the projected conditioning),
        // (B, C_out); conv1's bias gradient is its sum over the images, so the conv backward
        // below skips its own bias sums.
        let dcp: Vec<f32> = g_h1
            .chunks_exact(p_len.max(1))
            .map(|row| row.iter().sum())
            .collect();
        let mut db1 = vec![0f32; co];
        for dcp_b in dcp.chunks_exact(co) {
            for (a, v) in db1.iter_mut().zip(dcp_b) {
                *a += v;
            }
        }
        // conv1: [g_a1, dW1]
        let o1 = conv2d_bwd(&g.conv1, &saved.a1, g_h1, p.w1, false);
        let (g_a1, dw1) = o1.split_at(n_x);
        // Conditioning projection: dWp = dcpᵀ · silu_c, g_silu_c = dcp · Wp, dbp = db1.
        let mut d_wp = vec![0f32; co * d];
        let mut g_c = vec![0f32; b * d];
        for (dcp_b, (c_b, gc_b)) in dcp
            .chunks_exact(co)
            .zip(saved.silu_c.chunks_exact(d).zip(g_c.chunks_exact_mut(d)))
        {
            for ((&dv, dwp_row), wp_row) in dcp_b
                .iter()
                .zip(d_wp.chunks_exact_mut(d))
                .zip(p.wp.chunks_exact(d))
            {
                for ((dw, gc), (&cv, &wv)) in dwp_row
                    .iter_mut()
                    .zip(gc_b.iter_mut())
                    .zip(c_b.iter().zip(wp_row))
                {
                    *dw += dv * cv;
                    *gc += dv * wv;
                }
            }
        }
        // norm1, plus the residual path's gradient: [g_x, dγ1, dβ1]
        let mut o0 = group_norm_bwd(
            &g.gn1,
            x,
            g_a1,
            p.gamma1,
            p.beta1,
            s.eps,
            true,
            Some(g_x_skip),
        );
        let mut small = Vec::with_capacity(b * d + s.param_lens().iter().sum::<usize>());
        small.extend_from_slice(&g_c);
        small.extend_from_slice(&o0[n_x..]); // dγ1, dβ1
        small.extend_from_slice(dw1);
        small.extend_from_slice(&db1);
        small.extend_from_slice(&d_wp);
        small.extend_from_slice(&db1); // dbp
        small.extend_from_slice(n2_grads); // dγ2, dβ2
        small.extend_from_slice(w2_grads); // dW2, db2
        if let Some(o) = &os {
            small.extend_from_slice(&o[n_x..]); // dWs, dbs
        }
        saved.small_grads = Some(small);
        o0.truncate(n_x);
        Ok((CpuStorage::F32(o0), l1.shape().clone()))
    }
}
