//! Everything decided before training starts: recipe + explicit overrides, validation, the
//! resume target and the run directory (hotchpotch/open_provence's `open_provence/runner.py::main`
//! and `_resolve_checkpoint_if_requested`). Pure apart from
//! reading the recipe and looking at the resume path; touches no network and writes nothing.

use crate::{
    ConfigError, OverrideLine, ResolvedCheckpoint, ResumeError, RunBasis, RunNaming, TrainConfig,
    resolve_resume_checkpoint_path, run_naming, select_resume_request,
};
use std::path::Path;

/// A failure while setting up a run.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// The recipe or an override is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The resume target cannot be used.
    #[error("Could not resolve checkpoint '{request}': {source}")]
    Resume {
        /// The path as the user gave it.
        request: String,
        /// Why it failed.
        source: ResumeError,
    },
}

/// The effective setup of a training run.
#[derive(Debug, Clone)]
pub struct RunSetup {
    /// The recipe with overrides applied, validated.
    pub config: TrainConfig,
    /// The overrides applied, in command-line order.
    pub overrides: Vec<OverrideLine>,
    /// The resume request as given and what it resolved to.
    pub resume: Option<(String, ResolvedCheckpoint)>,
    /// Run directory and run name.
    pub naming: RunNaming,
}

/// Loads `recipe`, applies `overrides` (`(field, value)`, `None` for a bare boolean flag) in
/// order, validates, resolves the resume target (the pre-scanned `--checkpoint` wins over the
/// recipe) and names the run with `timestamp`.
pub fn prepare_run(
    recipe: &Path,
    overrides: &[(String, Option<String>)],
    checkpoint_flag: Option<&str>,
    timestamp: &str,
) -> Result<RunSetup, SetupError> {
    let mut config = TrainConfig::load(recipe)?;
    let mut applied = Vec::with_capacity(overrides.len());
    for (field, value) in overrides {
        applied.push(config.apply_override(field, value.as_deref())?);
    }
    config.validate()?;
    let resume = match select_resume_request(checkpoint_flag, &config.training_args) {
        Some(request) => {
            let resolved = resolve_resume_checkpoint_path(&request).map_err(|source| SetupError::Resume {
                request: request.clone(),
                source,
            })?;
            Some((request, resolved))
        }
        None => None,
    };
    let naming = run_naming(
        RunBasis::Recipe(recipe),
        config.training_args.output_dir.as_deref(),
        resume.as_ref().map(|(_, r)| r.run_dir.as_path()),
        timestamp,
    );
    Ok(RunSetup {
        config,
        overrides: applied,
        resume,
        naming,
    })
}
