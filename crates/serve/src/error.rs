//! Errors: why the server could not start ([`ServeError`]) and what a request is answered with
//! when it cannot be served ([`ApiError`], text-embeddings-inference's `{error, error_type}`).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use provence_infer::PruneError;
use serde::Serialize;

/// Why the server could not start or stopped abnormally.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// A limit or the default threshold is invalid.
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

/// The kind of a request error, serialised as text-embeddings-inference names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum ErrorType {
    /// The request is malformed or breaks a limit (422, 413 for the body size).
    Validation,
    /// The request has nothing to score (400).
    Empty,
    /// A text could not be tokenised (422).
    Tokenizer,
    /// Too many requests in flight (429).
    Overloaded,
    /// The model worker is gone (503).
    Unhealthy,
    /// Scoring failed (500).
    Backend,
    /// No such route (404) or method (405).
    NotFound,
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
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: &'a str,
    error_type: ErrorType,
}

impl ApiError {
    /// A 422 validation error.
    pub fn validation(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, ErrorType::Validation, message)
    }

    /// An error of any status and kind.
    pub fn new(status: StatusCode, error_type: ErrorType, message: impl Into<String>) -> Self {
        Self {
            status,
            error_type,
            message: message.into(),
        }
    }

    /// 429: too many requests in flight.
    pub(crate) fn overloaded(limit: usize) -> Self {
        Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            ErrorType::Overloaded,
            format!("model is overloaded: {limit} requests already in flight; retry later"),
        )
    }

    /// 503: the model worker has stopped.
    pub(crate) fn unhealthy() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            ErrorType::Unhealthy,
            "the model worker is not running",
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
            _ => Self::new(StatusCode::INTERNAL_SERVER_ERROR, ErrorType::Backend, error.to_string()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: &self.message,
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
        response
    }
}
