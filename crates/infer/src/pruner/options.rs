//! How `process()` runs: its options with upstream's defaults, and the time spent per stage.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use serde_json::{Value, json};

use super::batching::DEFAULT_MAX_BATCH_TOKENS;
use super::inputs::Title;
use crate::split::{SentenceSplitter, SplitterLanguage};

/// Options of `process()` with upstream's defaults.
#[derive(Clone)]
pub struct ProcessOptions {
    /// Titles.
    pub title: Title,
    /// Take each document's first non-blank line (sentence) as its title.
    pub first_line_as_title: bool,
    /// At most this many blocks per forward pass.
    pub batch_size: usize,
    /// At most this many padded tokens (blocks × longest block) per forward pass; blocks are
    /// sorted by length first, and results come back in input order.
    pub max_batch_tokens: usize,
    /// Keep sentences with probability above this; `None` → the model's default → 0.1
    /// ([`Pruner::resolve_threshold`]).
    pub threshold: Option<f64>,
    /// Force-keep the title sentence when any sentence is kept.
    pub always_select_title: bool,
    /// Sort documents per query by score, descending.
    pub reorder: bool,
    /// With `reorder`, keep only the first k documents.
    pub top_k: Option<usize>,
    /// Built-in splitter language (ignored when `sentence_splitter` is set).
    pub language: SplitterLanguage,
    /// A custom sentence splitter.
    pub sentence_splitter: Option<Arc<dyn SentenceSplitter>>,
    /// Max over blocks (true) or the first block's score.
    pub use_best_reranker_score: bool,
    /// Score 0.0 when the pruned text is blank.
    pub zero_score_when_empty: bool,
    /// Strip sentences and drop blank ones (legacy).
    pub strip_sentences: bool,
    /// Fragments of `max_length - 2` instead of `max_length / 2` tokens.
    pub respect_sentence_boundaries: bool,
    /// Return `sentence_probabilities`.
    pub return_sentence_metrics: bool,
    /// Return `kept_spans`: where the kept content sentences lie in each document's source
    /// text ([`Document::source_text`]), so that their slices joined are the pruned text
    /// ([`DocumentResult::kept_spans`]; code points in the JSON).
    ///
    /// [`Document::source_text`]: super::Document::source_text
    /// [`DocumentResult::kept_spans`]: super::DocumentResult::kept_spans
    pub return_offsets: bool,
    /// Return `kept_sentences` / `removed_sentences`.
    pub return_sentence_texts: bool,
    /// Reproduce upstream's bug of reading content probabilities shifted left by the title token
    /// count (see `docs/parity.md`). Off by default: windows are read where the tokens are.
    pub legacy_prefix_offset: bool,
    /// Reproduce upstream's long questions: the whole question goes into every block while one
    /// context token still fits (cut only beyond `max_length - 4`), instead of being cut to
    /// `max_length / 2` tokens (see `docs/parity.md`). Off by default.
    pub legacy_full_query: bool,
    /// Show a progress bar over the forward batches on stderr (only drawn on a terminal).
    pub progress: bool,
    /// Stops the call between forward batches once set (from another thread: a signal handler,
    /// a language binding's interrupt check); the call then returns [`PruneError::Cancelled`].
    ///
    /// [`PruneError::Cancelled`]: super::PruneError::Cancelled
    pub cancel: Option<Arc<AtomicBool>>,
}

impl ProcessOptions {
    /// Whether [`Self::cancel`] has been set.
    pub fn is_cancelled(&self) -> bool {
        self.cancel.as_ref().is_some_and(|flag| flag.load(Ordering::Relaxed))
    }
}

impl Default for ProcessOptions {
    fn default() -> Self {
        Self {
            title: Title::FirstSentence,
            first_line_as_title: false,
            batch_size: 32,
            max_batch_tokens: DEFAULT_MAX_BATCH_TOKENS,
            threshold: None,
            always_select_title: false,
            reorder: false,
            top_k: None,
            language: SplitterLanguage::Auto,
            sentence_splitter: None,
            use_best_reranker_score: true,
            zero_score_when_empty: true,
            strip_sentences: false,
            respect_sentence_boundaries: false,
            return_sentence_metrics: false,
            return_offsets: false,
            return_sentence_texts: false,
            legacy_prefix_offset: false,
            legacy_full_query: false,
            progress: false,
            cancel: None,
        }
    }
}

/// Seconds spent per stage.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Timing {
    /// Titles, splitting, tokenising, fragments.
    pub preprocess_seconds: f64,
    /// Blocks and padded batches.
    pub assembly_seconds: f64,
    /// Model forward passes (incl. copying results to the host).
    pub inference_seconds: f64,
    /// Aggregation to sentences.
    pub postprocess_seconds: f64,
    /// Wall time of the whole call.
    pub total_seconds: f64,
}

impl Timing {
    /// Every stage's seconds times `factor` (a share of a call that served several requests).
    pub fn scaled(&self, factor: f64) -> Self {
        Self {
            preprocess_seconds: self.preprocess_seconds * factor,
            assembly_seconds: self.assembly_seconds * factor,
            inference_seconds: self.inference_seconds * factor,
            postprocess_seconds: self.postprocess_seconds * factor,
            total_seconds: self.total_seconds * factor,
        }
    }

    /// Upstream's `timing` dict keys.
    pub fn to_json(&self) -> Value {
        json!({
            "preprocess_seconds": self.preprocess_seconds,
            "assembly_seconds": self.assembly_seconds,
            "inference_seconds": self.inference_seconds,
            "postprocess_seconds": self.postprocess_seconds,
            "total_seconds": self.total_seconds,
        })
    }
}
