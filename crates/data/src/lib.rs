//! Building context-relevance training datasets for open-provence-rs, stage by stage, as
//! upstream OpenProvence's `scripts/context-relevance-datasets/` do:
//!
//! * [`convert`] (`convert`): sentence-transformers triplets → `id`, `query`, `texts`,
//!   `context_spans`, `labels`, with upstream's splitters, sampling and split carve-out.
//! * [`filter_frequency`] (`filter`): drop train rows whose passages were seen too often
//!   (MD5 duplicate counts against kept rows), per threshold.
//!
//! Every stage reads a dataset through [`provence_datasets::SourceResolver`] (local directories
//! or the Hub) and writes a complete directory or nothing ([`OutputOptions`]), with a
//! `README.md` dataset card.

mod convert;
mod error;
mod filter;
mod output;

pub use convert::{
    ConvertOptions, ConvertReport, DEFAULT_MAX_TEXT_CHARS, SpanSplitter, SplitPlan, convert, dataset_slug, plan_splits,
    split_size, text_to_spans,
};
pub use error::{DataError, RowProblem};
pub use filter::{DEFAULT_THRESHOLDS, FilterOptions, FilterReport, FilterStats, filter_frequency};
pub use output::OutputOptions;
