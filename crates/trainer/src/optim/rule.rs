//! The choice of update rule and the pieces the rules share.

use burn::tensor::Tensor;
use burn::tensor::backend::Backend;

use super::adafactor::AdafactorConfig;
use super::adamw::AdamWConfig;

/// A state slot of one parameter: its PyTorch state-dict name and shape.
pub(crate) type SlotSpec = (&'static str, Vec<usize>);

/// `rms(x) = ‖x‖₂ / sqrt(numel)` as a `[1]` tensor (HF Adafactor's `_rms`).
pub(crate) fn root_mean_square<B: Backend>(tensor: Tensor<B, 1>) -> Tensor<B, 1> {
    let numel = tensor.dims()[0];
    tensor.square().sum().sqrt().div_scalar((numel as f64).sqrt())
}

/// Which optimizer updates the parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum OptimizerKind {
    /// HF Adafactor as upstream configures it.
    Adafactor(AdafactorConfig),
    /// PyTorch AdamW.
    AdamW(AdamWConfig),
}

impl OptimizerKind {
    /// The name stored in saved optimizer state (the HF `optim` name).
    pub fn name(&self) -> &'static str {
        match self {
            Self::Adafactor(_) => "adafactor",
            Self::AdamW(_) => "adamw_torch",
        }
    }

    /// State slots of a parameter of `shape`, in update order.
    pub(crate) fn slots(&self, shape: &[usize]) -> Vec<SlotSpec> {
        match self {
            Self::Adafactor(config) => config.slots(shape),
            Self::AdamW(config) => config.slots(shape),
        }
    }

    /// One update of a flattened f32 parameter with its (already incremented) step counter.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn update<B: Backend>(
        &self,
        lr: f64,
        weight_decay: f64,
        step: u64,
        shape: &[usize],
        param: Tensor<B, 1>,
        grad: Tensor<B, 1>,
        slots: Vec<Tensor<B, 1>>,
    ) -> (Tensor<B, 1>, Vec<Tensor<B, 1>>) {
        match self {
            Self::Adafactor(config) => config.update(lr, weight_decay, step, shape, param, grad, slots),
            Self::AdamW(config) => config.update(lr, weight_decay, step, param, grad, slots),
        }
    }
}

impl From<provence_config::Optimizer> for OptimizerKind {
    fn from(kind: provence_config::Optimizer) -> Self {
        match kind {
            provence_config::Optimizer::Adafactor => Self::Adafactor(AdafactorConfig::default()),
            provence_config::Optimizer::AdamW => Self::AdamW(AdamWConfig::default()),
        }
    }
}
