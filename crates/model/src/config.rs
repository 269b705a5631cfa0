//! Model configurations: the ModernBERT backbone `config.json` (transformers 4.48–4.57 and 5.x keys)
//! and the OpenProvence `final_model/config.json`.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A configuration file that cannot be read or does not describe a usable model.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read model config {path}: {source}")]
    Io {
        /// File that was read.
        path: PathBuf,
        /// Underlying I/O error.
        source: std::io::Error,
    },
    /// The file is not valid JSON or a key has the wrong JSON type.
    #[error("cannot parse model config {path}: {source}")]
    Json {
        /// File that was parsed.
        path: PathBuf,
        /// Underlying parse error.
        source: serde_json::Error,
    },
    /// A key has a value the model cannot use.
    #[error("invalid model config key `{key}`: {message}")]
    Invalid {
        /// The offending config key.
        key: String,
        /// What was expected.
        message: String,
    },
}

impl ConfigError {
    pub(crate) fn invalid(key: &str, message: impl Into<String>) -> Self {
        Self::Invalid {
            key: key.to_owned(),
            message: message.into(),
        }
    }
}

/// Activation functions named in ModernBERT configs (transformers' `ACT2FN`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activation {
    /// `"gelu"`: exact erf GELU.
    Gelu,
    /// `"gelu_new"` / `"gelu_pytorch_tanh"` / `"gelu_fast"`: tanh-approximated GELU.
    GeluTanh,
    /// `"silu"` / `"swish"`.
    Silu,
    /// `"relu"`.
    Relu,
}

impl Activation {
    /// Parses an `ACT2FN` name; `key` names the config key for the error.
    pub fn parse(key: &str, name: &str) -> Result<Self, ConfigError> {
        match name {
            "gelu" => Ok(Self::Gelu),
            "gelu_new" | "gelu_pytorch_tanh" | "gelu_fast" => Ok(Self::GeluTanh),
            "silu" | "swish" => Ok(Self::Silu),
            "relu" => Ok(Self::Relu),
            other => Err(ConfigError::invalid(
                key,
                format!(
                    "unsupported activation {other:?} (expected gelu, gelu_new, gelu_pytorch_tanh, gelu_fast, silu, swish or relu)"
                ),
            )),
        }
    }
}

/// Pooling of the final hidden states before the sequence-classification head.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pooling {
    /// Position 0.
    Cls,
    /// Attention-masked mean over the sequence.
    Mean,
}

