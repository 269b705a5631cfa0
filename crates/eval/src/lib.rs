//! Pruning inference, sentence splitting and dataset evaluation for open-provence-rs.

mod metrics;
mod split;

pub use metrics::{
    ConfusionMatrix, DatasetMetrics, MetricsAccumulator, PassageOutcome, RocData, extract_sentences,
    normalize_relevance,
};
pub use split::{
    DEFAULT_ENGLISH_SENTENCE_MAX_CHARS, EnglishSentenceSplitter, JapaneseSentenceSplitter, LanguageSplitter,
    PunktParameters, PunktSentenceTokenizer, SentenceSplitter, SimpleSentenceSplitter, SplitError, SplitterLanguage,
    fallback_sentence, is_japanese_fast, normalize_sentences, split_multiline_sentence,
};

mod backend;
mod dataset_eval;
mod pruner;
mod report;

pub use backend::{InferenceBackend, default_device};
pub use dataset_eval::{
    DatasetEvalError, DatasetOutcome, EvalDatasetsConfig, EvalSettings, RankingMetrics, evaluate_datasets,
    select_datasets,
};
pub use provence_config::{DEFAULT_THRESHOLD, check_threshold, error_line};
pub use provence_datasets::SourceResolver;
pub use provence_model::{AttentionLayout, Execution, init_cpu_threads};
pub use pruner::{
    BlockOutput, DEFAULT_MAX_BATCH_TOKENS, Document, DocumentResult, ForwardPass, InputShape, JsonlError, ProcessInput,
    ProcessOptions, ProcessOutput, PruneError, Pruner, ScoredBatch, ScoredDocument, ScoredMany, Timing, Title,
    parse_request, plan_batches, prepare, process_requests, read_requests, reorder,
};
pub use report::{EvalReport, ReportContext, evaluate_and_report, json_report, markdown};
