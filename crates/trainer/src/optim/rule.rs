//! The extension point of the optimizers: an update rule over one flattened f32 parameter and
//! its state slots. [`super::Optimizer`] owns the parameter bookkeeping (groups, lazily created
//! state, dtype casts, saving); a rule only says which state it keeps and how one step updates
//! it. Adding an optimizer is one file implementing [`UpdateRule`] plus its name in
//! [`super::OptimizerKind`] (and in the recipe's `optimizer` values).

use burn::tensor::Tensor;
use burn::tensor::backend::Backend;

/// A state slot of one parameter: its PyTorch state-dict name and shape.
pub type SlotSpec = (&'static str, Vec<usize>);

/// One parameter's step, as an update rule sees it.
pub struct ParamUpdate<'a, B: Backend> {
    /// The scheduled learning rate.
    pub lr: f64,
    /// The decoupled weight decay of the parameter's group (0 in the no-decay group).
    pub weight_decay: f64,
    /// The parameter's update count, this update included (≥ 1).
    pub step: u64,
    /// The parameter's shape (the tensors below are flattened).
    pub shape: &'a [usize],
    /// The parameter, flattened, in f32.
    pub param: Tensor<B, 1>,
    /// Its gradient, flattened, in f32.
    pub grad: Tensor<B, 1>,
    /// Its state, in the order of [`UpdateRule::slots`] (zeros before the first update).
    pub slots: Vec<Tensor<B, 1>>,
}

/// An optimizer's arithmetic for one parameter.
pub trait UpdateRule<B: Backend> {
    /// The name stored in saved optimizer state (the HF `optim` name).
    fn name(&self) -> &'static str;

    /// The state slots of a parameter of `shape`, in update order, with PyTorch's names and shapes.
    fn slots(&self, shape: &[usize]) -> Vec<SlotSpec>;

    /// One update: the new parameter and the new state slots (same order as [`Self::slots`]).
    fn update(&self, update: ParamUpdate<'_, B>) -> (Tensor<B, 1>, Vec<Tensor<B, 1>>);
}
