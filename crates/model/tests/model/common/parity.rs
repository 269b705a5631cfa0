//! The transformers parity checks of the fixtures, generic over the backend: the CPU tests run
//! them on `Flex`, the wgpu tests (`crates/model/tests/wgpu`) on Burn's wgpu backend.

use std::collections::HashMap;
use std::path::PathBuf;

use burn::optim::GradientsParams;
use burn::prelude::*;
use burn::tensor::backend::AutodiffBackend;
use provence_model::{
    AttentionLayout, Execution, ModelBackend, OpenProvenceModel, OpenProvenceOutput, PackedAttention,
};

use super::{Stored, int2, read_tensors, reference_loss, values};

/// ModernBERT fixtures (`tests/fixtures/model`, scripts/fixtures/model_fixtures.py).
pub const MODERNBERT: [&str; 3] = ["tiny_cls_window", "tiny_mean_bias", "tiny_global"];
/// BERT and XLM-RoBERTa fixtures (`tests/fixtures/model_bert`, scripts/fixtures/bert_fixtures.py).
pub const BERT: [&str; 4] = ["tiny_bert", "tiny_bert_2labels", "tiny_xlmr", "tiny_xlmr_2labels"];
/// Largest tolerated difference of an output from transformers' (f32).
pub const TOL: f32 = 1e-4;

/// The directory of fixture `name`.
pub fn fixture_dir(name: &str) -> PathBuf {
    let family = if BERT.contains(&name) { "model_bert" } else { "model" };
    provence_test_support::fixture(family).join(name)
}

/// The fixture's `expected.safetensors`.
pub fn expected(name: &str) -> HashMap<String, Stored> {
    read_tensors(&fixture_dir(name).join("expected.safetensors"))
}

/// The fixture's final model on `device`, running as `execution`.
pub fn fixture_model<B: ModelBackend>(name: &str, execution: Execution, device: &B::Device) -> OpenProvenceModel<B> {
    OpenProvenceModel::<B>::load(&fixture_dir(name).join("final_model"), device)
        .unwrap()
        .with_execution(execution)
}

/// The forward of the fixture's inputs (with its token types, where it has them).
pub fn fixture_forward<B: ModelBackend>(
    model: &OpenProvenceModel<B>,
    exp: &HashMap<String, Stored>,
    device: &B::Device,
) -> OpenProvenceOutput<B> {
    let ids = int2::<B>(&exp["input_ids"], device);
    let mask = int2::<B>(&exp["attention_mask"], device);
    let types = exp.get("token_type_ids").map(|t| int2::<B>(t, device));
    model.forward_with_token_types(ids, mask, types)
}

/// The executions the parity suite runs: padded (eager semantics) against `expected`, and
/// packed with each kernel (flash-attention semantics) against `expected_packed`.
pub fn layouts<B: ModelBackend>() -> [(Execution, &'static str); 3] {
    let base = Execution::for_backend::<B>();
    [
        (base.with_layout(AttentionLayout::Padded), "expected.safetensors"),
        (
            base.with_layout(AttentionLayout::Packed)
                .with_packed_kernel(PackedAttention::PerSequence),
            "expected_packed.safetensors",
        ),
        (
            base.with_layout(AttentionLayout::Packed)
                .with_packed_kernel(PackedAttention::Repadded),
            "expected_packed.safetensors",
        ),
    ]
}

/// The largest difference of `out` from transformers' outputs in `file` of fixture `name`:
/// ranking logits, the pruning head's input (`hidden_last` for ModernBERT, the last hidden state
/// otherwise), the last hidden state and the pruning logits; names each.
pub fn output_diffs<B: Backend>(name: &str, out: OpenProvenceOutput<B>, file: &str) -> Vec<(&'static str, f32)> {
    let exp = read_tensors(&fixture_dir(name).join(file));
    let hidden = exp.get("hidden_last").unwrap_or(&exp["last_hidden_state"]);
    let diff = |got: (Vec<usize>, Vec<f32>), want: &Stored| {
        assert_eq!(got.0, want.shape, "{name} {file}: shape");
        got.1
            .iter()
            .zip(&want.f32)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f32::max)
    };
    vec![
        (
            "ranking_logits",
            diff(values(out.ranking_logits), &exp["ranking_logits"]),
        ),
        ("hidden_state", diff(values(out.hidden_state), hidden)),
        (
            "last_hidden_state",
            diff(values(out.last_hidden_state), &exp["last_hidden_state"]),
        ),
        (
            "pruning_logits",
            diff(values(out.pruning_logits), &exp["pruning_logits"]),
        ),
    ]
}

