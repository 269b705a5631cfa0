//! Pruning inference, sentence splitting and dataset evaluation for open-provence-rs.

pub mod metrics;
pub mod split;

pub use metrics::{DatasetMetrics, MetricsAccumulator, PassageOutcome};
pub use split::{
    EnglishSentenceSplitter, JapaneseSentenceSplitter, LanguageSplitter, SentenceSplitter, SimpleSentenceSplitter,
    SplitError, SplitterLanguage, is_japanese_fast,
};

pub mod backend;
pub mod dataset_eval;
pub mod pruner;
pub mod report;

pub use backend::{InferenceBackend, default_device};
pub use dataset_eval::{DatasetEvalError, EvalDatasetsConfig, EvalSettings, evaluate_datasets};
pub use provence_config::{check_threshold, error_line};
pub use provence_datasets::SourceResolver;
pub use provence_model::{AttentionLayout, init_cpu_threads};
pub use pruner::{
    Document, DocumentResult, InputShape, ProcessInput, ProcessOptions, ProcessOutput, PruneError, Pruner, ScoredBatch,
    Timing, Title,
};
pub use report::{EvalReport, ReportContext, evaluate_and_report, json_report, markdown};
