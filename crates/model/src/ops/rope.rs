//! ModernBERT's head split and rotary embedding as one op: the fused projection `qkv` [B, T, 3H]
//! (q | k | v blocks, each head-major) becomes `[3, B, heads, T, D]` with NeoX RoPE applied to
//! q and k: `x·cos + rotate_half(x)·sin`, `rotate_half(x) = concat(−x₂, x₁)`.
//!
//! The backward is the inverse rotation (RoPE with `−sin`, since the tables repeat over the two
//! halves) followed by the inverse permutation, so under autodiff the op keeps nothing but the
//! tables.

use burn::backend::Autodiff;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::prelude::*;
use burn::tensor::TensorPrimitive;

use super::{ModelBackend, Primitive, float, to_dtype};

/// `concat(−x₂, x₁)` over the last dimension.
fn rotate_half<B: Backend>(x: Tensor<B, 5>) -> Tensor<B, 5> {
    let d = x.dims()[4];
    let x1 = x.clone().narrow(4, 0, d / 2);
    let x2 = x.narrow(4, d / 2, d / 2);
    Tensor::cat(vec![x2.neg(), x1], 4)
}

/// Tables `[3, 1, 1, T, D]` in `dtype`: `table` for q and k, `fill` for v (1 for cos, 0 for
/// sin), so one expression rotates q and k and leaves v as it is.
fn part_tables<B: Backend>(table: Tensor<B, 2>, fill: f64, dtype: burn::tensor::DType) -> Tensor<B, 5> {
    let [t, d] = table.dims();
    let table = to_dtype(table, dtype).reshape([1, 1, 1, t, d]);
    let v = table.clone().zeros_like().add_scalar(fill);
    Tensor::cat(vec![table.clone(), table, v], 0)
}

/// The composed forward: `qkv` [B, T, 3H], `cos`/`sin` [T, D] → `[3, B, heads, T, D]`, in the
/// dtype of `qkv` (transformers casts the tables to it).
pub fn qkv_rope_forward<B: Backend>(
    qkv: Tensor<B, 3>,
    cos: Tensor<B, 2>,
    sin: Tensor<B, 2>,
    heads: usize,
) -> Tensor<B, 5> {
    let [b, t, h3] = qkv.dims();
    let d = h3 / 3 / heads;
    let dtype = qkv.dtype();
    let x = qkv.reshape([b, t, 3, heads, d]).permute([2, 0, 3, 1, 4]);
    x.clone() * part_tables(cos, 1.0, dtype) + rotate_half(x) * part_tables(sin, 0.0, dtype)
}

/// Gradient with respect to `qkv` [B, T, 3H] of [`qkv_rope_forward`], given the output gradient
/// `grad` `[3, B, heads, T, D]`.
pub fn qkv_rope_backward<B: Backend>(grad: Tensor<B, 5>, cos: Tensor<B, 2>, sin: Tensor<B, 2>) -> Tensor<B, 3> {
    let [_, b, heads, t, d] = grad.dims();
    let dtype = grad.dtype();
    let unrotated =
        grad.clone() * part_tables(cos, 1.0, dtype) + rotate_half(grad) * part_tables(sin.neg(), 0.0, dtype);
    unrotated.permute([1, 3, 0, 2, 4]).reshape([b, t, 3 * heads * d])
}

/// Backward step of [`ModelBackend::qkv_rope`] under autodiff.
#[derive(Debug)]
struct QkvRopeBackward;

impl<B: ModelBackend> Backward<B, 1> for QkvRopeBackward {
    /// The cos and sin tables.
    type State = (Primitive<B>, Primitive<B>);

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _checkpointer: &mut Checkpointer) {
        let grad = float::<B, 5>(grads.consume::<B>(&ops.node));
        let (cos, sin) = ops.state;
        let [parent] = ops.parents;
        if let Some(node) = parent {
            let grad_qkv = B::qkv_rope_grad(grad, float(cos), float(sin));
            grads.register::<B>(node.id, grad_qkv.into_primitive().tensor());
        }
    }
}

/// [`ModelBackend::qkv_rope`] under autodiff: one node keeping the tables (constants).
pub(crate) fn autodiff_qkv_rope<B: ModelBackend, C: CheckpointStrategy>(
    qkv: Tensor<Autodiff<B, C>, 3>,
    cos: Tensor<Autodiff<B, C>, 2>,
    sin: Tensor<Autodiff<B, C>, 2>,
    heads: usize,
) -> Tensor<Autodiff<B, C>, 5> {
    let qkv = qkv.into_primitive().tensor();
    let [cos, sin] = [cos, sin].map(|t| t.into_primitive().tensor().primitive);
    let forward = |qkv| {
        B::qkv_rope(float(qkv), float(cos.clone()), float(sin.clone()), heads)
            .into_primitive()
            .tensor()
    };
    let output = match QkvRopeBackward
        .prepare::<C>([qkv.node.clone()])
        .compute_bound()
        .stateful()
    {
        OpsKind::Tracked(prep) => {
            let out = forward(qkv.primitive);
            prep.finish((cos.clone(), sin.clone()), out)
        }
        OpsKind::UnTracked(prep) => prep.finish(forward(qkv.primitive)),
    };
    Tensor::from_primitive(TensorPrimitive::Float(output))
}
