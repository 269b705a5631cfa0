//! The Burn backend inference runs on, chosen at run time by a [`DeviceChoice`]
//! (`--device cpu|cuda[:N]|wgpu[:N]`): the CPU (`Flex`) in every build, CUDA and wgpu with the
//! `cuda` and `wgpu` features. [`on_device`] is the one place that maps a choice onto a backend
//! type for inference.

use provence_model::{DeviceChoice, DeviceError, ModelBackend, SelectableBackend};

/// The backend of the build's best device ([`DeviceChoice::best`]: CUDA, else wgpu, else the
/// CPU), for library users that do not choose at run time.
#[cfg(feature = "cuda")]
pub type InferenceBackend = burn::backend::Cuda;

/// The backend of the build's best device ([`DeviceChoice::best`]: CUDA, else wgpu, else the
/// CPU), for library users that do not choose at run time.
#[cfg(all(feature = "wgpu", not(feature = "cuda")))]
pub type InferenceBackend = burn::backend::Wgpu;

/// The backend of the build's best device ([`DeviceChoice::best`]: CUDA, else wgpu, else the
/// CPU), for library users that do not choose at run time.
#[cfg(not(any(feature = "cuda", feature = "wgpu")))]
pub type InferenceBackend = burn::backend::Flex;

/// The default device of [`InferenceBackend`].
pub fn default_device() -> burn::tensor::Device<InferenceBackend> {
    Default::default()
}

/// Inference generic over the backend, to run on whichever one a [`DeviceChoice`] names.
pub trait OnBackend {
    /// What the work returns.
    type Output;
    /// Runs on backend `B`'s `device`.
    fn run<B: ModelBackend>(self, device: B::Device) -> Self::Output;
}

/// Runs `task` on the backend and device `choice` names; an error when this build lacks the
/// backend or the device cannot be used (no wgpu adapter, say).
pub fn on_device<T: OnBackend>(choice: DeviceChoice, task: T) -> Result<T::Output, DeviceError> {
    match choice.check_built()? {
        DeviceChoice::Cpu => run::<burn::backend::Flex, T>(choice, task),
        #[cfg(feature = "cuda")]
        DeviceChoice::Cuda(_) => run::<burn::backend::Cuda, T>(choice, task),
        #[cfg(feature = "wgpu")]
        DeviceChoice::Wgpu(_) => run::<burn::backend::Wgpu, T>(choice, task),
        #[allow(unreachable_patterns)] // every backend is built
        other => Err(DeviceError::NotBuilt {
            backend: other.backend(),
        }),
    }
}

/// `task` on backend `B`'s device of `choice`.
fn run<B: ModelBackend + SelectableBackend, T: OnBackend>(
    choice: DeviceChoice,
    task: T,
) -> Result<T::Output, DeviceError> {
    tracing::info!("device: {choice}");
    Ok(task.run::<B>(B::device(choice.index())?))
}
