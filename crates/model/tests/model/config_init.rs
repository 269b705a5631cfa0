//! Config parsing (4.x and 5.x keys, validation errors) and transformers-style random init.

use crate::common;

use burn::prelude::*;
use common::*;
use provence_model::{ConfigError, ModernBertConfig, OpenProvenceConfig, OpenProvenceModel};
use serde_json::json;

#[test]
fn config_4x_keys() {
    let cfg = ModernBertConfig::from_json(json!({
        "model_type": "modernbert", "num_hidden_layers": 7, "global_attn_every_n_layers": 3,
        "global_rope_theta": 1000.0, "local_rope_theta": 50.0, "local_attention": 5,
    }))
    .unwrap();
    let global: Vec<bool> = (0..7).map(|i| cfg.is_global_layer(i)).collect();
    assert_eq!(global, [true, false, false, true, false, false, true]);
    assert_eq!(cfg.rope_theta(0), 1000.0);
    assert_eq!(cfg.rope_theta(1), 50.0);
    assert_eq!(cfg.half_window(), 2);
    assert_eq!(cfg.labels.num_labels(), 2);
    // Defaults of transformers' ModernBertConfig.
    let base = ModernBertConfig::default();
    assert_eq!(
        (base.hidden_size, base.num_hidden_layers, base.head_dim()),
        (768, 22, 64)
    );
    assert_eq!(base.rope_theta(1), 10_000.0);
    assert_eq!(base.rope_theta(3), 160_000.0);
}

#[test]
fn config_null_local_theta_uses_global() {
    let cfg = ModernBertConfig::from_json(json!({"local_rope_theta": null, "global_rope_theta": 7.0})).unwrap();
    assert_eq!(cfg.rope_theta(1), 7.0);
}

#[test]
fn config_5x_layer_types_and_rope_parameters() {
    let cfg = ModernBertConfig::from_json(json!({
        "num_hidden_layers": 3,
        "layer_types": ["full_attention", "full_attention", "sliding_attention"],
        "rope_parameters": {
            "full_attention": {"rope_type": "default", "rope_theta": 160000.0},
            "sliding_attention": {"rope_type": "default", "rope_theta": 10000.0}
        },
        "id2label": {"0": "LABEL_0"}
    }))
    .unwrap();
    assert!(cfg.is_global_layer(1));
    assert!(!cfg.is_global_layer(2));
    assert_eq!(cfg.rope_theta(1), 160000.0);
    assert_eq!(cfg.rope_theta(2), 10000.0);
    assert_eq!(cfg.labels.num_labels(), 1);
}

fn invalid_key(value: serde_json::Value) -> String {
    match ModernBertConfig::from_json(value) {
        Err(ConfigError::Invalid { key, .. }) => key,
        other => panic!("expected ConfigError::Invalid, got {other:?}"),
    }
}

#[test]
fn config_validation_names_the_key() {
    assert_eq!(invalid_key(json!({"classifier_pooling": "max"})), "classifier_pooling");
    assert_eq!(
        invalid_key(json!({"hidden_size": 100, "num_attention_heads": 12})),
        "hidden_size"
    );
    assert_eq!(invalid_key(json!({"hidden_activation": "mish"})), "hidden_activation");
    assert_eq!(
        invalid_key(json!({"num_hidden_layers": 2, "layer_types": ["full_attention"]})),
        "layer_types"
    );
    assert_eq!(
        invalid_key(json!({"rope_parameters": {"full_attention": {"rope_type": "yarn"}}})),
        "rope_parameters"
    );
    assert_eq!(invalid_key(json!({"model_type": "bert"})), "model_type");
    // Found by fuzzing (`fuzz/fuzz_targets/config_json.rs`): a cutoff of zero or less left the
    // init's truncated normals nothing to draw, and loading the model never returned.
    for cutoff in [-2.0, 0.0] {
        assert_eq!(
            invalid_key(json!({"initializer_cutoff_factor": cutoff})),
            "initializer_cutoff_factor"
        );
    }
    assert!(matches!(
        ModernBertConfig::from_json(json!({"hidden_size": "big"})),
        Err(ConfigError::Json { .. })
    ));
}

