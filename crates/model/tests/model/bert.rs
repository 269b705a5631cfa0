//! BERT and XLM-RoBERTa backbones against transformers (tests/fixtures/model_bert/, made by
//! scripts/fixtures/bert_fixtures.py): logits, hidden states and pruning logits of the padded
//! (eager) and packed encoders, gradients, and the checkpoint layouts in and out.

use crate::common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use burn::optim::GradientsParams;
use burn::prelude::*;
use common::*;
use provence_model::{AttentionLayout, BackboneConfig, Execution, OpenProvenceModel, OpenProvenceOutput};

const FIXTURES: [&str; 4] = ["tiny_bert", "tiny_bert_2labels", "tiny_xlmr", "tiny_xlmr_2labels"];

fn bert_fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/model_bert")
        .join(name)
}

/// Forward of the fixture's inputs (with its token types).
fn forward<B: provence_model::ModelBackend>(
    model: &OpenProvenceModel<B>,
    exp: &std::collections::HashMap<String, Stored>,
) -> OpenProvenceOutput<B> {
    let device = Default::default();
    let ids = int2::<B>(&exp["input_ids"], &device);
    let mask = int2::<B>(&exp["attention_mask"], &device);
    let types = int2::<B>(&exp["token_type_ids"], &device);
    model.forward_with_token_types(ids, mask, Some(types))
}

fn check_outputs(name: &str, out: OpenProvenceOutput<Cpu>, expected: &str, tol: f32) {
    let exp = read_tensors(&bert_fixture(name).join(expected));
    for (what, got, want) in [
        ("ranking_logits", values(out.ranking_logits), &exp["ranking_logits"]),
        (
            "last_hidden_state",
            values(out.last_hidden_state),
            &exp["last_hidden_state"],
        ),
        (
            "hidden_state (pruning input)",
            values(out.hidden_state),
            &exp["last_hidden_state"],
        ),
        ("pruning_logits", values(out.pruning_logits), &exp["pruning_logits"]),
    ] {
        assert_eq!(got.0, want.shape, "{name}: {what} shape");
        let d = got
            .1
            .iter()
            .zip(&want.f32)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f32::max);
        assert!(d <= tol, "{name} {expected}: {what} differs by {d} > {tol}");
    }
}

#[test]
fn padded_outputs_match_transformers() {
    for name in FIXTURES {
        let dir = bert_fixture(name);
        let model = OpenProvenceModel::<Cpu>::load(&dir.join("final_model"), &Default::default())
            .unwrap()
            .with_execution(Execution::for_backend::<Cpu>().with_layout(AttentionLayout::Padded));
        assert!(matches!(model.config.base_model_config, BackboneConfig::Bert(_)));
        let exp = read_tensors(&dir.join("expected.safetensors"));
        check_outputs(name, forward(&model, &exp), "expected.safetensors", 1e-4);
    }
}

#[test]
fn packed_outputs_match_transformers_with_zeroed_pads() {
    for name in FIXTURES {
        let dir = bert_fixture(name);
        let model = OpenProvenceModel::<Cpu>::load(&dir.join("final_model"), &Default::default()).unwrap();
        assert_eq!(model.execution().layout, AttentionLayout::Packed);
        let exp = read_tensors(&dir.join("expected.safetensors"));
        check_outputs(name, forward(&model, &exp), "expected_packed.safetensors", 1e-4);
        // Packed and padded agree at every real position.
        let padded = forward(
            &model
                .clone()
                .with_execution(Execution::for_backend::<Cpu>().with_layout(AttentionLayout::Padded)),
            &exp,
        );
        let packed = forward(&model, &exp);
        let mask = float::<Cpu, 2>(
            &Stored {
                shape: exp["attention_mask"].shape.clone(),
                f32: exp["attention_mask"].i64.iter().map(|&m| m as f32).collect(),
                i64: vec![],
            },
            &Default::default(),
        )
        .unsqueeze_dim::<3>(2);
        let diff = (packed.last_hidden_state - padded.last_hidden_state) * mask;
        let (_, d) = values(diff.abs().max());
        assert!(d[0] <= 1e-5, "{name}: packed vs padded {}", d[0]);
    }
}

/// max |g − g_ref| / max |g_ref|.
fn rel_diff(grad: Vec<f32>, reference: &Stored) -> f32 {
    let scale = reference.f32.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    assert!(scale > 0.0, "reference gradient is all zeros");
    grad.iter()
        .zip(&reference.f32)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f32::max)
        / scale
}

