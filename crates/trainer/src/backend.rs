//! The backend the binaries train on: CPU `Autodiff<Flex>` by default, `Autodiff<Cuda>` with
//! the `cuda` feature.

/// The autodiff backend used for training.
#[cfg(not(feature = "cuda"))]
pub type TrainBackend = burn::backend::Autodiff<burn::backend::Flex>;

/// The autodiff backend used for training.
#[cfg(feature = "cuda")]
pub type TrainBackend = burn::backend::Autodiff<burn::backend::Cuda>;

/// The devices of `--devices`: CUDA ordinals on GPU builds; on CPU builds each entry is one
/// more CPU worker (threads of this process sharing the cores; for testing data parallelism).
pub fn train_devices(ordinals: &[usize]) -> Vec<burn::tensor::Device<TrainBackend>> {
    #[cfg(feature = "cuda")]
    return ordinals
        .iter()
        .map(|&i| burn::backend::cuda::CudaDevice::new(i))
        .collect();
    #[cfg(not(feature = "cuda"))]
    return ordinals.iter().map(|_| Default::default()).collect();
}

/// Whether this build trains on a GPU (bf16/fp16 recipes fall back to f32 when it does not).
pub const HAS_GPU: bool = cfg!(feature = "cuda");

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
    /// What a recipe asks for on this build: bf16 when `bf16: true` and a GPU backend is
    /// compiled in, else f32 (bf16 is only emulated on the CPU, and slower there).
    pub fn for_recipe(bf16: bool) -> Self {
        if bf16 && HAS_GPU { Self::Bf16 } else { Self::F32 }
    }
}

/// The inference backend under [`TrainBackend`] (evaluation, post-training dataset evaluation).
pub type EvalBackend = <TrainBackend as burn::tensor::backend::AutodiffBackend>::InnerBackend;
