//! HTTP pruning and reranking service for open-provence-rs (`open_provence_eval serve`), a
//! drop-in for text-embeddings-inference (TEI) serving a reranker:
//!
//! - `POST /rerank` (also `POST /`, `POST /invocations`): TEI's rerank API (plus
//!   `return_pruned`);
//! - `POST /prune`: `process()` over HTTP, answered with `process()`'s JSON;
//! - `GET /health` (also `GET /`, `GET /ping`), `GET /info` (TEI's `Info`), `GET /metrics`
//!   (Prometheus text format, TEI's `te_*` series and ours);
//! - `GET /api-doc/openapi.json` (the OpenAPI document) and `GET /docs` (a page rendering it).
//!
//! Requests are parsed and checked on the async runtime; the model runs on one dedicated thread
//! that merges concurrent requests into shared forward passes (dynamic batching, see
//! [`Limits`]). Every request gets exactly its own results, equal to `Pruner::process` on the
//! same input. An optional API key and CORS origins guard it. See `docs/serving.md`.
//!
//! ```no_run
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use provence_infer::{InferenceBackend, Pruner, default_device};
//! let pruner = Pruner::<InferenceBackend>::from_pretrained("output/run/final_model", default_device())?;
//! provence_serve::serve(pruner, &provence_serve::ServeConfig::new("output/run/final_model"))?;
//! # Ok(())
//! # }
//! ```

mod access;
mod api;
mod batcher;
mod config;
mod error;
mod info;
mod metrics;
mod openapi;
mod routes;
mod schema;
mod scorer;
mod server;

pub use api::{PruneRequest, PruneResponse, Rank, RerankRequest, TruncationDirection};
pub use config::{Limits, ServeConfig};
pub use error::{ApiError, ErrorResponse, ErrorType, ServeError};
pub use info::{ClassifierModel, Info, ModelType};
pub use scorer::{ModelCard, Scorer};
pub use server::{Server, serve, shutdown_signal};
