//! The encoder's memory-bound pieces as single graph nodes with hand-written backward passes.
//!
//! Burn 0.21's autodiff keeps every intermediate of a composed op for `backward()`: the scores,
//! exponentials and probabilities of attention (`[B, heads, T, T]` per layer), the centred and
//! normalised copies inside a layer norm, the f32 copy and activation output inside GeGLU. Each
//! op here keeps only its inputs (and the attention output) and recomputes the rest in
//! backward. Forward values are those of the composed formulation; the tests compare both,
//! values and gradients.

mod attention;
mod flex;
mod geglu;
mod layer_norm;
mod rope;

use burn::backend::Autodiff;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::prelude::*;
use burn::tensor::TensorPrimitive;

pub use attention::{
    AttentionSpec, Chunk, ChunkProbs, attention_backward, attention_forward, attention_with_dropout, chunk_score_grad,
    chunk_softmax,
};
pub(crate) use geglu::activate;
pub use geglu::{geglu_backward, geglu_forward};
pub use layer_norm::{layer_norm_backward, layer_norm_forward};
pub use rope::{qkv_rope_backward, qkv_rope_forward};

use crate::activation::Activation;
use crate::packing::PackedAttention;

/// Backends the encoder runs on: any Burn backend plus the ops of this module. Autodiff backends
/// get the recomputing backward passes; the others use the forward passes as they are.
pub trait ModelBackend: Backend {
    /// How packed streams attend on this backend (measured: docs/performance.md).
    const PACKED_ATTENTION: PackedAttention = PackedAttention::PerSequence;

    /// Whether independent forward passes (inference batches) should run at the same time, one
    /// per worker thread: on the CPU, where a small model's ops are too small to keep every core
    /// busy; not on a GPU, where each pass already fills the device.
    const CONCURRENT_PASSES: bool = false;

    /// Masked attention of `q`, `k`, `v` `[B, heads, T, head_dim]`; `key_pad` `[B, T]` is true on
    /// padding keys (masked for every query; `None` when there is no padding).
    fn masked_attention(
        q: Tensor<Self, 4>,
        k: Tensor<Self, 4>,
        v: Tensor<Self, 4>,
        key_pad: Option<Tensor<Self, 2, Bool>>,
        spec: AttentionSpec,
    ) -> Tensor<Self, 4> {
        attention_forward(q, k, v, key_pad, spec)
    }

    /// One attention chunk's masked softmax (see [`chunk_softmax`]); the chunked attention op
    /// calls it between its two matmuls.
    fn chunk_softmax(
        scores: Tensor<Self, 4>,
        key_pad: Option<&Tensor<Self, 2, Bool>>,
        chunk: &Chunk,
        spec: &AttentionSpec,
        value_dtype: burn::tensor::DType,
    ) -> ChunkProbs<Self> {
        attention::chunk_softmax(scores, key_pad, chunk, spec, value_dtype)
    }

    /// One attention chunk's score gradient in backward (see [`chunk_score_grad`]).
    fn chunk_score_grad(
        probs: Tensor<Self, 4>,
        dp: Tensor<Self, 4>,
        grad: Tensor<Self, 4>,
        out: Tensor<Self, 4>,
        scale: f64,
        dtype: burn::tensor::DType,
    ) -> Tensor<Self, 4> {
        attention::chunk_score_grad(probs, dp, grad, out, scale, dtype)
    }

    /// The fused projection `qkv` [B, T, 3H] split into heads `[3, B, heads, T, D]` (q, k, v) with
    /// RoPE (`cos`, `sin` [T, D]) applied to q and k, in the dtype of `qkv`.
    fn qkv_rope(qkv: Tensor<Self, 3>, cos: Tensor<Self, 2>, sin: Tensor<Self, 2>, heads: usize) -> Tensor<Self, 5> {
        qkv_rope_forward(qkv, cos, sin, heads)
    }

