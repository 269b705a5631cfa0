//! The crate's typed errors: each names the URL or file involved and what failed.

use std::path::PathBuf;

/// Failures of talking to an LLM endpoint, of its answer cache, or of a chat template.
#[derive(Debug, thiserror::Error)]
pub enum LlmError {
    /// The endpoint answered with an HTTP error (after the retries, for retryable ones).
    #[error("{url}: HTTP {status} after {attempts} attempt(s): {body}")]
    Status {
        /// The request URL.
        url: String,
        /// The HTTP status.
        status: u16,
        /// The start of the answer's body.
        body: String,
        /// Requests sent.
        attempts: u32,
    },
    /// No answer within the request timeout, on every attempt.
    #[error("{url}: no answer within {timeout_secs} s (after {attempts} attempt(s))")]
    Timeout {
        /// The request URL.
        url: String,
        /// The per-request timeout.
        timeout_secs: f64,
        /// Requests sent.
        attempts: u32,
    },
    /// The endpoint could not be reached (connection refused, DNS, TLS), on every attempt.
    #[error("{url}: {message} (after {attempts} attempt(s))")]
    Transport {
        /// The request URL.
        url: String,
        /// What failed.
        message: String,
        /// Requests sent.
        attempts: u32,
    },
    /// A successful HTTP answer without the JSON an OpenAI-compatible server sends.
    #[error("{url}: unusable answer: {message}")]
    BadResponse {
        /// The request URL.
        url: String,
        /// What is wrong with it.
        message: String,
    },
    /// The answer cache could not be read or written.
    #[error("answer cache {}: {message}", path.display())]
    Cache {
        /// The cache file or directory.
        path: PathBuf,
        /// What failed.
        message: String,
    },
    /// A chat template could not be parsed or rendered.
    #[error("chat template: {message}")]
    Template {
        /// What the template engine reported.
        message: String,
    },
    /// A setting is unusable (an endpoint that is not an http(s) URL, zero concurrency).
    #[error("invalid {key}: {message}")]
    Config {
        /// The setting.
        key: &'static str,
        /// What was expected.
        message: String,
    },
}