/// A ModernBERT `config.json` as written by transformers 4.48–4.57 or 5.x.
///
/// Every key has transformers' default; unknown keys are kept in [`ModernBertConfig::extra`] so
/// that the config is written back unchanged. Call [`ModernBertConfig::validate`] (done by
/// [`ModernBertConfig::from_file`] and [`ModernBertConfig::from_json`]) before building a model.
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
    /// Explicit number of labels (transformers usually stores only `id2label`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub num_labels: Option<usize>,
    /// Label names; their count is the number of labels when `num_labels` is absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id2label: Option<Map<String, Value>>,
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
    /// Reads and validates a backbone `config.json`.
    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
            path: path.to_owned(),
            source,
        })?;
        let cfg: Self = serde_json::from_str(&text).map_err(|source| ConfigError::Json {
            path: path.to_owned(),
            source,
        })?;
        cfg.validate()?;
        Ok(cfg)
    }

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
            if !(0.0..1.0).contains(&p) {
                return Err(ConfigError::invalid(key, format!("{p} is not in [0, 1)")));
            }
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

    /// Number of labels of the classifier: `num_labels`, else `len(id2label)`, else 2.
    pub fn num_labels(&self) -> usize {
        self.num_labels
            .or_else(|| self.id2label.as_ref().map(Map::len))
            .unwrap_or(2)
    }

    /// Sets the number of labels (also rewriting `id2label` / `label2id`).
    pub fn set_num_labels(&mut self, n: usize) {
        let (id2label, label2id) = label_maps(n);
        self.id2label = Some(id2label);
        self.extra.insert("label2id".to_owned(), Value::Object(label2id));
        self.num_labels = Some(n);
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

/// The configuration of any supported backbone, chosen by its `config.json`'s `model_type`
/// (`modernbert`, the default when absent; `bert`; `roberta` / `xlm-roberta`).
#[derive(Debug, Clone, PartialEq)]
pub enum BackboneConfig {
    /// ModernBERT.
    ModernBert(ModernBertConfig),
    /// BERT or (XLM-)RoBERTa.
    Bert(crate::bert::BertConfig),
}

impl From<ModernBertConfig> for BackboneConfig {
    fn from(config: ModernBertConfig) -> Self {
        Self::ModernBert(config)
    }
}

impl From<crate::bert::BertConfig> for BackboneConfig {
    fn from(config: crate::bert::BertConfig) -> Self {
        Self::Bert(config)
    }
}

impl BackboneConfig {
    /// The `model_type` values a backbone config may have.
    pub const MODEL_TYPES: [&'static str; 4] = ["modernbert", "bert", "roberta", "xlm-roberta"];

    /// Parses and validates a backbone config from its JSON value.
    pub fn from_json(value: Value) -> Result<Self, ConfigError> {
        match value.get("model_type").and_then(Value::as_str) {
            None | Some("modernbert") => Ok(Self::ModernBert(ModernBertConfig::from_json(value)?)),
            Some(t) if crate::bert::BertConfig::MODEL_TYPES.contains(&t) => {
                Ok(Self::Bert(crate::bert::BertConfig::from_json(value)?))
            }
            Some(t) => Err(ConfigError::invalid(
                "model_type",
                format!("unsupported backbone {t:?}: expected one of {:?}", Self::MODEL_TYPES),
            )),
        }
    }

    /// Reads and validates a backbone `config.json`.
    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
            path: path.to_owned(),
            source,
        })?;
        let value: Value = serde_json::from_str(&text).map_err(|source| ConfigError::Json {
            path: path.to_owned(),
            source,
        })?;
        Self::from_json(value)
    }

    /// The `model_type` (upstream's `encoder_architecture`).
    pub fn model_type(&self) -> &str {
        match self {
            Self::ModernBert(_) => "modernbert",
            Self::Bert(c) => &c.model_type,
        }
    }

    /// The config as its `config.json` holds it.
    pub fn to_json(&self) -> Value {
        match self {
            Self::ModernBert(c) => c.to_json(),
            Self::Bert(c) => c.to_json(),
        }
    }

    /// Vocabulary size.
    pub fn vocab_size(&self) -> usize {
        match self {
            Self::ModernBert(c) => c.vocab_size,
            Self::Bert(c) => c.vocab_size,
        }
    }

    /// Hidden size H (what the pruning head reads).
    pub fn hidden_size(&self) -> usize {
        match self {
            Self::ModernBert(c) => c.hidden_size,
            Self::Bert(c) => c.hidden_size,
        }
    }

    /// Number of ranking labels.
    pub fn num_labels(&self) -> usize {
        match self {
            Self::ModernBert(c) => c.num_labels(),
            Self::Bert(c) => c.num_labels(),
        }
    }

    /// Sets the number of ranking labels.
    pub fn set_num_labels(&mut self, n: usize) {
        match self {
            Self::ModernBert(c) => c.set_num_labels(n),
            Self::Bert(c) => c.set_num_labels(n),
        }
    }

    /// The longest sequence the backbone can embed: its position table's rows past the first
    /// position (`None` for RoPE backbones, which have no table).
    pub fn max_sequence_length(&self) -> Option<usize> {
        match self {
            Self::ModernBert(_) => None,
            Self::Bert(c) => Some(c.max_sequence_length()),
        }
    }

    /// Whether the backbone reads token types (BERT with more than one type).
    pub fn reads_token_types(&self) -> bool {
        matches!(self, Self::Bert(c) if c.type_vocab_size > 1)
    }

    /// Standard deviation of the backbone's weight init (the pruning head uses it too).
    pub fn initializer_range(&self) -> f64 {
        match self {
            Self::ModernBert(c) => c.initializer_range,
            Self::Bert(c) => c.initializer_range,
        }
    }
}