    /// Gradient with respect to `qkv` of [`Self::qkv_rope`], given the output gradient.
    fn qkv_rope_grad(grad: Tensor<Self, 5>, cos: Tensor<Self, 2>, sin: Tensor<Self, 2>) -> Tensor<Self, 3> {
        qkv_rope_backward(grad, cos, sin)
    }

    /// `act(input) · gate` of `u = [input | gate]` `[B, T, 2I]` → `[B, T, I]` (ModernBERT's MLP).
    fn geglu(u: Tensor<Self, 3>, act: Activation) -> Tensor<Self, 3> {
        geglu_forward(u, act)
    }

    /// Gradient with respect to `u` of [`Self::geglu`], given the output gradient `grad`.
    fn geglu_grad(u: Tensor<Self, 3>, grad: Tensor<Self, 3>, act: Activation) -> Tensor<Self, 3> {
        geglu_backward(u, grad, act)
    }

    /// Layer norm over the last dimension of `x` `[B, T, H]` (Burn's `layer_norm`: population
    /// variance, `eps` inside the square root), scaled by `gamma` and shifted by `beta`; under
    /// autodiff its backward recomputes the normalised values from `x`.
    fn layer_norm_recompute(
        x: Tensor<Self, 3>,
        gamma: Tensor<Self, 1>,
        beta: Option<Tensor<Self, 1>>,
        eps: f64,
    ) -> Tensor<Self, 3> {
        layer_norm_forward(x, gamma, beta, eps)
    }
}

#[cfg(feature = "cuda")]
impl ModelBackend for burn::backend::Cuda {
    /// One launch set per layer instead of one per sequence and chunk.
    const PACKED_ATTENTION: PackedAttention = PackedAttention::Repadded;
}

impl<B: ModelBackend, C: CheckpointStrategy> ModelBackend for Autodiff<B, C> {
    const PACKED_ATTENTION: PackedAttention = B::PACKED_ATTENTION;
    const CONCURRENT_PASSES: bool = B::CONCURRENT_PASSES;

    fn masked_attention(
        q: Tensor<Self, 4>,
        k: Tensor<Self, 4>,
        v: Tensor<Self, 4>,
        key_pad: Option<Tensor<Self, 2, Bool>>,
        spec: AttentionSpec,
    ) -> Tensor<Self, 4> {
        attention::autodiff_attention(q, k, v, key_pad, spec)
    }

    fn qkv_rope(qkv: Tensor<Self, 3>, cos: Tensor<Self, 2>, sin: Tensor<Self, 2>, heads: usize) -> Tensor<Self, 5> {
        rope::autodiff_qkv_rope(qkv, cos, sin, heads)
    }

    fn geglu(u: Tensor<Self, 3>, act: Activation) -> Tensor<Self, 3> {
        geglu::autodiff_geglu(u, act)
    }

    fn layer_norm_recompute(
        x: Tensor<Self, 3>,
        gamma: Tensor<Self, 1>,
        beta: Option<Tensor<Self, 1>>,
        eps: f64,
    ) -> Tensor<Self, 3> {
        layer_norm::autodiff_layer_norm(x, gamma, beta, eps)
    }
}

/// `x` in `dtype` (no cast when it already is).
pub(crate) fn to_dtype<B: Backend, const D: usize>(x: Tensor<B, D>, dtype: burn::tensor::DType) -> Tensor<B, D> {
    if x.dtype() == dtype {
        x
    } else {
        x.cast(burn::tensor::FloatDType::from(dtype))
    }
}

/// A backend's float tensor primitive (what autodiff nodes keep for backward).
type Primitive<B> = <B as burn::tensor::backend::BackendTypes>::FloatTensorPrimitive;

/// A backend float primitive as a tensor.
fn float<B: Backend, const D: usize>(t: Primitive<B>) -> Tensor<B, D> {
    Tensor::from_primitive(TensorPrimitive::Float(t))
}
