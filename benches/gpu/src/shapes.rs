//! The named model shapes (mirrored by `SHAPES` in `torch_baseline.py`).

use provence_model::{ModernBertConfig, OpenProvenceConfig};
use serde_json::json;

/// `(name, layers, hidden, intermediate, heads)`; every shape uses ModernBERT's vocabulary, a
/// 128-token local window and a global layer every 3rd layer (gte-reranker-modernbert-base).
pub const SHAPES: [(&str, usize, usize, usize, usize); 4] = [
    ("tiny", 2, 64, 96, 4),
    ("xsmall", 10, 384, 576, 6),
    ("base", 22, 768, 1152, 12),
    ("large", 28, 1024, 2624, 16),
];

/// The reranker–pruner config of a named shape (dropout off, one ranking label).
pub fn config(name: &str) -> Result<OpenProvenceConfig, String> {
    let &(_, layers, hidden, intermediate, heads) = SHAPES
        .iter()
        .find(|s| s.0 == name)
        .ok_or_else(|| format!("unknown shape {name:?} (expected one of tiny, xsmall, base, large)"))?;
    let backbone = ModernBertConfig::from_json(json!({
        "vocab_size": 50368,
        "hidden_size": hidden,
        "intermediate_size": intermediate,
        "num_hidden_layers": layers,
        "num_attention_heads": heads,
        "local_attention": 128,
        "global_attn_every_n_layers": 3,
        "global_rope_theta": 160000.0,
        "local_rope_theta": 10000.0,
        "classifier_pooling": "mean",
        "num_labels": 1,
    }))
    .map_err(|e| format!("shape {name}: {e}"))?;
    Ok(OpenProvenceConfig::new(backbone, 0.0))
}
