//! Each CubeCL kernel against the composed ops it replaces, on the wgpu device, and packed
//! attention against the CPU's per-sequence path: forward within 1e-5, gradients within 1e-4
//! (relative to the reference's largest value); every kernel's differences are printed.

use std::sync::Arc;

use burn::prelude::*;
use provence_model::{
    Activation, AttentionSpec, ModelBackend, attention_backward, attention_forward, chunk_score_grad, chunk_softmax,
    geglu_backward, geglu_forward, qkv_rope_backward, qkv_rope_forward,
};

use crate::device::{Cpu, W, check_kernel, device, rel_diff, to_wgpu};
use crate::model_common::seeded_normal;

/// N(0, 1.5²) values on the wgpu device.
fn normal<const D: usize>(shape: [usize; D], seed: u64) -> Tensor<W, D> {
    seeded_normal(shape, seed, 1.5, &device().unwrap())
}

#[test]
fn geglu_kernels_match_the_composed_ops() {
    let Some(_) = device() else { return };
    for act in [
        Activation::Gelu,
        Activation::GeluTanh,
        Activation::Silu,
        Activation::Relu,
    ] {
        let (u, grad) = (normal([2, 7, 24], 3), normal([2, 7, 12], 4));
        let forward = rel_diff(W::geglu(u.clone(), act), geglu_forward(u.clone(), act));
        let gradient = rel_diff(
            W::geglu_grad(u.clone(), grad.clone(), act),
            geglu_backward(u, grad, act),
        );
        check_kernel(&format!("geglu ({act:?})"), forward, gradient);
    }
}

#[test]
fn qkv_rope_kernels_match_the_composed_ops() {
    let Some(_) = device() else { return };
    let (b, t, heads, d) = (2, 7, 3, 8);
    let half = |seed| normal([t, d / 2], seed);
    let (cos, sin) = (half(11), half(12));
    let [cos, sin] = [cos, sin].map(|h| Tensor::cat(vec![h.clone(), h], 1));
    let qkv = normal([b, t, 3 * heads * d], 13);
    let grad = normal([3, b, heads, t, d], 14);
    let forward = rel_diff(
        W::qkv_rope(qkv.clone(), cos.clone(), sin.clone(), heads),
        qkv_rope_forward(qkv, cos.clone(), sin.clone(), heads),
    );
    let gradient = rel_diff(
        W::qkv_rope_grad(grad.clone(), cos.clone(), sin.clone()),
        qkv_rope_backward(grad, cos, sin),
    );
    check_kernel("q/k/v split + RoPE", forward, gradient);
}

/// Key padding `[B, T]`: row 0 has none, row 1 pads its last `T − 9` keys.
fn key_pad(t: usize) -> Tensor<W, 2, Bool> {
    let flags: Vec<bool> = (0..2 * t).map(|i| i >= t && i - t >= 9).collect();
    Tensor::from_data(TensorData::new(flags, [2, t]), &device().unwrap())
}

#[test]
fn chunk_softmax_and_score_gradient_match_the_composed_ops() {
    let Some(_) = device() else { return };
    let (t, heads, d) = (20, 3, 8);
    // Rows 8..16 of a window of 3 see keys 5..19: some rows of batch row 1 see only padding.
    let chunk = (8..16, 5..19);
    let (n_rows, n_keys) = (chunk.0.len(), chunk.1.len());
    for (what, pad, half_window) in [
        ("padding, window", true, Some(3)),
        ("window", false, Some(3)),
        ("padding, global", true, None),
    ] {
        let spec = AttentionSpec::padded(0.35, half_window);
        let pad = pad.then(|| key_pad(t));
        let scores = normal([2, heads, n_rows, n_keys], 21);
        let kernel = W::chunk_softmax(scores.clone(), pad.as_ref(), &chunk, &spec, burn::tensor::DType::F32);
        let composed = chunk_softmax(scores, pad.as_ref(), &chunk, &spec, burn::tensor::DType::F32);
        let forward = rel_diff(kernel.probs.clone(), composed.probs);
        if let (Some(a), Some(b)) = (kernel.dead, composed.dead) {
            // Only a window can leave a row nothing but padding to see.
            let dead = a.clone().sum().into_scalar().elem::<f32>() > 0.0;
            assert_eq!(dead, half_window.is_some(), "{what}: dead rows");
            // Flags are exactly 0 or 1 in both.
            assert_eq!(
                a.into_data().to_vec::<f32>().unwrap(),
                b.into_data().convert::<f32>().to_vec::<f32>().unwrap(),
                "{what}: dead rows"
            );
        }
        let (dp, grad, out) = (
            normal([2, heads, n_rows, n_keys], 22),
            normal([2, heads, n_rows, d], 23),
            normal([2, heads, n_rows, d], 24),
        );
        let f32 = burn::tensor::DType::F32;
        let gradient = rel_diff(
            W::chunk_score_grad(kernel.probs.clone(), dp.clone(), grad.clone(), out.clone(), 0.35, f32),
            chunk_score_grad(kernel.probs, dp, grad, out, 0.35, f32),
        );
        check_kernel(&format!("chunk softmax ({what})"), forward, gradient);
    }
}

