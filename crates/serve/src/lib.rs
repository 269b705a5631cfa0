//! HTTP pruning and reranking service for open-provence-rs (`open_provence_eval serve`).
//!
//! - `POST /rerank`: text-embeddings-inference's rerank API (plus `return_pruned`);
//! - `POST /prune`: `process()` over HTTP, answered with `process()`'s JSON;
//! - `GET /health`, `GET /info`, `GET /metrics` (Prometheus text format).
//!
//! Requests are parsed and checked on the async runtime; the model runs on one dedicated thread
//! that merges concurrent requests into shared forward passes (dynamic batching, see
//! [`Limits`]). Every request gets exactly its own results, equal to `Pruner::process` on the
//! same input. See `docs/serving.md`.
//!
//! ```no_run
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use provence_infer::{InferenceBackend, Pruner, default_device};
//! let pruner = Pruner::<InferenceBackend>::from_pretrained("output/run/final_model", default_device())?;
//! provence_serve::serve(pruner, &provence_serve::ServeConfig::new("output/run/final_model"))?;
//! # Ok(())
//! # }
//! ```

mod api;
mod batcher;
mod config;
mod error;
mod metrics;
mod routes;
mod server;

pub use api::{PruneRequest, Rank, RerankRequest};
pub use config::{Limits, ServeConfig};
pub use error::{ApiError, ErrorType, ServeError};
pub use server::{Server, serve, shutdown_signal};
