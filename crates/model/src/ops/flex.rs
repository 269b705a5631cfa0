//! CPU kernels for Burn's `Flex` backend. Flex runs element-wise ops fast only on contiguous
//! operands (or a row broadcast over leading dimensions); the composed ops of the model broadcast
//! RoPE tables over heads and walk permuted views, which Flex does one strided element at a
//! time. These kernels do the same arithmetic in single contiguous passes, split over the rayon
//! pool; for dtypes other than f32 they fall back to the composed ops.

use burn::backend::Flex;
use burn::backend::flex::FlexTensor;
use burn::backend::flex::ops::unary::erf_f32;
use burn::prelude::*;
use burn::tensor::{DType, TensorPrimitive};
use rayon::prelude::*;

use super::{AttentionSpec, Chunk, ChunkProbs, ModelBackend, attention, geglu, rope};
use crate::config::Activation;

/// Rows per rayon task in row-wise kernels.
const ROWS_PER_TASK: usize = 16;

impl ModelBackend for Flex {
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
        probs
            .par_chunks_mut(n_keys * ROWS_PER_TASK)
            .zip(x.values().par_chunks(n_keys * ROWS_PER_TASK))
            .enumerate()
            .for_each(|(task, (dst, src))| {
                for (r, (out, row)) in dst.chunks_mut(n_keys).zip(src.chunks(n_keys)).enumerate() {
                    let row_index = task * ROWS_PER_TASK + r;
                    let (batch, query) = (row_index / (h * n_rows), row_index % n_rows);
                    masked_softmax_row(row, out, spec.scale as f32, |j| mask.masked(batch, query, j));
                }
            });
        let dead = mask.any(spec).then(|| {
            let flags: Vec<f32> = (0..b * n_rows)
                .map(|i| f32::from(u8::from((0..n_keys).all(|j| mask.masked(i / n_rows, i % n_rows, j)))))
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
        ds.par_chunks_mut(n_keys)
            .zip(p.values().par_chunks(n_keys))
            .zip(dp_v.values().par_chunks(n_keys))
            .zip(g.values().par_chunks(d).zip(o.values().par_chunks(d)))
            .for_each(|(((ds, p), dp), (g, o))| {
                let row_dot: f32 = g.iter().zip(o).map(|(a, b)| a * b).sum();
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
        out.par_chunks_mut(i * ROWS_PER_TASK)
            .zip(x.values().par_chunks(i2 * ROWS_PER_TASK))
            .for_each(|(dst, src)| {
                for (out, row) in dst.chunks_mut(i).zip(src.chunks(i2)) {
                    let (input, gate) = row.split_at(i);
                    for ((o, &x), &g) in out.iter_mut().zip(input).zip(gate) {
                        *o = activation(act, x) * g;
                    }
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
        out.par_chunks_mut(i2 * ROWS_PER_TASK)
            .zip(x.values().par_chunks(i2 * ROWS_PER_TASK))
            .zip(g.values().par_chunks(i * ROWS_PER_TASK))
            .for_each(|((dst, src), grads)| {
                for ((out, row), grad) in dst.chunks_mut(i2).zip(src.chunks(i2)).zip(grads.chunks(i)) {
                    let (input, gate) = row.split_at(i);
                    let (grad_input, grad_gate) = out.split_at_mut(i);
                    for k in 0..i {
                        grad_gate[k] = grad[k] * activation(act, input[k]);
                        grad_input[k] = grad[k] * gate[k] * activation_derivative(act, input[k]);
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
        out.par_chunks_mut(t * d).enumerate().for_each(|(plane, dst)| {
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
        out.par_chunks_mut(3 * heads * d).enumerate().for_each(|(row, dst)| {
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
    /// Whether key `j` of the chunk is masked for query `query` of the chunk in batch row `batch`.
    fn masked(&self, batch: usize, query: usize, j: usize) -> bool {
        let (i, key) = (self.chunk.0.start + query, self.chunk.1.start + j);
        self.pad.is_some_and(|pad| pad[batch * self.t + key] != 0)
            || self.half_window.is_some_and(|w| i.abs_diff(key) > w)
    }

    /// Whether anything can be masked (the composed op's "mask present" rule).
    fn any(&self, spec: &AttentionSpec) -> bool {
        self.pad.is_some() || spec.window_cut(self.chunk).is_some()
    }
}

/// `softmax(row · scale)` with masked entries set to `f32::MIN` first (transformers' eager
/// semantics); a row whose every entry is masked comes out as zeros.
fn masked_softmax_row(row: &[f32], out: &mut [f32], scale: f32, masked: impl Fn(usize) -> bool) {
    let mut max = f32::NEG_INFINITY;
    let mut live = false;
    for (j, (o, &s)) in out.iter_mut().zip(row).enumerate() {
        *o = if masked(j) {
            f32::MIN
        } else {
            live = true;
            s * scale
        };
        max = max.max(*o);
    }
    if !live {
        out.fill(0.0);
        return;
    }
    let mut sum = 0.0f32;
    for o in out.iter_mut() {
        *o = (*o - max).exp();
        sum += *o;
    }
    for o in out.iter_mut() {
        *o /= sum;
    }
}

/// `ACT2FN[act](x)`, as Flex computes Burn's activations.
fn activation(act: Activation, x: f32) -> f32 {
    match act {
        Activation::Gelu => 0.5 * x * (1.0 + erf_f32(x / std::f32::consts::SQRT_2)),
        Activation::GeluTanh => (x * (((x + x.powf(3.0) * 0.044_715) * SQRT_2_OVER_PI).tanh() + 1.0)) * 0.5,
        Activation::Silu => x * sigmoid(x),
        Activation::Relu => x.max(0.0),
    }
}

/// `d act / dx` at `x` (exact for every activation).
fn activation_derivative(act: Activation, x: f32) -> f32 {
    match act {
        Activation::Gelu => {
            let cdf = 0.5 * (1.0 + erf_f32(x / std::f32::consts::SQRT_2));
            cdf + x * (-0.5 * x * x).exp() * INV_SQRT_2PI
        }
        Activation::GeluTanh => {
            let t = ((x + x * x * x * 0.044_715) * SQRT_2_OVER_PI).tanh();
            let slope = (3.0 * 0.044_715 * x * x + 1.0) * SQRT_2_OVER_PI;
            (t + 1.0) * 0.5 + x * 0.5 * (1.0 - t * t) * slope
        }
        Activation::Silu => {
            let s = sigmoid(x);
            s * (1.0 + x * (1.0 - s))
        }
        Activation::Relu => f32::from(u8::from(x > 0.0)),
    }
}

/// The logistic function, stable for large |x|.
fn sigmoid(x: f32) -> f32 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

/// √(2/π).
const SQRT_2_OVER_PI: f32 = 0.797_884_6;
/// 1/√(2π).
const INV_SQRT_2PI: f32 = 0.398_942_3;

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
