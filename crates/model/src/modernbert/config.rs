//! The ModernBERT backbone's `config.json` (transformers 4.48–4.57 and 5.x keys).

use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::activation::Activation;
use crate::error::ConfigError;
use crate::hf_config::{Labels, check_probability, check_sizes, padding_idx};
use crate::nn::Pooling;

/// A ModernBERT `config.json` as written by transformers 4.48–4.57 or 5.x.
///
/// Every key has transformers' default; unknown keys are kept in [`ModernBertConfig::extra`] so
/// that the config is written back unchanged. Call [`ModernBertConfig::validate`] (done by
/// [`ModernBertConfig::from_json`] and `BackboneConfig::from_file`) before building a model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModernBertConfig {
    /// Rows of `tok_embeddings`.
    #[serde(default = "d::vocab_size")]
    pub vocab_size: usize,
    /// Hidden size H.
    #[serde(default = "d::hidden_size")]
    pub hidden_size: usize,
    /// MLP size I (`Wi` outputs 2·I).
    #[serde(default = "d::intermediate_size")]
    pub intermediate_size: usize,
    /// Number of encoder layers.
    #[serde(default = "d::num_hidden_layers")]
    pub num_hidden_layers: usize,
    /// Number of attention heads.
    #[serde(default = "d::num_attention_heads")]
    pub num_attention_heads: usize,
    /// MLP activation (`ACT2FN` name).
    #[serde(default = "d::gelu")]
    pub hidden_activation: String,
    /// Informational only (RoPE is computed for any position).
    #[serde(default = "d::max_position_embeddings")]
    pub max_position_embeddings: usize,
    /// Base standard deviation of the truncated-normal init.
    #[serde(default = "d::initializer_range")]
    pub initializer_range: f64,
    /// Truncation of the init at ±factor·std (`null` means 3).
    #[serde(default = "d::initializer_cutoff_factor")]
    pub initializer_cutoff_factor: Option<f64>,
    /// LayerNorm epsilon.
    #[serde(default = "d::norm_eps")]
    pub norm_eps: f64,
    /// Whether every LayerNorm has a bias.
    #[serde(default)]
    pub norm_bias: bool,
    /// Padding token id (not used by the forward pass: masks come from `attention_mask`).
    #[serde(default = "d::pad_token_id")]
    pub pad_token_id: Option<i64>,
    /// Bias on `Wqkv` and `attn.Wo`.
    #[serde(default)]
    pub attention_bias: bool,
    /// Dropout on attention probabilities and after `attn.Wo`.
    #[serde(default)]
    pub attention_dropout: f64,
    /// Dropout after the embedding LayerNorm.
    #[serde(default)]
    pub embedding_dropout: f64,
    /// Bias on `mlp.Wi` and `mlp.Wo`.
    #[serde(default)]
    pub mlp_bias: bool,
    /// Dropout before `mlp.Wo`.
    #[serde(default)]
    pub mlp_dropout: f64,
    /// Local attention window (a query sees keys with |i−j| ≤ local_attention / 2).
    #[serde(default = "d::local_attention")]
    pub local_attention: usize,
    /// Layer i is global iff `i % n == 0` (4.x key; 5.x writes `layer_types`).
    #[serde(default = "d::global_attn_every_n_layers")]
    pub global_attn_every_n_layers: usize,
    /// RoPE base of global layers (4.x key; alias `rope_theta`).
    #[serde(default = "d::global_rope_theta", alias = "rope_theta")]
    pub global_rope_theta: f64,
    /// RoPE base of local layers (4.x key); `null` means the global theta.
    #[serde(default = "d::local_rope_theta")]
    pub local_rope_theta: Option<f64>,
    /// 5.x: `"full_attention"` / `"sliding_attention"` per layer; overrides the 4.x rule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layer_types: Option<Vec<String>>,
    /// 5.x: `{"full_attention": {"rope_type": "default", "rope_theta": ..}, "sliding_attention": {..}}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rope_parameters: Option<Value>,
    /// `"cls"` or `"mean"`.
    #[serde(default = "d::classifier_pooling")]
    pub classifier_pooling: String,
    /// Dropout between `head` and `classifier`.
    #[serde(default)]
    pub classifier_dropout: f64,
    /// Bias of `head.dense`.
    #[serde(default)]
    pub classifier_bias: bool,
    /// Activation inside `head`.
    #[serde(default = "d::gelu")]
    pub classifier_activation: String,
    /// `num_labels`, `id2label`, `label2id`.
    #[serde(flatten)]
    pub labels: Labels,
    /// Every other key of the file, kept verbatim.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Defaults of transformers' `ModernBertConfig`.
