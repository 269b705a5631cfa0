//! Why a training run stops ([`TrainError`]) and the helpers that build its errors: an I/O
//! error at a path, a loss or gradient norm that is no longer finite, with the rows concerned.

use crate::checkpoint_dir::RunDirError;
use crate::optim::OptimizerStateError;
use provence_datasets::{CollateError, DatasetError, Row};
use provence_hub::TokenizerError;
use provence_losses::LossError;
use provence_model::{LoadError, SaveError};
use std::path::{Path, PathBuf};

/// Why a training run stopped.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// Reading, sampling or checking the datasets failed.
    #[error(transparent)]
    Data(#[from] DatasetError),
    /// The tokenizer could not be loaded.
    #[error(transparent)]
    Tokenizer(#[from] TokenizerError),
    /// A micro-batch could not be collated.
    #[error("collating a batch failed: {0}")]
    Collate(#[from] CollateError),
    /// The model could not be built or loaded.
    #[error(transparent)]
    Load(#[from] LoadError),
    /// The model configuration is invalid.
    #[error(transparent)]
    ModelConfig(#[from] provence_model::ConfigError),
    /// Weights could not be written.
    #[error(transparent)]
    Save(#[from] SaveError),
    /// Optimizer state could not be written or read.
    #[error(transparent)]
    OptimizerState(#[from] OptimizerStateError),
    /// The loss could not be computed.
    #[error(transparent)]
    Loss(#[from] LossError),
    /// The push to the Hub (`push_to_hub`) failed or cannot happen (no token).
    #[error("push_to_hub: {0}")]
    Hub(#[from] provence_hub::HubError),
    /// A file could not be written or read.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// Creating, renaming or rotating an output directory failed.
    #[error("writing the run directory: {0}")]
    RunDir(#[from] std::io::Error),
    /// A checkpoint to resume from is unusable.
    #[error("cannot resume from {}: {message}", path.display())]
    Resume {
        /// The checkpoint directory.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The data-parallel group failed to form or stopped.
    #[error(transparent)]
    Group(#[from] crate::distributed::GroupError),
    /// The device named cannot be used.
    #[error(transparent)]
    Device(#[from] provence_model::DeviceError),
    /// The device cannot train in the precision asked for.
    #[error("{0} (--precision f32, or bf16: false in the recipe)")]
    Precision(provence_model::ExecutionError),
    /// The datasets produced no training rows.
    #[error("the datasets produced no training rows")]
    NoTrainingRows,
    /// The run directory is another trainer's, or an earlier run's.
    #[error(transparent)]
    RunDirTaken(#[from] RunDirError),
    /// The loss or the gradient norm stopped being a finite number; nothing was saved after it.
    #[error(
        "optimizer step {step}: the {what} is {value} (rows {rows}); stopping without saving. The last \
         checkpoint, if any, is intact; check the data (e.g. teacher scores far outside [0, 1]) or lower the learning rate"
    )]
    NonFinite {
        /// The 1-based optimizer step.
        step: usize,
        /// `loss` or `gradient norm`.
        what: &'static str,
        /// The value.
        value: f64,
        /// Ids of the rows of the micro-batch (or window) concerned.
        rows: String,
    },
    /// The post-training dataset evaluation failed (the model was saved before it ran).
    #[error("post-training evaluation: {0}")]
    Eval(#[from] provence_eval::DatasetEvalError),
    /// The saved model could not be loaded for evaluation.
    #[error("post-training evaluation: {0}")]
    Prune(#[from] provence_infer::PruneError),
}

/// Maps an I/O error at `path` to [`TrainError::Io`].
pub(crate) fn io_at(path: &Path) -> impl FnOnce(std::io::Error) -> TrainError + '_ {
    move |source| TrainError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// `Err(NonFinite)` unless `value` is a finite number.
pub(crate) fn check_finite(
    value: f64,
    what: &'static str,
    step: usize,
    rows: impl FnOnce() -> String,
) -> Result<(), TrainError> {
    if value.is_finite() {
        return Ok(());
    }
    Err(TrainError::NonFinite {
        step,
        what,
        value,
        rows: rows(),
    })
}

/// The ids of `rows[indices]` (`#<index>` for rows without one), comma-separated.
pub(crate) fn row_ids(rows: &[Row], indices: &[usize]) -> String {
    let ids: Vec<String> = indices
        .iter()
        .map(|&i| {
            rows.get(i)
                .and_then(|r| r.id.clone())
                .unwrap_or_else(|| format!("#{i}"))
        })
        .collect();
    ids.join(", ")
}
