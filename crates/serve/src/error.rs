//! Errors: why the server could not start ([`ServeError`]) and what a request is answered with
//! when it cannot be served ([`ApiError`], text-embeddings-inference's `{error, error_type}`
//! with TEI's statuses: 400 empty, 413 body size, 422 validation and tokenizer, 424 backend,
//! 429 overloaded, 503 unhealthy).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use provence_infer::PruneError;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Why the server could not start or stopped abnormally.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// A limit, the default threshold, the API key or a CORS origin is invalid.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// The address could not be bound.
    #[error("binding {addr}: {source}")]
    Bind {
        /// `host:port` as configured.
        addr: String,
        /// Why.
        source: std::io::Error,
    },
    /// The async runtime could not be built, or serving failed.
    #[error("server: {0}")]
    Io(#[from] std::io::Error),
    /// The batcher thread could not be started or did not stop cleanly.
    #[error("batcher thread: {0}")]
    Batcher(String),
}

/// The kind of a request error, serialised as text-embeddings-inference names it (plus
/// `NotFound`, ours: TEI answers unknown routes with an empty body).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub enum ErrorType {
    /// The model worker is gone (503).
    Unhealthy,
    /// Scoring failed (424).
    Backend,
    /// Too many requests in flight (429).
    Overloaded,
    /// The request is malformed or breaks a limit (422, 413 for the body size).
    Validation,
    /// A text could not be tokenised (422).
    Tokenizer,
    /// The request has nothing to score (400).
    Empty,
    /// No such route (404) or method (405).
    NotFound,
}

/// The JSON body of every error answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ErrorResponse {
    /// What went wrong, for a person.
    #[schema(example = "`texts` cannot be empty")]
    pub error: String,
    /// The kind, for a program.
    pub error_type: ErrorType,
}

/// A request's error response: a status and a JSON `{error, error_type}` body.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Kind.
    pub error_type: ErrorType,
    /// Message for the client.
    pub message: String,
    /// The `err` label of TEI's `te_request_failure` counter.
    failure: &'static str,
}

/// Attached to every error response, so that the metrics layer can count it by TEI's label.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Failure(pub &'static str);

impl ApiError {
    /// A 422 validation error.
    pub fn validation(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, ErrorType::Validation, message)
    }

    /// A 424 backend error: the model failed.
    pub fn backend(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FAILED_DEPENDENCY, ErrorType::Backend, message)
    }

    /// An error of any status and kind.
    pub fn new(status: StatusCode, error_type: ErrorType, message: impl Into<String>) -> Self {
        let failure = match error_type {
            ErrorType::Unhealthy => "unhealthy",
            ErrorType::Backend => "inference",
            ErrorType::Overloaded => "overloaded",
            ErrorType::Tokenizer => "tokenization",
            ErrorType::Validation | ErrorType::Empty | ErrorType::NotFound => "validation",
        };
        Self {
            status,
            error_type,
            message: message.into(),
            failure,
        }
    }

    /// 422: more texts in one request than `max_client_batch_size` (TEI's message).
    pub(crate) fn batch_size(count: usize, limit: usize) -> Self {
        Self {
            failure: "batch_size",
            ..Self::validation(format!(
                "batch size {count} > maximum allowed batch size {limit} (max_client_batch_size)"
            ))
        }
    }

    /// 429: too many requests in flight.
    pub(crate) fn overloaded(limit: usize) -> Self {
        Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            ErrorType::Overloaded,
            format!("Model is overloaded: {limit} requests already in flight; retry later"),
        )
    }

    /// 503: the model worker has stopped.
    pub(crate) fn unhealthy() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            ErrorType::Unhealthy,
            "unhealthy: the model worker is not running",
        )
    }
}

impl From<PruneError> for ApiError {
    fn from(error: PruneError) -> Self {
        match error {
            PruneError::Shape(_) | PruneError::Threshold { .. } => Self::validation(error.to_string()),
            PruneError::Tokenize { .. } => Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                ErrorType::Tokenizer,
                error.to_string(),
            ),
            _ => Self::backend(error.to_string()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorResponse {
            error: self.message,
            error_type: self.error_type,
        };
        let mut response = (self.status, axum::Json(body)).into_response();
        if matches!(
            self.status,
            StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE
        ) {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        response.extensions_mut().insert(Failure(self.failure));
        response
    }
}
