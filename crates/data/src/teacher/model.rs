//! The teacher cross-encoder: every use of `provence-model` by this crate is in this module.
//!
//! A sequence-classification checkpoint (ModernBERT, BERT, XLM-R; Hub id or directory) with its
//! tokenizer, scoring (query, passage) pairs as sentence-transformers' `CrossEncoder.predict`
//! does: pair encoding with `longest_first` truncation to `min(model_max_length,
//! max_position_embeddings)`, one logit per pair, then the activation the config names
//! (`sentence_transformers.activation_fn`, the legacy `sbert_ce_default_activation_function`,
//! else sigmoid for one label).

use std::path::{Path, PathBuf};

use burn::tensor::{Int, Tensor, TensorData};
use provence_hub::{HubOptions, PretrainedTokenizer};
use provence_model::{Backbone, ModelBackend, OpenProvenceModel};
use serde_json::Value;
use tokenizers::{Tokenizer, TruncationDirection, TruncationParams, TruncationStrategy};

use crate::error::DataError;

/// The activation applied to the logit (sentence-transformers' `activation_fn`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activation {
    /// `torch.nn.Sigmoid` (the default for one label).
    Sigmoid,
    /// `torch.nn.Identity`: the raw logit.
    Identity,
    /// `torch.nn.Tanh`.
    Tanh,
}

impl Activation {
    /// The activation a model `config.json` asks for (see the module docs).
    fn from_config(config: &Value, model: &str) -> Result<Self, DataError> {
        let named = config
            .get("sentence_transformers")
            .and_then(|s| s.get("activation_fn"))
            .or_else(|| config.get("sbert_ce_default_activation_function"))
            .and_then(Value::as_str);
        match named {
            None => Ok(Self::Sigmoid),
            Some("torch.nn.modules.activation.Sigmoid" | "torch.nn.Sigmoid") => Ok(Self::Sigmoid),
            Some("torch.nn.modules.linear.Identity" | "torch.nn.Identity") => Ok(Self::Identity),
            Some("torch.nn.modules.activation.Tanh" | "torch.nn.Tanh") => Ok(Self::Tanh),
            Some(other) if other.starts_with("torch.") => Err(DataError::Teacher {
                model: model.to_owned(),
                message: format!("activation {other:?} is not supported (Sigmoid, Identity or Tanh)"),
            }),
            Some(other) => {
                // sentence-transformers ignores non-torch paths without trust_remote_code.
                tracing::warn!(
                    model,
                    activation = other,
                    "ignoring a non-torch activation; using sigmoid"
                );
                Ok(Self::Sigmoid)
            }
        }
    }

    /// The name for reports.
    pub fn name(self) -> &'static str {
        match self {
            Self::Sigmoid => "sigmoid",
            Self::Identity => "identity (raw logit)",
            Self::Tanh => "tanh",
        }
    }

    fn apply(self, logit: f32) -> f32 {
        match self {
            Self::Sigmoid => 1.0 / (1.0 + (-logit).exp()),
            Self::Identity => logit,
            Self::Tanh => logit.tanh(),
        }
    }
}

/// One encoded (query, passage) pair.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedPair {
    /// Token ids, special tokens included.
    pub ids: Vec<u32>,
    /// Token type ids.
    pub types: Vec<u32>,
}

/// A loaded teacher (see the module docs).
pub struct Teacher<B: ModelBackend> {
    model: OpenProvenceModel<B>,
    tokenizer: Tokenizer,
    pad_id: u32,
    token_types: bool,
    activation: Activation,
    max_length: usize,
    device: B::Device,
}

fn read_config(dir: &Path, model: &str) -> Result<Value, DataError> {
    let path = dir.join("config.json");
    let text = std::fs::read_to_string(&path).map_err(|e| DataError::io(&path, e))?;
    serde_json::from_str(&text).map_err(|e| DataError::Teacher {
        model: model.to_owned(),
        message: format!("{}: {e}", path.display()),
    })
}

