//! CPU kernels for Burn's `Flex` backend. Flex runs element-wise ops fast only on contiguous
//! operands (or a row broadcast over leading dimensions); the composed ops of the model broadcast
//! RoPE tables over heads and walk permuted views, which Flex does one strided element at a
//! time. These kernels do the same arithmetic in single contiguous passes, split over the rayon
//! pool; for dtypes other than f32 they fall back to the composed ops.

use burn::backend::Flex;
use burn::backend::flex::FlexTensor;
use burn::prelude::*;
use burn::tensor::{DType, TensorPrimitive};
use rayon::prelude::*;

use super::{AttentionSpec, Chunk, ChunkProbs, ModelBackend, attention, geglu, rope};
use crate::activation::Activation;

mod math;

use math::{exp, gelu, gelu_derivative, gelu_tanh, gelu_tanh_derivative, lane_max, lane_sum, sigmoid, silu_derivative};

/// Rows per rayon task in row-wise kernels.
const ROWS_PER_TASK: usize = 16;

/// Outputs smaller than this many values are computed on the calling thread: handing work to
/// the rayon pool costs more than it saves (measured on the tiny model's `process()`).
const PARALLEL_MIN_VALUES: usize = 1 << 15;

/// Runs `f` compiled for the widest SIMD instruction set this CPU has (AVX2 + FMA, AVX-512),
/// chosen at run time by `pulp`, so that the loops inlined into it vectorise beyond the
/// baseline SSE2 the binary is built for.
fn with_best_simd<R>(f: impl FnOnce() -> R) -> R {
    struct Task<F>(F);
    impl<R, F: FnOnce() -> R> pulp::WithSimd for Task<F> {
        type Output = R;
        #[inline(always)]
        fn with_simd<S: pulp::Simd>(self, _simd: S) -> R {
            (self.0)()
        }
    }
    pulp::Arch::new().dispatch(Task(f))
}

/// Fills `out` row by row (`row_len` values each) with `f(row_index, row)`, over the rayon pool
/// in tasks of [`ROWS_PER_TASK`] rows when `out` is large enough.
fn for_rows(out: &mut [f32], row_len: usize, f: impl Fn(usize, &mut [f32]) + Sync) {
    if row_len == 0 {
        return;
    }
    let task = |(t, rows): (usize, &mut [f32])| {
        with_best_simd(|| {
            for (r, row) in rows.chunks_mut(row_len).enumerate() {
                f(t * ROWS_PER_TASK + r, row);
            }
        });
    };
    if out.len() < PARALLEL_MIN_VALUES {
        out.chunks_mut(row_len * ROWS_PER_TASK).enumerate().for_each(task);
    } else {
        out.par_chunks_mut(row_len * ROWS_PER_TASK).enumerate().for_each(task);
    }
}

impl ModelBackend for Flex {
    const CONCURRENT_PASSES: bool = true;
    /// Flex overrides Burn's default with the exact derivative.
    const EXACT_GELU_BACKWARD: bool = true;

    fn chunk_softmax(
        scores: Tensor<Self, 4>,
        key_pad: Option<&Tensor<Self, 2, Bool>>,
        chunk: &Chunk,
        spec: &AttentionSpec,
        value_dtype: DType,
    ) -> ChunkProbs<Self> {
        let [b, h, n_rows, n_keys] = scores.dims();
        let pad = key_pad.map(|p| {
            p.clone()
                .int()
                .into_data()
                .convert::<u8>()
                .to_vec::<u8>()
                .unwrap_or_default()
        });
        let (Some(x), DType::F32) = (F32View::of(&scores), value_dtype) else {
            return attention::chunk_softmax(scores, key_pad, chunk, spec, value_dtype);
        };
        let mask = ChunkMask {
            pad: pad.as_deref(),
            t: key_pad.map_or(0, |p| p.dims()[1]),
            chunk,
            half_window: spec.half_window,
        };
        let mut probs = vec![0f32; x.values().len()];
        for_rows(&mut probs, n_keys, |r, out| {
            let (batch, query) = (r / (h * n_rows), r % n_rows);
            let row = &x.values()[r * n_keys..][..n_keys];
            masked_softmax_row(row, out, spec.scale as f32, mask.window(query), mask.pad_row(batch));
        });
        let dead = mask.pad.is_some().then(|| {
            let flags: Vec<f32> = (0..b * n_rows)
                .map(|i| {
                    let (window, pad) = (mask.window(i % n_rows), mask.pad_row(i / n_rows));
                    let dead = window.is_empty() || pad.is_some_and(|pad| pad[window].iter().all(|&p| p != 0));
                    f32::from(u8::from(dead))
                })
                .collect();
            tensor(flags, [b, 1, n_rows, 1])
        });
        ChunkProbs {
            probs: tensor(probs, [b, h, n_rows, n_keys]),
            dead,
        }
    }

