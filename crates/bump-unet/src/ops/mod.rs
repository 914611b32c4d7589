//! Tensor ops used by the UNet, behind one stable API.
//!
//! Every function here has the same semantics on every device. For f32 tensors on the CPU they
//! run custom kernels packaged as candle `CustomOp`s whose backward passes are custom ops too:
//! conv2d as im2col + `gemm` (input and weight gradients also by `gemm`), fused GroupNorm(+SiLU),
//! and a nearest ×2 upsample with a block-sum backward. On GPU devices, for other dtypes, or after
//! [`set_custom_cpu_kernels`]`(false)`, they run the stock candle compositions (`*_stock`, also
//! the references the kernels are tested against). Non-contiguous inputs are copied once.
//! The kernels run on candle's CPU worker pool; their results, gradients included, are
//! bit-reproducible for a given thread count and instruction-set path ([`isa_report`] says
//! which path each kernel takes; [`set_max_isa`] caps ours). The model code calls only these functions, so
//! the kernels can change without touching the model. See docs/performance.md.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use candle_core::{Result, Tensor, D};

mod conv;
mod isa;
mod norm;
mod par;
mod resblock;
mod softmax;
mod upsample;

pub use isa::{
    detected_isa, gemm_isa, isa_report, kernel_isa, set_max_isa, Isa, IsaReport,
    GEMM_X86_V4_COMPILED,
};

use conv::{cpu_f32, Conv2dOp, ConvGeom};
use norm::GroupNormOp;
use resblock::{BlockShape, ResBlockOp};
use softmax::ScaledSoftmaxOp;
use upsample::Upsample2xOp;

static CUSTOM_CPU_KERNELS: AtomicBool = AtomicBool::new(true);
static CONV_FLOPS: AtomicU64 = AtomicU64::new(0);

/// Turns the custom CPU kernels on (the default) or off process-wide. Off, every op takes the
/// stock candle path; benches use this to measure both paths on the same model.
pub fn set_custom_cpu_kernels(enabled: bool) {
    CUSTOM_CPU_KERNELS.store(enabled, Ordering::Relaxed);
}

/// Whether the custom CPU kernels are in use (see [`set_custom_cpu_kernels`]).
pub fn custom_cpu_kernels() -> bool {
    CUSTOM_CPU_KERNELS.load(Ordering::Relaxed)
}

/// Forward FLOPs (2 per multiply-add) of every [`conv2d`] call since the last
/// [`reset_conv_flops`], on any device and path; used for FLOP accounting in benches.
pub fn conv_flops() -> u64 {
    CONV_FLOPS.load(Ordering::Relaxed)
}

/// Resets the counter read by [`conv_flops`].
pub fn reset_conv_flops() {
    CONV_FLOPS.store(0, Ordering::Relaxed);
}

/// True when the custom CPU kernels are enabled and every tensor is f32 on the CPU.
fn use_custom(ts: &[&Tensor]) -> bool {
    custom_cpu_kernels() && cpu_f32(ts)
}

/// 2D convolution with optional bias, square kernel, dilation 1, groups 1.
///
/// # Shapes
/// - `x`: (B, C_in, H, W)
/// - `w`: (C_out, C_in, K, K)
/// - `b`: (C_out,)
/// - returns (B, C_out, H_out, W_out) with H_out = (H + 2·padding − K) / stride + 1.
pub fn conv2d(
    x: &Tensor,
    w: &Tensor,
    b: Option<&Tensor>,
    padding: usize,
    stride: usize,
) -> Result<Tensor> {
    let mut ts = vec![x, w];
    ts.extend(b);
    let geom = ConvGeom::new(x.dims(), w.dims(), padding, stride);
    if let Some(g) = &geom {
        CONV_FLOPS.fetch_add(g.flops(), Ordering::Relaxed);
    }
    if use_custom(&ts) && geom.is_some() {
        let op = Conv2dOp { padding, stride };
        let (x, w) = (x.contiguous()?, w.contiguous()?);
        return match b {
            Some(b) if b.dims() == [w.dim(0)?] => x.apply_op3(&w, &b.contiguous()?, op),
            Some(_) => conv2d_stock(&x, &w, b, padding, stride),
            None => x.apply_op2(&w, op),
        };
    }
    conv2d_stock(x, w, b, padding, stride)
}

/// The stock candle conv2d (+ broadcast bias): the path for GPU devices and non-f32 dtypes,
/// and the reference the custom CPU kernel is tested against.
///
/// # Shapes
/// Same as [`conv2d`].
pub fn conv2d_stock(
    x: &Tensor,
    w: &Tensor,
    b: Option<&Tensor>,
    padding: usize,
    stride: usize,
) -> Result<Tensor> {
    let y = x.conv2d(w, padding, stride, 1, 1)?;
    match b {
        Some(b) => y.broadcast_add(&b.reshape((1, b.dim(0)?, 1, 1))?),
        None => Ok(y),
    }
}

