//! GeGLU and the q/k/v head split with RoPE, forward and gradient, as CubeCL kernels: one unit
//! per output value, the arithmetic of the composed ops in `geglu.rs` and `rope.rs` (activations
//! in f32, rounded once to the tensor's dtype).

use burn::tensor::Shape;
use burn_cubecl::CubeRuntime;
use burn_cubecl::kernel::into_contiguous;
use burn_cubecl::tensor::CubeTensor;
use cubecl::prelude::*;

use super::{elementwise_dims, output};
use crate::activation::Activation;

/// The activation as a compile-time code (one shader per activation).
pub(super) fn activation_code(act: Activation) -> u32 {
    match act {
        Activation::Gelu => 0,
        Activation::GeluTanh => 1,
        Activation::Silu => 2,
        Activation::Relu => 3,
    }
}

/// √(2/π), 1/√2 and 1/√(2π).
const SQRT_2_OVER_PI: f32 = 0.797_884_6;
const FRAC_1_SQRT_2: f32 = std::f32::consts::FRAC_1_SQRT_2;
const INV_SQRT_2PI: f32 = 0.398_942_3;

/// `act(x)` in f32: exact (erf) GELU, tanh GELU (Burn's `gelu_approximate`), SiLU, ReLU.
#[cube]
fn act_f32(x: f32, #[comptime] act: u32) -> f32 {
    if comptime![act == 0] {
        x * 0.5 * (1.0 + Erf::erf(x * FRAC_1_SQRT_2))
    } else if comptime![act == 1] {
        x * 0.5 * (1.0 + f32::tanh(SQRT_2_OVER_PI * (x + 0.044_715 * x * x * x)))
    } else if comptime![act == 2] {
        x / (1.0 + f32::exp(-x))
    } else {
        f32::max(x, 0.0)
    }
}

/// `d act / dx` in f32 (exact for every activation, as `geglu.rs`'s).
#[cube]
fn act_derivative_f32(x: f32, #[comptime] act: u32) -> f32 {
    if comptime![act == 0] {
        let cdf = 0.5 * (1.0 + Erf::erf(x * FRAC_1_SQRT_2));
        cdf + x * f32::exp(-0.5 * x * x) * INV_SQRT_2PI
    } else if comptime![act == 1] {
        let t = f32::tanh(SQRT_2_OVER_PI * (x + 0.044_715 * x * x * x));
        let slope = SQRT_2_OVER_PI * (1.0 + 3.0 * 0.044_715 * x * x);
        0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * slope
    } else if comptime![act == 2] {
        let s = 1.0 / (1.0 + f32::exp(-x));
        s * (1.0 + x * (1.0 - s))
    } else {
        select(x > 0.0, 1.0, 0.0)
    }
}

/// `out[r, j] = act(u[r, j]) · u[r, I + j]` for contiguous `u` `[rows, 2I]` and `out` `[rows, I]`.
#[cube(launch)]
fn geglu_kernel<F: Float>(
    u: &Tensor<F>,
    out: &mut Tensor<F>,
    inner: usize,
    #[comptime] act: u32,
    #[define(F)] _dtype: StorageType,
) {
    if ABSOLUTE_POS >= out.len() {
        terminate!();
    }
    let base = (ABSOLUTE_POS / inner) * 2 * inner + ABSOLUTE_POS % inner;
    let a = F::cast_from(act_f32(f32::cast_from(u[base]), act));
    out[ABSOLUTE_POS] = a * u[base + inner];
}

