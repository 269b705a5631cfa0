//! ModernBERT's MLP gate, `act(input) · gate` with `[input | gate] = Wi(x)`, as one node: it keeps
//! `Wi(x)` and recomputes the activation in backward (the composed form keeps an f32 copy of
//! `input`, the activation output and the gate).

use std::f64::consts::{PI, SQRT_2};

use burn::backend::Autodiff;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::prelude::*;
use burn::tensor::{DType, TensorPrimitive, activation};

use super::{ModelBackend, Primitive, float, to_dtype};
use crate::activation::Activation;

/// Applies an `ACT2FN` activation, computed in f32 and rounded once to the input's dtype (as
/// PyTorch's bf16 kernels do).
pub(crate) fn activate<B: Backend, const D: usize>(act: Activation, x: Tensor<B, D>) -> Tensor<B, D> {
    let dtype = x.dtype();
    let x = to_dtype(x, DType::F32);
    let y = match act {
        Activation::Gelu => activation::gelu(x),
        Activation::GeluTanh => activation::gelu_approximate(x),
        Activation::Silu => activation::silu(x),
        Activation::Relu => activation::relu(x),
    };
    to_dtype(y, dtype)
}

/// `d act / dx` at `x` (exact for every activation; Burn's own `gelu` backward uses the tanh
/// approximation's derivative).
fn activation_derivative<B: Backend, const D: usize>(act: Activation, x: Tensor<B, D>) -> Tensor<B, D> {
    match act {
        Activation::Gelu => {
            let cdf = (x.clone().div_scalar(SQRT_2).erf() + 1.0) * 0.5;
            let pdf = x.clone().powi_scalar(2).mul_scalar(-0.5).exp() * (2.0 * PI).sqrt().recip();
            cdf + x * pdf
        }
        Activation::GeluTanh => {
            const C: f64 = 0.044715;
            let k = (2.0 / PI).sqrt();
            let t = (x.clone() + x.clone().powi_scalar(3) * C).mul_scalar(k).tanh();
            let outer = (t.clone() + 1.0) * 0.5;
            let slope = (x.clone().powi_scalar(2) * (3.0 * C) + 1.0) * k;
            outer + x * 0.5 * (t.clone() * t).neg().add_scalar(1.0) * slope
        }
        Activation::Silu => {
            let s = activation::sigmoid(x.clone());
            s.clone() * (x * (s.neg() + 1.0) + 1.0)
        }
        Activation::Relu => x.greater_elem(0.0).float(),
    }
}

/// `(input, gate)` halves of `u` `[B, T, 2I]`.
fn halves<B: Backend>(u: Tensor<B, 3>) -> (Tensor<B, 3>, Tensor<B, 3>) {
    let i = u.dims()[2] / 2;
    (u.clone().narrow(2, 0, i), u.narrow(2, i, i))
}

/// `act(input) · gate` `[B, T, I]` in the dtype of `u`.
pub fn geglu_forward<B: Backend>(u: Tensor<B, 3>, act: Activation) -> Tensor<B, 3> {
    let (input, gate) = halves(u);
    activate(act, input) * gate
}

/// Gradient with respect to `u` of [`geglu_forward`], given the output gradient `grad`.
pub fn geglu_backward<B: Backend>(u: Tensor<B, 3>, grad: Tensor<B, 3>, act: Activation) -> Tensor<B, 3> {
    let dtype = u.dtype();
    let (input, gate) = halves(u);
    let grad_gate = grad.clone() * activate(act, input.clone());
    let grad_act = to_dtype(grad * gate, DType::F32);
    let grad_input = to_dtype(
        grad_act * activation_derivative(act, to_dtype(input, DType::F32)),
        dtype,
    );
    Tensor::cat(vec![grad_input, grad_gate], 2)
}

/// Backward step of [`ModelBackend::geglu`] under autodiff.
#[derive(Debug)]
struct GegluBackward;

impl<B: ModelBackend> Backward<B, 1> for GegluBackward {
    type State = (Primitive<B>, Activation);

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _checkpointer: &mut Checkpointer) {
        let grad = float::<B, 3>(grads.consume::<B>(&ops.node));
        let (u, act) = ops.state;
        let [parent] = ops.parents;
        if let Some(node) = parent {
            let grad_u = B::geglu_grad(float(u), grad, act);
            grads.register::<B>(node.id, grad_u.into_primitive().tensor());
        }
    }
}

/// [`ModelBackend::geglu`] under autodiff: one node keeping `u`.
pub(crate) fn autodiff_geglu<B: ModelBackend, C: CheckpointStrategy>(
    u: Tensor<Autodiff<B, C>, 3>,
    act: Activation,
) -> Tensor<Autodiff<B, C>, 3> {
    let u = u.into_primitive().tensor();
    let forward = |u| B::geglu(float(u), act).into_primitive().tensor();
    let output = match GegluBackward.prepare::<C>([u.node.clone()]).compute_bound().stateful() {
        OpsKind::Tracked(prep) => {
            let out = forward(u.primitive.clone());
            prep.finish((u.primitive, act), out)
        }
        OpsKind::UnTracked(prep) => prep.finish(forward(u.primitive)),
    };
    Tensor::from_primitive(TensorPrimitive::Float(output))
}
