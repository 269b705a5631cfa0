//! HF `transformers.optimization.Adafactor` as the HF Trainer configures it for upstream
//! (`Trainer.get_optimizer_cls_and_kwargs` for `optim: adafactor`): `scale_parameter=False,
//! relative_step=False, warmup_init=False, beta1=None, eps=(1e-30, 1e-3), clip_threshold=1.0,
//! decay_rate=-0.8`.
//!
//! No first moment; the second moment is factored over the last two dims for tensors with two
//! or more dims (row and column running means) and full for 1-D tensors; the update is divided
//! by `max(1, rms(update) / clip_threshold)`, scaled by the scheduled lr, and weight decay is
//! decoupled and multiplied by the same lr.

use burn::tensor::Tensor;
use burn::tensor::backend::Backend;

use super::rule::{ParamUpdate, SlotSpec, UpdateRule};

/// Adafactor hyper-parameters (defaults = upstream's configuration).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdafactorConfig {
    /// Regularisation constant added to the squared gradient (`eps[0]`).
    pub eps_sq: f64,
    /// Threshold of the update's root mean square (`clip_threshold`).
    pub clip_threshold: f64,
    /// Exponent of the second-moment decay `β2(t) = 1 - t^decay_rate` (`decay_rate`).
    pub decay_rate: f64,
}

impl Default for AdafactorConfig {
    fn default() -> Self {
        Self {
            eps_sq: 1e-30,
            clip_threshold: 1.0,
            decay_rate: -0.8,
        }
    }
}

/// Slot names of a factored (≥ 2-D) parameter, as in PyTorch's state dict.
pub(crate) const FACTORED_SLOTS: [&str; 2] = ["exp_avg_sq_row", "exp_avg_sq_col"];
/// Slot name of an unfactored (1-D) parameter.
pub(crate) const UNFACTORED_SLOT: &str = "exp_avg_sq";

/// `(leading, rows, cols)`: the shape seen as a batch of matrices over its last two dims.
fn matrix_view(shape: &[usize]) -> (usize, usize, usize) {
    let rank = shape.len();
    let leading = shape[..rank - 2].iter().product();
    (leading, shape[rank - 2], shape[rank - 1])
}

/// `rms(x) = ‖x‖₂ / sqrt(numel)` as a `[1]` tensor (HF Adafactor's `_rms`).
fn root_mean_square<B: Backend>(tensor: Tensor<B, 1>) -> Tensor<B, 1> {
    let numel = tensor.dims()[0];
    tensor.square().sum().sqrt().div_scalar((numel as f64).sqrt())
}

impl<B: Backend> UpdateRule<B> for AdafactorConfig {
    fn name(&self) -> &'static str {
        provence_config::Optimizer::Adafactor.as_str()
    }

    /// PyTorch's shapes: `grad.shape[:-1]` and `grad.shape[:-2] + grad.shape[-1:]` when
    /// factored, else the full shape.
    fn slots(&self, shape: &[usize]) -> Vec<SlotSpec> {
        let rank = shape.len();
        if rank >= 2 {
            let row = shape[..rank - 1].to_vec();
            let col = [&shape[..rank - 2], &shape[rank - 1..]].concat();
            vec![(FACTORED_SLOTS[0], row), (FACTORED_SLOTS[1], col)]
        } else {
            vec![(UNFACTORED_SLOT, shape.to_vec())]
        }
    }

    fn update(&self, update: ParamUpdate<'_, B>) -> (Tensor<B, 1>, Vec<Tensor<B, 1>>) {
        let ParamUpdate {
            lr,
            weight_decay,
            step,
            shape,
            param,
            grad,
            slots,
        } = update;
        let numel = grad.dims()[0];
        let beta2t = 1.0 - (step as f64).powf(self.decay_rate);
        let squared = grad.clone().square().add_scalar(self.eps_sq);
        let (update, slots) = if shape.len() >= 2 {
            let (leading, rows, cols) = matrix_view(shape);
            let mut slots = slots.into_iter();
            let (Some(row), Some(col)) = (slots.next(), slots.next()) else {
                unreachable!("the optimizer creates two slots for every factored parameter")
            };
            let squared = squared.reshape([leading, rows, cols]);
            let row_mean = squared.clone().mean_dim(2).reshape([leading * rows]);
            let col_mean = squared.mean_dim(1).reshape([leading * cols]);
            let row = row.mul_scalar(beta2t) + row_mean.mul_scalar(1.0 - beta2t);
            let col = col.mul_scalar(beta2t) + col_mean.mul_scalar(1.0 - beta2t);
            // _approx_sq_grad: rsqrt(row / mean(row)) ⊗ rsqrt(col)
            let row_2d = row.clone().reshape([leading, rows]);
            let r_factor = (row_2d.clone() / row_2d.mean_dim(1))
                .sqrt()
                .recip()
                .reshape([leading, rows, 1]);
            let c_factor = col.clone().reshape([leading, 1, cols]).sqrt().recip();
            let update = (r_factor * c_factor).reshape([numel]) * grad;
            (update, vec![row, col])
        } else {
            let Some(sq) = slots.into_iter().next() else {
                unreachable!("the optimizer creates one slot for every unfactored parameter")
            };
            let sq = sq.mul_scalar(beta2t) + squared.mul_scalar(1.0 - beta2t);
            let update = sq.clone().sqrt().recip() * grad;
            (update, vec![sq])
        };
        let clip = root_mean_square(update.clone())
            .div_scalar(self.clip_threshold)
            .clamp_min(1.0);
        let update = update.div(clip).mul_scalar(lr);
        let param = if weight_decay != 0.0 {
            param.clone() + param.mul_scalar(-weight_decay * lr)
        } else {
            param
        };
        (param - update, slots)
    }
}
