//! Memory-efficient masked attention: `softmax(q·kᵀ·scale + mask)·v` computed over query chunks
//! (and, for sliding-window layers, only over the keys a chunk can see), with a hand-written
//! backward under autodiff that recomputes the probabilities instead of keeping the
//! `[B, heads, T, T]` tensors of every layer alive until `backward()`.
//!
//! The result equals transformers' eager ModernBERT attention, including its quirk for query
//! rows that see no real key (a pad query in a sliding-window layer whose whole window is
//! padding): every score is the mask value, so the row is a uniform average of *all* `T` values.
//!
//! A packed batch (one row holding several sequences back to back, [`AttentionSpec::cu_seqlens`])
//! is attended per sequence, as flash-attention's varlen kernels do: chunks never cross a
//! sequence boundary, and windows are cut at it.

use std::ops::Range;
use std::sync::Arc;

use burn::backend::Autodiff;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::prelude::*;
use burn::tensor::activation;
use burn::tensor::{FloatDType, TensorPrimitive};

use super::{ModelBackend, Primitive, float};

/// Queries per chunk in global-attention layers (bounds the transient score tensor to
/// `[B, heads, 256, T]`).
const GLOBAL_QUERY_CHUNK: usize = 256;

/// The shape of one attention call.
#[derive(Debug, Clone, PartialEq)]
pub struct AttentionSpec {
    /// Multiplier of `q·kᵀ` (transformers: `head_dim^-0.5`).
    pub scale: f64,
    /// Sliding window: query `i` sees key `j` only if `|i − j| ≤ half_window`; `None` = global.
    pub half_window: Option<usize>,
    /// `None`: every batch row is one sequence. `Some(cu_seqlens)`: a single row holds several
    /// sequences back to back (their starts, then the row's length), and attention stays inside
    /// each of them.
    pub cu_seqlens: Option<Arc<[usize]>>,
}

/// One chunk of query rows and the key range they may see.
pub type Chunk = (Range<usize>, Range<usize>);

impl AttentionSpec {
    /// A spec for padded rows (one sequence per row).
    pub fn padded(scale: f64, half_window: Option<usize>) -> Self {
        Self {
            scale,
            half_window,
            cu_seqlens: None,
        }
    }

    /// Query rows per chunk: two half windows for local layers (a chunk then needs four half
    /// windows of keys: half of a 512-token sequence with ModernBERT's 128-token window, in 4
    /// chunks), at least 64 rows so that small windows do not mean many tiny kernels;
    /// [`GLOBAL_QUERY_CHUNK`] for global layers.
    fn query_chunk(&self) -> usize {
        self.half_window
            .map_or(GLOBAL_QUERY_CHUNK, |w| (2 * w).clamp(64, GLOBAL_QUERY_CHUNK))
    }

    /// The sequences of a length-`t` row, each with the `(query range, key range)` of its
    /// chunks: the keys of the whole sequence (global layers) or of the chunk's windows cut at the
    /// sequence's ends.
    fn sequences(&self, t: usize) -> Vec<(Range<usize>, Vec<Chunk>)> {
        let step = self.query_chunk();
        let whole = [0, t];
        let bounds: &[usize] = self.cu_seqlens.as_deref().unwrap_or(&whole);
        bounds
            .windows(2)
            .map(|w| {
                let (start, end) = (w[0], w[1]);
                let chunks = (start..end)
                    .step_by(step)
                    .map(|q0| {
                        let q1 = (q0 + step).min(end);
                        let keys = match self.half_window {
                            Some(w) => q0.saturating_sub(w).max(start)..(q1 + w).min(end),
                            None => start..end,
                        };
                        (q0..q1, keys)
                    })
                    .collect();
                (start..end, chunks)
            })
            .collect()
    }

    /// The half window if it masks some key of `chunk` (some row and key more than `w` apart).
    pub fn window_cut(&self, (rows, keys): &Chunk) -> Option<usize> {
        self.half_window
            .filter(|&w| keys.start + w < rows.end - 1 || rows.start + w < keys.end - 1)
    }

    /// Every chunk of a length-`t` row, in row order.
    fn chunks(&self, t: usize) -> Vec<Chunk> {
        self.sequences(t).into_iter().flat_map(|(_, chunks)| chunks).collect()
    }
}

/// Probabilities of one chunk, with rows that see no real key zeroed, and those rows' flags.
#[derive(Debug)]
pub struct ChunkProbs<B: Backend> {
    /// `[B, heads, chunk, keys]`, in the dtype of `v`.
    pub probs: Tensor<B, 4>,
    /// `[B, 1, chunk, 1]`: 1 where the row sees no real key, else 0 (f32); `None` without
    /// padding keys (every query then sees its own key).
    pub dead: Option<Tensor<B, 4>>,
}