/// Group normalisation followed by a per-channel affine map.
///
/// # Shapes
/// - `x`: (B, C, H, W), C divisible by `num_groups`
/// - `gamma`, `beta`: (C,)
/// - returns (B, C, H, W)
pub fn group_norm(
    x: &Tensor,
    num_groups: usize,
    gamma: &Tensor,
    beta: &Tensor,
    eps: f64,
) -> Result<Tensor> {
    group_norm_dispatch(x, num_groups, gamma, beta, eps, false)
}

/// `silu(group_norm(x))`, fused on the CPU where that pays.
///
/// # Shapes
/// Same as [`group_norm`].
pub fn group_norm_silu(
    x: &Tensor,
    num_groups: usize,
    gamma: &Tensor,
    beta: &Tensor,
    eps: f64,
) -> Result<Tensor> {
    group_norm_dispatch(x, num_groups, gamma, beta, eps, true)
}

fn group_norm_dispatch(
    x: &Tensor,
    num_groups: usize,
    gamma: &Tensor,
    beta: &Tensor,
    eps: f64,
    silu: bool,
) -> Result<Tensor> {
    let custom_ok = use_custom(&[x, gamma, beta])
        && matches!(x.dims(), &[_, c, _, _] if num_groups > 0 && c % num_groups == 0
            && gamma.dims() == [c] && beta.dims() == [c]);
    if custom_ok {
        let op = GroupNormOp {
            groups: num_groups,
            eps: eps as f32,
            silu,
        };
        return x
            .contiguous()?
            .apply_op3(&gamma.contiguous()?, &beta.contiguous()?, op);
    }
    if silu {
        group_norm_silu_stock(x, num_groups, gamma, beta, eps)
    } else {
        group_norm_stock(x, num_groups, gamma, beta, eps)
    }
}

/// Group norm from stock candle tensor ops: the path for GPU devices and non-f32 dtypes,
/// and the reference the fused CPU kernel is tested against.
///
/// # Shapes
/// Same as [`group_norm`].
pub fn group_norm_stock(
    x: &Tensor,
    num_groups: usize,
    gamma: &Tensor,
    beta: &Tensor,
    eps: f64,
) -> Result<Tensor> {
    let (b, c, h, w) = x.dims4()?;
    if num_groups == 0 || c % num_groups != 0 {
        candle_core::bail!("group_norm: {c} channels are not divisible into {num_groups} groups");
    }
    let xg = x.reshape((b, num_groups, (c / num_groups) * h * w))?;
    let mean = xg.mean_keepdim(D::Minus1)?;
    let xc = xg.broadcast_sub(&mean)?;
    let var = xc.sqr()?.mean_keepdim(D::Minus1)?;
    let xn = xc.broadcast_div(&(var + eps)?.sqrt()?)?;
    let xn = xn.reshape((b, c, h, w))?;
    xn.broadcast_mul(&gamma.reshape((1, c, 1, 1))?)?
        .broadcast_add(&beta.reshape((1, c, 1, 1))?)
}

/// `silu(group_norm_stock(x))` from stock candle ops (reference and non-CPU path).
///
/// # Shapes
/// Same as [`group_norm`].
pub fn group_norm_silu_stock(
    x: &Tensor,
    num_groups: usize,
    gamma: &Tensor,
    beta: &Tensor,
    eps: f64,
) -> Result<Tensor> {
    candle_nn::ops::silu(&group_norm_stock(x, num_groups, gamma, beta, eps)?)
}

/// The parameters of one pre-activation residual block, for [`res_block`]; each pair is
/// (weight, bias), or (γ, β) for a norm.
#[derive(Clone, Debug)]
pub struct ResBlockParams {
    /// GroupNorm before conv1: (C_in,), (C_in,).
    pub norm1: (Tensor, Tensor),
    /// 3×3 conv, padding 1: (C_out, C_in, 3, 3), (C_out,).
    pub conv1: (Tensor, Tensor),
    /// Projection of the conditioning vector: (C_out, D), (C_out,).
    pub cond_proj: (Tensor, Tensor),
    /// GroupNorm before conv2: (C_out,), (C_out,).
    pub norm2: (Tensor, Tensor),
    /// 3×3 conv, padding 1: (C_out, C_out, 3, 3), (C_out,).
    pub conv2: (Tensor, Tensor),
    /// 1×1 conv on the residual path when C_in ≠ C_out: (C_out, C_in, 1, 1), (C_out,).
    pub skip: Option<(Tensor, Tensor)>,
    /// GroupNorm groups (dividing C_in and C_out).
    pub groups: usize,
    /// GroupNorm epsilon.
    pub eps: f64,
}

