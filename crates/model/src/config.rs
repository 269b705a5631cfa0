//! The model's configurations: [`BackboneConfig`], whichever backbone a `config.json`'s
//! `model_type` names, and [`OpenProvenceConfig`], the top-level `config.json` of an OpenProvence
//! `final_model/` or `checkpoint-N/`.

use std::path::Path;

use serde_json::{Map, Value};

use crate::bert::BertConfig;
use crate::error::ConfigError;
use crate::hf_config::{TRANSFORMERS_VERSION, label_maps, without_pretrained_defaults};
use crate::modernbert::ModernBertConfig;

/// The configuration of any supported backbone, chosen by its `config.json`'s `model_type`
/// (`modernbert`, the default when absent; `bert`; `roberta` / `xlm-roberta`).
#[derive(Debug, Clone, PartialEq)]
pub enum BackboneConfig {
    /// ModernBERT.
    ModernBert(ModernBertConfig),
    /// BERT or (XLM-)RoBERTa.
    Bert(BertConfig),
}

impl From<ModernBertConfig> for BackboneConfig {
    fn from(config: ModernBertConfig) -> Self {
        Self::ModernBert(config)
    }
}

impl From<BertConfig> for BackboneConfig {
    fn from(config: BertConfig) -> Self {
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
            Some(t) if BertConfig::MODEL_TYPES.contains(&t) => Ok(Self::Bert(BertConfig::from_json(value)?)),
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

    /// The transformers class of this backbone with a sequence-classification head
    /// (`ModernBertForSequenceClassification`, ...), as `architectures` names it.
    pub fn sequence_classification_class(&self) -> &'static str {
        match self.model_type() {
            "bert" => "BertForSequenceClassification",
            "roberta" => "RobertaForSequenceClassification",
            "xlm-roberta" => "XLMRobertaForSequenceClassification",
            _ => "ModernBertForSequenceClassification",
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
            Self::ModernBert(c) => c.labels.num_labels(),
            Self::Bert(c) => c.labels.num_labels(),
        }
    }

