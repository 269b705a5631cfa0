//! BERT and XLM-RoBERTa backbones against transformers (tests/fixtures/model_bert/, made by
//! scripts/fixtures/bert_fixtures.py): logits, hidden states and pruning logits of the padded
//! (eager) and packed encoders, gradients, and the checkpoint layouts in and out.

use crate::common;

use std::collections::BTreeSet;
use std::path::Path;

use burn::prelude::*;
use common::parity::{BERT, check_outputs, expected, fixture_dir, fixture_forward, fixture_model, gradient_diffs};
use common::*;
use provence_model::{AttentionLayout, BackboneConfig, Execution, OpenProvenceModel};

const FIXTURES: [&str; 4] = BERT;

#[test]
fn outputs_match_transformers_padded_and_packed() {
    for name in FIXTURES {
        let model =
            OpenProvenceModel::<Cpu>::load(&fixture_dir(name).join("final_model"), &Default::default()).unwrap();
        assert!(matches!(model.config.base_model_config, BackboneConfig::Bert(_)));
        assert_eq!(model.execution().layout, AttentionLayout::Packed);
        check_outputs::<Cpu>(name, &Default::default());
    }
}

/// Packed and padded agree at every real position.
#[test]
fn packed_equals_padded_at_real_positions() {
    let device = Default::default();
    for name in FIXTURES {
        let exp = expected(name);
        let run = |layout| {
            let model = fixture_model::<Cpu>(name, Execution::for_backend::<Cpu>().with_layout(layout), &device);
            fixture_forward(&model, &exp, &device)
        };
        let (padded, packed) = (run(AttentionLayout::Padded), run(AttentionLayout::Packed));
        let mask = float::<Cpu, 2>(
            &Stored {
                shape: exp["attention_mask"].shape.clone(),
                f32: exp["attention_mask"].i64.iter().map(|&m| m as f32).collect(),
                i64: vec![],
            },
            &device,
        )
        .unsqueeze_dim::<3>(2);
        let diff = (packed.last_hidden_state - padded.last_hidden_state) * mask;
        let (_, d) = values(diff.abs().max());
        assert!(d[0] <= 1e-5, "{name}: packed vs padded {}", d[0]);
    }
}

#[test]
fn gradients_match_transformers_padded_and_packed() {
    for name in FIXTURES {
        for layout in [AttentionLayout::Padded, AttentionLayout::Packed] {
            let execution = Execution::for_backend::<CpuAd>().with_layout(layout);
            let (loss, grads) = gradient_diffs::<CpuAd>(name, execution, &Default::default());
            assert!(loss <= 1e-4, "{name} {layout}: loss differs by {loss}");
            assert_eq!(grads.len(), 5, "{name}: gradients checked");
            for (param, d) in grads {
                assert!(
                    d <= 1e-4,
                    "{name} {layout}: gradient of {param}: relative diff {d} > 1e-4"
                );
            }
        }
    }
}

#[test]
fn transformers_repository_loads_and_final_model_saves_in_upstreams_layout() {
    let _rng = rng_lock(); // the pruning head of a backbone repository is drawn
    for name in FIXTURES {
        let dir = fixture_dir(name);
        let device = Default::default();
        let backbone = OpenProvenceModel::<Cpu>::load(&dir.join("backbone"), &device).unwrap();
        let exp = read_tensors(&dir.join("expected.safetensors"));
        let out = fixture_forward(
            &backbone
                .clone()
                .with_execution(Execution::for_backend::<Cpu>().with_layout(AttentionLayout::Padded)),
            &exp,
            &device,
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
        let again = fixture_forward(
            &reloaded.with_execution(Execution::for_backend::<Cpu>().with_layout(AttentionLayout::Padded)),
            &exp,
            &device,
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
        let dir = fixture_dir(name);
        let exp = read_tensors(&dir.join("expected.safetensors"));
        let model = OpenProvenceModel::<Cpu>::load(&dir.join("final_model"), &Default::default()).unwrap();
        let bf16 = Execution::for_backend::<Cpu>().with_compute_dtype(burn::tensor::FloatDType::BF16);
        for layout in [AttentionLayout::Padded, AttentionLayout::Packed] {
            let out = fixture_forward(
                &model.clone().with_execution(bf16.with_layout(layout)),
                &exp,
                &Default::default(),
            );
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
