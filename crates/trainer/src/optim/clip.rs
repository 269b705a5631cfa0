//! Global-norm gradient clipping (`torch.nn.utils.clip_grad_norm_`), which burn-optim 0.21 lacks
//! (its clipping is per tensor).

use burn::module::{AutodiffModule, ModuleVisitor, Param};
use burn::optim::GradientsParams;
use burn::tensor::ElementConversion;
use burn::tensor::Tensor;
use burn::tensor::backend::{AutodiffBackend, Backend};

use provence_losses::to_f32;

/// Clips the gradients of all float parameters of `module` to a global L2 norm of `max_norm`.
///
/// The total norm is the L2 norm of the per-tensor L2 norms (computed in f32). When
/// `max_norm > 0` every gradient is multiplied by `min(1, max_norm / (norm + 1e-6))`; `max_norm
/// ≤ 0` disables clipping. Returns the pre-clip norm (what HF logs as `grad_norm`); this is the
/// one host synchronisation of the call.
pub fn clip_grad_norm<AB: AutodiffBackend, M: AutodiffModule<AB>>(
    module: &M,
    grads: &mut GradientsParams,
    max_norm: f64,
) -> f64 {
    let mut collector = NormCollector::<AB::InnerBackend> {
        grads,
        norms: Vec::new(),
    };
    module.visit(&mut collector);
    let norms = collector.norms;
    let Some(first) = norms.first() else {
        return 0.0;
    };
    let device = first.device();
    let total = Tensor::cat(norms, 0).square().sum().sqrt();
    if max_norm > 0.0 {
        let coefficient = Tensor::<AB::InnerBackend, 1>::full([1], max_norm, &device)
            .div(total.clone().add_scalar(1e-6))
            .clamp_max(1.0);
        module.visit(&mut GradScaler { grads, coefficient });
    }
    total.into_scalar().elem::<f64>()
}

/// Visitor collecting the L2 norm of every parameter gradient.
struct NormCollector<'a, B: Backend> {
    grads: &'a GradientsParams,
    norms: Vec<Tensor<B, 1>>,
}

impl<AB: AutodiffBackend> ModuleVisitor<AB> for NormCollector<'_, AB::InnerBackend> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<AB, D>>) {
        if let Some(grad) = self.grads.get::<AB::InnerBackend, D>(param.id) {
            self.norms.push(to_f32(grad).square().sum().sqrt());
        }
    }
}

/// Visitor multiplying every parameter gradient by the clip coefficient.
struct GradScaler<'a, B: Backend> {
    grads: &'a mut GradientsParams,
    coefficient: Tensor<B, 1>,
}

impl<AB: AutodiffBackend> ModuleVisitor<AB> for GradScaler<'_, AB::InnerBackend> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<AB, D>>) {
        if let Some(grad) = self.grads.remove::<AB::InnerBackend, D>(param.id) {
            let coefficient = self.coefficient.clone().cast(grad.dtype()).reshape([1; D]);
            self.grads.register(param.id, grad * coefficient);
        }
    }
}