impl ResBlockParams {
    /// Every parameter tensor, in the fused kernel's flat order.
    fn tensors(&self) -> Vec<&Tensor> {
        let mut v = vec![
            &self.norm1.0,
            &self.norm1.1,
            &self.conv1.0,
            &self.conv1.1,
            &self.cond_proj.0,
            &self.cond_proj.1,
            &self.norm2.0,
            &self.norm2.1,
            &self.conv2.0,
            &self.conv2.1,
        ];
        if let Some((w, b)) = &self.skip {
            v.extend([w, b]);
        }
        v
    }

    /// The block's sizes, if every parameter has the shape the fused kernel expects.
    fn block_shape(&self, silu_c: &Tensor) -> Option<BlockShape> {
        let (c_out, c_in, _, _) = self.conv1.0.dims4().ok()?;
        let (_, d) = silu_c.dims2().ok()?;
        let s = BlockShape {
            c_in,
            c_out,
            d,
            skip: self.skip.is_some(),
            groups: self.groups,
            eps: self.eps as f32,
        };
        let expected: [&[usize]; 10] = [
            &[c_in],
            &[c_in],
            &[c_out, c_in, 3, 3],
            &[c_out],
            &[c_out, d],
            &[c_out],
            &[c_out],
            &[c_out],
            &[c_out, c_out, 3, 3],
            &[c_out],
        ];
        let mut ok = expected
            .iter()
            .zip(self.tensors())
            .all(|(e, t)| t.dims() == *e);
        if let Some((w, b)) = &self.skip {
            ok &= w.dims() == [c_out, c_in, 1, 1] && b.dims() == [c_out];
        }
        (ok && s.is_valid()).then_some(s)
    }
}

/// One pre-activation residual block with additive conditioning:
/// `skip(x) + conv2(gn_silu2(conv1(gn_silu1(x)) + silu_c · Wpᵀ + bp))`, where `skip` is the
/// 1×1 conv of [`ResBlockParams::skip`] or the identity.
///
/// For f32 on the CPU the block runs as one fused custom op ([`res_block_fused`]) when its
/// output has at least as many values as the block has parameters; smaller calls (batch-1
/// sampling of a wide model) are composed from [`conv2d`], [`group_norm_silu`] and a matmul,
/// because the fused op copies the parameters into one flat tensor on every call, which costs
/// more than it saves there. Elsewhere (GPU, other dtypes) it is always composed.
///
/// # Shapes
/// - `x`: (B, C_in, H, W); `silu_c`: (B, D), the conditioning vector after its SiLU
/// - returns (B, C_out, H, W)
pub fn res_block(x: &Tensor, silu_c: &Tensor, p: &ResBlockParams) -> Result<Tensor> {
    let params: usize = p.tensors().iter().map(|t| t.elem_count()).sum();
    let out_len = match x.dims() {
        &[b, _, h, w] => b * p.conv1.0.dim(0)? * h * w,
        _ => 0,
    };
    if out_len >= params {
        if let Some(y) = res_block_fused_if_possible(x, silu_c, p)? {
            return Ok(y);
        }
    }
    res_block_composed(x, silu_c, p, false, Ok)
}

/// [`res_block`] always as the fused CPU op where it applies (f32 on the CPU, parameter shapes
/// as documented on [`ResBlockParams`], C_in = C_out without a skip conv, D ≥ 1), composed
/// otherwise.
///
/// # Shapes
/// Same as [`res_block`].
pub fn res_block_fused(x: &Tensor, silu_c: &Tensor, p: &ResBlockParams) -> Result<Tensor> {
    match res_block_fused_if_possible(x, silu_c, p)? {
        Some(y) => Ok(y),
        None => res_block_composed(x, silu_c, p, false, Ok),
    }
}

fn res_block_fused_if_possible(
    x: &Tensor,
    silu_c: &Tensor,
    p: &ResBlockParams,
) -> Result<Option<Tensor>> {
    let mut ts = p.tensors();
    ts.extend([x, silu_c]);
    if !use_custom(&ts) {
        return Ok(None);
    }
    let Some(shape) = p.block_shape(silu_c) else {
        return Ok(None);
    };
    if x.rank() != 4 || x.dim(1)? != shape.c_in || silu_c.dim(0)? != x.dim(0)? {
        return Ok(None);
    }
    CONV_FLOPS.fetch_add(resblock::conv_flops(&shape, x.dims()), Ordering::Relaxed);
    let flat: Vec<Tensor> = p
        .tensors()
        .into_iter()
        .map(|t| t.flatten_all())
        .collect::<Result<_>>()?;
    let flat = Tensor::cat(&flat, 0)?;
    let y = x
        .contiguous()?
        .apply_op3(&silu_c.contiguous()?, &flat, ResBlockOp::new(shape))?;
    Ok(Some(y))
}

