//! The Burn backend inference runs on: Flex (CPU) by default, CUDA with the `cuda` feature.

/// Backend used by the CLI and the dataset evaluation.
#[cfg(not(feature = "cuda"))]
pub type InferenceBackend = burn::backend::Flex;

/// Backend used by the CLI and the dataset evaluation.
#[cfg(feature = "cuda")]
pub type InferenceBackend = burn::backend::Cuda;

/// The default device of [`InferenceBackend`].
pub fn default_device() -> burn::tensor::Device<InferenceBackend> {
    Default::default()
}
