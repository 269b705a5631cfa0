//! The memory-efficient attention op (chunked forward, recomputing backward) against the plain
//! formulation the model used before (full `[B, heads, T, T]` probabilities, the one checked
//! against transformers by `parity.rs`): outputs and q/k/v gradients, with sliding windows
//! smaller and larger than the sequence, lengths that are not a multiple of the chunk, and pad
//! queries whose whole window is padding (transformers averages all values for those).

use crate::common;

use burn::nn::DropoutConfig;
use burn::prelude::*;
use common::{Cpu, CpuAd, max_diff, seeded_normal};
use provence_model::{AttentionSpec, ModelBackend, attention_with_dropout};

fn key_pad<B: Backend>(lengths: &[usize], t: usize, device: &B::Device) -> Tensor<B, 2, Bool> {
    let pad: Vec<bool> = lengths.iter().flat_map(|&n| (0..t).map(move |j| j >= n)).collect();
    Tensor::from_data(TensorData::new(pad, [lengths.len(), t]), device)
}

/// Asserts for one case that the forward (autodiff and inference backends) agrees within 1e-5
/// absolute and the q/k/v gradients within 1e-5 relative to the largest reference gradient.
fn check(t: usize, lengths: &[usize], half_window: Option<usize>) {
    let device = Default::default();
    let shape = [lengths.len(), 3, t, 8];
    let normal = |seed| seeded_normal::<CpuAd, 4>(shape, seed, 1.0, &device);
    let (q, k, v, weights) = (normal(1), normal(2), normal(3), normal(4));
    let spec = AttentionSpec::padded(8f64.powf(-0.5), half_window);
    let pad = key_pad::<CpuAd>(lengths, t, &device);
    let no_dropout = DropoutConfig::new(0.0).init();

    let run = |efficient: bool| {
        let [q, k, v] = [&q, &k, &v].map(|x| x.clone().detach().require_grad());
        let out = if efficient {
            CpuAd::masked_attention(q.clone(), k.clone(), v.clone(), Some(pad.clone()), spec.clone())
        } else {
            attention_with_dropout(q.clone(), k.clone(), v.clone(), pad.clone(), spec.clone(), &no_dropout)
        };
        let grads = (out.clone() * weights.clone()).sum().backward();
        let g = [&q, &k, &v].map(|x| x.grad(&grads).unwrap());
        (out.inner(), g)
    };
    let (out, grads) = run(true);
    let (reference, reference_grads) = run(false);
    let forward = max_diff(out, reference.clone());
    // Relative to the largest reference gradient (chunked sums round differently).
    let gradient = grads
        .into_iter()
        .zip(reference_grads)
        .map(|(a, b)| max_diff(a, b.clone()) / b.abs().max().into_scalar().elem::<f32>())
        .fold(0.0, f32::max);

    // The inference backend runs the same chunked forward.
    let inner = Cpu::masked_attention(
        q.inner(),
        k.inner(),
        v.inner(),
        Some(key_pad::<Cpu>(lengths, t, &device)),
        spec,
    );
    assert!(max_diff(inner, reference) < 1e-5);
    assert!(forward < 1e-5, "forward differs by {forward}");
    assert!(gradient < 1e-5, "gradients differ by {gradient}");
}

#[test]
fn sliding_window_with_dead_pad_rows() {
    // Half window 4 → chunks of 64 queries (64, 64, 22); the second row's pad queries past 13
    // see no real key.
    check(150, &[150, 9], Some(4));
}

#[test]
fn sliding_window_several_chunks() {
    // Half window 40 → chunks of 80 queries against up to 160 keys.
    check(200, &[200, 141, 1], Some(40));
}

#[test]
fn window_wider_than_the_sequence() {
    check(23, &[23, 5], Some(64));
}

#[test]
fn global_attention_over_several_chunks() {
    // 300 queries → chunks of 256 and 44; one row is entirely padding (uniform average).
    check(300, &[300, 120, 0], None);
}
