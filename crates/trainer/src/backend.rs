//! The backend types of library users that do not choose at run time, and the float precision
//! a run trains in, with the check that the device supports it. The binaries choose the backend
//! at run time ([`crate::train_on`]).

use burn::backend::Autodiff;
use burn::tensor::FloatDType;
use burn::tensor::backend::AutodiffBackend;
use provence_config::AttentionLayout;
use provence_model::{DeviceChoice, Execution, ModelBackend};

use crate::error::TrainError;

/// The autodiff backend of the build's best device ([`DeviceChoice::best`]), for library users
/// that do not choose at run time.
pub type TrainBackend = Autodiff<provence_infer::InferenceBackend>;

/// The inference backend under [`TrainBackend`] (evaluation, post-training dataset evaluation).
pub type EvalBackend = <TrainBackend as AutodiffBackend>::InnerBackend;

/// The float precision a run trains in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Precision {
    /// f32 everywhere.
    F32,
    /// Mixed precision as CUDA autocast: f32 parameters, optimizer state, residual stream, norms,
    /// softmax and loss; attention, MLP and head matmuls in bfloat16.
    Bf16,
}

impl Precision {
    /// What a recipe asks for on `device`: bf16 when `bf16: true` on a GPU, else f32 (bf16 is
    /// only emulated on the CPU, and slower there). A GPU without bf16 is refused later
    /// ([`Precision::check`]), not silently trained in f32.
    pub fn for_recipe(bf16: bool, device: DeviceChoice) -> Self {
        if bf16 && device.is_gpu() { Self::Bf16 } else { Self::F32 }
    }

    /// The encoder's execution in this precision with `layout`, on backend `B`.
    pub fn execution<B: ModelBackend>(self, layout: AttentionLayout) -> Execution {
        let execution = Execution::for_backend::<B>().with_layout(layout);
        match self {
            Self::F32 => execution,
            Self::Bf16 => execution.with_compute_dtype(FloatDType::BF16),
        }
    }

    /// An error, saying what to use instead, when `device` cannot train in this precision (bf16
    /// on a wgpu adapter); run before anything is written.
    pub fn check<B: ModelBackend>(self, device: &B::Device) -> Result<(), TrainError> {
        self.execution::<B>(AttentionLayout::default())
            .check::<B>(device)
            .map_err(TrainError::Precision)
    }
}