impl<B: ModelBackend> Teacher<B> {
    /// Loads `name_or_path` (a directory, or a Hub model id fetched through the shared cache).
    pub fn load(name_or_path: &str, hub: HubOptions, device: B::Device) -> Result<Self, DataError> {
        let dir: PathBuf = provence_hub::resolve_model_dir(name_or_path, hub)?;
        let fail = |message: String| DataError::Teacher {
            model: name_or_path.to_owned(),
            message,
        };
        let config = read_config(&dir, name_or_path)?;
        let architectures: Vec<&str> = config
            .get("architectures")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        if !architectures.iter().any(|a| a.ends_with("ForSequenceClassification")) {
            return Err(fail(format!(
                "not a sequence-classification checkpoint (architectures {architectures:?}); its head would be random"
            )));
        }
        let activation = Activation::from_config(&config, name_or_path)?;
        let model = OpenProvenceModel::<B>::load(&dir, &device).map_err(|e| fail(e.to_string()))?;
        let labels = model.config.base_model_config.num_labels();
        if labels != 1 {
            return Err(fail(format!(
                "has {labels} output labels; teacher scores need a one-label reranker (one score per pair)"
            )));
        }
        let pretrained = PretrainedTokenizer::from_pretrained(&dir).map_err(|e| fail(e.to_string()))?;
        let positions = config
            .get("max_position_embeddings")
            .and_then(Value::as_u64)
            .map(|n| n as usize);
        let max_length = match (pretrained.model_max_length(), positions) {
            (Some(a), Some(b)) => a.min(b),
            (Some(a), None) => a,
            (None, Some(b)) => b,
            (None, None) => {
                return Err(fail(
                    "neither model_max_length nor max_position_embeddings is set".to_owned(),
                ));
            }
        };
        let mut tokenizer = pretrained.tokenizer().clone();
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length,
                strategy: TruncationStrategy::LongestFirst,
                stride: 0,
                direction: TruncationDirection::Right,
            }))
            .map_err(|e| fail(e.to_string()))?;
        Ok(Self {
            pad_id: pretrained.pad_token_id().unwrap_or(0),
            token_types: model.config.base_model_config.reads_token_types(),
            model,
            tokenizer,
            activation,
            max_length,
            device,
        })
    }

    /// The activation in use.
    pub fn activation(&self) -> Activation {
        self.activation
    }

    /// The truncation length of a pair.
    pub fn max_length(&self) -> usize {
        self.max_length
    }

    /// The pair `(query, passage)` as the model reads it.
    pub fn encode(&self, query: &str, passage: &str) -> Result<EncodedPair, String> {
        let encoding = self
            .tokenizer
            .encode((query, passage), true)
            .map_err(|e| e.to_string())?;
        Ok(EncodedPair {
            ids: encoding.get_ids().to_vec(),
            types: encoding.get_type_ids().to_vec(),
        })
    }

    /// The activated score of every pair, in order (one padded forward pass).
    pub fn score(&self, pairs: &[&EncodedPair]) -> Vec<f32> {
        let logits = self.logits(pairs);
        logits.into_iter().map(|l| self.activation.apply(l)).collect()
    }

    /// The logit of every pair, in order (one padded forward pass).
    pub fn logits(&self, pairs: &[&EncodedPair]) -> Vec<f32> {
        let rows = pairs.len();
        let width = pairs.iter().map(|p| p.ids.len()).max().unwrap_or(0);
        let mut ids = vec![i64::from(self.pad_id); rows * width];
        let mut mask = vec![0i64; rows * width];
        let mut types = vec![0i64; rows * width];
        for (r, pair) in pairs.iter().enumerate() {
            for (c, (&id, &t)) in pair.ids.iter().zip(&pair.types).enumerate() {
                ids[r * width + c] = i64::from(id);
                mask[r * width + c] = 1;
                types[r * width + c] = i64::from(t);
            }
        }
        let tensor = |v: Vec<i64>| Tensor::<B, 2, Int>::from_data(TensorData::new(v, [rows, width]), &self.device);
        let types = self.token_types.then(|| tensor(types));
        let execution = self.model.execution();
        let logits = Backbone::forward(&self.model.ranking_model, tensor(ids), tensor(mask), types, &execution).logits;
        logits.into_data().convert::<f32>().to_vec().unwrap_or_default()
    }
}
