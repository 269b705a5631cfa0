//! The error of a model configuration that cannot be read or used.

use std::path::PathBuf;

/// A configuration file that cannot be read or does not describe a usable model.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read model config {path}: {source}")]
    Io {
        /// File that was read.
        path: PathBuf,
        /// Underlying I/O error.
        source: std::io::Error,
    },
    /// The file is not valid JSON or a key has the wrong JSON type.
    #[error("cannot parse model config {path}: {source}")]
    Json {
        /// File that was parsed.
        path: PathBuf,
        /// Underlying parse error.
        source: serde_json::Error,
    },
    /// A key has a value the model cannot use.
    #[error("invalid model config key `{key}`: {message}")]
    Invalid {
        /// The offending config key.
        key: String,
        /// What was expected.
        message: String,
    },
}

impl ConfigError {
    pub(crate) fn invalid(key: &str, message: impl Into<String>) -> Self {
        Self::Invalid {
            key: key.to_owned(),
            message: message.into(),
        }
    }
}
