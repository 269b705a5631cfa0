//! The `config.json` of BERT and (XLM-)RoBERTa backbones (`model_type` `bert`, `roberta`,
//! `xlm-roberta`).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::activation::Activation;
use crate::error::ConfigError;
use crate::hf_config::{Labels, check_probability, check_sizes, padding_idx};

/// Which model family a [`BertConfig`] describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BertFlavour {
    /// `bert`: positions from 0, pooler (dense + tanh on `[CLS]`) then `classifier`.
    Bert,
    /// `xlm-roberta` / `roberta`: positions from `pad_token_id + 1`, counted over non-pad tokens;
    /// head `classifier.dense` + tanh + `classifier.out_proj` on `<s>`; no pooler.
    Roberta,
}

/// A BERT-family `config.json` (`model_type` `bert`, `roberta` or `xlm-roberta`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BertConfig {
    /// `bert`, `roberta` or `xlm-roberta`.
    pub model_type: String,
    /// Vocabulary size V.
    pub vocab_size: usize,
    /// Hidden size H.
    #[serde(default = "d::hidden_size")]
    pub hidden_size: usize,
    /// Number of encoder layers.
    #[serde(default = "d::num_hidden_layers")]
    pub num_hidden_layers: usize,
    /// Number of attention heads.
    #[serde(default = "d::num_attention_heads")]
    pub num_attention_heads: usize,
    /// Feed-forward size.
    #[serde(default = "d::intermediate_size")]
    pub intermediate_size: usize,
    /// Feed-forward activation (`ACT2FN` name).
    #[serde(default = "d::gelu")]
    pub hidden_act: String,
    /// Dropout on embeddings and after each sub-layer.
    #[serde(default = "d::dropout")]
    pub hidden_dropout_prob: f64,
    /// Dropout on the attention probabilities.
    #[serde(default = "d::dropout")]
    pub attention_probs_dropout_prob: f64,
    /// Rows of the position embedding table.
    #[serde(default = "d::max_position_embeddings")]
    pub max_position_embeddings: usize,
    /// Rows of the token-type embedding table (1 for XLM-R).
    #[serde(default = "d::type_vocab_size")]
    pub type_vocab_size: usize,
    /// Standard deviation of the normal init.
    #[serde(default = "d::initializer_range")]
    pub initializer_range: f64,
    /// LayerNorm epsilon.
    #[serde(default = "d::layer_norm_eps")]
    pub layer_norm_eps: f64,
    /// Padding token id (`padding_idx` of the embeddings).
    #[serde(default)]
    pub pad_token_id: Option<i64>,
    /// Only `absolute` is supported.
    #[serde(default = "d::absolute")]
    pub position_embedding_type: String,
    /// Dropout before the classifier (`null`: `hidden_dropout_prob`).
    #[serde(default)]
    pub classifier_dropout: Option<f64>,
    /// `num_labels`, `id2label`, `label2id`.
    #[serde(flatten)]
    pub labels: Labels,
    /// Every other key of the file, kept verbatim.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Defaults of transformers' `BertConfig`.
mod d {
    pub fn hidden_size() -> usize {
        768
    }
    pub fn num_hidden_layers() -> usize {
        12
    }
    pub fn num_attention_heads() -> usize {
        12
    }
    pub fn intermediate_size() -> usize {
        3072
    }
    pub fn gelu() -> String {
        "gelu".to_owned()
    }
    pub fn dropout() -> f64 {
        0.1
    }
    pub fn max_position_embeddings() -> usize {
        512
    }
    pub fn type_vocab_size() -> usize {
        2
    }
    pub fn initializer_range() -> f64 {
        0.02
    }
    pub fn layer_norm_eps() -> f64 {
        1e-12
    }
    pub fn absolute() -> String {
        "absolute".to_owned()
    }
}

impl BertConfig {
    /// The `model_type` values this config reads.
    pub const MODEL_TYPES: [&'static str; 3] = ["bert", "roberta", "xlm-roberta"];

    /// Parses and validates a config from its JSON value.
    pub fn from_json(value: Value) -> Result<Self, ConfigError> {
        let cfg: Self =
            serde_json::from_value(value).map_err(|e| ConfigError::invalid("config.json", e.to_string()))?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// The family: BERT or RoBERTa-style.
    pub fn flavour(&self) -> BertFlavour {
        if self.model_type == "bert" {
            BertFlavour::Bert
        } else {
            BertFlavour::Roberta
        }
    }

    /// The HF prefix of the encoder inside task models: `bert.` or `roberta.`.
    pub fn encoder_prefix(&self) -> &'static str {
        match self.flavour() {
            BertFlavour::Bert => "bert.",
            BertFlavour::Roberta => "roberta.",
        }
    }

    /// Checks every value the model depends on.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if !Self::MODEL_TYPES.contains(&self.model_type.as_str()) {
            return Err(ConfigError::invalid(
                "model_type",
                format!("expected one of {:?}, found {:?}", Self::MODEL_TYPES, self.model_type),
            ));
        }
        check_sizes(
            &[
                ("vocab_size", self.vocab_size),
                ("num_hidden_layers", self.num_hidden_layers),
                ("intermediate_size", self.intermediate_size),
                ("max_position_embeddings", self.max_position_embeddings),
                ("type_vocab_size", self.type_vocab_size),
            ],
            self.hidden_size,
            self.num_attention_heads,
        )?;
        if self.position_embedding_type != "absolute" {
            return Err(ConfigError::invalid(
                "position_embedding_type",
                format!(
                    "only \"absolute\" is supported, found {:?}",
                    self.position_embedding_type
                ),
            ));
        }
        Activation::parse("hidden_act", &self.hidden_act)?;
        let dropouts = [
            ("hidden_dropout_prob", Some(self.hidden_dropout_prob)),
            ("attention_probs_dropout_prob", Some(self.attention_probs_dropout_prob)),
            ("classifier_dropout", self.classifier_dropout),
        ];
        for (key, p) in dropouts {
            if let Some(p) = p {
                check_probability(key, p)?;
            }
        }
        if self.flavour() == BertFlavour::Roberta && self.padding_idx().is_none() {
            return Err(ConfigError::invalid(
                "pad_token_id",
                "RoBERTa-style positions start after pad_token_id: it must be set and below vocab_size",
            ));
        }
        Ok(())
    }

    /// `padding_idx` of the embeddings: `pad_token_id` when it is a row of the vocabulary.
    pub fn padding_idx(&self) -> Option<usize> {
        padding_idx(self.pad_token_id, self.vocab_size)
    }

    /// The config as `config.json` writes it.
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }

    /// The row of the position table that a sequence's first token reads: `padding_idx + 1`
    /// for RoBERTa, 0 for BERT.
    pub fn first_position(&self) -> usize {
        match (self.flavour(), self.padding_idx()) {
            (BertFlavour::Roberta, Some(pad)) => pad + 1,
            _ => 0,
        }
    }

    /// The longest sequence the position table holds: its rows from [`Self::first_position`] on.
    pub fn max_sequence_length(&self) -> usize {
        self.max_position_embeddings.saturating_sub(self.first_position())
    }

    /// Head dimension.
    pub fn head_dim(&self) -> usize {
        self.hidden_size / self.num_attention_heads
    }
}
