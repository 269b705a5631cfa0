//! Layer norm as one node that keeps only its input: the composed form keeps the centred and the
//! normalised values (two more f32 copies of the residual stream per norm).

use burn::backend::Autodiff;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::prelude::*;
use burn::tensor::TensorPrimitive;

use super::{ModelBackend, Primitive, float};

/// Burn's own `layer_norm` (fused where the backend has a kernel).
pub fn layer_norm_forward<B: Backend>(
    x: Tensor<B, 3>,
    gamma: Tensor<B, 1>,
    beta: Option<Tensor<B, 1>>,
    eps: f64,
) -> Tensor<B, 3> {
    let beta = beta.map(|b| b.into_primitive().tensor());
    float(B::layer_norm(
        x.into_primitive().tensor(),
        gamma.into_primitive().tensor(),
        beta,
        eps,
    ))
}

/// Gradients `(x, gamma, beta)` of [`layer_norm_forward`] given the output gradient `grad`:
/// with `x̂ = (x − mean) / σ` and `g = grad · gamma`, `dx = (g − mean(g) − x̂ · mean(g · x̂)) / σ`,
/// `dgamma = Σ grad · x̂`, `dbeta = Σ grad` (sums over batch and positions).
pub fn layer_norm_backward<B: Backend>(
    x: Tensor<B, 3>,
    gamma: Tensor<B, 1>,
    grad: Tensor<B, 3>,
    eps: f64,
) -> (Tensor<B, 3>, Tensor<B, 1>, Tensor<B, 1>) {
    let h = x.dims()[2];
    let centered = x.clone() - x.mean_dim(2);
    let sigma = (centered.clone() * centered.clone()).mean_dim(2).add_scalar(eps).sqrt();
    let normalized = centered / sigma.clone();
    let g = grad.clone() * gamma.reshape([1, 1, h]);
    let mean_g = g.clone().mean_dim(2);
    let mean_gx = (g.clone() * normalized.clone()).mean_dim(2);
    let grad_x = (g - mean_g - normalized.clone() * mean_gx) / sigma;
    let grad_gamma = (grad.clone() * normalized).sum_dim(0).sum_dim(1).reshape([h]);
    let grad_beta = grad.sum_dim(0).sum_dim(1).reshape([h]);
    (grad_x, grad_gamma, grad_beta)
}

/// Backward step of [`ModelBackend::layer_norm_recompute`] under autodiff.
#[derive(Debug)]
struct LayerNormBackward;

impl<B: Backend> Backward<B, 3> for LayerNormBackward {
    /// Input, gamma and epsilon.
    type State = (Primitive<B>, Primitive<B>, f64);

    fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, _checkpointer: &mut Checkpointer) {
        let grad = float::<B, 3>(grads.consume::<B>(&ops.node));
        let (x, gamma, eps) = ops.state;
        let (grad_x, grad_gamma, grad_beta) = layer_norm_backward(float(x), float(gamma), grad, eps);
        let [x_node, gamma_node, beta_node] = ops.parents;
        if let Some(node) = x_node {
            grads.register::<B>(node.id, grad_x.into_primitive().tensor());
        }
        if let Some(node) = gamma_node {
            grads.register::<B>(node.id, grad_gamma.into_primitive().tensor());
        }
        if let Some(node) = beta_node {
            grads.register::<B>(node.id, grad_beta.into_primitive().tensor());
        }
    }
}

/// [`ModelBackend::layer_norm_recompute`] under autodiff: one node keeping `x` and `gamma`.
pub(crate) fn autodiff_layer_norm<B: ModelBackend, C: CheckpointStrategy>(
    x: Tensor<Autodiff<B, C>, 3>,
    gamma: Tensor<Autodiff<B, C>, 1>,
    beta: Option<Tensor<Autodiff<B, C>, 1>>,
    eps: f64,
) -> Tensor<Autodiff<B, C>, 3> {
    let has_beta = beta.is_some();
    // Without a bias the third parent is an untracked constant, which gets no gradient.
    let beta = beta.unwrap_or_else(|| Tensor::zeros([gamma.dims()[0]], &gamma.device()));
    let [x, gamma, beta] = [
        x.into_primitive().tensor(),
        gamma.into_primitive().tensor(),
        beta.into_primitive().tensor(),
    ];
    let nodes = [x.node.clone(), gamma.node.clone(), beta.node.clone()];
    let inner_beta = has_beta.then(|| float::<B, 1>(beta.primitive.clone()));
    let forward = |x, gamma: &Primitive<B>| {
        B::layer_norm_recompute(float(x), float(gamma.clone()), inner_beta, eps)
            .into_primitive()
            .tensor()
    };
    let output = match LayerNormBackward.prepare::<C>(nodes).compute_bound().stateful() {
        OpsKind::Tracked(prep) => {
            let out = forward(x.primitive.clone(), &gamma.primitive);
            prep.finish((x.primitive, gamma.primitive, eps), out)
        }
        OpsKind::UnTracked(prep) => prep.finish(forward(x.primitive, &gamma.primitive)),
    };
    Tensor::from_primitive(TensorPrimitive::Float(output))
}
