//! `torch.optim.AdamW` (single-tensor path, `amsgrad=False`, `maximize=False`).
//!
//! Burn's own AdamW matches the algorithm but defaults to ε = 1e-5 and has no parameter groups,
//! so this module reproduces PyTorch's arithmetic directly, with the shared no-decay rule.

use burn::tensor::Tensor;
use burn::tensor::backend::Backend;

use super::rule::{ParamUpdate, SlotSpec, UpdateRule};

/// AdamW hyper-parameters (defaults = PyTorch's).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdamWConfig {
    /// First-moment decay (`betas[0]`).
    pub beta1: f64,
    /// Second-moment decay (`betas[1]`).
    pub beta2: f64,
    /// Term added to the denominator after the square root.
    pub eps: f64,
}

impl Default for AdamWConfig {
    fn default() -> Self {
        Self {
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
        }
    }
}

/// Slot names, as in PyTorch's state dict.
pub(crate) const ADAMW_SLOTS: [&str; 2] = ["exp_avg", "exp_avg_sq"];

impl<B: Backend> UpdateRule<B> for AdamWConfig {
    fn name(&self) -> &'static str {
        provence_config::Optimizer::AdamW.as_str()
    }

    /// Both moments have the parameter's shape.
    fn slots(&self, shape: &[usize]) -> Vec<SlotSpec> {
        ADAMW_SLOTS.iter().map(|name| (*name, shape.to_vec())).collect()
    }

    fn update(&self, update: ParamUpdate<'_, B>) -> (Tensor<B, 1>, Vec<Tensor<B, 1>>) {
        let ParamUpdate {
            lr,
            weight_decay,
            step,
            param,
            grad,
            slots,
            ..
        } = update;
        let mut slots = slots.into_iter();
        let (Some(exp_avg), Some(exp_avg_sq)) = (slots.next(), slots.next()) else {
            unreachable!("the optimizer creates two slots for every AdamW parameter")
        };
        let param = param.mul_scalar(1.0 - lr * weight_decay);
        // exp_avg.lerp_(grad, 1 - beta1)
        let exp_avg = exp_avg.clone() + (grad.clone() - exp_avg).mul_scalar(1.0 - self.beta1);
        let exp_avg_sq = exp_avg_sq.mul_scalar(self.beta2) + (grad.clone() * grad).mul_scalar(1.0 - self.beta2);
        let step = step as f64;
        let bias_correction1 = 1.0 - self.beta1.powf(step);
        let bias_correction2 = 1.0 - self.beta2.powf(step);
        let step_size = lr / bias_correction1;
        let denom = exp_avg_sq
            .clone()
            .sqrt()
            .div_scalar(bias_correction2.sqrt())
            .add_scalar(self.eps);
        let param = param - (exp_avg.clone() / denom).mul_scalar(step_size);
        (param, vec![exp_avg, exp_avg_sq])
    }
}