/// The mask of one chunk `[B, 1, rows, keys]`, true = masked: padding keys, and keys outside
/// the sliding window; `None` when nothing is masked (no padding, all keys in the window).
fn chunk_mask<B: Backend>(
    key_pad: Option<&Tensor<B, 2, Bool>>,
    batch: usize,
    device: &B::Device,
    (rows, keys): &Chunk,
    spec: &AttentionSpec,
) -> Option<Tensor<B, 4, Bool>> {
    let (n_rows, n_keys) = (rows.len(), keys.len());
    let pad = key_pad.map(|key_pad| {
        key_pad
            .clone()
            .narrow(1, keys.start, n_keys)
            .reshape([batch, 1, 1, n_keys])
            .expand([batch, 1, n_rows, n_keys])
    });
    let window = spec.window_cut(&(rows.clone(), keys.clone())).map(|w| {
        let i = Tensor::<B, 1, Int>::arange(rows.start as i64..rows.end as i64, device).reshape([n_rows, 1]);
        let j = Tensor::<B, 1, Int>::arange(keys.start as i64..keys.end as i64, device).reshape([1, n_keys]);
        (i - j)
            .abs()
            .greater_elem(w as i64)
            .reshape([1, 1, n_rows, n_keys])
            .expand([batch, 1, n_rows, n_keys])
    });
    match (pad, window) {
        (Some(pad), Some(window)) => Some(pad.bool_or(window)),
        (pad, window) => pad.or(window),
    }
}

/// Probabilities of one chunk: `q·kᵀ` over its rows and keys, then [`ModelBackend::chunk_softmax`].
fn chunk_probs<B: ModelBackend>(
    q: &Tensor<B, 4>,
    k: &Tensor<B, 4>,
    key_pad: Option<&Tensor<B, 2, Bool>>,
    chunk: &Chunk,
    spec: &AttentionSpec,
    value_dtype: burn::tensor::DType,
) -> ChunkProbs<B> {
    let (rows, keys) = chunk;
    let q_c = q.clone().narrow(2, rows.start, rows.len());
    let k_r = k.clone().narrow(2, keys.start, keys.len());
    B::chunk_softmax(q_c.matmul(k_r.swap_dims(2, 3)), key_pad, chunk, spec, value_dtype)
}

/// Softmax of one chunk's raw scores `q·kᵀ` `[B, heads, rows, keys]`: scaled, in f32 (whatever
/// the dtype of q and k), masked with transformers' `finfo.min` semantics (padding keys of
/// `key_pad` `[B, T]`, keys outside the window); probabilities in `value_dtype`.
pub fn chunk_softmax<B: Backend>(
    scores: Tensor<B, 4>,
    key_pad: Option<&Tensor<B, 2, Bool>>,
    chunk: &Chunk,
    spec: &AttentionSpec,
    value_dtype: burn::tensor::DType,
) -> ChunkProbs<B> {
    let [b, h, n_rows, n_keys] = scores.dims();
    let scores = scores.mul_scalar(spec.scale).cast(FloatDType::F32);
    let Some(mask) = chunk_mask(key_pad, b, &scores.device(), chunk, spec) else {
        return ChunkProbs {
            probs: activation::softmax(scores, 3).cast(value_dtype),
            dead: None,
        };
    };
    let scores = scores.mask_fill(mask.clone().expand([b, h, n_rows, n_keys]), f32::MIN);
    let probs = activation::softmax(scores, 3);
    // Without padding every query sees at least its own key: no row is dead.
    let Some(_) = key_pad else {
        return ChunkProbs {
            probs: probs.cast(value_dtype),
            dead: None,
        };
    };
    let dead = mask.all_dim(3);
    ChunkProbs {
        probs: probs
            .mask_fill(dead.clone().expand([b, h, n_rows, n_keys]), 0.0)
            .cast(value_dtype),
        dead: Some(dead.float()),
    }
}

/// The gradient of one chunk's raw scores `dS = P ⊙ (dP − rowsum(dO ⊙ O)) · scale` in `dtype`,
/// from the probabilities `P`, `dP = dO·vᵀ` (f32) and the chunk's output `O` and its gradient
/// `dO` `[B, heads, rows, head_dim]`. Rows that see no real key have `P = 0` and get none.
pub fn chunk_score_grad<B: Backend>(
    probs: Tensor<B, 4>,
    dp: Tensor<B, 4>,
    grad: Tensor<B, 4>,
    out: Tensor<B, 4>,
    scale: f64,
    dtype: burn::tensor::DType,
) -> Tensor<B, 4> {
    let row_dot = (grad.cast(FloatDType::F32) * out.cast(FloatDType::F32)).sum_dim(3);
    (probs.cast(FloatDType::F32) * (dp - row_dot))
        .mul_scalar(scale)
        .cast(dtype)
}

