//! Building context-relevance training datasets for open-provence-rs, stage by stage, as
//! upstream OpenProvence's `scripts/context-relevance-datasets/` do:
//!
//! * [`convert`] (`convert`): sentence-transformers triplets → `id`, `query`, `texts`,
//!   `context_spans`, `labels`, with upstream's splitters, sampling and split carve-out.
//! * [`filter_frequency`] (`filter`): drop train rows whose passages were seen too often
//!   (MD5 duplicate counts against kept rows), per threshold.
//! * [`teacher_scores`] (`teacher`): a `teacher_scores.<name>` column from a cross-encoder
//!   reranker, length-sorted token-budget batches, resumable after a kill.
//! * [`label_spans`] (`label`): a `context_spans_relevance` column from an LLM behind an
//!   OpenAI-compatible endpoint (`provence-llm`), upstream's prompt and parsing, cached answers.
//! * [`push`] (`push`, with the `hub` feature): a built dataset to a Hub dataset repository in the
//!   Hub parquet layout with a dataset card, through `provence-hub`'s upload client.
//!
//! Every stage reads a dataset through [`provence_datasets::SourceResolver`] (local directories
//! or the Hub) and writes a complete directory or nothing ([`OutputOptions`]), with a
//! `README.md` dataset card.

mod convert;
mod error;
mod filter;
mod input;
mod label;
mod output;
#[cfg(feature = "hub")]
mod push;
mod teacher;

pub use convert::{
    ConvertOptions, ConvertReport, DEFAULT_MAX_TEXT_CHARS, SpanSplitter, SplitPlan, convert, dataset_slug, plan_splits,
    split_size, text_to_spans,
};
pub use error::{DataError, RowProblem};
pub use filter::{DEFAULT_THRESHOLDS, FilterOptions, FilterReport, FilterStats, filter_frequency};
pub use label::{
    DEFAULT_MAX_MODEL_LEN, LabelOptions, LabelReport, RELEVANCE_COLUMN, default_label_sampling, label_spans,
    parse_relevance_flags,
};
pub use output::OutputOptions;
#[cfg(feature = "hub")]
pub use push::{DEFAULT_PUSH_MESSAGE, PushOptions, PushReport, push};
pub use teacher::{
    Activation, DEFAULT_CHUNK_ROWS, DEFAULT_TEACHER_BATCH_SIZE, EncodedPair, TEACHER_COLUMN_PREFIX,
    TEACHER_OUTPUT_SUFFIX, Teacher, TeacherOptions, TeacherReport, default_column_name, default_teacher_output,
    teacher_scores, teacher_scores_with,
};