    fn chunk_score_grad(
        probs: Tensor<Self, 4>,
        dp: Tensor<Self, 4>,
        grad: Tensor<Self, 4>,
        out: Tensor<Self, 4>,
        scale: f64,
        dtype: DType,
    ) -> Tensor<Self, 4> {
        let [b, h, n_rows, n_keys] = probs.dims();
        let d = grad.dims()[3];
        let views = (
            F32View::of(&probs),
            F32View::of(&dp),
            F32View::of(&grad),
            F32View::of(&out),
        );
        let (Some(p), Some(dp_v), Some(g), Some(o), DType::F32) = (views.0, views.1, views.2, views.3, dtype) else {
            return attention::chunk_score_grad(probs, dp, grad, out, scale, dtype);
        };
        let mut ds = vec![0f32; p.values().len()];
        for_rows(&mut ds, n_keys, |r, ds| {
            let (g, o) = (&g.values()[r * d..][..d], &o.values()[r * d..][..d]);
            let row_dot: f32 = g.iter().zip(o).map(|(a, b)| a * b).sum();
            let (p, dp) = (
                &p.values()[r * n_keys..][..n_keys],
                &dp_v.values()[r * n_keys..][..n_keys],
            );
            for ((ds, &p), &dp) in ds.iter_mut().zip(p).zip(dp) {
                *ds = (p * (dp - row_dot)) * scale as f32;
            }
        });
        tensor(ds, [b, h, n_rows, n_keys])
    }

    fn geglu(u: Tensor<Self, 3>, act: Activation) -> Tensor<Self, 3> {
        let [b, t, i2] = u.dims();
        let i = i2 / 2;
        let Some(x) = F32View::of(&u) else {
            return geglu::geglu_forward(u, act);
        };
        let mut out = vec![0f32; b * t * i];
        for_rows(&mut out, i, |r, out| {
            let (input, gate) = x.values()[r * i2..][..i2].split_at(i);
            match act {
                Activation::Gelu => gate_row(input, gate, out, gelu),
                Activation::GeluTanh => gate_row(input, gate, out, gelu_tanh),
                Activation::Silu => gate_row(input, gate, out, |x| x * sigmoid(x)),
                Activation::Relu => gate_row(input, gate, out, |x| x.max(0.0)),
            }
        });
        tensor(out, [b, t, i])
    }

    fn geglu_grad(u: Tensor<Self, 3>, grad: Tensor<Self, 3>, act: Activation) -> Tensor<Self, 3> {
        let [b, t, i2] = u.dims();
        let i = i2 / 2;
        let (Some(x), Some(g)) = (F32View::of(&u), F32View::of(&grad)) else {
            return geglu::geglu_backward(u, grad, act);
        };
        let mut out = vec![0f32; b * t * i2];
        for_rows(&mut out, i2, |r, out| {
            let (input, gate) = x.values()[r * i2..][..i2].split_at(i);
            let grad = &g.values()[r * i..][..i];
            match act {
                Activation::Gelu => gate_grad_row(input, gate, grad, out, gelu, gelu_derivative),
                Activation::GeluTanh => gate_grad_row(input, gate, grad, out, gelu_tanh, gelu_tanh_derivative),
                Activation::Silu => gate_grad_row(input, gate, grad, out, |x| x * sigmoid(x), silu_derivative),
                Activation::Relu => {
                    gate_grad_row(input, gate, grad, out, |x| x.max(0.0), |x| f32::from(u8::from(x > 0.0)))
                }
            }
        });
        tensor(out, [b, t, i2])
    }

    fn qkv_rope(qkv: Tensor<Self, 3>, cos: Tensor<Self, 2>, sin: Tensor<Self, 2>, heads: usize) -> Tensor<Self, 5> {
        let [b, t, h3] = qkv.dims();
        let d = h3 / 3 / heads;
        let (Some(x), Some(c), Some(s)) = (F32View::of(&qkv), F32View::of(&cos), F32View::of(&sin)) else {
            return rope::qkv_rope_forward(qkv, cos, sin, heads);
        };
        let shape = RopeShape { b, t, heads, d };
        let mut out = vec![0f32; x.values().len()];
        for_rows(&mut out, t * d, |plane, dst| {
            shape.rotate_plane(plane, x.values(), dst, c.values(), s.values());
        });
        tensor(out, [3, b, heads, t, d])
    }

