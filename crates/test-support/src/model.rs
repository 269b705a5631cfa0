//! Tiny random models saved as an upstream-layout `final_model/` with the demo tokenizer.

use burn::backend::Flex;
use burn::prelude::*;
use provence_model::{ModernBertConfig, OpenProvenceConfig, OpenProvenceModel};
use serde_json::json;
use std::path::Path;

/// The seed the tiny models are drawn with.
const SEED: u64 = 7;

/// A 2-layer, 32-wide ModernBERT over the demo tokenizer's 2000-token vocabulary.
pub fn tiny_modernbert() -> ModernBertConfig {
    ModernBertConfig::from_json(json!({
        "vocab_size": 2000, "hidden_size": 32, "intermediate_size": 48, "num_hidden_layers": 2,
        "num_attention_heads": 2, "num_labels": 1, "pad_token_id": 3, "cls_token_id": 1, "sep_token_id": 2,
    }))
    .unwrap()
}

/// The tiny ModernBERT model (seeded, blocks of at most `max_length` tokens, `default_threshold`
/// in its config) saved with the demo tokenizer in a new temporary directory.
pub fn tiny_model_dir(max_length: usize, default_threshold: Option<f64>) -> tempfile::TempDir {
    let mut config = OpenProvenceConfig::new(tiny_modernbert(), 0.0);
    config.set_max_length(max_length).unwrap();
    config.default_threshold = default_threshold;
    save_tiny(config)
}

/// The tiny ModernBERT model with the `max_length` a new config gets by default (no recipe asked
/// for one), saved like [`tiny_model_dir`].
pub fn tiny_model_dir_default_length() -> tempfile::TempDir {
    save_tiny(OpenProvenceConfig::new(tiny_modernbert(), 0.0))
}

/// A seeded random model with `config`, saved with the demo tokenizer in a new temporary directory.
fn save_tiny(config: OpenProvenceConfig) -> tempfile::TempDir {
    // The backend's RNG is shared by every test of a binary: seed and draw in one turn.
    static RNG: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let turn = RNG.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    Flex::seed(&Default::default(), SEED);
    let model = OpenProvenceModel::<Flex>::from_scratch(config, &Default::default()).unwrap();
    drop(turn);
    let dir = tempfile::tempdir().unwrap();
    model.save_final_model(dir.path(), "test/tiny").unwrap();
    copy_tokenizer(&crate::demo("model"), dir.path());
    dir
}

/// Copies the tokenizer files of model directory `from` (`demo("model")`, `demo("model-bert")`)
/// into `to`, next to a model saved there.
pub fn copy_tokenizer(from: &Path, to: &Path) {
    for f in provence_config::layout::TOKENIZER_FILES {
        let file = from.join(f);
        std::fs::copy(&file, to.join(f)).unwrap_or_else(|e| panic!("copying {}: {e}", file.display()));
    }
}
