//! The crate's typed error: every variant names the dataset, split, file, row or key involved and
//! what was expected.

use std::path::PathBuf;

use provence_hub::HubError;

/// Errors raised while resolving, reading, checking, sampling or collating datasets.
#[derive(Debug, thiserror::Error)]
pub enum DatasetError {
    /// A file could not be opened or read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file or directory involved.
        path: PathBuf,
        /// The underlying I/O error.
        source: std::io::Error,
    },
    /// A parquet or Arrow IPC file could not be decoded.
    #[error("cannot decode {path}: {message}")]
    Decode {
        /// The file involved.
        path: PathBuf,
        /// What the decoder reported.
        message: String,
    },
    /// A JSON metadata file (`dataset_dict.json`, `state.json`) is malformed.
    #[error("invalid metadata file {path}: {message}")]
    Metadata {
        /// The file involved.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// The dataset does not provide the requested split.
    #[error("dataset {dataset}: split {split:?} not found (available: {available:?})")]
    UnknownSplit {
        /// Dataset name (Hub id or local path) and subset.
        dataset: String,
        /// The requested split.
        split: String,
        /// The splits that do exist.
        available: Vec<String>,
    },
    /// No data files were found for a dataset at all.
    #[error("dataset {dataset}: no data files found at {location} (expected {expected})")]
    NoDataFiles {
        /// Dataset name and subset.
        dataset: String,
        /// Where we looked.
        location: String,
        /// The layout we expected.
        expected: String,
    },
    /// A required column is absent from a split.
    #[error("dataset {dataset} split {split}: missing required column {column:?} in {path}")]
    MissingColumn {
        /// Dataset name and subset.
        dataset: String,
        /// Split name.
        split: String,
        /// The missing column.
        column: String,
        /// The file that lacks it.
        path: PathBuf,
    },
    /// A column has an Arrow type we cannot read as the schema requires.
    #[error("dataset {dataset}: column {column:?} in {path} has type {found}, expected {expected}")]
    ColumnType {
        /// Dataset name and subset.
        dataset: String,
        /// The column.
        column: String,
        /// The file involved.
        path: PathBuf,
        /// The Arrow type found.
        found: String,
        /// The type expected.
        expected: &'static str,
    },
    /// Neither the teacher column nor `labels` exists, so no ranking target can be built.
    #[error("dataset {dataset} split {split}: neither teacher column {teacher_column:?} nor \"labels\" is present")]
    NoRankingTarget {
        /// Dataset name and subset.
        dataset: String,
        /// Split name.
        split: String,
        /// The configured teacher column.
        teacher_column: String,
    },
    /// A row violates the schema (bad-row policy `fail`).
    #[error("dataset {dataset} split {split} row {row}{}: {problem}", id.as_deref().map(|i| format!(" (id {i:?})")).unwrap_or_default())]
    BadRow {
        /// Dataset name and subset.
        dataset: String,
        /// Split name.
        split: String,
        /// 0-based row index within the split.
        row: usize,
        /// The row's `id`, when present.
        id: Option<String>,
        /// What is wrong.
        problem: String,
    },
    /// A split that must hold rows is empty.
    #[error("dataset {dataset} split {split} is empty")]
    EmptySplit {
        /// Dataset name and subset.
        dataset: String,
        /// Split name.
        split: String,
    },
    /// An option value is out of its valid range (mirrors upstream's `ValueError`s).
    #[error("invalid {key}: {message}")]
    InvalidOption {
        /// The option (`items`, `n_samples`, `upsample_factor`, ...).
        key: String,
        /// What was expected.
        message: String,
    },
    /// A column's Arrow type has no Hugging Face `datasets` feature, so it cannot be written.
    #[error("column {column:?} has type {found}, which a Hugging Face dataset cannot hold")]
    NoFeature {
        /// The column.
        column: String,
        /// The Arrow type found.
        found: String,
    },
    /// Writing a dataset file failed (encoding, not I/O).
    #[error("cannot write {path}: {message}")]
    Encode {
        /// The file involved.
        path: PathBuf,
        /// What the encoder reported.
        message: String,
    },
    /// The output of a stage already exists and overwriting was not asked for.
    #[error("{path} already exists (pass --overwrite to replace it)")]
    OutputExists {
        /// The existing output.
        path: PathBuf,
    },
    /// Locating, listing or fetching a Hub repository (or its cache) failed, or a local path
    /// does not exist.
    #[error(transparent)]
    Hub(#[from] HubError),
}
