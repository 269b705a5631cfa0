//! The MLDR evaluation's typed errors: each names the file, row or setting at fault.

use std::path::PathBuf;

/// Why an MLDR evaluation stopped.
#[derive(Debug, thiserror::Error)]
pub enum MldrError {
    /// A file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A line of an MLDR file or of a stage's dataset is not what was expected.
    #[error("{} line {line}: {message}", path.display())]
    BadRow {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// What was expected.
        message: String,
    },
    /// The split's file is not in the dataset.
    #[error("{dataset}: no {file} (nor {file}.gz); expected MLDR's layout mldr-v1.0-<lang>/<split>.jsonl")]
    MissingSplit {
        /// The dataset (directory or Hub id).
        dataset: String,
        /// The file looked for.
        file: String,
    },
    /// The split expression cannot be read.
    #[error("--split: {0}")]
    Split(#[from] provence_datasets::SplitExprError),
    /// The Hub could not give the dataset.
    #[error(transparent)]
    Hub(#[from] provence_hub::HubError),
    /// The model failed on the passages.
    #[error("process(): {0}")]
    Prune(#[from] provence_infer::PruneError),
    /// The ignore list is missing or malformed.
    #[error("ignore list {}: {message}", path.display())]
    IgnoreList {
        /// The YAML file.
        path: PathBuf,
        /// What is wrong (and how to go on without it).
        message: String,
    },
    /// A stage's output that another stage needs is not there.
    #[error("{what} not found at {}; {hint}", path.display())]
    MissingStage {
        /// The stage output.
        what: &'static str,
        /// Where it was looked for.
        path: PathBuf,
        /// What to do.
        hint: &'static str,
    },
    /// A setting is unusable.
    #[error("{key}: {message}")]
    Setting {
        /// The flag.
        key: &'static str,
        /// What was expected.
        message: String,
    },
    /// The LLM client could not be set up or its cache written.
    #[error(transparent)]
    Llm(#[from] provence_llm::LlmError),
}

/// An [`MldrError::Io`] for `path`.
pub(crate) fn io_error(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> MldrError + '_ {
    move |source| MldrError::Io {
        path: path.to_owned(),
        source,
    }
}
