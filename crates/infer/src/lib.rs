//! Pruning inference for open-provence-rs: [`Pruner`] and upstream's `process()`, sentence
//! splitting, token-budget batching, JSONL requests and the backend choice of the binaries. No
//! dataset files (parquet/Arrow) are involved: the HTTP service and language bindings build on
//! this crate alone; dataset evaluation lives in `provence-eval`.

mod backend;
mod jsonl;
mod pruner;
mod split;

pub use backend::{InferenceBackend, default_device};
pub use jsonl::{JsonlError, parse_request, process_requests, read_requests};
pub use pruner::{
    BlockOutput, DEFAULT_MAX_BATCH_TOKENS, Document, DocumentResult, ForwardPass, InputShape, ProcessInput,
    ProcessOptions, ProcessOutput, PruneError, Pruner, ScoredBatch, ScoredDocument, ScoredMany, Timing, Title,
    plan_batches, prepare, reorder,
};
pub use split::pytext;
pub use split::{
    DEFAULT_ENGLISH_SENTENCE_MAX_CHARS, EnglishSentenceSplitter, JapaneseSentenceSplitter, LanguageSplitter,
    PunktParameters, PunktSentenceTokenizer, SentenceSplitter, SimpleSentenceSplitter, SplitError, SplitterLanguage,
    extract_sentences, fallback_sentence, is_japanese_fast, normalize_sentences, split_multiline_sentence,
};