/// The probability every key gets in a row that sees no real key, `1/T` rounded to the dtype
/// of `v` as the materialised softmax would be (`[1, 1, 1, 1]`, f32).
fn dead_row_weight<B: Backend>(v: &Tensor<B, 4>) -> Tensor<B, 4> {
    let t = v.dims()[2];
    Tensor::<B, 4>::full([1, 1, 1, 1], 1.0 / t as f64, &v.device())
        .cast(v.dtype())
        .cast(FloatDType::F32)
}

/// `Σ_j v[:, :, j] · weight` `[B, heads, 1, head_dim]`: the output of a row that sees no real key.
fn dead_row_output<B: Backend>(v: &Tensor<B, 4>) -> Tensor<B, 4> {
    v.clone().cast(FloatDType::F32).sum_dim(2) * dead_row_weight(v)
}

/// The forward pass, chunk by chunk; output `[B, heads, T, head_dim]` in the dtype of `v`.
/// `key_pad` `[B, T]` is true on padding keys (`None`: no padding).
pub fn attention_forward<B: ModelBackend>(
    q: Tensor<B, 4>,
    k: Tensor<B, 4>,
    v: Tensor<B, 4>,
    key_pad: Option<Tensor<B, 2, Bool>>,
    spec: AttentionSpec,
) -> Tensor<B, 4> {
    let t = q.dims()[2];
    let dtype = v.dtype();
    let fallback = key_pad.as_ref().map(|_| dead_row_output(&v));
    let outputs = spec
        .chunks(t)
        .into_iter()
        .map(|chunk| {
            let ChunkProbs { probs, dead } = chunk_probs(&q, &k, key_pad.as_ref(), &chunk, &spec, dtype);
            let v_r = v.clone().narrow(2, chunk.1.start, chunk.1.len());
            let live = probs.matmul(v_r);
            match (dead, &fallback) {
                (Some(dead), Some(fallback)) => (live.cast(FloatDType::F32) + dead * fallback.clone()).cast(dtype),
                _ => live,
            }
        })
        .collect();
    Tensor::cat(outputs, 2)
}

/// The plain formulation (`[B, heads, T, T]` probabilities materialised) with dropout on the
/// probabilities, for configs with `attention_dropout > 0` while training.
pub fn attention_with_dropout<B: Backend>(
    q: Tensor<B, 4>,
    k: Tensor<B, 4>,
    v: Tensor<B, 4>,
    key_pad: Tensor<B, 2, Bool>,
    spec: AttentionSpec,
    dropout: &burn::nn::Dropout,
) -> Tensor<B, 4> {
    let [b, h, t, _] = q.dims();
    let scores = q.matmul(k.swap_dims(2, 3)).mul_scalar(spec.scale).cast(FloatDType::F32);
    let scores = match chunk_mask(Some(&key_pad), b, &key_pad.device(), &(0..t, 0..t), &spec) {
        Some(mask) => scores.mask_fill(mask.expand([b, h, t, t]), f32::MIN),
        None => scores,
    };
    let probs = crate::rng::apply_dropout(dropout, activation::softmax(scores, 3));
    probs.cast(v.dtype()).matmul(v)
}

