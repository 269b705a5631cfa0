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

/// The transformers release whose `config.json` format exports follow (`transformers_version`).
pub(crate) const TRANSFORMERS_VERSION: &str = "4.57.1";

/// `transformers.PretrainedConfig()`'s attributes with their defaults (transformers 4.57): what
/// `PretrainedConfig.to_diff_dict` leaves out of a saved `config.json` when a config holds the
/// default value (and its own class does not default to another one).
pub(crate) const PRETRAINED_CONFIG_DEFAULTS: &str = r#"{
  "_name_or_path": "", "add_cross_attention": false, "architectures": null, "bad_words_ids": null,
  "begin_suppress_tokens": null, "bos_token_id": null, "chunk_size_feed_forward": 0,
  "cross_attention_hidden_size": null, "decoder_start_token_id": null, "diversity_penalty": 0.0,
  "do_sample": false, "dtype": null, "early_stopping": false, "encoder_no_repeat_ngram_size": 0,
  "eos_token_id": null, "exponential_decay_length_penalty": null, "finetuning_task": null,
  "forced_bos_token_id": null, "forced_eos_token_id": null,
  "id2label": {"0": "LABEL_0", "1": "LABEL_1"}, "is_decoder": false, "is_encoder_decoder": false,
  "label2id": {"LABEL_0": 0, "LABEL_1": 1}, "length_penalty": 1.0, "max_length": 20,
  "min_length": 0, "no_repeat_ngram_size": 0, "num_beam_groups": 1, "num_beams": 1,
  "num_return_sequences": 1, "output_attentions": false, "output_hidden_states": false,
  "output_scores": false, "pad_token_id": null, "prefix": null, "problem_type": null,
  "pruned_heads": {}, "remove_invalid_values": false, "repetition_penalty": 1.0,
  "return_dict": true, "return_dict_in_generate": false, "sep_token_id": null,
  "suppress_tokens": null, "task_specific_params": null, "temperature": 1.0,
  "tf_legacy_loss": false, "tie_encoder_decoder": false, "tie_word_embeddings": true,
  "tokenizer_class": null, "top_k": 50, "top_p": 1.0, "torch_dtype": null, "torchscript": false,
  "typical_p": 1.0, "use_bfloat16": false
}"#;

/// `config` without the keys that hold [`PRETRAINED_CONFIG_DEFAULTS`]' value, as
/// `PretrainedConfig.to_json_file` (`use_diff=True`) writes a config whose class keeps those
/// defaults (ModernBERT and BERT-family configs do).
pub(crate) fn without_pretrained_defaults(config: &mut Map<String, Value>) {
    let Ok(Value::Object(defaults)) = serde_json::from_str::<Value>(PRETRAINED_CONFIG_DEFAULTS) else {
        return;
    };
    config.retain(|key, value| defaults.get(key) != Some(value));
}
