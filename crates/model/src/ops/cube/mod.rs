//! The model's GPU kernels, written once in CubeCL for every runtime Burn's CubeCL backend has
//! (CUDA, wgpu), as flex.rs holds the CPU's: GeGLU and the q/k/v split with RoPE (and their
//! gradients), an attention chunk's masked softmax and score gradient over the rows' windows, and
//! packed attention per sequence (an online-softmax forward and a recomputing backward, one
//! launch per layer).
//!
//! Two levels: [`CubeKernels`] is the kernels on tensor primitives, implemented for Burn's
//! `CubeBackend<R, ..>` (the kernels themselves, generic over the runtime `R`) and for
//! `Fusion<B>` (each call recorded in the fused stream as a custom op that runs `B`'s kernel).
//! `Burn`'s `Cuda` and `Wgpu` are `Fusion<CubeBackend<..>>`: the [`ModelBackend`] impl for
//! `Fusion<B>` below routes the model's ops to the kernels.

mod chunk;
mod elementwise;
mod fused;
mod packed;

use burn::prelude::*;
use burn::tensor::ops::{FloatTensor, IntTensor};
use burn::tensor::{DType, TensorPrimitive};
use burn_cubecl::ops::numeric::empty_device_contiguous_dtype;
use burn_cubecl::tensor::CubeTensor;
use burn_cubecl::{BoolElement, CubeBackend, CubeRuntime, FloatElement, IntElement};
use burn_fusion::{Fusion, FusionBackend};
use cubecl::{CubeCount, CubeDim, calculate_cube_count_elemwise};

use super::{AttentionSpec, Chunk, ChunkProbs, ModelBackend, attention};
use crate::activation::Activation;
use crate::packing::PackedAttention;

/// Where one attention chunk sits: what the masked softmax kernel needs besides the scores.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ChunkWindow {
    /// Multiplier of the raw scores.
    pub scale: f32,
    /// First query row of the chunk.
    pub rows_start: usize,
    /// First key of the chunk.
    pub keys_start: usize,
    /// The sliding window's half width; `None` for global attention.
    pub half_window: Option<usize>,
}

/// The scale and window of packed attention.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PackedWindow {
    /// Multiplier of `q·kᵀ`.
    pub scale: f32,
    /// The sliding window's half width; `None` for global attention.
    pub half_window: Option<usize>,
}

/// The model's kernels on a CubeCL backend's tensor primitives (see the module docs); float
/// tensors of any dtype the device supports, computed in f32 and rounded once.
pub trait CubeKernels: Backend {
    /// `qkv` `[B, T, 3·heads·D]` → `[3, B, heads, T, D]` with RoPE on q and k (tables `[T, D]`
    /// in the dtype of `qkv`).
    fn qkv_rope(
        qkv: FloatTensor<Self>,
        cos: FloatTensor<Self>,
        sin: FloatTensor<Self>,
        heads: usize,
    ) -> FloatTensor<Self>;
    /// The gradient of [`CubeKernels::qkv_rope`] with respect to `qkv`.
    fn qkv_rope_grad(grad: FloatTensor<Self>, cos: FloatTensor<Self>, sin: FloatTensor<Self>) -> FloatTensor<Self>;
    /// `act(u[.., :I]) · u[.., I:]`.
    fn geglu(u: FloatTensor<Self>, act: Activation) -> FloatTensor<Self>;
    /// The gradient of [`CubeKernels::geglu`] with respect to `u`.
    fn geglu_grad(u: FloatTensor<Self>, grad: FloatTensor<Self>, act: Activation) -> FloatTensor<Self>;
    /// One chunk's probabilities `[B, heads, rows, keys]` (dtype of `scores`) and, with `pad`
    /// (`[B, T]`, non-zero on padding keys), its dead-row flags `[B, rows]` (f32).
    fn chunk_softmax(
        scores: FloatTensor<Self>,
        pad: Option<IntTensor<Self>>,
        window: ChunkWindow,
    ) -> (FloatTensor<Self>, Option<FloatTensor<Self>>);
    /// One chunk's score gradient `P ⊙ (dP − rowsum(dO ⊙ O)) · scale` in the dtype of `probs`
    /// (`dp` in f32).
    fn chunk_score_grad(
        probs: FloatTensor<Self>,
        dp: FloatTensor<Self>,
        grad: FloatTensor<Self>,
        out: FloatTensor<Self>,
        scale: f32,
    ) -> FloatTensor<Self>;
    /// Packed attention per sequence of q, k, v `[1, heads, N, D]`; `bounds` `[N, 2]` is the
    /// `[start, end)` of every token's sequence.
    fn packed_attention(
        qkv: [FloatTensor<Self>; 3],
        bounds: IntTensor<Self>,
        window: PackedWindow,
    ) -> FloatTensor<Self>;
    /// The gradients `[dq, dk, dv]` of [`CubeKernels::packed_attention`] from q, k, v, its output
    /// and the output's gradient.
    fn packed_attention_grad(
        tensors: [FloatTensor<Self>; 5],
        bounds: IntTensor<Self>,
        window: PackedWindow,
    ) -> [FloatTensor<Self>; 3];
}

