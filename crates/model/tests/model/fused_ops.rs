//! GeGLU and layer norm as single autodiff nodes (`ModelBackend::geglu`,
//! `ModelBackend::layer_norm_recompute`) against the composed formulations they replace: equal
//! outputs, and gradients equal to autodiff through the composed ops.

use crate::common;

use burn::nn::LayerNormConfig;
use burn::prelude::*;
use burn::tensor::FloatDType;
use burn::tensor::activation;
use common::{CpuAd, max_diff, seeded_normal};
use provence_model::{Activation, ModelBackend};

fn normal<const D: usize>(shape: [usize; D], seed: u64) -> Tensor<CpuAd, D> {
    seeded_normal(shape, seed, 1.5, &Default::default())
}

/// `act(input) · gate` from Burn's own activations, differentiated by autodiff.
fn composed_geglu(u: Tensor<CpuAd, 3>, act: Activation) -> Tensor<CpuAd, 3> {
    let i = u.dims()[2] / 2;
    let (input, gate) = (u.clone().narrow(2, 0, i), u.narrow(2, i, i));
    let a = match act {
        Activation::Gelu => activation::gelu(input),
        Activation::GeluTanh => activation::gelu_approximate(input),
        Activation::Silu => activation::silu(input),
        Activation::Relu => activation::relu(input),
    };
    a * gate
}

/// (forward, gradient) max abs differences of the fused GeGLU against the composed one.
fn geglu_diffs(act: Activation) -> (f32, f32) {
    let u0 = normal([2, 7, 12], 3);
    let weights = normal([2, 7, 6], 4);
    let run = |fused: bool| {
        let u = u0.clone().detach().require_grad();
        let out = if fused {
            CpuAd::geglu(u.clone(), act)
        } else {
            composed_geglu(u.clone(), act)
        };
        let grads = (out.clone() * weights.clone()).sum().backward();
        (out.inner(), u.grad(&grads).unwrap())
    };
    let ((out, grad), (want_out, want_grad)) = (run(true), run(false));
    (max_diff(out, want_out), max_diff(grad, want_grad))
}

#[test]
fn geglu_matches_the_composed_form() {
    for act in [Activation::GeluTanh, Activation::Silu, Activation::Relu] {
        let (forward, gradient) = geglu_diffs(act);
        assert!(
            forward < 1e-6 && gradient < 1e-5,
            "{act:?}: forward {forward}, gradient {gradient}"
        );
    }
}

/// Burn's `gelu` backward uses the tanh approximation's derivative (up to ~1e-3 off the erf
/// form's); ours is exact, which is what PyTorch computes (checked against PyTorch gradients by
/// `backward.rs`). Here: equal outputs, and gradients within that approximation error.
#[test]
fn geglu_gelu_gradient_is_exact() {
    let (forward, gradient) = geglu_diffs(Activation::Gelu);
    assert!(forward < 1e-6, "forward {forward}");
    assert!(gradient < 1e-2, "gradient {gradient}");
    // The exact derivative at a few points: Φ(x) + x·φ(x).
    let device = Default::default();
    let x = Tensor::<CpuAd, 3>::from_floats([[[-2.0, -0.5, 0.0, 0.7, 3.0]]], &device).require_grad();
    let gate = Tensor::<CpuAd, 3>::ones([1, 1, 5], &device);
    let out = CpuAd::geglu(Tensor::cat(vec![x.clone(), gate], 2), Activation::Gelu);
    let grads = out.sum().backward();
    let got: Vec<f32> = x.grad(&grads).unwrap().into_data().to_vec().unwrap();
    // Φ(x) + x·φ(x) with Python's math.erf, in f64.
    let want: [f64; 5] = [-0.085_231_801, 0.132_504_875, 0.5, 0.976_614_101, 1.011_945_647];
    for (g, w) in got.iter().zip(want) {
        assert!((f64::from(*g) - w).abs() < 1e-5, "gelu'(x): {got:?} vs {want:?}");
    }
}

#[test]
fn geglu_in_bf16_rounds_like_the_composed_form() {
    let u = normal([2, 5, 8], 9).cast(FloatDType::BF16);
    let fused = CpuAd::geglu(u.clone(), Activation::Gelu);
    let i = 4;
    let input = u.clone().narrow(2, 0, i).cast(FloatDType::F32);
    let reference = activation::gelu(input).cast(FloatDType::BF16) * u.narrow(2, i, i);
    assert_eq!(
        max_diff(fused.cast(FloatDType::F32), reference.cast(FloatDType::F32)),
        0.0
    );
}

