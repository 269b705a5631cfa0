//! The crate's typed error: every variant names the dataset, split, row, column, file or option
//! involved and what was expected, so the binary can print it as one line.

use std::path::PathBuf;

use provence_datasets::DatasetError;
use provence_hub::HubError;

/// Errors of the dataset-building stages.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// Reading, locating or writing a dataset failed.
    #[error(transparent)]
    Dataset(#[from] DatasetError),
    /// Talking to the Hub failed.
    #[error(transparent)]
    Hub(#[from] HubError),
    /// A row cannot be used: a value is missing, empty, too long or of the wrong type.
    #[error("{0}")]
    BadRow(Box<RowProblem>),
    /// A split lacks a column the stage needs.
    #[error("dataset {dataset} split {split}: no column {expected} (it has {found:?})")]
    MissingColumn {
        /// Dataset (Hub id or path).
        dataset: String,
        /// Split.
        split: String,
        /// The column (or the alternatives) expected.
        expected: String,
        /// The columns it has.
        found: Vec<String>,
    },
    /// A column has a type the stage cannot read.
    #[error("dataset {dataset} split {split}: column {column:?} has type {found}, expected {expected}")]
    ColumnType {
        /// Dataset (Hub id or path).
        dataset: String,
        /// Split.
        split: String,
        /// The column.
        column: String,
        /// Its Arrow type.
        found: String,
        /// What the stage reads.
        expected: String,
    },
    /// The input has no rows to work on.
    #[error("dataset {dataset}: {problem}")]
    Empty {
        /// Dataset (Hub id or path).
        dataset: String,
        /// What is empty.
        problem: String,
    },
    /// An option value is out of range or inconsistent with the input.
    #[error("invalid {option}: {message}")]
    InvalidOption {
        /// The option (`--sample-size`, `--threshold`, ...).
        option: String,
        /// What was expected.
        message: String,
    },
    /// A file of the stage's own (a checkpoint, a cache entry, a summary) could not be used.
    #[error("{}: {message}", path.display())]
    File {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// The teacher model could not be loaded or run.
    #[error("teacher model {model}: {message}")]
    Teacher {
        /// The model (Hub id or directory).
        model: String,
        /// What went wrong.
        message: String,
    },
}

/// Where a bad value is (dataset, split, row, column) and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowProblem {
    /// Dataset (Hub id or path).
    pub dataset: String,
    /// Split.
    pub split: String,
    /// 0-based row index in the split as read.
    pub row: usize,
    /// The row's `id`, when it has one.
    pub id: Option<String>,
    /// The column involved.
    pub column: String,
    /// What is wrong and what was expected.
    pub problem: String,
}

impl std::fmt::Display for RowProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "dataset {} split {} row {}", self.dataset, self.split, self.row)?;
        if let Some(id) = &self.id {
            write!(f, " (id {id:?})")?;
        }
        write!(f, ", column {:?}: {}", self.column, self.problem)
    }
}

impl DataError {
    /// A [`DataError::BadRow`].
    pub(crate) fn bad_row(problem: RowProblem) -> Self {
        Self::BadRow(Box::new(problem))
    }

    /// A [`DataError::File`] from an I/O error.
    pub(crate) fn io(path: impl Into<PathBuf>, error: std::io::Error) -> Self {
        Self::File {
            path: path.into(),
            message: error.to_string(),
        }
    }

    /// A [`DataError::InvalidOption`].
    pub(crate) fn option(option: &str, message: impl Into<String>) -> Self {
        Self::InvalidOption {
            option: option.to_owned(),
            message: message.into(),
        }
    }
}
