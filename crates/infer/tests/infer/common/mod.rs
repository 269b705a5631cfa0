//! Shared test helpers: a tiny random model saved as a `final_model/` with the demo tokenizer.
// Each test crate uses a subset of the helpers.
#![allow(dead_code)]

use burn::backend::Flex;
use burn::prelude::*;
use provence_infer::Pruner;
use provence_model::{ModernBertConfig, OpenProvenceConfig, OpenProvenceModel};
use serde_json::json;
use std::path::Path;

/// The CPU test backend.
pub type B = Flex;

/// The demo model directory (tokenizer files).
pub const DEMO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/demo/model");

/// A tiny random model with the demo tokenizer, saved and loaded back through `Pruner::load`.
pub fn tiny_model_dir(max_length: usize, default_threshold: Option<f64>) -> tempfile::TempDir {
    // The backend's RNG is shared by every test of this binary: seed and draw in one turn.
    static RNG: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let turn = RNG.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    B::seed(&Default::default(), 7);
    let bb = ModernBertConfig::from_json(json!({
        "vocab_size": 2000, "hidden_size": 32, "intermediate_size": 48, "num_hidden_layers": 2,
        "num_attention_heads": 2, "num_labels": 1, "pad_token_id": 3, "cls_token_id": 1, "sep_token_id": 2,
    }))
    .unwrap();
    let mut config = OpenProvenceConfig::new(bb, 0.0);
    config.set_max_length(max_length).unwrap();
    config.default_threshold = default_threshold;
    let model = OpenProvenceModel::<B>::from_scratch(config, &Default::default()).unwrap();
    drop(turn);
    let dir = tempfile::tempdir().unwrap();
    model.save_final_model(dir.path(), "test/tiny").unwrap();
    for f in ["tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"] {
        std::fs::copy(Path::new(DEMO).join(f), dir.path().join(f)).unwrap();
    }
    dir
}

/// Loads a model directory through `Pruner::load`.
pub fn load(dir: &Path) -> Pruner<B> {
    Pruner::load(dir, Default::default()).unwrap()
}
