//! Output directories that appear complete or not at all: everything is written into a hidden
//! sibling `.<name>.partial` and renamed into place at the end, so a failed or killed run never
//! leaves a directory that looks like a finished dataset.

use std::path::{Path, PathBuf};

use crate::error::DatasetError;

/// An output directory being written (see the module docs). Dropped without
/// [`StagedDir::commit`], it removes its staging directory, unless it was opened to resume.
#[derive(Debug)]
pub struct StagedDir {
    target: PathBuf,
    staging: PathBuf,
    overwrite: bool,
    keep: bool,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> DatasetError + '_ {
    move |source| DatasetError::Io {
        path: path.to_owned(),
        source,
    }
}

impl StagedDir {
    /// Where the staging directory of `target` lives: `.<name>.partial` beside it.
    pub fn staging_path(target: &Path) -> PathBuf {
        let name = target
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "output".to_owned());
        target.with_file_name(format!(".{name}.partial"))
    }

    /// Starts writing `target`. An existing `target` is an error unless `overwrite` (it is
    /// replaced at [`Self::commit`]). With `resume`, a staging directory left by an interrupted
    /// run is kept (and kept again if this run fails too); without, it is emptied.
    pub fn begin(target: &Path, overwrite: bool, resume: bool) -> Result<Self, DatasetError> {
        if target.exists() && !overwrite {
            return Err(DatasetError::OutputExists {
                path: target.to_owned(),
            });
        }
        let staging = Self::staging_path(target);
        if !resume && staging.exists() {
            std::fs::remove_dir_all(&staging).map_err(io(&staging))?;
        }
        std::fs::create_dir_all(&staging).map_err(io(&staging))?;
        Ok(Self {
            target: target.to_owned(),
            staging,
            overwrite,
            keep: resume,
        })
    }

    /// The staging directory: write everything here.
    pub fn path(&self) -> &Path {
        &self.staging
    }

    /// The final location.
    pub fn target(&self) -> &Path {
        &self.target
    }

    /// Moves the staging directory into place (replacing an existing target when overwriting)
    /// and returns the target.
    pub fn commit(mut self) -> Result<PathBuf, DatasetError> {
        if self.target.exists() {
            if !self.overwrite {
                return Err(DatasetError::OutputExists {
                    path: self.target.clone(),
                });
            }
            let old = self.target.with_file_name(format!(
                ".{}.old",
                self.target.file_name().map(|n| n.to_string_lossy()).unwrap_or_default()
            ));
            if old.exists() {
                std::fs::remove_dir_all(&old).map_err(io(&old))?;
            }
            std::fs::rename(&self.target, &old).map_err(io(&self.target))?;
            std::fs::rename(&self.staging, &self.target).map_err(io(&self.staging))?;
            std::fs::remove_dir_all(&old).map_err(io(&old))?;
        } else {
            std::fs::rename(&self.staging, &self.target).map_err(io(&self.staging))?;
        }
        self.keep = true;
        Ok(self.target.clone())
    }
}

impl Drop for StagedDir {
    fn drop(&mut self) {
        if !self.keep
            && self.staging.exists()
            && let Err(error) = std::fs::remove_dir_all(&self.staging)
        {
            tracing::warn!(path = %self.staging.display(), %error, "cannot remove the unfinished output");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appears_only_on_commit_and_cleans_up_on_drop() {
        let tmp = tempfile::tempdir().unwrap();
        let target = tmp.path().join("out");
        let staged = StagedDir::begin(&target, false, false).unwrap();
        std::fs::write(staged.path().join("f"), "x").unwrap();
        assert!(!target.exists());
        drop(staged);
        assert!(
            !StagedDir::staging_path(&target).exists(),
            "a failed run leaves nothing"
        );

        let staged = StagedDir::begin(&target, false, false).unwrap();
        std::fs::write(staged.path().join("f"), "1").unwrap();
        staged.commit().unwrap();
        assert_eq!(std::fs::read_to_string(target.join("f")).unwrap(), "1");
        assert!(matches!(
            StagedDir::begin(&target, false, false),
            Err(DatasetError::OutputExists { .. })
        ));
        let staged = StagedDir::begin(&target, true, false).unwrap();
        std::fs::write(staged.path().join("g"), "2").unwrap();
        staged.commit().unwrap();
        assert!(!target.join("f").exists() && target.join("g").exists());
    }

    #[test]
    fn resumed_staging_survives_a_failure() {
        let tmp = tempfile::tempdir().unwrap();
        let target = tmp.path().join("out");
        let staged = StagedDir::begin(&target, false, true).unwrap();
        std::fs::write(staged.path().join("checkpoint"), "7").unwrap();
        drop(staged);
        let staged = StagedDir::begin(&target, false, true).unwrap();
        assert_eq!(std::fs::read_to_string(staged.path().join("checkpoint")).unwrap(), "7");
    }
}
