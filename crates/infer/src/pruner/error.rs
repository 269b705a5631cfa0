//! The typed error of loading a pruner and of `process()`.

use std::path::PathBuf;

use provence_hub::{HubError, TokenizerError};
use provence_model::LoadError;

/// Errors of the pruning pipeline.
#[derive(Debug, thiserror::Error)]
pub enum PruneError {
    /// The model directory does not exist.
    #[error("model directory {path} does not exist")]
    MissingModel {
        /// The path given.
        path: PathBuf,
    },
    /// The model could not be loaded.
    #[error("loading the model from {path}: {source}")]
    Model {
        /// The model directory.
        path: PathBuf,
        /// Why.
        source: LoadError,
    },
    /// The tokenizer could not be loaded.
    #[error("loading the tokenizer from {path}: {source}")]
    Tokenizer {
        /// The model directory.
        path: PathBuf,
        /// Why.
        source: TokenizerError,
    },
    /// The tokenizer lacks a special token the sequence layout needs.
    #[error("the tokenizer defines no {0} token (needed for the [CLS] query [SEP] context [SEP] layout)")]
    MissingSpecialToken(&'static str),
    /// Encoding or decoding failed.
    #[error("tokenizing {text:?}: {message}")]
    Tokenize {
        /// The text (shortened).
        text: String,
        /// The tokenizer's message.
        message: String,
    },
    /// Questions and contexts do not line up.
    #[error("{0}")]
    Shape(String),
    /// With `return_offsets`, a sentence is not a piece of its document's text after the
    /// sentence before it (a custom sentence splitter that rewrites the text).
    #[error(
        "return_offsets: sentence {sentence:?} is not in its document after the sentence before it; \
         for offsets a custom sentence splitter must return pieces of its input, in order"
    )]
    Offsets {
        /// The sentence (shortened).
        sentence: String,
    },
    /// A threshold (given, or the model config's `default_threadshold`) is not in [0, 1].
    #[error("{origin}: {message}")]
    Threshold {
        /// Where it came from.
        origin: &'static str,
        /// What is wrong.
        message: String,
    },
    /// The model is neither a local directory nor a Hub model id that could be fetched (or
    /// found in the cache when offline); the message names which.
    #[error(transparent)]
    Locate(Box<HubError>),
}
