//! Attention over a packed stream, per sequence (variable length, flash-attention's varlen
//! semantics) and within the sliding window, in one launch for every sequence and head of a
//! layer: an online-softmax forward (running max and sum, no score tensor at all), and a
//! backward that recomputes the probabilities from q and k with the rows' log-sum-exp, so that
//! nothing of size `[heads, T, T]` is ever stored.
//!
//! q, k, v are `[1, heads, N, D]`; `bounds` `[N, 2]` holds the `[start, end)` of every token's
//! sequence. One unit per (head, token) and a `D`-value accumulator per unit: plain f32
//! arithmetic, the sums of `attention_forward` / `attention_backward` in another order.

use burn::tensor::{DType, Shape};
use burn_cubecl::CubeRuntime;
use burn_cubecl::kernel::into_contiguous;
use burn_cubecl::tensor::CubeTensor;
use cubecl::prelude::*;

use super::chunk::{window_end, window_start};
use super::{PackedWindow, output, row_dims};

/// A score below every real one: the running maximum before the first key.
const LOWEST: f32 = -3.402_823_5e38;

/// The keys `[lo, hi)` token `i` attends to: its sequence's, within the window.
#[cube]
fn keys_of<I: Int>(bounds: &Tensor<I>, i: usize, half_window: usize, #[comptime] windowed: bool) -> (usize, usize) {
    let start = usize::cast_from(bounds[2 * i]);
    let end = usize::cast_from(bounds[2 * i + 1]);
    (
        window_start(i, start, half_window, windowed),
        window_end(i, end, half_window, windowed),
    )
}

/// `Σ_c a[a0 + c] · b[b0 + c]` in f32.
#[cube]
fn dot<F: Float>(a: &Tensor<F>, a0: usize, b: &Tensor<F>, b0: usize, #[comptime] head_dim: usize) -> f32 {
    let mut sum = 0.0f32;
    for c in 0..head_dim {
        sum += f32::cast_from(a[a0 + c]) * f32::cast_from(b[b0 + c]);
    }
    sum
}

/// `out[h, i] = Σ_j softmax_j(q_i·k_j · scale) v_j` over the keys of `keys_of`, online.
#[cube(launch)]
fn forward_kernel<F: Float, I: Int>(
    q: &Tensor<F>,
    k: &Tensor<F>,
    v: &Tensor<F>,
    bounds: &Tensor<I>,
    out: &mut Tensor<F>,
    scale: f32,
    half_window: usize,
    #[comptime] windowed: bool,
    #[comptime] head_dim: usize,
    #[define(F, I)] _dtypes: [StorageType; 2],
) {
    let tokens = bounds.len() / 2;
    if ABSOLUTE_POS >= out.len() / head_dim {
        terminate!();
    }
    let i = ABSOLUTE_POS % tokens;
    let head = ABSOLUTE_POS / tokens * tokens * head_dim;
    let row = ABSOLUTE_POS * head_dim;
    let (lo, hi) = keys_of(bounds, i, half_window, windowed);
    let mut acc = Array::<f32>::new(head_dim);
    for c in 0..head_dim {
        acc[c] = 0.0;
    }
    let mut max = f32::new(LOWEST);
    let mut sum = 0.0f32;
    for j in lo..hi {
        let key = head + j * head_dim;
        let s = dot(q, row, k, key, head_dim) * scale;
        let new_max = f32::max(max, s);
        let rescale = f32::exp(max - new_max);
        let p = f32::exp(s - new_max);
        sum = sum * rescale + p;
        for c in 0..head_dim {
            acc[c] = acc[c] * rescale + p * f32::cast_from(v[key + c]);
        }
        max = new_max;
    }
    for c in 0..head_dim {
        out[row + c] = F::cast_from(acc[c] / sum);
    }
}

