//! Dataset evaluation for open-provence-rs: span-level metrics as upstream's
//! `scripts/eval_datasets.py` computes them, evaluation of a [`provence_infer::Pruner`] over the
//! datasets of an eval config, and Markdown/JSON reports.

mod dataset_eval;
mod metrics;
pub mod mldr;
mod report;

pub use dataset_eval::{
    DatasetEvalError, DatasetOutcome, EvalDatasetsConfig, EvalSettings, RankingMetrics, evaluate_datasets,
    select_datasets,
};
pub use metrics::{ConfusionMatrix, DatasetMetrics, MetricsAccumulator, PassageOutcome, RocData, normalize_relevance};
pub use report::{EvalReport, ReportContext, evaluate_and_report, json_report, markdown};
