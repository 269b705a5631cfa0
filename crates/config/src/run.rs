//! Run directory and run name (as hotchpotch/open_provence's `open_provence/runner.py::main`
//! names them).

use std::path::{Path, PathBuf};

/// The timestamp format of run directories (`%Y%m%d_%H%M%S`, local time).
pub const TIMESTAMP_FORMAT: &str = "%Y%m%d_%H%M%S";

/// The current local time formatted for run names.
pub fn timestamp_now() -> String {
    chrono::Local::now().format(TIMESTAMP_FORMAT).to_string()
}

/// The run directory and run name a training run uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunNaming {
    /// `./output/<stem>_<timestamp>` (or the recipe's `output_dir`, or the resumed run's dir).
    pub output_dir: PathBuf,
    /// `<stem>-<timestamp>`: always new, also when resuming.
    pub run_name: String,
}

/// What the run is named after: the recipe file, or (without one) the model and data.
#[derive(Debug, Clone, Copy)]
pub enum RunBasis<'a> {
    /// A recipe file: its stem.
    Recipe(&'a Path),
    /// No recipe file: the model id and the subset, or several datasets.
    Model {
        /// `model_name_or_path`.
        model: &'a str,
        /// The single-dataset subset, or `None` for a multi-dataset run.
        subset: Option<&'a str>,
    },
}

/// Names the run. `output_dir` set (and not `trainer_output`) or a resumed run directory wins
/// over the automatic `./output/...` directory; the run name always gets the new timestamp.
pub fn run_naming(
    basis: RunBasis<'_>,
    output_dir: Option<&str>,
    resumed_run_dir: Option<&Path>,
    timestamp: &str,
) -> RunNaming {
    let stem = match basis {
        RunBasis::Recipe(path) => path.file_stem().and_then(|s| s.to_str()).unwrap_or("run").to_string(),
        RunBasis::Model { model, subset } => {
            let base = model.trim_end_matches('/').rsplit('/').next().unwrap_or(model);
            format!("{base}_{}", subset.unwrap_or("multi-dataset"))
        }
    };
    let run_name = match basis {
        RunBasis::Recipe(_) => format!("{stem}-{timestamp}"),
        RunBasis::Model { .. } => format!("{}-{timestamp}", stem.replacen('_', "-", 1)),
    };
    let output_dir = match (
        resumed_run_dir,
        output_dir.filter(|d| !d.is_empty() && *d != "trainer_output"),
    ) {
        (Some(run_dir), _) => run_dir.to_path_buf(),
        (None, Some(dir)) => PathBuf::from(dir),
        (None, None) => Path::new("./output").join(format!("{stem}_{timestamp}")),
    };
    RunNaming { output_dir, run_name }
}