mod d {
    pub fn vocab_size() -> usize {
        50368
    }
    pub fn hidden_size() -> usize {
        768
    }
    pub fn intermediate_size() -> usize {
        1152
    }
    pub fn num_hidden_layers() -> usize {
        22
    }
    pub fn num_attention_heads() -> usize {
        12
    }
    pub fn gelu() -> String {
        "gelu".to_owned()
    }
    pub fn max_position_embeddings() -> usize {
        8192
    }
    pub fn initializer_range() -> f64 {
        0.02
    }
    pub fn initializer_cutoff_factor() -> Option<f64> {
        Some(2.0)
    }
    pub fn norm_eps() -> f64 {
        1e-5
    }
    pub fn pad_token_id() -> Option<i64> {
        Some(50283)
    }
    pub fn local_attention() -> usize {
        128
    }
    pub fn global_attn_every_n_layers() -> usize {
        3
    }
    pub fn global_rope_theta() -> f64 {
        160_000.0
    }
    pub fn local_rope_theta() -> Option<f64> {
        Some(10_000.0)
    }
    pub fn classifier_pooling() -> String {
        "cls".to_owned()
    }
}

impl Default for ModernBertConfig {
    fn default() -> Self {
        // An empty object takes every serde default; this cannot fail.
        serde_json::from_value(Value::Object(Map::new())).unwrap_or_else(|_| unreachable!())
    }
}

impl ModernBertConfig {
    /// Parses and validates a backbone config from a JSON value.
    pub fn from_json(value: Value) -> Result<Self, ConfigError> {
        let cfg: Self = serde_json::from_value(value).map_err(|source| ConfigError::Json {
            path: PathBuf::from("<base_model_config>"),
            source,
        })?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// Checks every value the model depends on.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.validate_shapes()?;
        self.validate_options()?;
        self.validate_layers()
    }

    /// Model type and the sizes the weights' shapes follow from.
    fn validate_shapes(&self) -> Result<(), ConfigError> {
        if let Some(t) = self.extra.get("model_type").and_then(Value::as_str)
            && t != "modernbert"
        {
            return Err(ConfigError::invalid(
                "model_type",
                format!("expected \"modernbert\", found {t:?}"),
            ));
        }
        check_sizes(
            &[
                ("vocab_size", self.vocab_size),
                ("intermediate_size", self.intermediate_size),
                ("num_hidden_layers", self.num_hidden_layers),
                ("global_attn_every_n_layers", self.global_attn_every_n_layers),
            ],
            self.hidden_size,
            self.num_attention_heads,
        )?;
        if !self.head_dim().is_multiple_of(2) {
            return Err(ConfigError::invalid(
                "num_attention_heads",
                format!("head dim {} must be even for RoPE", self.head_dim()),
            ));
        }
        Ok(())
    }

    /// Activations, pooling and dropout probabilities.
    fn validate_options(&self) -> Result<(), ConfigError> {
        Activation::parse("hidden_activation", &self.hidden_activation)?;
        Activation::parse("classifier_activation", &self.classifier_activation)?;
        self.pooling()?;
        for (key, p) in [
            ("attention_dropout", self.attention_dropout),
            ("embedding_dropout", self.embedding_dropout),
            ("mlp_dropout", self.mlp_dropout),
            ("classifier_dropout", self.classifier_dropout),
        ] {
            check_probability(key, p)?;
        }
        if let Some(c) = self.initializer_cutoff_factor
            && (c.is_nan() || c <= 0.0)
        {
            // The truncated normals of the init would have no values to draw.
            return Err(ConfigError::invalid(
                "initializer_cutoff_factor",
                format!("must be positive, found {c}"),
            ));
        }
        Ok(())
    }