impl<R: CubeRuntime, F: FloatElement, I: IntElement, BT: BoolElement> CubeKernels for CubeBackend<R, F, I, BT> {
    fn qkv_rope(qkv: CubeTensor<R>, cos: CubeTensor<R>, sin: CubeTensor<R>, heads: usize) -> CubeTensor<R> {
        elementwise::qkv_rope(qkv, cos, sin, heads)
    }

    fn qkv_rope_grad(grad: CubeTensor<R>, cos: CubeTensor<R>, sin: CubeTensor<R>) -> CubeTensor<R> {
        elementwise::qkv_rope_grad(grad, cos, sin)
    }

    fn geglu(u: CubeTensor<R>, act: Activation) -> CubeTensor<R> {
        elementwise::geglu(u, act)
    }

    fn geglu_grad(u: CubeTensor<R>, grad: CubeTensor<R>, act: Activation) -> CubeTensor<R> {
        elementwise::geglu_grad(u, grad, act)
    }

    fn chunk_softmax(
        scores: CubeTensor<R>,
        pad: Option<CubeTensor<R>>,
        window: ChunkWindow,
    ) -> (CubeTensor<R>, Option<CubeTensor<R>>) {
        chunk::chunk_softmax(scores, pad, window)
    }

    fn chunk_score_grad(
        probs: CubeTensor<R>,
        dp: CubeTensor<R>,
        grad: CubeTensor<R>,
        out: CubeTensor<R>,
        scale: f32,
    ) -> CubeTensor<R> {
        chunk::chunk_score_grad(probs, dp, grad, out, scale)
    }

    fn packed_attention(qkv: [CubeTensor<R>; 3], bounds: CubeTensor<R>, window: PackedWindow) -> CubeTensor<R> {
        packed::forward(qkv, bounds, window)
    }

    fn packed_attention_grad(
        tensors: [CubeTensor<R>; 5],
        bounds: CubeTensor<R>,
        window: PackedWindow,
    ) -> [CubeTensor<R>; 3] {
        packed::backward(tensors, bounds, window)
    }
}

/// A new contiguous tensor of `shape` and `dtype` on the device of `like` (the kernels index
/// their outputs linearly; Burn's default allocation may pad rows).
fn output<R: CubeRuntime>(like: &CubeTensor<R>, shape: burn::tensor::Shape, dtype: DType) -> CubeTensor<R> {
    empty_device_contiguous_dtype(like.client.clone(), like.device.clone(), shape, dtype)
}

/// The launch grid of one unit per value of `out`.
fn elementwise_dims<R: CubeRuntime>(out: &CubeTensor<R>) -> (CubeCount, CubeDim) {
    row_dims(out, out.meta.num_elements())
}

/// The launch grid of `units` units on the device of `like`.
fn row_dims<R: CubeRuntime>(like: &CubeTensor<R>, units: usize) -> (CubeCount, CubeDim) {
    let dim = CubeDim::new(&like.client, units);
    (calculate_cube_count_elemwise(&like.client, units, dim), dim)
}

/// A tensor's float primitive.
fn prim<B: Backend, const D: usize>(t: Tensor<B, D>) -> FloatTensor<B> {
    t.into_primitive().tensor()
}

/// A float primitive as a tensor.
fn tensor<B: Backend, const D: usize>(t: FloatTensor<B>) -> Tensor<B, D> {
    Tensor::from_primitive(TensorPrimitive::Float(t))
}

/// The `[start, end)` of every token's sequence `[N·2]`, when `spec` attends a packed stream
/// per sequence (no key padding): what [`CubeKernels::packed_attention`] needs.
fn packed_bounds<B: Backend>(
    spec: &AttentionSpec,
    key_pad: Option<&Tensor<B, 2, Bool>>,
    tokens: usize,
    device: &B::Device,
) -> Option<(IntTensor<B>, PackedWindow)> {
    let cu_seqlens = spec.cu_seqlens.as_deref().filter(|_| key_pad.is_none())?;
    let mut bounds = Vec::with_capacity(2 * tokens);
    for w in cu_seqlens.windows(2) {
        for _ in w[0]..w[1] {
            bounds.extend([w[0] as i32, w[1] as i32]);
        }
    }
    let bounds = Tensor::<B, 1, Int>::from_data(TensorData::new(bounds, [2 * tokens]), device);
    let window = PackedWindow {
        scale: spec.scale as f32,
        half_window: spec.half_window,
    };
    Some((bounds.into_primitive(), window))
}