/// `du = [grad · gate · act'(x) | grad · act(x)]` `[rows, 2I]` for `u = [x | gate]`, with the
/// roundings of `geglu_backward`.
#[cube(launch)]
fn geglu_grad_kernel<F: Float>(
    u: &Tensor<F>,
    grad: &Tensor<F>,
    du: &mut Tensor<F>,
    inner: usize,
    #[comptime] act: u32,
    #[define(F)] _dtype: StorageType,
) {
    if ABSOLUTE_POS >= grad.len() {
        terminate!();
    }
    let base = (ABSOLUTE_POS / inner) * 2 * inner + ABSOLUTE_POS % inner;
    let g = grad[ABSOLUTE_POS];
    let x = f32::cast_from(u[base]);
    du[base + inner] = g * F::cast_from(act_f32(x, act));
    du[base] = F::cast_from(f32::cast_from(g * u[base + inner]) * act_derivative_f32(x, act));
}

/// GeGLU of `u` `[.., 2I]` → `[.., I]`.
pub(super) fn geglu<R: CubeRuntime>(u: CubeTensor<R>, act: Activation) -> CubeTensor<R> {
    let u = into_contiguous(u);
    let mut dims = u.meta.shape().to_vec();
    let inner = dims[dims.len() - 1] / 2;
    if let Some(last) = dims.last_mut() {
        *last = inner;
    }
    let out = output(&u, Shape::from(dims), u.dtype);
    let (count, dim) = elementwise_dims(&out);
    geglu_kernel::launch::<R>(
        &out.client,
        count,
        dim,
        u.clone().into_tensor_arg(),
        out.clone().into_tensor_arg(),
        inner,
        activation_code(act),
        u.dtype.into(),
    );
    out
}

/// The gradient of [`geglu`] with respect to `u`.
pub(super) fn geglu_grad<R: CubeRuntime>(u: CubeTensor<R>, grad: CubeTensor<R>, act: Activation) -> CubeTensor<R> {
    let (u, grad) = (into_contiguous(u), into_contiguous(grad));
    let inner = grad.meta.shape()[grad.meta.num_dims() - 1];
    let du = output(&u, u.meta.shape().clone(), u.dtype);
    let (count, dim) = elementwise_dims(&grad);
    geglu_grad_kernel::launch::<R>(
        &du.client,
        count,
        dim,
        u.clone().into_tensor_arg(),
        grad.into_tensor_arg(),
        du.clone().into_tensor_arg(),
        inner,
        activation_code(act),
        u.dtype.into(),
    );
    du
}

/// `out[part, b, h, t, c]` of `qkv[b, t, (part·heads + h)·D + c]`: q and k (parts 0, 1) rotated,
/// `x·cos + rotate_half(x)·sin`, v copied. Tables `[T, D]` in the dtype of `qkv`.
#[cube(launch)]
fn qkv_rope_kernel<F: Float>(
    qkv: &Tensor<F>,
    cos: &Tensor<F>,
    sin: &Tensor<F>,
    out: &mut Tensor<F>,
    batch: usize,
    heads: usize,
    seq: usize,
    head_dim: usize,
    #[define(F)] _dtype: StorageType,
) {
    if ABSOLUTE_POS >= out.len() {
        terminate!();
    }
    let c = ABSOLUTE_POS % head_dim;
    let t = (ABSOLUTE_POS / head_dim) % seq;
    let h = (ABSOLUTE_POS / (head_dim * seq)) % heads;
    let b = (ABSOLUTE_POS / (head_dim * seq * heads)) % batch;
    let part = ABSOLUTE_POS / (head_dim * seq * heads * batch);
    let row = (b * seq + t) * 3 * heads * head_dim + (part * heads + h) * head_dim;
    let x = qkv[row + c];
    if part == 2 {
        out[ABSOLUTE_POS] = x;
    } else {
        let table = t * head_dim + c;
        out[ABSOLUTE_POS] = x * cos[table] + rotate_half(qkv, row, c, head_dim) * sin[table];
    }
}

/// Value `c` of `rotate_half` of the head vector at `row` of `src`: `−x[c + D/2]` in the first
/// half, `x[c − D/2]` in the second (within the vector, so within the tensor).
#[cube]
fn rotate_half<F: Float>(src: &Tensor<F>, row: usize, c: usize, head_dim: usize) -> F {
    let half = head_dim / 2;
    let mut rotated = -src[row + c + half];
    if c >= half {
        rotated = src[row + c - half];
    }
    rotated
}