/// Gradients of [`attention_forward`] with respect to `q`, `k`, `v`, given the output `out` and
/// its gradient `grad`; probabilities are recomputed chunk by chunk.
pub fn attention_backward<B: ModelBackend>(
    [q, k, v]: [Tensor<B, 4>; 3],
    key_pad: Option<Tensor<B, 2, Bool>>,
    out: Tensor<B, 4>,
    grad: Tensor<B, 4>,
    spec: AttentionSpec,
) -> [Tensor<B, 4>; 3] {
    let [b, h, t, d] = q.dims();
    let device = q.device();
    let dtype = v.dtype();
    let (mut grad_q, mut grad_k, mut grad_v) = (Vec::new(), Vec::new(), Vec::new());
    let mut grad_dead = Tensor::<B, 4>::zeros([b, h, 1, d], &device);
    // Key gradients are summed over the chunks of one sequence, whose key ranges overlap.
    for (sequence, chunks) in spec.sequences(t) {
        let mut seq_k = Tensor::<B, 4>::zeros([b, h, sequence.len(), d], &device);
        let mut seq_v = Tensor::<B, 4>::zeros([b, h, sequence.len(), d], &device);
        for chunk in chunks {
            let (rows, keys) = (chunk.0.clone(), chunk.1.clone());
            let ChunkProbs { probs, dead } = chunk_probs(&q, &k, key_pad.as_ref(), &chunk, &spec, dtype);
            let g = grad.clone().narrow(2, rows.start, rows.len());
            let o = out.clone().narrow(2, rows.start, rows.len());
            let q_c = q.clone().narrow(2, rows.start, rows.len());
            let k_r = k.clone().narrow(2, keys.start, keys.len());
            let v_r = v.clone().narrow(2, keys.start, keys.len());
            let local = [0..b, 0..h, keys.start - sequence.start..keys.end - sequence.start, 0..d];

            if let Some(dead) = dead {
                grad_dead = grad_dead + (g.clone().cast(FloatDType::F32) * dead).sum_dim(2);
            }
            let dv = probs.clone().swap_dims(2, 3).matmul(g.clone()).cast(FloatDType::F32);
            seq_v = seq_v
                .clone()
                .slice_assign(local.clone(), seq_v.slice(local.clone()) + dv);
            let dp = g.clone().matmul(v_r.swap_dims(2, 3)).cast(FloatDType::F32);
            let ds = B::chunk_score_grad(probs, dp, g, o, spec.scale, dtype);
            grad_q.push(ds.clone().matmul(k_r).cast(FloatDType::F32));
            let dk = ds.swap_dims(2, 3).matmul(q_c).cast(FloatDType::F32);
            seq_k = seq_k.clone().slice_assign(local.clone(), seq_k.slice(local) + dk);
        }
        grad_k.push(seq_k);
        grad_v.push(seq_v);
    }
    let mut grad_v = Tensor::cat(grad_v, 2);
    if key_pad.is_some() {
        grad_v = grad_v + grad_dead * dead_row_weight(&v);
    }
    [Tensor::cat(grad_q, 2), Tensor::cat(grad_k, 2), grad_v].map(|g| g.cast(dtype))
}

/// Backward step of [`ModelBackend::masked_attention`] under autodiff.
#[derive(Debug)]
struct MaskedAttentionBackward;

/// What the backward keeps: q, k, v, the output, the key padding mask and the attention spec.
type SavedAttention<B> = (
    [Primitive<B>; 4],
    Option<<B as burn::tensor::backend::BackendTypes>::BoolTensorPrimitive>,
    AttentionSpec,
);

impl<B: ModelBackend> Backward<B, 3> for MaskedAttentionBackward {
    type State = SavedAttention<B>;

    fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, _checkpointer: &mut Checkpointer) {
        let grad = float::<B, 4>(grads.consume::<B>(&ops.node));
        let ([q, k, v, out], key_pad, spec) = ops.state;
        let key_pad = key_pad.map(Tensor::<B, 2, Bool>::from_primitive);
        let inputs = [q, k, v].map(float::<B, 4>);
        let gradients = B::masked_attention_grad(inputs, key_pad, float(out), grad, spec);
        for (parent, gradient) in ops.parents.into_iter().zip(gradients) {
            if let Some(node) = parent {
                grads.register::<B>(node.id, gradient.into_primitive().tensor());
            }
        }
    }
}

/// [`ModelBackend::masked_attention`] under autodiff: one graph node whose backward is
/// [`attention_backward`]; it keeps q, k, v, the output and the key mask.
pub(crate) fn autodiff_attention<B: ModelBackend, C: CheckpointStrategy>(
    q: Tensor<Autodiff<B, C>, 4>,
    k: Tensor<Autodiff<B, C>, 4>,
    v: Tensor<Autodiff<B, C>, 4>,
    key_pad: Option<Tensor<Autodiff<B, C>, 2, Bool>>,
    spec: AttentionSpec,
) -> Tensor<Autodiff<B, C>, 4> {
    let [q, k, v] = [q, k, v].map(|t| t.into_primitive().tensor());
    let key_pad = key_pad.map(Tensor::into_primitive);
    let nodes = [q.node.clone(), k.node.clone(), v.node.clone()];
    let [iq, ik, iv] = [&q, &k, &v].map(|t| float::<B, 4>(t.primitive.clone()));
    let forward = |key_pad: Option<_>, spec| {
        B::masked_attention(iq, ik, iv, key_pad.map(Tensor::from_primitive), spec)
            .into_primitive()
            .tensor()
    };
    let output = match MaskedAttentionBackward.prepare::<C>(nodes).compute_bound().stateful() {
        OpsKind::Tracked(prep) => {
            let out = forward(key_pad.clone(), spec.clone());
            let saved = ([q.primitive, k.primitive, v.primitive, out.clone()], key_pad, spec);
            prep.finish(saved, out)
        }
        OpsKind::UnTracked(prep) => prep.finish(forward(key_pad, spec)),
    };
    Tensor::from_primitive(TensorPrimitive::Float(output))
}