/// The top-level `config.json` of an OpenProvence `final_model/` or `checkpoint-N/`.
#[derive(Debug, Clone, PartialEq)]
pub struct OpenProvenceConfig {
    /// The backbone configuration (`base_model_config`).
    pub base_model_config: BackboneConfig,
    /// Hub id or path of the training base model (`base_model_name_or_path`).
    pub base_model_name_or_path: Option<String>,
    /// Number of ranking labels C.
    pub num_labels: usize,
    /// Inference window in tokens (`max_length`).
    pub max_length: usize,
    /// Dropout before the pruning head's classifier (`pruning_config.classifier_dropout`).
    pub pruning_dropout: f64,
    /// `default_threadshold` (upstream's canonical spelling), if set.
    pub default_threshold: Option<f64>,
}

impl OpenProvenceConfig {
    /// A config around a backbone, with upstream defaults for the rest.
    /// `max_length` is the default, or less when the backbone's position table is shorter.
    pub fn new(base_model_config: impl Into<BackboneConfig>, pruning_dropout: f64) -> Self {
        let base_model_config = base_model_config.into();
        let limit = base_model_config.max_sequence_length().unwrap_or(usize::MAX);
        Self {
            num_labels: base_model_config.num_labels(),
            base_model_config,
            base_model_name_or_path: None,
            max_length: provence_config::DEFAULT_MAX_LENGTH.min(limit),
            pruning_dropout,
            default_threshold: None,
        }
    }

    /// Checks `max_length` against what the backbone can embed.
    pub fn check_max_length(&self) -> Result<(), ConfigError> {
        match self.base_model_config.max_sequence_length() {
            Some(limit) if self.max_length > limit => Err(ConfigError::invalid(
                "max_length",
                format!(
                    "{} tokens do not fit the {} backbone's position embeddings ({limit} positions)",
                    self.max_length,
                    self.base_model_config.model_type()
                ),
            )),
            _ => Ok(()),
        }
    }

    /// Parses an OpenProvence `config.json` (`path` is used in errors only).
    pub fn from_json(path: &Path, value: &Value) -> Result<Self, ConfigError> {
        let mode = value.get("mode").and_then(Value::as_str);
        if let Some(mode) = mode
            && mode != "reranking_pruning"
        {
            return Err(ConfigError::invalid(
                "mode",
                format!("{}: expected \"reranking_pruning\", found {mode:?}", path.display()),
            ));
        }
        let base = value.get("base_model_config").cloned().ok_or_else(|| {
            ConfigError::invalid(
                "base_model_config",
                format!("{}: missing (needed to rebuild the backbone offline)", path.display()),
            )
        })?;
        let mut base_model_config = BackboneConfig::from_json(base)?;
        // Upstream's loader defaults num_labels to 1 when the key is missing.
        let num_labels = match value.get("num_labels") {
            Some(v) => v.as_u64().map(|n| n as usize).ok_or_else(|| {
                ConfigError::invalid("num_labels", format!("{}: expected an integer", path.display()))
            })?,
            None => value.get("id2label").and_then(Value::as_object).map_or(1, Map::len),
        };
        base_model_config.set_num_labels(num_labels);
        let pruning = value.get("pruning_config");
        let max_length = max_length_of(path, value, &base_model_config)?;
        Ok(Self {
            base_model_config,
            base_model_name_or_path: value
                .get("base_model_name_or_path")
                .and_then(Value::as_str)
                .map(str::to_owned),
            num_labels,
            max_length,
            pruning_dropout: pruning
                .and_then(|p| p.get("classifier_dropout"))
                .or_else(|| value.get("classifier_dropout"))
                .and_then(Value::as_f64)
                .unwrap_or(0.0),
            default_threshold: value
                .get("default_threadshold")
                .or_else(|| value.get("default_threshold"))
                .and_then(Value::as_f64),
        })
    }