/// Backward, per query row: its log-sum-exp and `D = dO·O` into `stats` `[heads·N, 2]`, and
/// `dq = scale · Σ_j P (dO·v_j − D) k_j`.
#[cube(launch)]
fn query_grad_kernel<F: Float, I: Int>(
    q: &Tensor<F>,
    k: &Tensor<F>,
    v: &Tensor<F>,
    out: &Tensor<F>,
    grad: &Tensor<F>,
    bounds: &Tensor<I>,
    dq: &mut Tensor<F>,
    stats: &mut Tensor<f32>,
    window: &PackedWindowArgs,
    #[comptime] windowed: bool,
    #[comptime] head_dim: usize,
    #[define(F, I)] _dtypes: [StorageType; 2],
) {
    let tokens = bounds.len() / 2;
    if ABSOLUTE_POS >= dq.len() / head_dim {
        terminate!();
    }
    let i = ABSOLUTE_POS % tokens;
    let head = ABSOLUTE_POS / tokens * tokens * head_dim;
    let row = ABSOLUTE_POS * head_dim;
    let (lo, hi) = keys_of(bounds, i, window.half_window, windowed);
    let mut max = f32::new(LOWEST);
    let mut sum = 0.0f32;
    for j in lo..hi {
        let s = dot(q, row, k, head + j * head_dim, head_dim) * window.scale;
        let new_max = f32::max(max, s);
        sum = sum * f32::exp(max - new_max) + f32::exp(s - new_max);
        max = new_max;
    }
    let lse = max + f32::ln(sum);
    let d = dot(grad, row, out, row, head_dim);
    stats[2 * ABSOLUTE_POS] = lse;
    stats[2 * ABSOLUTE_POS + 1] = d;
    let mut acc = Array::<f32>::new(head_dim);
    for c in 0..head_dim {
        acc[c] = 0.0;
    }
    for j in lo..hi {
        let key = head + j * head_dim;
        let p = f32::exp(dot(q, row, k, key, head_dim) * window.scale - lse);
        let ds = p * (dot(grad, row, v, key, head_dim) - d);
        for c in 0..head_dim {
            acc[c] += ds * f32::cast_from(k[key + c]);
        }
    }
    for c in 0..head_dim {
        dq[row + c] = F::cast_from(acc[c] * window.scale);
    }
}

/// Backward, per key row `j` (the queries that see it are those `j` would see, the window being
/// symmetric): `dv = Σ_i P dO_i`, `dk = scale · Σ_i P (dO_i·v_j − D_i) q_i`.
#[cube(launch)]
fn key_grad_kernel<F: Float, I: Int>(
    q: &Tensor<F>,
    k: &Tensor<F>,
    v: &Tensor<F>,
    grad: &Tensor<F>,
    bounds: &Tensor<I>,
    stats: &Tensor<f32>,
    dk: &mut Tensor<F>,
    dv: &mut Tensor<F>,
    window: &PackedWindowArgs,
    #[comptime] windowed: bool,
    #[comptime] head_dim: usize,
    #[define(F, I)] _dtypes: [StorageType; 2],
) {
    let tokens = bounds.len() / 2;
    if ABSOLUTE_POS >= dk.len() / head_dim {
        terminate!();
    }
    let j = ABSOLUTE_POS % tokens;
    let head_row = ABSOLUTE_POS / tokens * tokens;
    let key = ABSOLUTE_POS * head_dim;
    let (lo, hi) = keys_of(bounds, j, window.half_window, windowed);
    let mut acc_k = Array::<f32>::new(head_dim);
    let mut acc_v = Array::<f32>::new(head_dim);
    for c in 0..head_dim {
        acc_k[c] = 0.0;
        acc_v[c] = 0.0;
    }
    for i in lo..hi {
        let query = (head_row + i) * head_dim;
        let stat = 2 * (head_row + i);
        let p = f32::exp(dot(q, query, k, key, head_dim) * window.scale - stats[stat]);
        let ds = p * (dot(grad, query, v, key, head_dim) - stats[stat + 1]);
        for c in 0..head_dim {
            acc_v[c] += p * f32::cast_from(grad[query + c]);
            acc_k[c] += ds * f32::cast_from(q[query + c]);
        }
    }
    for c in 0..head_dim {
        dk[key + c] = F::cast_from(acc_k[c] * window.scale);
        dv[key + c] = F::cast_from(acc_v[c]);
    }
}