#[test]
fn gradients_match_transformers_padded_and_packed() {
    for name in FIXTURES {
        for layout in [AttentionLayout::Padded, AttentionLayout::Packed] {
            let dir = bert_fixture(name);
            let device = Default::default();
            let model = OpenProvenceModel::<CpuAd>::load(&dir.join("final_model"), &device)
                .unwrap()
                .with_execution(Execution::for_backend::<CpuAd>().with_layout(layout));
            let exp = read_tensors(&dir.join("expected.safetensors"));
            let out = forward(&model, &exp);
            let labels = int2::<CpuAd>(&exp["pruning_labels"], &device);
            let targets = float::<CpuAd, 1>(&exp["targets"], &device);
            let loss = reference_loss(out.ranking_logits, out.pruning_logits, targets, labels);
            let (_, loss_v) = values(loss.clone());
            let loss_ref = exp["loss"].f32[0];
            assert!(
                (loss_v[0] - loss_ref).abs() <= 1e-4,
                "{name}: loss {} vs {loss_ref}",
                loss_v[0]
            );
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            check_gradients(name, &model, &grads, &exp);
        }
    }
}

/// The fixture's gradients by parameter name (HF layout: Linear weights are [out, in]).
fn check_gradients(
    name: &str,
    model: &OpenProvenceModel<CpuAd>,
    grads: &GradientsParams,
    exp: &std::collections::HashMap<String, Stored>,
) {
    let prefix = if name.starts_with("tiny_bert") {
        "bert."
    } else {
        "roberta."
    };
    let classifier = if prefix == "bert." {
        "classifier.weight"
    } else {
        "classifier.out_proj.weight"
    };
    let names = model.named_param_ids();
    let mut checked = 0;
    for (key, stored) in exp.iter().filter(|(k, _)| k.starts_with("grad.")) {
        let key = &key["grad.".len()..];
        let full = match key {
            "classifier.weight" => format!("ranking_model.{classifier}"),
            "pruning_head.classifier.weight" => key.to_owned(),
            _ => format!("ranking_model.{prefix}{key}"),
        };
        let (id, _) = names
            .iter()
            .find(|(_, n)| *n == full)
            .unwrap_or_else(|| panic!("{full} missing"));
        let grad = grads
            .get::<Cpu, 2>(*id)
            .unwrap_or_else(|| panic!("{full}: no gradient"));
        let grad = if full.contains("embeddings") {
            grad
        } else {
            grad.transpose()
        };
        let d = rel_diff(values(grad).1, stored);
        assert!(d <= 1e-4, "{name}: gradient of {full}: relative diff {d} > 1e-4");
        checked += 1;
    }
    assert_eq!(checked, 5, "{name}: gradients checked");
}

#[test]
fn transformers_repository_loads_and_final_model_saves_in_upstreams_layout() {
    let _rng = rng_lock(); // the pruning head of a backbone repository is drawn
    for name in FIXTURES {
        let dir = bert_fixture(name);
        let device = Default::default();
        let backbone = OpenProvenceModel::<Cpu>::load(&dir.join("backbone"), &device).unwrap();
        let exp = read_tensors(&dir.join("expected.safetensors"));
        let out = forward(
            &backbone
                .clone()
                .with_execution(Execution::for_backend::<Cpu>().with_layout(AttentionLayout::Padded)),
            &exp,
        );
        let d = max_abs_diff(out.ranking_logits, &exp["ranking_logits"]);
        assert!(
            d <= 1e-4,
            "{name}: ranking logits from the backbone repository differ by {d}"
        );

        let model = OpenProvenceModel::<Cpu>::load(&dir.join("final_model"), &device).unwrap();
        let tmp = tempfile::tempdir().unwrap();
        model.save_final_model(tmp.path(), "test/tiny").unwrap();
        let keys = |p: &Path| -> BTreeSet<String> {
            let bytes = std::fs::read(p.join("model.safetensors")).unwrap();
            safetensors::SafeTensors::deserialize(&bytes)
                .unwrap()
                .names()
                .into_iter()
                .map(str::to_owned)
                .collect()
        };
        assert_eq!(keys(tmp.path()), keys(&dir.join("final_model")), "{name}: saved keys");
        let config: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(tmp.path().join("config.json")).unwrap()).unwrap();
        let model_type = config["base_model_config"]["model_type"].as_str().unwrap().to_owned();
        assert_eq!(config["encoder_architecture"], model_type.as_str());
        let reloaded = OpenProvenceModel::<Cpu>::load(tmp.path(), &device).unwrap();
        let again = forward(
            &reloaded.with_execution(Execution::for_backend::<Cpu>().with_layout(AttentionLayout::Padded)),
            &exp,
        );
        let d = max_abs_diff(again.ranking_logits, &exp["ranking_logits"]);
        assert!(d <= 1e-4, "{name}: reloaded model differs by {d}");
    }
}