/// q, k, v `[b, heads, t, 16]` on the CPU, and an output gradient.
fn attention_inputs(b: usize, t: usize, seed: u64) -> ([Tensor<Cpu, 4>; 3], Tensor<Cpu, 4>) {
    let device = Default::default();
    let n = |s| seeded_normal::<Cpu, 4>([b, 2, t, 16], seed + s, 1.0, &device);
    ([n(0), n(1), n(2)], n(3))
}

/// Attention on the wgpu device against the CPU: forward and the gradients of q, k and v.
fn attention_diffs(b: usize, t: usize, key_pad: Option<Vec<bool>>, spec: &AttentionSpec) -> (f32, f32) {
    let wgpu = device().unwrap();
    let ([q, k, v], grad) = attention_inputs(b, t, 31);
    let cpu_pad = key_pad
        .clone()
        .map(|flags| Tensor::<Cpu, 2, Bool>::from_data(TensorData::new(flags, [b, t]), &Default::default()));
    let gpu_pad = key_pad.map(|flags| Tensor::<W, 2, Bool>::from_data(TensorData::new(flags, [b, t]), &wgpu));
    let [gq, gk, gv, ggrad] = [&q, &k, &v, &grad].map(|x| to_wgpu(x, &wgpu));
    let cpu_out = attention_forward(q.clone(), k.clone(), v.clone(), cpu_pad.clone(), spec.clone());
    let gpu_out = W::masked_attention(gq.clone(), gk.clone(), gv.clone(), gpu_pad.clone(), spec.clone());
    let forward = rel_diff(gpu_out.clone(), cpu_out.clone());
    let cpu_grads = attention_backward([q, k, v], cpu_pad, cpu_out, grad, spec.clone());
    let gpu_grads = W::masked_attention_grad([gq, gk, gv], gpu_pad, gpu_out, ggrad, spec.clone());
    let gradient = gpu_grads
        .into_iter()
        .zip(cpu_grads)
        .map(|(g, c)| rel_diff(g, c))
        .fold(0f32, f32::max);
    (forward, gradient)
}

#[test]
fn padded_attention_on_the_chunk_kernels_matches_the_cpu() {
    let Some(_) = device() else { return };
    let t = 150;
    let pad: Vec<bool> = (0..2 * t).map(|i| i >= t && i - t >= 97).collect();
    for (what, half_window) in [("windowed", Some(8)), ("global", None)] {
        let spec = AttentionSpec::padded(0.25, half_window);
        let (forward, gradient) = attention_diffs(2, t, Some(pad.clone()), &spec);
        check_kernel(&format!("padded attention ({what})"), forward, gradient);
    }
}

/// Sequences of a packed stream: several query chunks, one shorter than the window, a single
/// token, and a filler sequence at the end.
const CU_SEQLENS: [usize; 6] = [0, 150, 187, 277, 278, 320];

#[test]
fn packed_attention_matches_the_cpu_per_sequence_path() {
    let Some(_) = device() else { return };
    for (what, half_window) in [("windowed", Some(8)), ("global", None)] {
        let spec = AttentionSpec {
            cu_seqlens: Some(Arc::from(CU_SEQLENS)),
            ..AttentionSpec::padded(0.25, half_window)
        };
        let (forward, gradient) = attention_diffs(1, CU_SEQLENS[5], None, &spec);
        check_kernel(&format!("packed attention ({what})"), forward, gradient);
    }
}