/// The scale and half window of the backward kernels.
#[derive(CubeType, CubeLaunch)]
struct PackedWindowArgs {
    scale: f32,
    half_window: usize,
}

/// Units (one per head and token) and head dim of `q` `[1, heads, N, D]`.
fn rows_and_dim<R: CubeRuntime>(q: &CubeTensor<R>) -> (usize, usize) {
    let shape = q.meta.shape();
    (shape[1] * shape[2], shape[3])
}

/// The forward: `[1, heads, N, D]` in the dtype of `v`.
pub(super) fn forward<R: CubeRuntime>(
    [q, k, v]: [CubeTensor<R>; 3],
    bounds: CubeTensor<R>,
    window: PackedWindow,
) -> CubeTensor<R> {
    let [q, k, v, bounds] = [q, k, v, bounds].map(into_contiguous);
    let (rows, head_dim) = rows_and_dim(&q);
    let out = output(&v, v.meta.shape().clone(), v.dtype);
    let (count, dim) = row_dims(&q, rows);
    forward_kernel::launch::<R>(
        &out.client,
        count,
        dim,
        q.clone().into_tensor_arg(),
        k.into_tensor_arg(),
        v.into_tensor_arg(),
        bounds.clone().into_tensor_arg(),
        out.clone().into_tensor_arg(),
        window.scale,
        window.half_window.unwrap_or(0),
        window.half_window.is_some(),
        head_dim,
        [q.dtype.into(), bounds.dtype.into()],
    );
    out
}

/// The backward: `[dq, dk, dv]` from q, k, v, the output and its gradient.
pub(super) fn backward<R: CubeRuntime>(
    [q, k, v, out, grad]: [CubeTensor<R>; 5],
    bounds: CubeTensor<R>,
    window: PackedWindow,
) -> [CubeTensor<R>; 3] {
    let [q, k, v, out, grad, bounds] = [q, k, v, out, grad, bounds].map(into_contiguous);
    let (rows, head_dim) = rows_and_dim(&q);
    let [dq, dk, dv] = [&q, &k, &v].map(|t| output(t, t.meta.shape().clone(), t.dtype));
    let stats = output(&q, Shape::from(vec![rows, 2]), DType::F32);
    let (count, dim) = row_dims(&q, rows);
    let (windowed, half_window) = (window.half_window.is_some(), window.half_window.unwrap_or(0));
    let dtypes = [q.dtype.into(), bounds.dtype.into()];
    query_grad_kernel::launch::<R>(
        &dq.client,
        count.clone(),
        dim,
        q.clone().into_tensor_arg(),
        k.clone().into_tensor_arg(),
        v.clone().into_tensor_arg(),
        out.into_tensor_arg(),
        grad.clone().into_tensor_arg(),
        bounds.clone().into_tensor_arg(),
        dq.clone().into_tensor_arg(),
        stats.clone().into_tensor_arg(),
        PackedWindowArgsLaunch::new(window.scale, half_window),
        windowed,
        head_dim,
        dtypes,
    );
    key_grad_kernel::launch::<R>(
        &dk.client,
        count,
        dim,
        q.into_tensor_arg(),
        k.into_tensor_arg(),
        v.into_tensor_arg(),
        grad.into_tensor_arg(),
        bounds.into_tensor_arg(),
        stats.into_tensor_arg(),
        dk.clone().into_tensor_arg(),
        dv.clone().into_tensor_arg(),
        PackedWindowArgsLaunch::new(window.scale, half_window),
        windowed,
        head_dim,
        dtypes,
    );
    [dq, dk, dv]
}