    /// Per-layer attention types and the RoPE parameters (only the default RoPE is supported).
    fn validate_layers(&self) -> Result<(), ConfigError> {
        if let Some(types) = &self.layer_types {
            if types.len() != self.num_hidden_layers {
                return Err(ConfigError::invalid(
                    "layer_types",
                    format!(
                        "has {} entries, num_hidden_layers is {}",
                        types.len(),
                        self.num_hidden_layers
                    ),
                ));
            }
            if let Some(bad) = types
                .iter()
                .find(|t| *t != "full_attention" && *t != "sliding_attention")
            {
                return Err(ConfigError::invalid(
                    "layer_types",
                    format!("unknown layer type {bad:?} (expected full_attention or sliding_attention)"),
                ));
            }
        }
        if let Some(rope) = &self.rope_parameters {
            let obj = rope
                .as_object()
                .ok_or_else(|| ConfigError::invalid("rope_parameters", "expected an object keyed by layer type"))?;
            for (kind, params) in obj {
                let rope_type = params.get("rope_type").and_then(Value::as_str).unwrap_or("default");
                if rope_type != "default" {
                    return Err(ConfigError::invalid(
                        "rope_parameters",
                        format!("{kind}: only rope_type \"default\" is supported, found {rope_type:?}"),
                    ));
                }
            }
        }
        if self.rope_scaling_present() {
            return Err(ConfigError::invalid("rope_scaling", "RoPE scaling is not supported"));
        }
        Ok(())
    }

    fn rope_scaling_present(&self) -> bool {
        self.extra.get("rope_scaling").is_some_and(|v| !v.is_null())
    }

    /// Head dimension D = H / nh.
    pub fn head_dim(&self) -> usize {
        self.hidden_size / self.num_attention_heads
    }

    /// Whether layer `i` uses global attention (else sliding-window attention).
    pub fn is_global_layer(&self, i: usize) -> bool {
        match &self.layer_types {
            Some(types) => types.get(i).is_none_or(|t| t == "full_attention"),
            None => i.is_multiple_of(self.global_attn_every_n_layers),
        }
    }

    fn rope_parameter_theta(&self, kind: &str) -> Option<f64> {
        self.rope_parameters.as_ref()?.get(kind)?.get("rope_theta")?.as_f64()
    }

    /// RoPE base θ of layer `i`.
    pub fn rope_theta(&self, i: usize) -> f64 {
        let global = self
            .rope_parameter_theta("full_attention")
            .unwrap_or(self.global_rope_theta);
        if self.is_global_layer(i) {
            global
        } else {
            self.rope_parameter_theta("sliding_attention")
                .or(self.local_rope_theta)
                .unwrap_or(global)
        }
    }

    /// Half window W = local_attention / 2 (integer division).
    pub fn half_window(&self) -> usize {
        self.local_attention / 2
    }

    /// `padding_idx`: the token whose embedding row gets no gradient (`pad_token_id` < vocab).
    pub fn padding_idx(&self) -> Option<usize> {
        padding_idx(self.pad_token_id, self.vocab_size)
    }

    /// The pooling named by `classifier_pooling`.
    pub fn pooling(&self) -> Result<Pooling, ConfigError> {
        match self.classifier_pooling.as_str() {
            "cls" => Ok(Pooling::Cls),
            "mean" => Ok(Pooling::Mean),
            other => Err(ConfigError::invalid(
                "classifier_pooling",
                format!("expected \"cls\" or \"mean\", found {other:?}"),
            )),
        }
    }

    /// Cutoff factor c of the truncated-normal init (3 when `null`).
    pub fn cutoff_factor(&self) -> f64 {
        self.initializer_cutoff_factor.unwrap_or(3.0)
    }

    /// The config as a JSON object (with `model_type: "modernbert"`), for writing.
    pub fn to_json(&self) -> Value {
        let mut v = serde_json::to_value(self).unwrap_or(Value::Null);
        if let Some(obj) = v.as_object_mut() {
            obj.entry("model_type").or_insert_with(|| Value::from("modernbert"));
        }
        v
    }
}