/// [`res_block`] from stock candle ops only: the reference the fused kernel is tested against.
///
/// # Shapes
/// Same as [`res_block`].
pub fn res_block_stock(x: &Tensor, silu_c: &Tensor, p: &ResBlockParams) -> Result<Tensor> {
    res_block_composed(x, silu_c, p, true, Ok)
}

/// [`res_block`] composed from the per-op kernels ([`conv2d`], [`group_norm_silu`]), with
/// `mid` applied to the output of the second norm before conv2: the path for a block with
/// dropout in training, whose mask must sit there.
///
/// # Shapes
/// Same as [`res_block`]; `mid` must keep the shape.
pub fn res_block_with_mid(
    x: &Tensor,
    silu_c: &Tensor,
    p: &ResBlockParams,
    mid: impl FnOnce(Tensor) -> Result<Tensor>,
) -> Result<Tensor> {
    res_block_composed(x, silu_c, p, false, mid)
}

fn res_block_composed(
    x: &Tensor,
    silu_c: &Tensor,
    p: &ResBlockParams,
    stock: bool,
    mid: impl FnOnce(Tensor) -> Result<Tensor>,
) -> Result<Tensor> {
    let conv = |x: &Tensor, (w, b): &(Tensor, Tensor), pad: usize| {
        if stock {
            conv2d_stock(x, w, Some(b), pad, 1)
        } else {
            conv2d(x, w, Some(b), pad, 1)
        }
    };
    let norm = |x: &Tensor, (g, b): &(Tensor, Tensor)| {
        if stock {
            group_norm_silu_stock(x, p.groups, g, b, p.eps)
        } else {
            group_norm_silu(x, p.groups, g, b, p.eps)
        }
    };
    let (wp, bp) = &p.cond_proj;
    let c = silu_c.matmul(&wp.t()?)?.broadcast_add(bp)?;
    let h = conv(&norm(x, &p.norm1)?, &p.conv1, 1)?;
    let h = h.broadcast_add(&c.unsqueeze(2)?.unsqueeze(3)?)?;
    let h = conv(&mid(norm(&h, &p.norm2)?)?, &p.conv2, 1)?;
    match &p.skip {
        Some(s) => conv(x, s, 0)? + h,
        None => x + h,
    }
}

/// `softmax(scale · x)` along the last dimension (attention weights from raw scores).
///
/// On the CPU (f32) one custom op with its own backward, `scale · y ⊙ (g − Σ g⊙y)` per row;
/// elsewhere [`scaled_softmax_last_dim_stock`].
///
/// # Shapes
/// any shape with a non-empty last dimension → same
pub fn scaled_softmax_last_dim(x: &Tensor, scale: f64) -> Result<Tensor> {
    if use_custom(&[x]) && x.dims().last().is_some_and(|&n| n > 0) {
        return x.contiguous()?.apply_op1(ScaledSoftmaxOp {
            scale: scale as f32,
        });
    }
    scaled_softmax_last_dim_stock(x, scale)
}

/// [`scaled_softmax_last_dim`] from stock ops (`candle_nn::ops::softmax` of `scale · x`): the
/// GPU path and the reference for the CPU kernel.
///
/// # Shapes
/// Same as [`scaled_softmax_last_dim`].
pub fn scaled_softmax_last_dim_stock(x: &Tensor, scale: f64) -> Result<Tensor> {
    candle_nn::ops::softmax(&(x * scale)?, D::Minus1)
}

/// Nearest-neighbour ×2 upsampling with a backward that sums each 2×2 block of the gradient
/// (candle's `upsample_nearest2d` backward is reported to overwrite instead of accumulate).
///
/// # Shapes
/// - `x`: (B, C, H, W)
/// - returns (B, C, 2H, 2W)
pub fn upsample_nearest2x(x: &Tensor) -> Result<Tensor> {
    if use_custom(&[x]) && x.rank() == 4 {
        return x.contiguous()?.apply_op1(Upsample2xOp);
    }
    upsample_nearest2x_stock(x)
}

/// Nearest ×2 upsampling from reshape and broadcast (stock candle ops, whose backward
/// accumulates correctly): the GPU path and the reference for the CPU kernel.
///
/// # Shapes
/// Same as [`upsample_nearest2x`].
pub fn upsample_nearest2x_stock(x: &Tensor) -> Result<Tensor> {
    let (b, c, h, w) = x.dims4()?;
    x.reshape((b, c, h, 1, w, 1))?
        .broadcast_as((b, c, h, 2, w, 2))?
        .contiguous()?
        .reshape((b, c, 2 * h, 2 * w))
}
