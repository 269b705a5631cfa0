//! Datasets for open-provence-rs: everything between a recipe's `data_args` and a tokenized
//! [`Batch`]: Hub/local/cache sources, schema checks, upstream-identical sampling and mixing, and
//! the collator; `datasets`' split expressions (`test[:200]`, `train[10%:]+test`); and whole datasets as Arrow tables, read from any source and written in the
//! `save_to_disk` and Hub parquet layouts (for the dataset-building stages).

mod batch;
mod collator;
mod error;
mod prepare;
mod pyrandom;
mod row;
mod sampling;
mod schema;
mod source;
mod split_expr;
mod table;

pub use batch::Batch;
pub use collator::{CollateError, Collator, CollatorConfig, IGNORE_INDEX, LabelAlignment};
pub use error::DatasetError;
pub use prepare::{DataOptions, DatasetReport, DatasetSpec, PrepareReport, PreparedData, prepare_datasets};
pub use pyrandom::{NumpyGenerator, PyRandom};
pub use row::Row;
pub use sampling::{filter_zero_relevance, n_samples_target, sample_items, sample_rows, train_test_split, upsample};
pub use schema::BadRowPolicy;
pub use source::{DataFile, ResolvedDataset, SourceResolver, SplitData, split_of_data_file};
pub use split_expr::{SplitExprError, SplitSlice, apply_limit, parse_split_expr, resolve_split_expr};
pub use table::{
    DEFAULT_MAX_SHARD_BYTES, DatasetTables, HfFeatures, OutputLayout, SplitTable, StagedDir, card_features_yaml,
    contiguous_shards, hf_features, write_dataset, write_parquet_split,
};
