//! The transformers parity suite on the wgpu device: every fixture's outputs (padded, packed with
//! each kernel) within the CPU suite's tolerance of transformers', its loss and stored gradients
//! (padded and packed) within 1e-4, and every parameter's gradient within 1e-4 of the CPU's.

use burn::tensor::backend::AutodiffBackend;
use provence_model::{AttentionLayout, Execution, ModelBackend, PackedAttention};

use crate::device::{Cpu, CpuAd, W, WAd, check_kernel, device, rel_diff, say};
use crate::model_common::parity::{
    BERT, MODERNBERT, all_gradients, check_outputs, expected, fixture_forward, fixture_model, gradient_diffs,
};

#[test]
fn outputs_match_transformers_on_every_fixture_and_layout() {
    let Some(device) = device() else { return };
    let mut largest = 0f32;
    for name in MODERNBERT.into_iter().chain(BERT) {
        largest = largest.max(check_outputs::<W>(name, &device));
    }
    say(&format!(
        "wgpu parity: outputs of 7 fixtures × 3 layouts, max abs diff {largest:.1e}"
    ));
}

/// The loss and stored gradients of `name` in `layout` on `B`; asserts them as the CPU suite does.
fn check_gradients<B: AutodiffBackend + ModelBackend>(name: &str, layout: AttentionLayout, device: &B::Device) -> f32 {
    let (loss, grads) = gradient_diffs::<B>(name, Execution::for_backend::<B>().with_layout(layout), device);
    assert!(loss <= 1e-4, "{name} {layout}: loss differs by {loss}");
    assert!(!grads.is_empty(), "{name}: no gradients checked");
    grads.into_iter().fold(0f32, |largest, (param, d)| {
        assert!(
            d <= 1e-4,
            "{name} {layout}: gradient of {param}: relative diff {d} > 1e-4"
        );
        largest.max(d)
    })
}

#[test]
fn gradients_match_pytorch_on_every_fixture() {
    let Some(device) = device() else { return };
    let mut largest = 0f32;
    // The fixtures with a loss and gradients (the others check outputs only).
    let names: Vec<&str> = MODERNBERT
        .into_iter()
        .chain(BERT)
        .filter(|n| expected(n).contains_key("loss"))
        .collect();
    assert_eq!(names.len(), 5, "fixtures with gradients: {names:?}");
    for name in &names {
        for layout in [AttentionLayout::Padded, AttentionLayout::Packed] {
            largest = largest.max(check_gradients::<WAd>(name, layout, &device));
        }
    }
    say(&format!(
        "wgpu parity: stored gradients of {} fixtures × 2 layouts, max rel diff {largest:.1e}",
        names.len()
    ));
}

/// Every parameter's gradient, not only those the fixtures store, against the CPU's. The
/// attention key biases are the exception: their exact gradient is 0 (adding `q·b` to a whole
/// row of scores leaves its softmax unchanged), so both backends hold rounding noise there.
#[test]
fn every_gradient_matches_the_cpu() {
    let Some(device) = device() else { return };
    let mut largest = 0f32;
    for name in ["tiny_cls_window", "tiny_xlmr"] {
        for layout in [AttentionLayout::Padded, AttentionLayout::Packed] {
            let gpu = all_gradients::<WAd>(name, Execution::for_backend::<WAd>().with_layout(layout), &device);
            let cpu = all_gradients::<CpuAd>(
                name,
                Execution::for_backend::<CpuAd>().with_layout(layout),
                &Default::default(),
            );
            largest = largest.max(gradient_rel_diff(&format!("{name} {layout}"), &gpu, &cpu));
        }
    }
    say(&format!(
        "wgpu parity: every gradient of 2 fixtures × 2 layouts vs the CPU, max rel diff {largest:.1e}"
    ));
}

