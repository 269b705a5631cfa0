//! The random draws of a model (initial weights, dropout masks), made on the host from one
//! seeded generator whatever the backend, then moved to the device: a seed gives the same initial
//! model and the same dropout masks on the CPU, CUDA and wgpu. The host generator is the CPU
//! backend's own (`Flex`), so CPU runs draw exactly what they drew before.

use burn::backend::Flex;
use burn::prelude::*;
use burn::tensor::{Distribution, Shape};

/// Seeds backend `B`'s generator on `device` and the host generator every draw of this crate
/// comes from (the same one on the CPU).
pub fn seed<B: Backend>(device: &B::Device, seed: u64) {
    B::seed(device, seed);
    Flex::seed(&Default::default(), seed);
}

/// f32 values of `shape` from `distribution`, drawn from the host generator, on `device`.
pub(crate) fn random<B: Backend, const D: usize>(
    shape: impl Into<Shape>,
    distribution: Distribution,
    device: &B::Device,
) -> Tensor<B, D> {
    let host = Tensor::<Flex, D>::random(shape, distribution, &Default::default());
    Tensor::from_data(host.into_data(), device)
}

/// Burn's `Dropout::forward` with the mask drawn from the host generator: `x` unchanged when not
/// training (no autodiff) or `p = 0`, else `x · mask / (1 − p)`, `mask` Bernoulli(1 − p).
pub(crate) fn apply_dropout<B: Backend, const D: usize>(dropout: &burn::nn::Dropout, x: Tensor<B, D>) -> Tensor<B, D> {
    let device = x.device();
    if !B::ad_enabled(&device) || dropout.prob == 0.0 {
        return x;
    }
    let keep = 1.0 - dropout.prob;
    // Bernoulli draws are exactly 0 or 1 in every dtype (a bf16 draw is an f32 draw converted).
    let mask = random::<B, D>(x.shape(), Distribution::Bernoulli(keep), &device).cast(x.dtype());
    (x * mask) * (1.0 / keep)
}