/// Asserts every output of fixture `name` within [`TOL`] of transformers', in every layout;
/// returns the largest difference.
pub fn check_outputs<B: ModelBackend>(name: &str, device: &B::Device) -> f32 {
    let exp = expected(name);
    let mut largest = 0f32;
    for (execution, file) in layouts::<B>() {
        let out = fixture_forward(&fixture_model::<B>(name, execution, device), &exp, device);
        for (what, diff) in output_diffs(name, out, file) {
            assert!(
                diff <= TOL,
                "{name} {:?} {:?}: {what} differs by {diff} > {TOL}",
                execution.layout,
                execution.packed_kernel
            );
            largest = largest.max(diff);
        }
    }
    largest
}

/// The fixtures' loss ([`reference_loss`]) of `model` on the fixture's batch.
pub fn fixture_loss<B: AutodiffBackend + ModelBackend>(
    model: &OpenProvenceModel<B>,
    exp: &HashMap<String, Stored>,
    device: &B::Device,
) -> Tensor<B, 1> {
    let out = fixture_forward(model, exp, device);
    let labels = int2::<B>(&exp["pruning_labels"], device);
    let targets = Tensor::<B, 1>::from_data(
        TensorData::new(exp["targets"].f32.clone(), exp["targets"].shape.clone()),
        device,
    );
    reference_loss(out.ranking_logits, out.pruning_logits, targets, labels)
}

/// The checkpoint name of a gradient the fixture stores as `grad.<key>` (transformers' names
/// below the backbone; the BERT flavours' classifier heads differ).
fn param_name(fixture: &str, key: &str) -> String {
    let prefix = match fixture {
        f if f.starts_with("tiny_bert") => "bert.",
        f if f.starts_with("tiny_xlmr") => "roberta.",
        _ => "",
    };
    match key {
        "classifier.weight" if prefix == "roberta." => "ranking_model.classifier.out_proj.weight".to_owned(),
        "classifier.weight" => "ranking_model.classifier.weight".to_owned(),
        k if k.starts_with("pruning_head.") => k.to_owned(),
        k => format!("ranking_model.{prefix}{k}"),
    }
}

/// The fixture's loss (`reference_loss`) in `execution` on `device`: its difference from
/// PyTorch's, and the relative difference (max |g − g_ref| / max |g_ref|) of every gradient the
/// fixture stores, by parameter name.
pub fn gradient_diffs<B: AutodiffBackend + ModelBackend>(
    name: &str,
    execution: Execution,
    device: &B::Device,
) -> (f32, Vec<(String, f32)>) {
    let exp = expected(name);
    let model = fixture_model::<B>(name, execution, device);
    let loss = fixture_loss(&model, &exp, device);
    let loss_diff = (values(loss.clone()).1[0] - exp["loss"].f32[0]).abs();
    let grads = GradientsParams::from_grads(loss.backward(), &model);
    let names = model.named_param_ids();
    let mut diffs: Vec<(String, f32)> = exp
        .iter()
        .filter_map(|(key, stored)| Some((key.strip_prefix("grad.")?, stored)))
        .map(|(key, stored)| {
            let full = param_name(name, key);
            let (id, _) = names
                .iter()
                .find(|(_, n)| *n == full)
                .unwrap_or_else(|| panic!("{full} missing"));
            let grad = grads
                .get::<B::InnerBackend, 2>(*id)
                .unwrap_or_else(|| panic!("{full}: no gradient"));
            // Linear weights are [in, out] here and [out, in] in PyTorch.
            let grad = if full.contains("embeddings") {
                grad
            } else {
                grad.transpose()
            };
            let (_, got) = values(grad);
            let scale = stored.f32.iter().fold(0.0f32, |m, v| m.max(v.abs()));
            assert!(scale > 0.0, "{name}: the reference gradient of {full} is all zeros");
            let diff = got
                .iter()
                .zip(&stored.f32)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0, f32::max);
            (full, diff / scale)
        })
        .collect();
    diffs.sort_by(|a, b| a.0.cmp(&b.0));
    (loss_diff, diffs)
}

/// Every parameter's gradient (flattened, by name) of the fixture's loss in `execution` on
/// `device`.
pub fn all_gradients<B: AutodiffBackend + ModelBackend>(
    name: &str,
    execution: Execution,
    device: &B::Device,
) -> Vec<(String, Vec<f32>)> {
    let exp = expected(name);
    let model = fixture_model::<B>(name, execution, device);
    let grads = GradientsParams::from_grads(fixture_loss(&model, &exp, device).backward(), &model);
    let mut all: Vec<(String, Vec<f32>)> = model
        .named_param_ids()
        .into_iter()
        .filter_map(|(id, param)| {
            let flat = grads
                .get::<B::InnerBackend, 2>(id)
                .map(|g| values(g).1)
                .or_else(|| grads.get::<B::InnerBackend, 1>(id).map(|g| values(g).1))?;
            Some((param, flat))
        })
        .collect();
    all.sort_by(|a, b| a.0.cmp(&b.0));
    all
}
