//! What every backbone's Hugging Face `config.json` shares: the label fields, the size and
//! probability checks, and the embeddings' `padding_idx`.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::ConfigError;

/// The label fields of a transformers config, flattened into each backbone's config (serde
/// `flatten`): written back as they were read, rewritten by [`Labels::set_num_labels`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Labels {
    /// Explicit number of labels (transformers usually stores only `id2label`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub num_labels: Option<usize>,
    /// Label names; their count is the number of labels when `num_labels` is absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id2label: Option<Map<String, Value>>,
    /// Label ids by name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label2id: Option<Map<String, Value>>,
}

impl Labels {
    /// Number of labels: `num_labels`, else `len(id2label)`, else 2 (transformers' default).
    pub fn num_labels(&self) -> usize {
        self.num_labels
            .or_else(|| self.id2label.as_ref().map(Map::len))
            .unwrap_or(2)
    }

    /// Sets the number of labels, rewriting `id2label` and `label2id` to transformers' defaults.
    pub fn set_num_labels(&mut self, n: usize) {
        let (id2label, label2id) = label_maps(n);
        *self = Self {
            num_labels: Some(n),
            id2label: Some(id2label),
            label2id: Some(label2id),
        };
    }
}

/// transformers' default label maps for `n` labels: `id2label` (`{"0": "LABEL_0", ...}`) and
/// `label2id` (`{"LABEL_0": 0, ...}`).
pub(crate) fn label_maps(n: usize) -> (Map<String, Value>, Map<String, Value>) {
    let id2label = (0..n)
        .map(|i| (i.to_string(), Value::from(format!("LABEL_{i}"))))
        .collect();
    let label2id = (0..n).map(|i| (format!("LABEL_{i}"), Value::from(i))).collect();
    (id2label, label2id)
}

/// The size checks every backbone config shares: each of `sizes` positive, `hidden_size` a
/// positive multiple of a positive `num_attention_heads`.
pub(crate) fn check_sizes(
    sizes: &[(&str, usize)],
    hidden_size: usize,
    num_attention_heads: usize,
) -> Result<(), ConfigError> {
    let shape = [
        ("hidden_size", hidden_size),
        ("num_attention_heads", num_attention_heads),
    ];
    for &(key, v) in sizes.iter().chain(&shape) {
        if v == 0 {
            return Err(ConfigError::invalid(key, "must be positive"));
        }
    }
    if !hidden_size.is_multiple_of(num_attention_heads) {
        return Err(ConfigError::invalid(
            "hidden_size",
            format!("{hidden_size} is not a multiple of num_attention_heads {num_attention_heads}"),
        ));
    }
    Ok(())
}

/// Checks a dropout probability named `key`: it must lie in [0, 1).
pub(crate) fn check_probability(key: &str, p: f64) -> Result<(), ConfigError> {
    if (0.0..1.0).contains(&p) {
        Ok(())
    } else {
        Err(ConfigError::invalid(key, format!("{p} is not in [0, 1)")))
    }
}

/// `padding_idx` of a token embedding: `pad_token_id` when it is a row of the vocabulary.
pub(crate) fn padding_idx(pad_token_id: Option<i64>, vocab_size: usize) -> Option<usize> {
    pad_token_id
        .and_then(|id| usize::try_from(id).ok())
        .filter(|&id| id < vocab_size)
}
