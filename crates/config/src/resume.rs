//! Resume target resolution, ported exactly from hotchpotch/open_provence
//! (`open_provence/trainer.py::resolve_resume_checkpoint_path`; request precedence as in
//! `open_provence/runner.py::main` and `open_provence/trainer.py::parse_config_file`).

use crate::error::ResumeError;
use crate::layout::{TRAINER_STATE, list_checkpoints, missing_checkpoint_files, trailing_checkpoint_step};
use std::path::{Path, PathBuf};

/// A resolved resume target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedCheckpoint {
    /// The `checkpoint-N` directory to load.
    pub checkpoint_dir: PathBuf,
    /// The run directory new checkpoints go to.
    pub run_dir: PathBuf,
    /// The step parsed from the directory name, if it ends in `checkpoint-<digits>`.
    pub steps: Option<u64>,
}

/// Resolves a user-given checkpoint or run directory (`~` expanded, made absolute, symlinks
/// resolved). A directory with `trainer_state.json` is itself the checkpoint; otherwise its
/// `checkpoint-<digits>` children holding `trainer_state.json` and `model.safetensors` are scanned
/// and the numerically largest wins (`checkpoint-final` and children without those files, such as
/// one a killed run was deleting, are skipped; when no child is complete, the newest one is named
/// with the files it lacks).
pub fn resolve_resume_checkpoint_path(path: &str) -> Result<ResolvedCheckpoint, ResumeError> {
    let expanded = expand_user(path);
    let absolute = if expanded.is_absolute() {
        expanded
    } else {
        std::env::current_dir()
            .map(|cwd| cwd.join(&expanded))
            .unwrap_or(expanded)
    };
    if !absolute.exists() {
        return Err(ResumeError::NotFound(absolute));
    }
    let path = absolute.canonicalize().map_err(|source| ResumeError::Io {
        path: absolute.clone(),
        source,
    })?;
    if path.is_file() {
        return Err(ResumeError::IsFile(path));
    }
    if path.join(TRAINER_STATE).exists() {
        let missing = missing_checkpoint_files(&path);
        if !missing.is_empty() {
            return Err(ResumeError::Incomplete {
                checkpoint: path,
                missing,
            });
        }
        let steps = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(trailing_checkpoint_step);
        let run_dir = path.parent().map(Path::to_path_buf).unwrap_or_else(|| path.clone());
        return Ok(ResolvedCheckpoint {
            checkpoint_dir: path,
            run_dir,
            steps,
        });
    }
    let checkpoints = list_checkpoints(&path).map_err(|source| ResumeError::Io {
        path: path.clone(),
        source,
    })?;
    let mut newest_incomplete = None;
    for (step, checkpoint_dir) in checkpoints.into_iter().rev() {
        let missing = missing_checkpoint_files(&checkpoint_dir);
        if missing.is_empty() {
            return Ok(ResolvedCheckpoint {
                checkpoint_dir,
                run_dir: path,
                steps: Some(step),
            });
        }
        tracing::warn!(
            "skipping {}: it lacks {}",
            checkpoint_dir.display(),
            missing.join(" and ")
        );
        newest_incomplete.get_or_insert(ResumeError::Incomplete {
            checkpoint: checkpoint_dir,
            missing,
        });
    }
    Err(newest_incomplete.unwrap_or(ResumeError::NoCheckpoints(path)))
}

fn expand_user(path: &str) -> PathBuf {
    if let Some(rest) = path.strip_prefix("~")
        && (rest.is_empty() || rest.starts_with('/'))
        && let Some(home) = std::env::var_os("HOME")
    {
        return PathBuf::from(home).join(rest.trim_start_matches('/'));
    }
    PathBuf::from(path)
}

/// Which resume request wins: `--checkpoint`/`--resume-checkpoint` > the
/// `--resume_from_checkpoint` flag > YAML `resume_from_checkpoint` > YAML `checkpoint`.
/// The two YAML keys conflicting is reported with a warning.
pub fn select_resume_request(prescan_checkpoint: Option<&str>, training_args: &crate::TrainingArgs) -> Option<String> {
    if let Some(path) = prescan_checkpoint {
        return Some(path.to_string());
    }
    match (&training_args.resume_from_checkpoint, &training_args.checkpoint) {
        (Some(resume), Some(checkpoint)) if resume != checkpoint => {
            tracing::warn!(
                "both resume_from_checkpoint ({resume}) and checkpoint ({checkpoint}) are set; using resume_from_checkpoint"
            );
            Some(resume.clone())
        }
        (Some(resume), _) => Some(resume.clone()),
        (None, Some(checkpoint)) => Some(checkpoint.clone()),
        (None, None) => None,
    }
}