    /// The `config.json` of an upstream-layout `final_model/` (hotchpotch/open_provence's
    /// `open_provence/encoder.py::OpenProvenceEncoder.save_pretrained`).
    pub fn to_final_model_json(&self, hub_repo: &str) -> Value {
        let module = format!("{hub_repo}--modeling_open_provence_standalone");
        let bb = &self.base_model_config;
        let (id2label, label2id) = label_maps(self.num_labels);
        let (p_id2label, p_label2id) = label_maps(2);
        // The weights are written in f32, whatever dtype the backbone was loaded from.
        let mut base = bb.to_json();
        if let Some(obj) = base.as_object_mut() {
            obj.insert("dtype".to_owned(), Value::from("float32"));
            if obj.contains_key("torch_dtype") {
                obj.insert("torch_dtype".to_owned(), Value::from("float32"));
            }
        }
        serde_json::json!({
            "architectures": ["OpenProvenceForSequenceClassification"],
            "auto_map": {
                "AutoConfig": format!("{module}.OpenProvenceConfig"),
                "AutoModel": format!("{module}.OpenProvenceForSequenceClassification"),
                "AutoModelForSequenceClassification": format!("{module}.OpenProvenceForSequenceClassification"),
                "AutoModelForTokenClassification": format!("{module}.OpenProvenceForTokenClassification"),
            },
            "base_model_config": base,
            "base_model_name_or_path": self.base_model_name_or_path,
            "default_threadshold": self.default_threshold,
            "dtype": "float32",
            "encoder_architecture": bb.model_type(),
            "hidden_size": bb.hidden_size(),
            "id2label": id2label,
            "label2id": label2id,
            "max_length": self.max_length,
            "mode": "reranking_pruning",
            "model_type": "open_provence",
            "num_labels": self.num_labels,
            "num_pruning_labels": 2,
            "pruning_config": {
                "classifier_dropout": self.pruning_dropout,
                "hidden_size": bb.hidden_size(),
                "id2label": p_id2label,
                "label2id": p_label2id,
                "model_type": "open_provence_head",
                "num_labels": 2,
                "sentence_pooling": "mean",
                "use_weighted_pooling": false,
            },
            "tokenizer_name_or_path": null,
            "vocab_size": bb.vocab_size(),
        })
    }

    /// The `config.json` of an upstream-layout `checkpoint-N/` (upstream's
    /// `open_provence/trainer.py::OpenProvenceTrainer._save`).
    pub fn to_checkpoint_json(&self, hub_repo: &str) -> Value {
        let mut v = self.to_final_model_json(hub_repo);
        if let Some(obj) = v.as_object_mut() {
            for key in ["architectures", "vocab_size", "hidden_size"] {
                obj.remove(key);
            }
            obj.insert(
                "pruning_config".to_owned(),
                serde_json::json!({ "hidden_size": self.base_model_config.hidden_size() }),
            );
            obj.insert("classifier_dropout".to_owned(), Value::from(self.pruning_dropout));
        }
        v
    }
}

/// `max_length` of an OpenProvence `config.json`: the default when absent, checked, and cut
/// (with a warning) to what the backbone's position table holds.
fn max_length_of(path: &Path, value: &Value, base_model_config: &BackboneConfig) -> Result<usize, ConfigError> {
    let max_length = match value.get("max_length") {
        None | Some(Value::Null) => provence_config::DEFAULT_MAX_LENGTH,
        Some(v) => v
            .as_u64()
            .ok_or_else(|| format!("expected a whole number of tokens, got {v}"))
            .and_then(|n| provence_config::check_max_length(n as usize))
            .map_err(|message| ConfigError::invalid("max_length", format!("{}: {message}", path.display())))?,
    };
    let limit = base_model_config.max_sequence_length().unwrap_or(usize::MAX);
    if max_length > limit {
        tracing::warn!(
            "{}: max_length {max_length} does not fit the backbone's {limit} positions; using {limit}",
            path.display()
        );
    }
    Ok(max_length.min(limit))
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

/// transformers' default label maps for `n` labels: `id2label` (`{"0": "LABEL_0", ...}`) and
/// `label2id` (`{"LABEL_0": 0, ...}`).
pub(crate) fn label_maps(n: usize) -> (Map<String, Value>, Map<String, Value>) {
    let id2label = (0..n)
        .map(|i| (i.to_string(), Value::from(format!("LABEL_{i}"))))
        .collect();
    let label2id = (0..n).map(|i| (format!("LABEL_{i}"), Value::from(i))).collect();
    (id2label, label2id)
}