fn tiny_config() -> OpenProvenceConfig {
    let bb = ModernBertConfig::from_json(json!({
        "vocab_size": 500, "hidden_size": 64, "intermediate_size": 96, "num_hidden_layers": 8,
        "num_attention_heads": 4, "num_labels": 1, "pad_token_id": 0,
    }))
    .unwrap();
    OpenProvenceConfig::new(bb, 0.0)
}

fn param(model: &OpenProvenceModel<Cpu>, name: &str) -> Vec<f32> {
    let id = model
        .named_param_ids()
        .into_iter()
        .find(|(_, n)| n == name)
        .unwrap_or_else(|| panic!("no parameter {name}"))
        .0;
    let mut found = None;
    let mut visit = |pid: burn::module::ParamId, v: Vec<f32>| {
        if pid == id {
            found = Some(v);
        }
    };
    let m = model.ranking_model.as_modernbert().unwrap();
    for (p, t) in [
        (
            m.model.embeddings.tok_embeddings.weight.id,
            m.model.embeddings.tok_embeddings.weight.val(),
        ),
        (
            m.model.layers[2].attn.Wqkv.weight.id,
            m.model.layers[2].attn.Wqkv.weight.val(),
        ),
        (
            m.model.layers[2].mlp.Wo.weight.id,
            m.model.layers[2].mlp.Wo.weight.val(),
        ),
        (m.classifier.weight.id, m.classifier.weight.val()),
        (
            model.pruning_head.classifier.weight.id,
            model.pruning_head.classifier.weight.val(),
        ),
    ] {
        visit(p, values(t).1);
    }
    for (p, t) in [
        (
            m.model.layers[2].mlp_norm.gamma.id,
            m.model.layers[2].mlp_norm.gamma.val(),
        ),
        (
            m.classifier.bias.as_ref().unwrap().id,
            m.classifier.bias.as_ref().unwrap().val(),
        ),
    ] {
        visit(p, values(t).1);
    }
    found.unwrap_or_else(|| panic!("{name} not among the inspected parameters"))
}

fn std_and_max(v: &[f32]) -> (f64, f64) {
    let n = v.len() as f64;
    let mean = v.iter().map(|&x| f64::from(x)).sum::<f64>() / n;
    let var = v.iter().map(|&x| (f64::from(x) - mean).powi(2)).sum::<f64>() / n;
    (var.sqrt(), v.iter().fold(0.0f64, |m, &x| m.max(f64::from(x).abs())))
}

/// A tiny positive cutoff (almost every draw rejected) still initialises: the redraws stop after a
/// bounded number of rounds and the rest is clamped to ±cutoff·σ.
#[test]
fn a_tiny_init_cutoff_still_initialises() {
    let _rng = common::rng_lock();
    let device = Default::default();
    <Cpu as Backend>::seed(&device, 42);
    let cutoff = 1e-6;
    let backbone = ModernBertConfig::from_json(json!({
        "vocab_size": 500, "hidden_size": 64, "intermediate_size": 96, "num_hidden_layers": 8,
        "num_attention_heads": 4, "num_labels": 1, "pad_token_id": 0, "initializer_cutoff_factor": cutoff,
    }))
    .unwrap();
    let config = OpenProvenceConfig::new(backbone, 0.0);
    let model = OpenProvenceModel::<Cpu>::from_scratch(config, &device).unwrap();
    let (_, max) = std_and_max(&param(&model, "ranking_model.model.embeddings.tok_embeddings.weight"));
    assert!(max <= cutoff * 0.02 * (1.0 + 1e-5), "{max}");
}

