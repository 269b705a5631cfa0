//! What the server needs from a model: the [`Scorer`] trait, implemented by [`Pruner`].

use burn::tensor::{DType, Element};
use provence_infer::{ProcessInput, ProcessOptions, PruneError, Pruner, ScoredMany};
use provence_model::{DEFAULT_HUB_REPO, ModelBackend};
use serde_json::Value;
use std::collections::BTreeMap;

/// A model the server can put behind its endpoints: batched scoring for the batcher thread,
/// and what `GET /info` reports.
///
/// [`Pruner`] is the implementation; another one (a remote model, a model with its own
/// batching, or a test double that fails on purpose) implements these three methods. Every
/// call of [`Scorer::score_many`] runs on the one batcher thread.
pub trait Scorer: Send + 'static {
    /// Scores several requests in shared forward passes of at most `max_blocks` blocks and
    /// `max_tokens` padded tokens; one result per request, in order (see
    /// [`Pruner::score_many`]). A panic is answered as a backend failure (424) to every
    /// request of the call.
    fn score_many(
        &self,
        requests: Vec<(ProcessInput, &ProcessOptions)>,
        max_blocks: usize,
        max_tokens: usize,
    ) -> ScoredMany;

    /// The threshold used when a request gives none (see [`Pruner::resolve_threshold`]).
    fn resolve_threshold(&self, threshold: Option<f64>) -> Result<f64, PruneError>;

    /// What `GET /info` says about the model.
    fn card(&self) -> ModelCard;
}

/// The model's part of `GET /info`.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelCard {
    /// Tokens per block (the model's `max_length`): TEI's `max_input_length`.
    pub max_input_length: usize,
    /// Compute dtype as TEI names it (`float32`, `bfloat16`, `float16`).
    pub dtype: String,
    /// `id2label` of the model's `config.json`.
    pub id2label: BTreeMap<String, String>,
    /// `label2id` of the model's `config.json`.
    pub label2id: BTreeMap<String, usize>,
    /// The backbone: `model_type`, `base_model_name_or_path`, sizes.
    pub backbone: Value,
    /// The Burn backend's type name.
    pub backend: String,
}

impl<B> Scorer for Pruner<B>
where
    B: ModelBackend + 'static,
    Pruner<B>: Send,
{
    fn score_many(
        &self,
        requests: Vec<(ProcessInput, &ProcessOptions)>,
        max_blocks: usize,
        max_tokens: usize,
    ) -> ScoredMany {
        Pruner::score_many(self, requests, max_blocks, max_tokens)
    }

    fn resolve_threshold(&self, threshold: Option<f64>) -> Result<f64, PruneError> {
        Pruner::resolve_threshold(self, threshold)
    }

    fn card(&self) -> ModelCard {
        let config = &self.model().config;
        let base = &config.base_model_config;
        let backbone_json = base.to_json();
        let field = |key: &str| backbone_json.get(key).cloned().unwrap_or(Value::Null);
        // The labels exactly as this model's config.json states them.
        let written = config.to_final_model_json(DEFAULT_HUB_REPO);
        let labels = |key: &str| written.get(key).and_then(Value::as_object).cloned().unwrap_or_default();
        let id2label = labels("id2label")
            .into_iter()
            .filter_map(|(id, label)| Some((id, label.as_str()?.to_string())))
            .collect();
        let label2id = labels("label2id")
            .into_iter()
            .filter_map(|(label, id)| Some((label, usize::try_from(id.as_u64()?).ok()?)))
            .collect();
        let dtype = match <B::FloatElem as Element>::dtype() {
            DType::F16 => "float16",
            DType::BF16 => "bfloat16",
            DType::F64 => "float64",
            _ => "float32",
        };
        ModelCard {
            max_input_length: config.max_length(),
            dtype: dtype.to_string(),
            id2label,
            label2id,
            backbone: serde_json::json!({
                "model_type": base.model_type(),
                "base_model_name_or_path": config.base_model_name_or_path,
                "hidden_size": base.hidden_size(),
                "num_hidden_layers": field("num_hidden_layers"),
                "num_attention_heads": field("num_attention_heads"),
                "vocab_size": base.vocab_size(),
            }),
            backend: std::any::type_name::<B>()
                .rsplit("::")
                .next()
                .unwrap_or("unknown")
                .to_string(),
        }
    }
}