#[test]
fn layer_norm_matches_burns_module() {
    let device = Default::default();
    for bias in [false, true] {
        let mut module = LayerNormConfig::new(10).with_bias(bias).init::<CpuAd>(&device);
        module.gamma = module.gamma.map(|_| normal([10], 5).require_grad());
        if let Some(beta) = module.beta.take() {
            module.beta = Some(beta.map(|_| normal([10], 6).require_grad()));
        }
        let x0 = normal([3, 4, 10], 7).mul_scalar(4.0).add_scalar(2.0);
        let weights = normal([3, 4, 10], 8);
        let run = |fused: bool| {
            let x = x0.clone().detach().require_grad();
            let out = if fused {
                let beta = module.beta.as_ref().map(|b| b.val());
                CpuAd::layer_norm_recompute(x.clone(), module.gamma.val(), beta, 1e-5)
            } else {
                module.forward(x.clone())
            };
            let grads = (out.clone() * weights.clone()).sum().backward();
            let mut g = vec![
                x.grad(&grads).unwrap().flatten::<1>(0, 2),
                module.gamma.val().grad(&grads).unwrap(),
            ];
            if let Some(beta) = &module.beta {
                g.push(beta.val().grad(&grads).unwrap());
            }
            (out.inner(), g)
        };
        let ((out, grads), (want_out, want_grads)) = (run(true), run(false));
        // Flex's fused layer-norm kernel vs autodiff's composed one: rounding only.
        let forward = max_diff(out, want_out);
        assert!(forward < 1e-5, "bias {bias}: forward differs by {forward}");
        assert_eq!(grads.len(), want_grads.len());
        for (g, w) in grads.into_iter().zip(want_grads) {
            let d = max_diff(g, w);
            assert!(d < 1e-5, "bias {bias}: gradient differs by {d}");
        }
    }
}

/// RoPE of q and k as transformers writes it, on `[B, heads, T, D]` views of the projection.
fn composed_qkv_rope<B: Backend>(
    qkv: Tensor<B, 3>,
    cos: Tensor<B, 2>,
    sin: Tensor<B, 2>,
    heads: usize,
) -> Tensor<B, 5> {
    let [b, t, h3] = qkv.dims();
    let d = h3 / 3 / heads;
    let x = qkv.reshape([b, t, 3 * heads, d]).swap_dims(1, 2);
    let part = |i: usize| x.clone().narrow(1, i * heads, heads);
    let rope = |x: Tensor<B, 4>| {
        let rotated = Tensor::cat(
            vec![x.clone().narrow(3, d / 2, d / 2).neg(), x.clone().narrow(3, 0, d / 2)],
            3,
        );
        x * cos.clone().reshape([1, 1, t, d]) + rotated * sin.clone().reshape([1, 1, t, d])
    };
    Tensor::stack(vec![rope(part(0)), rope(part(1)), part(2)], 0)
}

/// Tables repeated over the two halves, as RoPE's are.
fn rope_table(t: usize, d: usize, seed: u64) -> Tensor<CpuAd, 2> {
    let half = normal([t, d / 2], seed);
    Tensor::cat(vec![half.clone(), half], 1)
}

#[test]
fn qkv_rope_matches_the_composed_form() {
    let (b, t, heads, d) = (2, 7, 3, 8);
    let (cos, sin) = (rope_table(t, d, 11), rope_table(t, d, 12));
    let qkv0 = normal([b, t, 3 * heads * d], 13);
    let weights = normal([3, b, heads, t, d], 14);
    let run = |fused: bool| {
        let qkv = qkv0.clone().detach().require_grad();
        let out = if fused {
            CpuAd::qkv_rope(qkv.clone(), cos.clone(), sin.clone(), heads)
        } else {
            composed_qkv_rope(qkv.clone(), cos.clone(), sin.clone(), heads)
        };
        let grads = (out.clone() * weights.clone()).sum().backward();
        (out.inner(), qkv.grad(&grads).unwrap())
    };
    let ((out, grad), (want_out, want_grad)) = (run(true), run(false));
    // The Flex kernel computes exactly what the composed ops compute.
    assert_eq!(max_diff(out, want_out), 0.0);
    assert!(max_diff(grad, want_grad) < 1e-6);
    // The backend-generic composed op (used by other backends) agrees too.
    let (reference, reference_grad) = run(false);
    let generic =
        provence_model::qkv_rope_forward(qkv0.clone().inner(), cos.clone().inner(), sin.clone().inner(), heads);
    assert_eq!(max_diff(generic, reference), 0.0);
    let generic_grad =
        provence_model::qkv_rope_backward(weights.clone().inner(), cos.clone().inner(), sin.clone().inner());
    assert!(max_diff(generic_grad, reference_grad) < 1e-6);
}

#[test]
fn qkv_rope_in_bf16_falls_back_to_the_composed_form() {
    let (b, t, heads, d) = (1, 5, 2, 4);
    let (cos, sin) = (rope_table(t, d, 21), rope_table(t, d, 22));
    let qkv = normal([b, t, 3 * heads * d], 23).cast(FloatDType::BF16);
    let fused = CpuAd::qkv_rope(qkv.clone(), cos.clone(), sin.clone(), heads);
    assert_eq!(fused.dtype(), burn::tensor::DType::BF16);
    let reference = composed_qkv_rope(qkv, cos.cast(FloatDType::BF16), sin.cast(FloatDType::BF16), heads);
    assert_eq!(
        max_diff(fused.cast(FloatDType::F32), reference.cast(FloatDType::F32)),
        0.0
    );
}
