//! One attention chunk's masked softmax and its score gradient as CubeCL kernels (the padded
//! layout, and packed streams attended on a padded copy): one unit per query row, visiting only
//! the keys of the row's window, with the masking of `attention::chunk_softmax` (masked keys get
//! exactly 0; a row that sees no real key is all zeros and flagged dead).

// A `comptime!` condition (resolved when the kernel is compiled) stays apart from the runtime
// one it guards, and a padding flag is read only inside the window's bounds check.
#![allow(clippy::collapsible_if)]

use burn::tensor::{DType, Shape};
use burn_cubecl::CubeRuntime;
use burn_cubecl::kernel::into_contiguous;
use burn_cubecl::tensor::CubeTensor;
use cubecl::prelude::*;

use super::{ChunkWindow, output, row_dims};

/// A score below every real one (masked keys, as transformers' `finfo.min`).
const LOWEST: f32 = -3.402_823_5e38;

/// The keys `[start, end)` that position `query` sees through a sliding window of
/// `half_window` (all of them when not `windowed`): `|query − key| ≤ half_window`.
#[cube]
pub(super) fn window_start(query: usize, start: usize, half_window: usize, #[comptime] windowed: bool) -> usize {
    let mut first = start;
    if comptime![windowed] {
        if query > start + half_window {
            first = query - half_window;
        }
    }
    first
}

/// One past the last key of [`window_start`]'s range.
#[cube]
pub(super) fn window_end(query: usize, end: usize, half_window: usize, #[comptime] windowed: bool) -> usize {
    let mut last = end;
    if comptime![windowed] {
        if query + half_window + 1 < end {
            last = query + half_window + 1;
        }
    }
    last
}

/// Whether key `at` of the pad flags is a real token (always, without padding).
#[cube]
fn is_real<I: Int>(pad: &Tensor<I>, at: usize, #[comptime] padded: bool) -> bool {
    let mut real = true;
    if comptime![padded] {
        real = pad[at] == I::new(0);
    }
    real
}

/// Probabilities of one chunk's raw scores `[B, heads, rows, keys]`: scaled, softmax in f32 over
/// the window's real keys (pad flags `[B, T]`, non-zero on padding, when `padded`), rounded to
/// `F`; `dead[b, row]` = 1 where the row sees no real key.
#[cube(launch)]
fn chunk_softmax_kernel<F: Float, I: Int>(
    scores: &Tensor<F>,
    pad: &Tensor<I>,
    probs: &mut Tensor<F>,
    dead: &mut Tensor<f32>,
    window: &ChunkWindowArgs,
    #[comptime] padded: bool,
    #[comptime] windowed: bool,
    #[define(F, I)] _dtypes: [StorageType; 2],
) {
    let n_keys = window.n_keys;
    if ABSOLUTE_POS >= probs.len() / n_keys {
        terminate!();
    }
    let row = ABSOLUTE_POS % window.n_rows;
    let head = (ABSOLUTE_POS / window.n_rows) % window.heads;
    let batch = ABSOLUTE_POS / (window.n_rows * window.heads);
    let query = window.rows_start + row;
    let lo = window_start(query, window.keys_start, window.half_window, windowed) - window.keys_start;
    let hi = window_end(query, window.keys_start + n_keys, window.half_window, windowed) - window.keys_start;
    let base = ABSOLUTE_POS * n_keys;
    let pad_row = batch * window.pad_len + window.keys_start;
    let scale = F::cast_from(window.scale);

    let mut max = f32::new(LOWEST);
    let mut seen = false;
    for j in lo..hi {
        if is_real(pad, pad_row + j, padded) {
            max = f32::max(max, f32::cast_from(scores[base + j] * scale));
            seen = true;
        }
    }
    let mut sum = 0.0f32;
    for j in lo..hi {
        if is_real(pad, pad_row + j, padded) {
            sum += f32::exp(f32::cast_from(scores[base + j] * scale) - max);
        }
    }
    for j in 0..n_keys {
        let mut p = 0.0f32;
        if seen && j >= lo && j < hi {
            if is_real(pad, pad_row + j, padded) {
                p = f32::exp(f32::cast_from(scores[base + j] * scale) - max) / sum;
            }
        }
        probs[base + j] = F::cast_from(p);
    }
    if comptime![padded] {
        if head == 0 {
            dead[batch * window.n_rows + row] = select(seen, 0.0, 1.0);
        }
    }
}

