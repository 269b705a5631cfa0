//! The router: endpoints (each described for the OpenAPI document), the JSON body extractor,
//! admission, and the metrics middleware.
//!
//! Routes as TEI lays them out for a reranker (`router/src/http/server.rs::run`): `POST /rerank`,
//! and the same handler at `POST /` and `POST /invocations` (SageMaker); `GET /health`, `GET /`
//! and `GET /ping`; `GET /info`; `GET /metrics`; the OpenAPI document at `/api-doc/openapi.json`
//! and a page at `/docs`. Ours: `POST /prune`. With an API key, every route but the health
//! probes, the metrics and the documentation needs it (as TEI).

use crate::access::{ApiKey, require_key};
use crate::api::{Defaults, Prepared, PruneRequest, PruneResponse, Rank, RerankRequest, ranks};
use crate::batcher::{Batcher, Job, Scored};
use crate::config::Limits;
use crate::error::{ApiError, ErrorResponse, ErrorType, Failure};
use crate::info::Info;
use crate::metrics::{Metrics, Stages, TeiOutcome};
use crate::openapi;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Extension, FromRequest, Request, State};
use axum::http::{HeaderName, HeaderValue, Method, StatusCode, Uri, header};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use provence_infer::{ProcessInput, ProcessOptions};
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
    pub info: Info,
    /// The server's default threshold.
    pub threshold: f64,
    pub limits: Limits,
}

type Shared = Arc<AppState>;

/// What a scored request cost: TEI's `x-compute-*` headers and `te_request_*` durations.
#[derive(Debug, Clone, Copy)]
struct Served {
    characters: usize,
    stages: Stages,
}

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
    async fn score(&self, input: ProcessInput, options: &ProcessOptions, cost: usize) -> Result<Scored, ApiError> {
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

/// The service's routes over `state`; `api_key`, when set, guards every route but the probes,
/// the metrics and the documentation.
pub(crate) fn router(state: Shared, api_key: Option<ApiKey>) -> Router {
    let body_limit = state.limits.max_body_bytes;
    let scoring = Router::new()
        .route("/rerank", post(rerank))
        .route("/", post(rerank))
        .route("/invocations", post(rerank))
        .route("/prune", post(prune))
        .route_layer(middleware::from_fn_with_state(state.clone(), tei_metrics));
    let mut guarded = scoring.route("/info", get(info));
    if let Some(key) = api_key {
        guarded = guarded.route_layer(middleware::from_fn_with_state(Arc::new(key), require_key));
    }
    let open = Router::new()
        .route("/health", get(health))
        .route("/", get(health))
        .route("/ping", get(health))
        .route("/metrics", get(metrics))
        .route(openapi::DOCUMENT_PATH, get(openapi_document))
        .route(openapi::PAGE_PATH, get(docs_page));
    guarded
        .merge(open)
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(middleware::from_fn_with_state(state.clone(), track))
        .with_state(state)
}

/// The metrics-only router of `--prometheus-port`.
pub(crate) fn metrics_router(state: Shared) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/", get(metrics))
        .with_state(state)
}

/// A JSON body: `413` over the size limit, `422` when it is not the expected JSON (any
/// content type is accepted, so `curl -d` works without a header).
pub(crate) struct JsonBody<T>(T);

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

/// A scored answer: `body`, with what it cost for the TEI layer.
fn served(scored: &Scored, characters: usize, body: impl IntoResponse) -> Response {
    let timing = &scored.batch.timing;
    let stages = Stages {
        tokenization: timing.preprocess_seconds,
        queue: scored.queue_seconds,
        inference: (timing.total_seconds - timing.preprocess_seconds).max(0.0),
    };
    (Extension(Served { characters, stages }), body).into_response()
}

/// Rerank passages by relevance to a query (TEI's `/rerank`; also at `POST /` and `POST
/// /invocations`). Passages longer than the model's window are split into blocks and scored
/// whole, never truncated.
#[utoipa::path(
    post,
    path = "/rerank",
    tag = openapi::TEI_TAG,
    request_body = RerankRequest,
    responses(
        (status = 200, description = "Ranks, best first (ties: later passage first, as TEI)", body = [Rank]),
        (status = 400, description = "`texts` is empty", body = ErrorResponse,
            example = json!({"error": "`texts` cannot be empty", "error_type": "Empty"})),
        (status = 401, description = "Missing or wrong API key (with --api-key); empty body"),
        (status = 413, description = "Body over max_body_bytes", body = ErrorResponse),
        (status = 422, description = "Invalid request or untokenisable text", body = ErrorResponse,
            example = json!({"error": "batch size 40 > maximum allowed batch size 32", "error_type": "Validation"})),
        (status = 424, description = "The model failed", body = ErrorResponse,
            example = json!({"error": "score is NaN", "error_type": "Backend"})),
        (status = 429, description = "Overloaded (Retry-After: 1)", body = ErrorResponse),
        (status = 503, description = "The model worker has stopped", body = ErrorResponse),
    ),
    security((), ("api_key" = []))
)]
pub(crate) async fn rerank(
    State(state): State<Shared>,
    JsonBody(request): JsonBody<RerankRequest>,
) -> Result<Response, ApiError> {
    let (prepared, view) = request.prepare(state.defaults())?;
    let Prepared {
        input,
        options,
        threshold,
        cost,
        characters,
    } = prepared;
    let scored = state.score(input, &options, cost).await?;
    let body = Json(ranks(view, &scored.batch, threshold, &options));
    Ok(served(&scored, characters, body))
}