    fn qkv_rope_grad(grad: Tensor<Self, 5>, cos: Tensor<Self, 2>, sin: Tensor<Self, 2>) -> Tensor<Self, 3> {
        let [_, b, heads, t, d] = grad.dims();
        let (Some(g), Some(c), Some(s)) = (F32View::of(&grad), F32View::of(&cos), F32View::of(&sin)) else {
            return rope::qkv_rope_backward(grad, cos, sin);
        };
        let shape = RopeShape { b, t, heads, d };
        let mut out = vec![0f32; g.values().len()];
        for_rows(&mut out, 3 * heads * d, |row, dst| {
            shape.unrotate_row(row, g.values(), dst, c.values(), s.values());
        });
        tensor(out, [b, t, 3 * heads * d])
    }
}

/// Which keys of an attention chunk are masked: padding keys and keys outside the window.
struct ChunkMask<'a> {
    /// `[B, T]` padding flags (1 = pad) of the whole rows, if any.
    pad: Option<&'a [u8]>,
    /// Row length `T` of `pad`.
    t: usize,
    chunk: &'a Chunk,
    half_window: Option<usize>,
}

impl ChunkMask<'_> {
    /// The keys (indices into the chunk's key range) that query `query` of the chunk can see
    /// through the window.
    fn window(&self, query: usize) -> std::ops::Range<usize> {
        let keys = &self.chunk.1;
        let i = self.chunk.0.start + query;
        match self.half_window {
            Some(w) => {
                let first = i.saturating_sub(w).clamp(keys.start, keys.end);
                let last = (i + w + 1).clamp(first, keys.end);
                first - keys.start..last - keys.start
            }
            None => 0..keys.len(),
        }
    }

    /// The padding flags of the chunk's keys in batch row `batch`, if there is padding.
    fn pad_row(&self, batch: usize) -> Option<&[u8]> {
        let keys = &self.chunk.1;
        self.pad
            .map(|pad| &pad[batch * self.t + keys.start..batch * self.t + keys.end])
    }
}

/// `softmax(row · scale)` over the keys in `window` that are not padding (`pad` 1), masked keys
/// set to `f32::MIN` first as transformers does, so they get exactly 0; a row that sees no key
/// comes out as zeros.
#[inline(always)]
fn masked_softmax_row(row: &[f32], out: &mut [f32], scale: f32, window: std::ops::Range<usize>, pad: Option<&[u8]>) {
    out.fill(0.0);
    let pad = pad.map(|pad| &pad[window.clone()]);
    let (xs, os) = (&row[window.clone()], &mut out[window]);
    let max = match pad {
        None => lane_max(xs),
        Some(pad) => xs
            .iter()
            .zip(pad)
            .filter(|(_, p)| **p == 0)
            .map(|(x, _)| *x)
            .reduce(f32::max),
    };
    let Some(max) = max else {
        return;
    };
    // max(x)·scale = max(x·scale): the scale is positive.
    let max = max * scale;
    for (o, &x) in os.iter_mut().zip(xs) {
        *o = exp(x * scale - max);
    }
    if let Some(pad) = pad {
        for (o, &p) in os.iter_mut().zip(pad) {
            if p != 0 {
                *o = 0.0;
            }
        }
    }
    let inv = 1.0 / lane_sum(os);
    for o in os.iter_mut() {
        *o *= inv;
    }
}

/// `out = act(input) · gate`, with the activation inlined so the loop vectorises.
#[inline(always)]
fn gate_row(input: &[f32], gate: &[f32], out: &mut [f32], act: impl Fn(f32) -> f32) {
    for ((o, &x), &g) in out.iter_mut().zip(input).zip(gate) {
        *o = act(x) * g;
    }
}

/// `out = [grad · gate · act'(input) | grad · act(input)]`: the gradient of [`gate_row`].
#[inline(always)]
fn gate_grad_row(
    input: &[f32],
    gate: &[f32],
    grad: &[f32],
    out: &mut [f32],
    act: impl Fn(f32) -> f32,
    derivative: impl Fn(f32) -> f32,
) {
    let (grad_input, grad_gate) = out.split_at_mut(input.len());
    for (((gi, gg), (&x, &g)), &dy) in grad_input
        .iter_mut()
        .zip(grad_gate)
        .zip(input.iter().zip(gate))
        .zip(grad)
    {
        *gg = dy * act(x);
        *gi = dy * g * derivative(x);
    }
}