/// Burn's `Cuda` and `Wgpu`: the model's ops on the CubeCL kernels.
impl<B: FusionBackend + CubeKernels> ModelBackend for Fusion<B> {
    /// Few large launches (measure the other with `gpu-bench --packed-kernel per-sequence`).
    const PACKED_ATTENTION: PackedAttention = PackedAttention::Repadded;

    fn masked_attention(
        q: Tensor<Self, 4>,
        k: Tensor<Self, 4>,
        v: Tensor<Self, 4>,
        key_pad: Option<Tensor<Self, 2, Bool>>,
        spec: AttentionSpec,
    ) -> Tensor<Self, 4> {
        match packed_bounds::<Self>(&spec, key_pad.as_ref(), q.dims()[2], &q.device()) {
            Some((bounds, window)) => tensor(<Self as CubeKernels>::packed_attention(
                [prim(q), prim(k), prim(v)],
                bounds,
                window,
            )),
            None => attention::attention_forward(q, k, v, key_pad, spec),
        }
    }

    fn masked_attention_grad(
        [q, k, v]: [Tensor<Self, 4>; 3],
        key_pad: Option<Tensor<Self, 2, Bool>>,
        out: Tensor<Self, 4>,
        grad: Tensor<Self, 4>,
        spec: AttentionSpec,
    ) -> [Tensor<Self, 4>; 3] {
        match packed_bounds::<Self>(&spec, key_pad.as_ref(), q.dims()[2], &q.device()) {
            Some((bounds, window)) => <Self as CubeKernels>::packed_attention_grad(
                [prim(q), prim(k), prim(v), prim(out), prim(grad)],
                bounds,
                window,
            )
            .map(tensor),
            None => attention::attention_backward([q, k, v], key_pad, out, grad, spec),
        }
    }

    fn chunk_softmax(
        scores: Tensor<Self, 4>,
        key_pad: Option<&Tensor<Self, 2, Bool>>,
        chunk: &Chunk,
        spec: &AttentionSpec,
        value_dtype: DType,
    ) -> ChunkProbs<Self> {
        if scores.dtype() != value_dtype {
            return attention::chunk_softmax(scores, key_pad, chunk, spec, value_dtype);
        }
        let [b, _, rows, _] = scores.dims();
        let window = ChunkWindow {
            scale: spec.scale as f32,
            rows_start: chunk.0.start,
            keys_start: chunk.1.start,
            half_window: spec.window_cut(chunk),
        };
        let pad = key_pad.map(|p| p.clone().int().into_primitive());
        let (probs, dead) = <Self as CubeKernels>::chunk_softmax(prim(scores), pad, window);
        ChunkProbs {
            probs: tensor(probs),
            dead: dead.map(|d| tensor::<Self, 1>(d).reshape([b, 1, rows, 1])),
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
        if probs.dtype() != dtype || dp.dtype() != DType::F32 {
            return attention::chunk_score_grad(probs, dp, grad, out, scale, dtype);
        }
        let ds = <Self as CubeKernels>::chunk_score_grad(prim(probs), prim(dp), prim(grad), prim(out), scale as f32);
        tensor(ds)
    }

    fn qkv_rope(qkv: Tensor<Self, 3>, cos: Tensor<Self, 2>, sin: Tensor<Self, 2>, heads: usize) -> Tensor<Self, 5> {
        let dtype = qkv.dtype();
        let [cos, sin] = [cos, sin].map(|t| prim(super::to_dtype(t, dtype)));
        tensor(<Self as CubeKernels>::qkv_rope(prim(qkv), cos, sin, heads))
    }

    fn qkv_rope_grad(grad: Tensor<Self, 5>, cos: Tensor<Self, 2>, sin: Tensor<Self, 2>) -> Tensor<Self, 3> {
        let dtype = grad.dtype();
        let [cos, sin] = [cos, sin].map(|t| prim(super::to_dtype(t, dtype)));
        tensor(<Self as CubeKernels>::qkv_rope_grad(prim(grad), cos, sin))
    }

    fn geglu(u: Tensor<Self, 3>, act: Activation) -> Tensor<Self, 3> {
        tensor(<Self as CubeKernels>::geglu(prim(u), act))
    }

    fn geglu_grad(u: Tensor<Self, 3>, grad: Tensor<Self, 3>, act: Activation) -> Tensor<Self, 3> {
        tensor(<Self as CubeKernels>::geglu_grad(prim(u), prim(grad), act))
    }
}
