//! What the server listens on and the limits it enforces.

use provence_infer::{DEFAULT_MAX_BATCH_TOKENS, ProcessOptions};
use std::time::Duration;

/// Where the server listens, who may call it, what it reports as its model, and its limits.
#[derive(Clone)]
pub struct ServeConfig {
    /// The model as the user named it (a directory or a Hub id), reported by `GET /info`.
    pub model_id: String,
    /// Address to bind (`127.0.0.1` by default; `0.0.0.0` or `::` listen on every interface,
    /// which the server logs as a warning).
    pub hostname: String,
    /// Port to bind; 0 picks a free one ([`crate::Server::local_addr`] tells which).
    pub port: u16,
    /// A second port that serves only `GET /metrics` (as TEI's `--prometheus-port`); `None`:
    /// metrics on the main port only. 0 picks a free one ([`crate::Server::metrics_addr`]).
    pub prometheus_port: Option<u16>,
    /// When set, every route but `/health`, `/ping`, `GET /`, `/metrics` and the API
    /// documentation needs `Authorization: Bearer <key>` (compared in constant time).
    pub api_key: Option<String>,
    /// Origins browsers may call the API from (`*`: any); empty: no CORS headers at all.
    pub cors_allow_origin: Vec<String>,
    /// The server's default pruning threshold (requests may give their own); `None` → the
    /// model config's `default_threadshold` → 0.1, as `process()` chooses.
    pub threshold: Option<f64>,
    /// Batching and admission limits.
    pub limits: Limits,
}

impl ServeConfig {
    /// A config for `model_id` on `127.0.0.1:8080` with the default limits, no API key and no
    /// CORS.
    pub fn new(model_id: impl Into<String>) -> Self {
        Self {
            model_id: model_id.into(),
            hostname: "127.0.0.1".into(),
            port: 8080,
            prometheus_port: None,
            api_key: None,
            cors_allow_origin: Vec::new(),
            threshold: None,
            limits: Limits::default(),
        }
    }
}

/// Batching and admission limits (the names follow text-embeddings-inference's flags).
#[derive(Debug, Clone, PartialEq)]
pub struct Limits {
    /// Padded tokens (blocks × longest block) per forward pass; also when the batcher stops
    /// collecting requests for one model call (by an estimate of their tokens).
    pub max_batch_tokens: usize,
    /// Requests merged into one model call.
    pub max_batch_requests: usize,
    /// Blocks (sequences) per forward pass.
    pub max_batch_blocks: usize,
    /// How long the batcher waits for more requests once it holds one, under load (other
    /// requests admitted, or the previous call merged several). Zero: take only what is
    /// already queued.
    pub batch_wait: Duration,
    /// Requests admitted at once (queued or being scored); more get `429` with `Retry-After`.
    pub max_concurrent_requests: usize,
    /// Texts (documents) in one request; more get `422`.
    pub max_client_batch_size: usize,
    /// Bytes of one request body; more get `413`.
    pub max_body_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_batch_tokens: DEFAULT_MAX_BATCH_TOKENS,
            max_batch_requests: 64,
            max_batch_blocks: ProcessOptions::default().batch_size,
            batch_wait: Duration::from_millis(2),
            max_concurrent_requests: 512,
            max_client_batch_size: 32,
            max_body_bytes: 2_000_000,
        }
    }
}

impl Limits {
    /// Limits without dynamic batching: one request per model call, no waiting.
    pub fn unbatched(self) -> Self {
        Self {
            max_batch_requests: 1,
            batch_wait: Duration::ZERO,
            ..self
        }
    }

    /// Rejects limits that would make the server refuse everything.
    pub(crate) fn check(&self) -> Result<(), String> {
        let positive = [
            ("max_batch_tokens", self.max_batch_tokens),
            ("max_batch_requests", self.max_batch_requests),
            ("max_batch_blocks", self.max_batch_blocks),
            ("max_concurrent_requests", self.max_concurrent_requests),
            ("max_client_batch_size", self.max_client_batch_size),
            ("max_body_bytes", self.max_body_bytes),
        ];
        match positive.iter().find(|(_, v)| *v == 0) {
            Some((name, _)) => Err(format!("{name} must be at least 1")),
            None => Ok(()),
        }
    }
}

/// Shows everything but the API key.
impl std::fmt::Debug for ServeConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServeConfig")
            .field("model_id", &self.model_id)
            .field("hostname", &self.hostname)
            .field("port", &self.port)
            .field("prometheus_port", &self.prometheus_port)
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .field("cors_allow_origin", &self.cors_allow_origin)
            .field("threshold", &self.threshold)
            .field("limits", &self.limits)
            .finish()
    }
}
