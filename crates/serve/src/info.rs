//! The body of `GET /info`: text-embeddings-inference's `Info` (`router/src/lib.rs`), field for
//! field, followed by our own fields.

use crate::config::ServeConfig;
use crate::scorer::ModelCard;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use utoipa::ToSchema;

/// What kind of model this is, as TEI reports it: always a reranker (a sequence classifier with
/// one label), so clients that check `model_type` (Dify) accept it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ModelType {
    /// A reranker, with the labels of its `config.json`.
    Reranker(ClassifierModel),
}

/// The labels of a classifier (TEI's `ClassifierModel`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ClassifierModel {
    /// Label name per class id.
    #[schema(example = json!({"0": "LABEL_0"}))]
    pub id2label: BTreeMap<String, String>,
    /// Class id per label name.
    #[schema(example = json!({"LABEL_0": 0}))]
    pub label2id: BTreeMap<String, usize>,
}

/// `GET /info`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Info {
    /// The model as given to `--model` (a directory or a Hub id).
    #[schema(example = "hotchpotch/open-provence-reranker-v1")]
    pub model_id: String,
    /// The model's Hub revision; always null (not tracked).
    pub model_sha: Option<String>,
    /// Compute dtype (`float32`, `bfloat16`, `float16`).
    #[schema(example = "float32")]
    pub model_dtype: String,
    /// Same as `model_id` (TEI's default).
    pub served_model_name: String,
    /// `{"reranker": {"id2label": ..., "label2id": ...}}`.
    pub model_type: ModelType,
    /// Requests admitted at once (more get 429).
    pub max_concurrent_requests: usize,
    /// Tokens per block (the model's `max_length`). Longer passages are split into blocks, not
    /// truncated.
    pub max_input_length: usize,
    /// Padded tokens per forward pass.
    pub max_batch_tokens: usize,
    /// Requests merged into one model call.
    pub max_batch_requests: Option<usize>,
    /// Texts per request (more get 422).
    pub max_client_batch_size: usize,
    /// Always true: long inputs are accepted (split into blocks, never refused).
    pub auto_truncate: bool,
    /// Threads that tokenise (the one model thread).
    pub tokenization_workers: usize,
    /// The server's version.
    pub version: String,
    /// The server's git commit; null.
    pub sha: Option<String>,
    /// TEI's Docker image label; null.
    pub docker_label: Option<String>,
    /// Ours: the backbone (`model_type`, `base_model_name_or_path`, sizes).
    #[schema(value_type = Object)]
    pub backbone: Value,
    /// Ours: the Burn backend.
    pub backend: String,
    /// Ours: the pruning threshold used when a request gives none.
    pub default_threshold: f64,
    /// Ours: blocks per forward pass.
    pub max_batch_blocks: usize,
    /// Ours: how long the batcher waits for more requests under load.
    pub batch_wait_ms: f64,
    /// Ours: bytes per request body (more get 413).
    pub max_body_bytes: usize,
    /// Ours: whether requests need `Authorization: Bearer <key>`.
    pub auth_required: bool,
}

impl Info {
    /// The info of a server with `config` over a model described by `card`.
    pub(crate) fn new(card: ModelCard, config: &ServeConfig, threshold: f64) -> Self {
        let limits = &config.limits;
        Self {
            model_id: config.model_id.clone(),
            model_sha: None,
            model_dtype: card.dtype,
            served_model_name: config.model_id.clone(),
            model_type: ModelType::Reranker(ClassifierModel {
                id2label: card.id2label,
                label2id: card.label2id,
            }),
            max_concurrent_requests: limits.max_concurrent_requests,
            max_input_length: card.max_input_length,
            max_batch_tokens: limits.max_batch_tokens,
            max_batch_requests: Some(limits.max_batch_requests),
            max_client_batch_size: limits.max_client_batch_size,
            auto_truncate: true,
            tokenization_workers: 1,
            version: env!("CARGO_PKG_VERSION").to_string(),
            sha: None,
            docker_label: None,
            backbone: card.backbone,
            backend: card.backend,
            default_threshold: threshold,
            max_batch_blocks: limits.max_batch_blocks,
            batch_wait_ms: limits.batch_wait.as_secs_f64() * 1000.0,
            max_body_bytes: limits.max_body_bytes,
            auth_required: config.api_key.is_some(),
        }
    }
}