#[test]
fn from_scratch_bert_follows_transformers_init() {
    let _rng = rng_lock();
    let device = Default::default();
    let backbone = BackboneConfig::from_json(serde_json::json!({
        "model_type": "xlm-roberta", "vocab_size": 50, "hidden_size": 32, "num_hidden_layers": 2,
        "num_attention_heads": 4, "intermediate_size": 64, "max_position_embeddings": 40,
        "type_vocab_size": 1, "pad_token_id": 1, "initializer_range": 0.05,
    }))
    .unwrap();
    <Cpu as Backend>::seed(&device, 3);
    let model = OpenProvenceModel::<Cpu>::from_scratch(provence_model::OpenProvenceConfig::new(backbone, 0.1), &device)
        .unwrap();
    let param = |name: &str| -> Vec<f32> {
        let record = model.clone();
        let names = record.named_param_ids();
        assert!(names.iter().any(|(_, n)| n == name), "{name} missing");
        let tmp = tempfile::tempdir().unwrap();
        model.save_final_model(tmp.path(), "t/t").unwrap();
        let bytes = std::fs::read(tmp.path().join("model.safetensors")).unwrap();
        let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
        st.tensor(name)
            .unwrap()
            .data()
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
            .collect()
    };
    let words = param("ranking_model.roberta.embeddings.word_embeddings.weight");
    assert!(words[32..64].iter().all(|&v| v == 0.0), "padding_idx row is zero");
    let n = words.len() as f64;
    let std = (words.iter().map(|&v| f64::from(v).powi(2)).sum::<f64>() / n).sqrt();
    assert!((0.045..0.055).contains(&std), "word embedding std {std}");
    let positions = param("ranking_model.roberta.embeddings.position_embeddings.weight");
    assert!(
        positions[32..64].iter().all(|&v| v == 0.0),
        "position padding_idx row is zero"
    );
    assert!(
        param("ranking_model.roberta.encoder.layer.1.output.LayerNorm.weight")
            .iter()
            .all(|&v| v == 1.0)
    );
    assert!(param("ranking_model.classifier.dense.bias").iter().all(|&v| v == 0.0));
}

/// Mixed precision (bf16 attention and feed-forward, f32 parameters, norms and heads' outputs)
/// stays within bf16 rounding of the f32 reference, padded and packed.
#[test]
fn bf16_mixed_precision_stays_within_rounding() {
    let mut largest = 0.0f32;
    for name in FIXTURES {
        let dir = bert_fixture(name);
        let exp = read_tensors(&dir.join("expected.safetensors"));
        let model = OpenProvenceModel::<Cpu>::load(&dir.join("final_model"), &Default::default()).unwrap();
        let bf16 = Execution::for_backend::<Cpu>().with_compute_dtype(burn::tensor::FloatDType::BF16);
        for layout in [AttentionLayout::Padded, AttentionLayout::Packed] {
            let out = forward(&model.clone().with_execution(bf16.with_layout(layout)), &exp);
            for (what, got, want) in [
                (
                    "ranking_logits",
                    out.ranking_logits.reshape([-1]),
                    &exp["ranking_logits"],
                ),
                (
                    "pruning_logits",
                    out.pruning_logits.reshape([-1]),
                    &exp["pruning_logits"],
                ),
            ] {
                let scale = want.f32.iter().fold(0.0f32, |m, v| m.max(v.abs()));
                let (_, got) = values(got);
                let mask_ok = what == "ranking_logits" || layout == AttentionLayout::Padded;
                if !mask_ok {
                    continue; // packed pruning logits at pads are the head's bias, not eager's
                }
                let d = got
                    .iter()
                    .zip(&want.f32)
                    .map(|(a, b)| (a - b).abs())
                    .fold(0.0, f32::max);
                assert!(
                    d / scale <= 5e-2,
                    "{name} {layout}: bf16 {what} off by {} of scale",
                    d / scale
                );
                largest = largest.max(d / scale);
            }
        }
    }
    assert!(
        largest > 1e-4,
        "bf16 changed nothing ({largest}): the compute dtype was not applied"
    );
}