#[test]
fn from_scratch_follows_transformers_init() {
    let _rng = common::rng_lock();
    let device = Default::default();
    <Cpu as Backend>::seed(&device, 42);
    let model = OpenProvenceModel::<Cpu>::from_scratch(tiny_config(), &device).unwrap();
    // ±2σ truncated normal: std 0.8796σ, |w| ≤ 2σ.
    for (name, sigma) in [
        ("ranking_model.model.embeddings.tok_embeddings.weight", 0.02),
        ("ranking_model.model.layers.2.attn.Wqkv.weight", 0.02),
        ("ranking_model.model.layers.2.mlp.Wo.weight", 0.02 / 16f64.sqrt()),
        ("ranking_model.classifier.weight", 64f64.powf(-0.5)),
    ] {
        let (std, max) = std_and_max(&param(&model, name));
        assert!(
            max <= 2.0 * sigma * 1.0001,
            "{name}: max {max} beyond 2σ = {}",
            2.0 * sigma
        );
        if name != "ranking_model.classifier.weight" {
            let rel = std / (0.8796 * sigma);
            assert!((0.9..1.1).contains(&rel), "{name}: std {std} vs {}", 0.8796 * sigma);
        }
    }
    let (std, _) = std_and_max(&param(&model, "pruning_head.classifier.weight"));
    assert!(std > 0.01 && std < 0.03, "pruning head std {std}");
    assert!(
        param(&model, "ranking_model.model.layers.2.mlp_norm.weight")
            .iter()
            .all(|&v| v == 1.0)
    );
    assert!(param(&model, "ranking_model.classifier.bias").iter().all(|&v| v == 0.0));

    // Same seed, same weights; names follow upstream's final_model layout.
    <Cpu as Backend>::seed(&device, 42);
    let again = OpenProvenceModel::<Cpu>::from_scratch(tiny_config(), &device).unwrap();
    let name = "ranking_model.model.layers.2.attn.Wqkv.weight";
    assert_eq!(param(&model, name), param(&again, name));
    let names: Vec<String> = model.named_param_ids().into_iter().map(|(_, n)| n).collect();
    // emb (2) + 8 layers × 6 − layer 0's attn_norm + final_norm + head (2) + classifier (2) + pruning (2)
    assert_eq!(names.len(), 1 + 1 + 8 * 6 - 1 + 1 + 2 + 2 + 2);
    assert!(names.contains(&"ranking_model.model.layers.3.mlp_norm.weight".to_owned()));
    assert!(names.contains(&"pruning_head.classifier.bias".to_owned()));
    assert!(model.with_pruning_dropout(1.5).is_err());
}

/// The one `max_length` rule against a BERT whose position table holds 40 tokens: a requested
/// value beyond it is an error naming both numbers; the default and a stored value are cut to it.
#[test]
fn max_length_beyond_the_position_table() {
    let bert = provence_model::BackboneConfig::from_json(json!({
        "model_type": "bert", "vocab_size": 50, "hidden_size": 16, "num_hidden_layers": 1,
        "num_attention_heads": 2, "intermediate_size": 32, "max_position_embeddings": 40,
    }))
    .unwrap();
    let mut config = OpenProvenceConfig::new(bert.clone(), 0.0);
    assert_eq!(config.max_length(), 40, "the default (512) is cut to the table");
    match config.set_max_length(64) {
        Err(ConfigError::Invalid { key, message }) => {
            assert_eq!(key, "max_length");
            assert!(message.contains("64") && message.contains("40"), "{message}");
        }
        other => panic!("expected an error, got {other:?}"),
    }
    config.set_max_length(32).unwrap();
    assert_eq!(config.max_length(), 32);
    assert!(
        config.set_max_length(4).is_err(),
        "the recipes' lower bound applies too"
    );

    let stored = |max_length: u64| {
        let json = json!({"base_model_config": bert.to_json(), "max_length": max_length});
        OpenProvenceConfig::from_json(std::path::Path::new("config.json"), &json)
    };
    assert_eq!(
        stored(64).unwrap().max_length(),
        40,
        "a stored value is cut to the table"
    );
    assert_eq!(stored(24).unwrap().max_length(), 24);
    assert!(stored(4).is_err());
}
