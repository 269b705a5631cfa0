//! Rust errors and panics as Python exceptions: each error's message is the CLI's one line
//! (the error and its causes), its class what a Python caller expects for that kind of failure.

use std::panic::{AssertUnwindSafe, catch_unwind};

use provence_config::error_line;
use provence_hub::HubError;
use provence_infer::PruneError;
use pyo3::PyErr;
use pyo3::exceptions::{
    PyFileNotFoundError, PyKeyboardInterrupt, PyNotADirectoryError, PyOSError, PyRuntimeError, PyValueError,
};

/// The error and its causes in one line, as `open_provence_eval` prints them.
pub(crate) fn message(error: &(dyn std::error::Error + 'static)) -> String {
    error_line(std::iter::successors(Some(error), |e| e.source()).map(ToString::to_string))
}

/// `error` as a Python exception: missing paths `FileNotFoundError` (a file where a directory
/// belongs `NotADirectoryError`), other model-loading and Hub failures `OSError` (as
/// transformers raises them), bad input `ValueError`, a cancelled call `KeyboardInterrupt`, a
/// broken model's non-finite score `RuntimeError`.
pub(crate) fn to_py(error: &PruneError) -> PyErr {
    let text = message(error);
    match error {
        PruneError::MissingModel { .. } => PyFileNotFoundError::new_err(text),
        PruneError::Locate(hub) => match hub.as_ref() {
            HubError::LocalPath { path, .. } if path.exists() => PyNotADirectoryError::new_err(text),
            HubError::LocalPath { .. } | HubError::FileNotFound { .. } => PyFileNotFoundError::new_err(text),
            HubError::Request { .. } | HubError::Disabled { .. } | HubError::NoToken { .. } => PyOSError::new_err(text),
        },
        PruneError::Model { .. } | PruneError::Tokenizer { .. } | PruneError::MissingSpecialToken(_) => {
            PyOSError::new_err(text)
        }
        PruneError::Tokenize { .. }
        | PruneError::Shape(_)
        | PruneError::Threshold { .. }
        | PruneError::Offsets { .. } => PyValueError::new_err(text),
        PruneError::Cancelled => PyKeyboardInterrupt::new_err(text),
        PruneError::NonFiniteScore { .. } => PyRuntimeError::new_err(text),
    }
}

/// Runs `f`, turning a panic into a `RuntimeError` so that none crosses into Python (PyO3 would
/// raise its `PanicException`, which `except Exception` does not catch).
pub(crate) fn no_panic<T>(f: impl FnOnce() -> Result<T, PyErr>) -> Result<T, PyErr> {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|payload| Err(panic_error(payload.as_ref())))
}

/// A caught panic as a `RuntimeError` carrying its message.
pub(crate) fn panic_error(payload: &(dyn std::any::Any + Send)) -> PyErr {
    let what = payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".to_string());
    PyRuntimeError::new_err(format!("internal error in open_provence_rs (please report it): {what}"))
}