/// The f32 values of a tensor in row-major order (a strided view is copied once).
struct F32View {
    tensor: FlexTensor,
    start: usize,
    end: usize,
}

impl F32View {
    /// `None` for dtypes other than f32.
    fn of<const D: usize>(x: &Tensor<Flex, D>) -> Option<Self> {
        let tensor: FlexTensor = x.clone().into_primitive().tensor();
        if tensor.dtype() != DType::F32 {
            return None;
        }
        let tensor = match tensor.layout().contiguous_offsets() {
            Some(_) => tensor,
            None => tensor.to_contiguous(),
        };
        let (start, end) = tensor.layout().contiguous_offsets()?;
        Some(Self { tensor, start, end })
    }

    fn values(&self) -> &[f32] {
        &self.tensor.storage::<f32>()[self.start..self.end]
    }
}

/// An f32 tensor of `shape` owning `values`.
fn tensor<const D: usize>(values: Vec<f32>, shape: [usize; D]) -> Tensor<Flex, D> {
    let flex = FlexTensor::from_data(TensorData::new(values, shape));
    Tensor::from_primitive(TensorPrimitive::Float(flex))
}

/// Sizes of a q/k/v RoPE: `qkv` [b, t, 3·heads·d] ↔ `[3, b, heads, t, d]`.
#[derive(Clone, Copy)]
struct RopeShape {
    b: usize,
    t: usize,
    heads: usize,
    d: usize,
}

impl RopeShape {
    /// Offset in `qkv` of the `d` values of (`part`, batch row, position, head).
    fn qkv_offset(&self, part: usize, row: usize, pos: usize, head: usize) -> usize {
        (row * self.t + pos) * 3 * self.heads * self.d + (part * self.heads + head) * self.d
    }

    /// Plane `plane` = (part, batch row, head) of the output `[t, d]`: q and k rotated, v copied.
    #[inline(always)]
    fn rotate_plane(&self, plane: usize, qkv: &[f32], dst: &mut [f32], cos: &[f32], sin: &[f32]) {
        let (part, row, head) = (
            plane / (self.b * self.heads),
            plane / self.heads % self.b,
            plane % self.heads,
        );
        let (d, half) = (self.d, self.d / 2);
        for pos in 0..self.t {
            let src = &qkv[self.qkv_offset(part, row, pos, head)..][..d];
            let out = &mut dst[pos * d..][..d];
            if part == 2 {
                out.copy_from_slice(src);
                continue;
            }
            let (c, s) = (&cos[pos * d..][..half], &sin[pos * d..][..half]);
            for k in 0..half {
                out[k] = src[k] * c[k] - src[k + half] * s[k];
                out[k + half] = src[k + half] * c[k] + src[k] * s[k];
            }
        }
    }

    /// Row `row` = (batch row, position) of the gradient `[3·heads·d]`: the inverse rotation of
    /// q's and k's gradients, v's copied.
    #[inline(always)]
    fn unrotate_row(&self, row: usize, grad: &[f32], dst: &mut [f32], cos: &[f32], sin: &[f32]) {
        let (batch, pos) = (row / self.t, row % self.t);
        let (d, half) = (self.d, self.d / 2);
        let (c, s) = (&cos[pos * d..][..half], &sin[pos * d..][..half]);
        for part in 0..3 {
            for head in 0..self.heads {
                let plane = (part * self.b + batch) * self.heads + head;
                let src = &grad[(plane * self.t + pos) * d..][..d];
                let out = &mut dst[(part * self.heads + head) * d..][..d];
                if part == 2 {
                    out.copy_from_slice(src);
                    continue;
                }
                for k in 0..half {
                    out[k] = src[k] * c[k] + src[k + half] * s[k];
                    out[k + half] = src[k + half] * c[k] - src[k] * s[k];
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn softmax_row_sees_only_its_window_and_real_keys() {
        let row = [1.0, 2.0, 3.0, 4.0, 5.0];
        let mut out = [9.0; 5];
        masked_softmax_row(&row, &mut out, 0.5, 1..4, Some(&[0, 0, 1, 0, 0]));
        let (a, b) = ((0.5f32 * 2.0).exp(), (0.5f32 * 4.0).exp());
        let want = [0.0, a / (a + b), 0.0, b / (a + b), 0.0];
        for (g, w) in out.iter().zip(want) {
            assert!((g - w).abs() < 1e-7, "{out:?} vs {want:?}");
        }
        masked_softmax_row(&row, &mut out, 1.0, 2..3, Some(&[0, 0, 1, 0, 0]));
        assert_eq!(out, [0.0; 5]);
    }
}
