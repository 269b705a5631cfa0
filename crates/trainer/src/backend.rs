//! The backend the binaries train on: CPU `Autodiff<Flex>` by default, `Autodiff<Cuda>` with
//! the `cuda` feature.

/// The autodiff backend used for training.
#[cfg(not(feature = "cuda"))]
pub type TrainBackend = burn::backend::Autodiff<burn::backend::Flex>;

/// The autodiff backend used for training.
#[cfg(feature = "cuda")]
pub type TrainBackend = burn::backend::Autodiff<burn::backend::Cuda>;

/// Whether this build trains on a GPU (bf16/fp16 recipes fall back to f32 when it does not).
pub const HAS_GPU: bool = cfg!(feature = "cuda");

/// The inference backend under [`TrainBackend`] (evaluation, post-training dataset evaluation).
pub type EvalBackend = <TrainBackend as burn::tensor::backend::AutodiffBackend>::InnerBackend;