/// `grad_qkv[b, t, (part·heads + h)·D + c]` of `grad[part, b, h, t, c]`: the inverse rotation
/// (RoPE with −sin) of q's and k's gradients, v's copied.
#[cube(launch)]
fn qkv_rope_grad_kernel<F: Float>(
    grad: &Tensor<F>,
    cos: &Tensor<F>,
    sin: &Tensor<F>,
    out: &mut Tensor<F>,
    batch: usize,
    heads: usize,
    seq: usize,
    head_dim: usize,
    #[define(F)] _dtype: StorageType,
) {
    if ABSOLUTE_POS >= out.len() {
        terminate!();
    }
    let c = ABSOLUTE_POS % head_dim;
    let h = (ABSOLUTE_POS / head_dim) % heads;
    let part = (ABSOLUTE_POS / (head_dim * heads)) % 3;
    let t = (ABSOLUTE_POS / (head_dim * heads * 3)) % seq;
    let b = ABSOLUTE_POS / (head_dim * heads * 3 * seq);
    let plane = ((part * batch + b) * heads + h) * seq + t;
    let g = grad[plane * head_dim + c];
    if part == 2 {
        out[ABSOLUTE_POS] = g;
    } else {
        let table = t * head_dim + c;
        out[ABSOLUTE_POS] = g * cos[table] + rotate_half(grad, plane * head_dim, c, head_dim) * (-sin[table]);
    }
}

/// `qkv` `[B, T, 3·heads·D]` → `[3, B, heads, T, D]` with RoPE on q and k (tables `[T, D]`, in the
/// dtype of `qkv`).
pub(super) fn qkv_rope<R: CubeRuntime>(
    qkv: CubeTensor<R>,
    cos: CubeTensor<R>,
    sin: CubeTensor<R>,
    heads: usize,
) -> CubeTensor<R> {
    let (qkv, cos, sin) = (into_contiguous(qkv), into_contiguous(cos), into_contiguous(sin));
    let [b, t, h3] = [0, 1, 2].map(|i| qkv.meta.shape()[i]);
    let d = h3 / 3 / heads;
    let out = output(&qkv, Shape::from(vec![3, b, heads, t, d]), qkv.dtype);
    let (count, dim) = elementwise_dims(&out);
    qkv_rope_kernel::launch::<R>(
        &out.client,
        count,
        dim,
        qkv.clone().into_tensor_arg(),
        cos.into_tensor_arg(),
        sin.into_tensor_arg(),
        out.clone().into_tensor_arg(),
        b,
        heads,
        t,
        d,
        qkv.dtype.into(),
    );
    out
}

/// The gradient of [`qkv_rope`]: `grad` `[3, B, heads, T, D]` → `[B, T, 3·heads·D]`.
pub(super) fn qkv_rope_grad<R: CubeRuntime>(
    grad: CubeTensor<R>,
    cos: CubeTensor<R>,
    sin: CubeTensor<R>,
) -> CubeTensor<R> {
    let (grad, cos, sin) = (into_contiguous(grad), into_contiguous(cos), into_contiguous(sin));
    let [_, b, heads, t, d] = [0, 1, 2, 3, 4].map(|i| grad.meta.shape()[i]);
    let out = output(&grad, Shape::from(vec![b, t, 3 * heads * d]), grad.dtype);
    let (count, dim) = elementwise_dims(&out);
    qkv_rope_grad_kernel::launch::<R>(
        &out.client,
        count,
        dim,
        grad.clone().into_tensor_arg(),
        cos.into_tensor_arg(),
        sin.into_tensor_arg(),
        out.clone().into_tensor_arg(),
        b,
        heads,
        t,
        d,
        grad.dtype.into(),
    );
    out
}