/// Prune contexts for questions: `process()` over HTTP, answered with `process()`'s JSON.
#[utoipa::path(
    post,
    path = "/prune",
    tag = openapi::OURS_TAG,
    request_body = PruneRequest,
    responses(
        (status = 200, description = "process()'s answer", body = PruneResponse),
        (status = 401, description = "Missing or wrong API key (with --api-key); empty body"),
        (status = 413, description = "Body over max_body_bytes", body = ErrorResponse),
        (status = 422, description = "Invalid request or untokenisable text", body = ErrorResponse),
        (status = 424, description = "The model failed", body = ErrorResponse),
        (status = 429, description = "Overloaded (Retry-After: 1)", body = ErrorResponse),
        (status = 503, description = "The model worker has stopped", body = ErrorResponse),
    ),
    security((), ("api_key" = []))
)]
pub(crate) async fn prune(
    State(state): State<Shared>,
    JsonBody(request): JsonBody<PruneRequest>,
) -> Result<Response, ApiError> {
    let Prepared {
        input,
        options,
        threshold,
        cost,
        characters,
    } = request.prepare(state.defaults())?;
    let scored = state.score(input, &options, cost).await?;
    let answer = scored.batch.finish(threshold, &options).to_json();
    Ok(served(&scored, characters, Json(PruneResponse(answer))))
}

/// Health probe (also at `GET /` and `GET /ping`, as TEI); never needs the API key.
#[utoipa::path(
    get,
    path = "/health",
    tag = openapi::TEI_TAG,
    responses(
        (status = 200, description = "Serving", body = Object, example = json!({"status": "ok"})),
        (status = 503, description = "The model worker has stopped", body = ErrorResponse),
    )
)]
pub(crate) async fn health(State(state): State<Shared>) -> Result<Json<Value>, ApiError> {
    if state.batcher.is_alive() {
        Ok(Json(json!({"status": "ok"})))
    } else {
        Err(ApiError::unhealthy())
    }
}

/// The served model and the server's limits (TEI's `Info`, then ours).
#[utoipa::path(
    get,
    path = "/info",
    tag = openapi::TEI_TAG,
    responses(
        (status = 200, description = "Served model info", body = Info),
        (status = 401, description = "Missing or wrong API key (with --api-key); empty body"),
    ),
    security((), ("api_key" = []))
)]
pub(crate) async fn info(State(state): State<Shared>) -> Json<Info> {
    Json(state.info.clone())
}

/// Prometheus metrics: TEI's `te_*` series and ours (`provence_*`); never needs the API key.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = openapi::TEI_TAG,
    responses((status = 200, description = "Prometheus text format", body = String, content_type = "text/plain"))
)]
pub(crate) async fn metrics(State(state): State<Shared>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
        state.metrics.render(state.in_flight()),
    )
}

async fn openapi_document() -> impl IntoResponse {
    Json(openapi::document())
}

async fn docs_page() -> Html<&'static str> {
    Html(openapi::PAGE)
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

/// Counts every request by route and status, with its latency. The route is the path when one
/// of the routes matched it, else `other` (only the fallback answers 404), so the labels stay
/// the router's few paths whatever clients send.
async fn track(State(state): State<Shared>, request: Request, next: Next) -> Response {
    let path = request.uri().path().to_owned();
    let start = Instant::now();
    let response = next.run(request).await;
    let status = response.status();
    let route = if status == StatusCode::NOT_FOUND {
        "other"
    } else {
        &path
    };
    state
        .metrics
        .observe_request(route, status.as_u16(), start.elapsed().as_secs_f64());
    response
}

/// TEI's side of a scoring request: the `te_request_*` series and, on success, TEI's
/// `x-compute-*` / `x-*-time` headers (milliseconds).
async fn tei_metrics(State(state): State<Shared>, request: Request, next: Next) -> Response {
    let start = Instant::now();
    let mut response = next.run(request).await;
    let seconds = start.elapsed().as_secs_f64();
    let served = response.extensions().get::<Served>().copied();
    let outcome = match (response.extensions().get::<Failure>(), served) {
        (Some(Failure(err)), _) => TeiOutcome::Failure(err),
        (None, served) if response.status().is_success() => TeiOutcome::Success(served.map(|s| s.stages)),
        _ => return response,
    };
    state.metrics.observe_tei("batch", &outcome, seconds);
    if let Some(served) = served {
        let ms = |s: f64| ((s * 1000.0).round() as u64).to_string();
        let headers = [
            ("x-compute-type", state.info.backend.to_lowercase()),
            ("x-compute-time", ms(seconds)),
            ("x-compute-characters", served.characters.to_string()),
            ("x-total-time", ms(seconds)),
            ("x-tokenization-time", ms(served.stages.tokenization)),
            ("x-queue-time", ms(served.stages.queue)),
            ("x-inference-time", ms(served.stages.inference)),
        ];
        for (name, value) in headers {
            if let Ok(value) = HeaderValue::from_str(&value) {
                response.headers_mut().insert(HeaderName::from_static(name), value);
            }
        }
    }
    response
}