/// What [`chunk_softmax_kernel`] needs of the chunk's geometry.
#[derive(CubeType, CubeLaunch)]
struct ChunkWindowArgs {
    scale: f32,
    heads: usize,
    n_rows: usize,
    n_keys: usize,
    rows_start: usize,
    keys_start: usize,
    pad_len: usize,
    half_window: usize,
}

/// The chunk's probabilities `[B, heads, rows, keys]` in the dtype of `scores`, and with `pad`
/// (`[B, T]` ints, non-zero on padding keys) the dead-row flags `[B, rows]` (f32).
pub(super) fn chunk_softmax<R: CubeRuntime>(
    scores: CubeTensor<R>,
    pad: Option<CubeTensor<R>>,
    window: ChunkWindow,
) -> (CubeTensor<R>, Option<CubeTensor<R>>) {
    let scores = into_contiguous(scores);
    let [b, heads, n_rows, n_keys] = [0, 1, 2, 3].map(|i| scores.meta.shape()[i]);
    let probs = output(&scores, scores.meta.shape().clone(), scores.dtype);
    let padded = pad.is_some();
    // Without padding the kernel reads no flags and writes no dead rows: one-value stand-ins.
    let pad = pad.map_or_else(|| output(&scores, Shape::from(vec![1]), DType::I32), into_contiguous);
    let dead = output(
        &scores,
        Shape::from(vec![if padded { b * n_rows } else { 1 }]),
        DType::F32,
    );
    let (count, dim) = row_dims(&scores, b * heads * n_rows);
    let args = ChunkWindowArgsLaunch::new(
        window.scale,
        heads,
        n_rows,
        n_keys,
        window.rows_start,
        window.keys_start,
        pad.meta.shape()[pad.meta.num_dims() - 1],
        window.half_window.unwrap_or(0),
    );
    chunk_softmax_kernel::launch::<R>(
        &probs.client,
        count,
        dim,
        scores.clone().into_tensor_arg(),
        pad.clone().into_tensor_arg(),
        probs.clone().into_tensor_arg(),
        dead.clone().into_tensor_arg(),
        args,
        padded,
        window.half_window.is_some(),
        [scores.dtype.into(), pad.dtype.into()],
    );
    (probs, padded.then_some(dead))
}

/// `ds = P ⊙ (dP − rowsum(dO ⊙ O)) · scale` per row `[rows, keys]` of `probs` (`F`), `dp` (f32),
/// `grad` and `out` (`F`, `[rows, head_dim]`), in `F`.
#[cube(launch)]
fn chunk_score_grad_kernel<F: Float>(
    probs: &Tensor<F>,
    dp: &Tensor<f32>,
    grad: &Tensor<F>,
    out: &Tensor<F>,
    ds: &mut Tensor<F>,
    n_keys: usize,
    head_dim: usize,
    scale: f32,
    #[define(F)] _dtype: StorageType,
) {
    if ABSOLUTE_POS >= ds.len() / n_keys {
        terminate!();
    }
    let mut row_dot = 0.0f32;
    for c in 0..head_dim {
        let at = ABSOLUTE_POS * head_dim + c;
        row_dot += f32::cast_from(grad[at]) * f32::cast_from(out[at]);
    }
    for j in 0..n_keys {
        let at = ABSOLUTE_POS * n_keys + j;
        ds[at] = F::cast_from(f32::cast_from(probs[at]) * (dp[at] - row_dot) * scale);
    }
}

/// The chunk's score gradient (see [`chunk_score_grad_kernel`]).
pub(super) fn chunk_score_grad<R: CubeRuntime>(
    probs: CubeTensor<R>,
    dp: CubeTensor<R>,
    grad: CubeTensor<R>,
    out: CubeTensor<R>,
    scale: f32,
) -> CubeTensor<R> {
    let [probs, dp, grad, out] = [probs, dp, grad, out].map(into_contiguous);
    let shape = probs.meta.shape().clone();
    let (n_keys, head_dim) = (shape[3], grad.meta.shape()[3]);
    let ds = output(&probs, shape.clone(), probs.dtype);
    let (count, dim) = row_dims(&probs, shape.num_elements() / n_keys);
    chunk_score_grad_kernel::launch::<R>(
        &ds.client,
        count,
        dim,
        probs.clone().into_tensor_arg(),
        dp.into_tensor_arg(),
        grad.into_tensor_arg(),
        out.into_tensor_arg(),
        ds.clone().into_tensor_arg(),
        n_keys,
        head_dim,
        scale,
        probs.dtype.into(),
    );
    ds
}