    /// Sets the number of ranking labels.
    pub fn set_num_labels(&mut self, n: usize) {
        match self {
            Self::ModernBert(c) => c.labels.set_num_labels(n),
            Self::Bert(c) => c.labels.set_num_labels(n),
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
    /// Inference window in tokens (`max_length`): set by [`Self::set_max_length`], which with
    /// [`Self::new`] and [`Self::from_json`] keeps it within the backbone's position table.
    max_length: usize,
    /// Dropout before the pruning head's classifier (`pruning_config.classifier_dropout`).
    pub pruning_dropout: f64,
    /// `default_threadshold` (upstream's canonical spelling), if set.
    pub default_threshold: Option<f64>,
}

impl OpenProvenceConfig {
    /// A config around a backbone, with upstream defaults for the rest; `max_length` is the
    /// default ([`MaxLength::Default`]).
    pub fn new(base_model_config: impl Into<BackboneConfig>, pruning_dropout: f64) -> Self {
        let base_model_config = base_model_config.into();
        Self {
            num_labels: base_model_config.num_labels(),
            max_length: MaxLength::default_for(&base_model_config),
            base_model_config,
            base_model_name_or_path: None,
            pruning_dropout,
            default_threshold: None,
        }
    }

    /// Inference window in tokens (`max_length`).
    pub fn max_length(&self) -> usize {
        self.max_length
    }

    /// Sets `max_length` to a value someone asked for (a recipe, the command line, code):
    /// [`MaxLength::Requested`], an error if the backbone cannot embed that many tokens.
    pub fn set_max_length(&mut self, max_length: usize) -> Result<(), ConfigError> {
        self.max_length = MaxLength::Requested(max_length).fit(&self.base_model_config)?;
        Ok(())
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
        let max_length = match value.get("max_length") {
            None | Some(Value::Null) => MaxLength::default_for(&base_model_config),
            Some(v) => {
                let n = v.as_u64().ok_or_else(|| {
                    let message = format!("{}: expected a whole number of tokens, got {v}", path.display());
                    ConfigError::invalid("max_length", message)
                })?;
                MaxLength::Stored(n as usize, path).fit(&base_model_config)?
            }
        };
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

    /// The `config.json` of the ranking model alone (upstream's
    /// `open_provence/encoder.py::OpenProvenceEncoder.export_ranking_model`: the backbone's
    /// `<Backbone>ForSequenceClassification` config as transformers 4.57 saves it: defaults left
    /// out, keys sorted, f32 weights).
    pub fn to_ranking_model_json(&self) -> Value {
        let bb = &self.base_model_config;
        let mut config = match bb.to_json() {
            Value::Object(map) => map,
            _ => Map::new(),
        };
        let (id2label, label2id) = label_maps(self.num_labels);
        config.insert(
            "architectures".to_owned(),
            serde_json::json!([bb.sequence_classification_class()]),
        );
        config.insert("id2label".to_owned(), Value::Object(id2label));
        config.insert("label2id".to_owned(), Value::Object(label2id));
        config.insert("dtype".to_owned(), Value::from("float32"));
        config.remove("torch_dtype");
        config.remove("num_labels");
        without_pretrained_defaults(&mut config);
        config.insert("transformers_version".to_owned(), Value::from(TRANSFORMERS_VERSION));
        let mut entries: Vec<(String, Value)> = config.into_iter().collect();
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        Value::Object(entries.into_iter().collect())
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

/// Where a `max_length` comes from, which decides what [`MaxLength::fit`] does with one the
/// backbone's position table cannot hold (BERT-like backbones; RoPE backbones have no table):
///
/// | origin | beyond the table |
/// |---|---|
/// | [`Requested`](MaxLength::Requested) (recipe, command line, code) | an error naming both numbers |
/// | [`Stored`](MaxLength::Stored) (the model's own `config.json`) | cut to the table, with a warning |
/// | [`Default`](MaxLength::Default) (nobody named one) | cut to the table, with a warning |
///
/// A stored value is trusted as written (every value this crate or upstream writes fits); one
/// beyond the table comes from a hand-edited file and still loads. Requested and stored values
/// must also pass the recipes' rule, [`provence_config::check_max_length`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MaxLength<'a> {
    /// A value someone asked for.
    Requested(usize),
    /// The value of the `config.json` at the path.
    Stored(usize, &'a Path),
    /// [`provence_config::DEFAULT_MAX_LENGTH`].
    Default,
}

impl MaxLength<'_> {
    /// The one `max_length` rule (see the type): the length a model on `backbone` uses.
    pub fn fit(self, backbone: &BackboneConfig) -> Result<usize, ConfigError> {
        let (value, origin) = match self {
            Self::Requested(value) => (value, String::new()),
            Self::Stored(value, path) => (value, format!("{}: ", path.display())),
            Self::Default => return Ok(Self::default_for(backbone)),
        };
        provence_config::check_max_length(value)
            .map_err(|message| ConfigError::invalid("max_length", format!("{origin}{message}")))?;
        match backbone.max_sequence_length() {
            Some(limit) if value > limit && matches!(self, Self::Requested(_)) => Err(ConfigError::invalid(
                "max_length",
                format!(
                    "{value} tokens do not fit the {} backbone's position embeddings ({limit} positions)",
                    backbone.model_type()
                ),
            )),
            _ => Ok(cut_to_table(value, backbone, &origin)),
        }
    }

    /// [`MaxLength::Default`] on `backbone`: [`provence_config::DEFAULT_MAX_LENGTH`], cut to the
    /// position table with a warning.
    fn default_for(backbone: &BackboneConfig) -> usize {
        cut_to_table(provence_config::DEFAULT_MAX_LENGTH, backbone, "the default ")
    }
}

/// `value`, or the backbone's position table's length with a warning (naming `origin`) when
/// that is shorter.
fn cut_to_table(value: usize, backbone: &BackboneConfig, origin: &str) -> usize {
    match backbone.max_sequence_length() {
        Some(limit) if value > limit => {
            tracing::warn!(
                "{origin}max_length {value} does not fit the {} backbone's {limit} positions; using {limit}",
                backbone.model_type()
            );
            limit
        }
        _ => value,
    }
}
