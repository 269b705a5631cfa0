//! The router: endpoints, the JSON body extractor, admission and the metrics middleware.

use crate::api::{Defaults, Prepared, PruneRequest, Rank, RerankRequest, ranks};
use crate::batcher::{Batcher, Job};
use crate::config::Limits;
use crate::error::{ApiError, ErrorType};
use crate::metrics::Metrics;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, FromRequest, Request, State};
use axum::http::{Method, StatusCode, Uri, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use provence_infer::{ProcessInput, ProcessOptions, ScoredBatch};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::{Semaphore, oneshot};

/// What every handler shares.
pub(crate) struct AppState {
    pub batcher: Batcher,
    /// One permit per request that may be in flight.
    pub admitted: Arc<Semaphore>,
    pub metrics: Arc<Metrics>,
    /// The body of `GET /info`.
    pub info: Value,
    /// The server's default threshold.
    pub threshold: f64,
    pub limits: Limits,
}

type Shared = Arc<AppState>;

impl AppState {
    fn defaults(&self) -> Defaults {
        Defaults {
            threshold: self.threshold,
            max_client_batch_size: self.limits.max_client_batch_size,
        }
    }

    fn in_flight(&self) -> usize {
        self.limits
            .max_concurrent_requests
            .saturating_sub(self.admitted.available_permits())
    }

    /// Admits the request (or answers 429), queues it and waits for its scores.
    async fn score(&self, input: ProcessInput, options: &ProcessOptions, cost: usize) -> Result<ScoredBatch, ApiError> {
        let _permit = self
            .admitted
            .clone()
            .try_acquire_owned()
            .map_err(|_| ApiError::overloaded(self.limits.max_concurrent_requests))?;
        let (reply, answer) = oneshot::channel();
        let job = Job {
            input,
            options: options.clone(),
            cost,
            queued: Instant::now(),
            reply,
        };
        if !self.batcher.submit(job) {
            return Err(ApiError::unhealthy());
        }
        answer.await.map_err(|_| ApiError::unhealthy())?
    }
}

/// The service's routes over `state`.
pub(crate) fn router(state: Shared) -> Router {
    let body_limit = state.limits.max_body_bytes;
    Router::new()
        .route("/rerank", post(rerank))
        .route("/prune", post(prune))
        .route("/health", get(health))
        .route("/info", get(info))
        .route("/metrics", get(metrics))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(middleware::from_fn_with_state(state.clone(), track))
        .with_state(state)
}

/// A JSON body: `413` over the size limit, `422` when it is not the expected JSON (any
/// content type is accepted, so `curl -d` works without a header).
struct JsonBody<T>(T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        let bytes = Bytes::from_request(request, state).await.map_err(|rejection| {
            let status = rejection.status();
            let message = if status == StatusCode::PAYLOAD_TOO_LARGE {
                "request body too large (max_body_bytes)".to_string()
            } else {
                rejection.body_text()
            };
            ApiError::new(status, ErrorType::Validation, message)
        })?;
        serde_json::from_slice(&bytes)
            .map(JsonBody)
            .map_err(|e| ApiError::validation(format!("invalid request body: {e}")))
    }
}

async fn rerank(
    State(state): State<Shared>,
    JsonBody(request): JsonBody<RerankRequest>,
) -> Result<Json<Vec<Rank>>, ApiError> {
    let (prepared, view) = request.prepare(state.defaults())?;
    let Prepared {
        input,
        options,
        threshold,
        cost,
    } = prepared;
    let scored = state.score(input, &options, cost).await?;
    Ok(Json(ranks(view, &scored, threshold, &options)))
}

async fn prune(
    State(state): State<Shared>,
    JsonBody(request): JsonBody<PruneRequest>,
) -> Result<Json<Value>, ApiError> {
    let Prepared {
        input,
        options,
        threshold,
        cost,
    } = request.prepare(state.defaults())?;
    let scored = state.score(input, &options, cost).await?;
    Ok(Json(scored.finish(threshold, &options).to_json()))
}

async fn health(State(state): State<Shared>) -> Result<Json<Value>, ApiError> {
    if state.batcher.is_alive() {
        Ok(Json(json!({"status": "ok"})))
    } else {
        Err(ApiError::unhealthy())
    }
}

async fn info(State(state): State<Shared>) -> Json<Value> {
    Json(state.info.clone())
}

async fn metrics(State(state): State<Shared>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
        state.metrics.render(state.in_flight()),
    )
}

async fn not_found(method: Method, uri: Uri) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        ErrorType::NotFound,
        format!("no route {method} {}", uri.path()),
    )
}

async fn method_not_allowed(method: Method, uri: Uri) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        ErrorType::NotFound,
        format!("{} does not accept {method}", uri.path()),
    )
}

/// Counts every request by route and status, with its latency.
async fn track(State(state): State<Shared>, request: Request, next: Next) -> Response {
    let path = request.uri().path().to_owned();
    let start = Instant::now();
    let response = next.run(request).await;
    state
        .metrics
        .observe_request(&path, response.status().as_u16(), start.elapsed().as_secs_f64());
    response
}