/// Packed attention on the CubeCL per-sequence kernels against the CPU's packed per-sequence
/// path, on each backbone (ModernBERT with local windows, BERT, XLM-R): the outputs, relative to
/// the CPU's largest value, within 1e-5 and every parameter's gradient within 1e-4.
#[test]
fn packed_per_sequence_attention_matches_the_cpu_on_every_backbone() {
    let Some(device) = device() else { return };
    let packed = |execution: Execution| {
        execution
            .with_layout(AttentionLayout::Packed)
            .with_packed_kernel(PackedAttention::PerSequence)
    };
    let (mut forward, mut gradient) = (0f32, 0f32);
    for name in ["tiny_cls_window", "tiny_bert", "tiny_xlmr"] {
        let exp = expected(name);
        let gpu = fixture_forward(
            &fixture_model::<W>(name, packed(Execution::for_backend::<W>()), &device),
            &exp,
            &device,
        );
        let cpu_device = Default::default();
        let cpu = fixture_forward(
            &fixture_model::<Cpu>(name, packed(Execution::for_backend::<Cpu>()), &cpu_device),
            &exp,
            &cpu_device,
        );
        for (what, diff) in [
            ("ranking logits", rel_diff(gpu.ranking_logits, cpu.ranking_logits)),
            (
                "last hidden state",
                rel_diff(gpu.last_hidden_state, cpu.last_hidden_state),
            ),
            ("pruning logits", rel_diff(gpu.pruning_logits, cpu.pruning_logits)),
        ] {
            assert!(diff <= 1e-5, "{name}: packed {what} differs by {diff:e} (relative)");
            forward = forward.max(diff);
        }
        let gpu = all_gradients::<WAd>(name, packed(Execution::for_backend::<WAd>()), &device);
        let cpu = all_gradients::<CpuAd>(name, packed(Execution::for_backend::<CpuAd>()), &cpu_device);
        gradient = gradient.max(gradient_rel_diff(name, &gpu, &cpu));
    }
    check_kernel("packed model, 3 backbones (vs CPU)", forward, gradient);
}

/// The largest relative difference of every parameter's gradient in `gpu` from `cpu` (the
/// attention key biases, exactly 0, checked absolutely: see [`every_gradient_matches_the_cpu`]).
fn gradient_rel_diff(name: &str, gpu: &[(String, Vec<f32>)], cpu: &[(String, Vec<f32>)]) -> f32 {
    assert_eq!(gpu.len(), cpu.len(), "{name}: parameters with gradients");
    let mut largest = 0f32;
    for ((param, got), (_, want)) in gpu.iter().zip(cpu) {
        let diff = got.iter().zip(want).fold(0f32, |m, (a, b)| m.max((a - b).abs()));
        if param.ends_with("key.bias") {
            assert!(diff <= 1e-6, "{name}: {param} (exactly 0) differs by {diff}");
            continue;
        }
        let rel = diff / want.iter().fold(0f32, |m, v| m.max(v.abs()));
        assert!(rel <= 1e-4, "{name}: gradient of {param}: relative diff {rel} > 1e-4");
        largest = largest.max(rel);
    }
    largest
}

/// bf16 compute on an adapter without bf16 is refused before anything runs (a bf16 tensor there
/// fails at its first read and breaks the device for the rest of the process).
#[test]
fn bf16_is_refused_where_the_adapter_lacks_it() {
    let Some(device) = device() else { return };
    let f32 = Execution::for_backend::<W>();
    assert_eq!(f32.check::<W>(&device), Ok(()));
    let bf16 = f32
        .with_compute_dtype(burn::tensor::FloatDType::BF16)
        .check::<WAd>(&device);
    if <W as burn::tensor::backend::Backend>::supports_dtype(&device, burn::tensor::DType::BF16) {
        assert_eq!(bf16, Ok(()));
    } else {
        let error = bf16.expect_err("bf16 on an adapter without it").to_string();
        say(&format!("wgpu bf16: {error}"));
        assert!(error.contains("bf16"), "{error}");
    }
}
