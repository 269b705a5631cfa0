//! Optimizers for the custom training loop: HF Adafactor (upstream's choice) and PyTorch AdamW,
//! with HF Trainer's decay / no-decay parameter groups, global-norm gradient clipping, and state
//! that saves to and restores from safetensors exactly.
//!
//! Typical use in a training loop:
//!
//! ```text
//! let table = ParamTable::from_module(&model, &hf_names);
//! let mut optimizer = Optimizer::new(OptimizerKind::from(config.optimizer), weight_decay, table);
//! let grad_norm = clip_grad_norm(&model, &mut grads, max_grad_norm);
//! model = optimizer.step(schedule.lr(learning_rate, global_step), model, grads);
//! ```

mod adafactor;
mod adamw;
mod clip;
mod params;
mod rule;
mod state;

use std::collections::HashMap;

use burn::module::{AutodiffModule, ModuleMapper, Param, ParamId};
use burn::optim::GradientsParams;
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{DType, Tensor, TensorData};

use provence_losses::to_f32;

pub use adafactor::AdafactorConfig;
pub use adamw::AdamWConfig;
pub use clip::clip_grad_norm;
pub use params::{ParamEntry, ParamTable, is_no_decay};
pub use rule::{ParamUpdate, SlotSpec, UpdateRule};
pub use state::OptimizerStateError;

/// Which optimizer updates the parameters: the registry of [`UpdateRule`]s by recipe name.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum OptimizerKind {
    /// HF Adafactor as upstream configures it.
    Adafactor(AdafactorConfig),
    /// PyTorch AdamW.
    AdamW(AdamWConfig),
}

impl OptimizerKind {
    /// The rule's arithmetic.
    pub fn rule<B: Backend>(&self) -> &dyn UpdateRule<B> {
        match self {
            Self::Adafactor(config) => config,
            Self::AdamW(config) => config,
        }
    }

    /// The name stored in saved optimizer state (the HF `optim` name); it does not depend on
    /// the backend, so any backend's view of the rule answers.
    pub fn name(&self) -> &'static str {
        self.rule::<burn::backend::Flex>().name()
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

/// The optimizer state of one parameter: its step counter and its f32 state slots, flattened.
#[derive(Debug, Clone)]
struct ParamState<B: Backend> {
    step: u64,
    slots: Vec<Tensor<B, 1>>,
}

/// An optimizer over the float parameters of a Burn module, keyed by [`ParamId`].
///
/// `B` is the inner (non-autodiff) backend of the model's autodiff backend. The arithmetic runs
/// in f32 on flattened views of each parameter; parameters stored in another float type are cast
/// to f32 for the update and back. State is created lazily (zeros) on a parameter's first
/// update; parameters without a gradient are skipped and their step counter does not advance.
#[derive(Debug, Clone)]
pub struct Optimizer<B: Backend> {
    kind: OptimizerKind,
    weight_decay: f64,
    params: ParamTable,
    states: HashMap<ParamId, ParamState<B>>,
}

impl<B: Backend> Optimizer<B> {
    /// A fresh optimizer. `weight_decay` applies to every parameter outside the table's no-decay
    /// group (HF Trainer's two parameter groups).
    pub fn new(kind: OptimizerKind, weight_decay: f64, params: ParamTable) -> Self {
        Self {
            kind,
            weight_decay,
            params,
            states: HashMap::new(),
        }
    }

    /// The update rule.
    pub fn kind(&self) -> &OptimizerKind {
        &self.kind
    }

    /// The parameter table (names, shapes, no-decay group).
    pub fn params(&self) -> &ParamTable {
        &self.params
    }

    /// The number of updates a parameter has received (`None` before its first update).
    pub fn param_step(&self, id: &ParamId) -> Option<u64> {
        self.states.get(id).map(|state| state.step)
    }

    /// A state tensor of a parameter in PyTorch's shape (e.g. `exp_avg_sq_row`), if it exists.
    pub fn state_tensor(&self, id: &ParamId, slot: &str) -> Option<TensorData> {
        let state = self.states.get(id)?;
        let entry = self.params.get(id)?;
        let specs = self.kind.rule::<B>().slots(&entry.shape);
        let index = specs.iter().position(|(name, _)| *name == slot)?;
        let values = state.slots.get(index)?.clone().into_data();
        Some(TensorData::new(values.to_vec::<f32>().ok()?, specs[index].1.clone()))
    }

    /// Applies one update with learning rate `lr` to every parameter of `module` that has a
    /// gradient in `grads`, and returns the updated module.
    pub fn step<AB, M>(&mut self, lr: f64, module: M, mut grads: GradientsParams) -> M
    where
        AB: AutodiffBackend<InnerBackend = B>,
        M: AutodiffModule<AB>,
    {
        let mut mapper = StepMapper {
            optimizer: self,
            grads: &mut grads,
            lr,
        };
        module.map(&mut mapper)
    }

    /// Updates one parameter tensor (inner backend), creating its state on first use.
    fn update_param<const D: usize>(
        &mut self,
        id: ParamId,
        lr: f64,
        param: Tensor<B, D>,
        grad: Tensor<B, D>,
    ) -> Tensor<B, D> {
        let dims = param.dims();
        let numel = dims.iter().product::<usize>();
        let dtype = param.dtype();
        let device = param.device();
        let weight_decay = if self.params.is_no_decay(&id) {
            0.0
        } else {
            self.weight_decay
        };
        let state = self.states.remove(&id).unwrap_or_else(|| ParamState {
            step: 0,
            slots: self
                .kind
                .rule::<B>()
                .slots(&dims)
                .iter()
                .map(|(_, shape)| zeros_f32(shape.iter().product(), &device))
                .collect(),
        });
        let step = state.step + 1;
        let (updated, slots) = self.kind.rule::<B>().update(ParamUpdate {
            lr,
            weight_decay,
            step,
            shape: &dims,
            param: to_f32(param).reshape([numel]),
            grad: to_f32(grad).reshape([numel]),
            slots: state.slots,
        });
        self.states.insert(id, ParamState { step, slots });
        let updated = updated.reshape(dims);
        if dtype == DType::F32 {
            updated
        } else {
            updated.cast(dtype)
        }
    }
}

/// A zero f32 vector of `numel` elements (f32 whatever the backend's default float type).
fn zeros_f32<B: Backend>(numel: usize, device: &B::Device) -> Tensor<B, 1> {
    Tensor::zeros([numel], (device, DType::F32))
}

/// Module mapper applying [`Optimizer::update_param`] to every parameter with a gradient.
struct StepMapper<'a, B: Backend> {
    optimizer: &'a mut Optimizer<B>,
    grads: &'a mut GradientsParams,
    lr: f64,
}

impl<AB: AutodiffBackend> ModuleMapper<AB> for StepMapper<'_, AB::InnerBackend> {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<AB, D>>) -> Param<Tensor<AB, D>> {
        let (id, tensor, mapper) = param.consume();
        let Some(grad) = self.grads.remove::<AB::InnerBackend, D>(id) else {
            return Param::from_mapped_value(id, tensor, mapper);
        };
        let require_grad = tensor.is_require_grad();
        let grad = grad.to_device(&tensor.device());
        let updated = self.optimizer.update_param(id, self.lr, tensor.inner(), grad);
        let mut tensor = Tensor::from_inner(updated);
        if require_grad {
            tensor = tensor.require_grad();
        }
        Param::from_mapped_value(id, tensor, mapper)
    }
}
