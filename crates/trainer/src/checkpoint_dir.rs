//! Checkpoint directories on disk: atomic writes (a crash while saving leaves the previous
//! checkpoints usable and never a half-written `checkpoint-N/`) and upstream's rotation
//! (HF `Trainer._rotate_checkpoints` / `_sorted_checkpoints`).

use std::io;
use std::path::{Path, PathBuf};

use provence_config::layout::list_checkpoints;

/// Writes `<run_dir>/<name>` atomically: `fill` writes into a hidden temporary directory, which
/// is renamed into place only when `fill` succeeded. An existing directory of that name is
/// replaced. Leftover temporaries of earlier crashes are removed.
pub fn write_dir_atomically<E: From<io::Error>>(
    run_dir: &Path,
    name: &str,
    fill: impl FnOnce(&Path) -> Result<(), E>,
) -> Result<PathBuf, E> {
    std::fs::create_dir_all(run_dir)?;
    let tmp = run_dir.join(format!(".tmp-{name}"));
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp)?;
    }
    std::fs::create_dir_all(&tmp)?;
    if let Err(e) = fill(&tmp) {
        let _ = std::fs::remove_dir_all(&tmp);
        return Err(e);
    }
    let target = run_dir.join(name);
    if target.exists() {
        let old = run_dir.join(format!(".old-{name}"));
        if old.exists() {
            std::fs::remove_dir_all(&old)?;
        }
        std::fs::rename(&target, &old)?;
        std::fs::rename(&tmp, &target)?;
        std::fs::remove_dir_all(&old)?;
    } else {
        std::fs::rename(&tmp, &target)?;
    }
    Ok(target)
}

/// The lock file of a run directory, held by the one trainer writing into it.
pub const LOCK_FILE: &str = ".lock";

/// Why a run directory cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum RunDirError {
    /// Another trainer holds the directory's lock.
    #[error("{} is in use by another trainer (its {LOCK_FILE} is locked); wait for it or choose another --output_dir", .0.display())]
    InUse(PathBuf),
    /// A fresh run would mix its checkpoints and logs with an earlier run's.
    #[error(
        "{} already holds a run ({found}); resume it with --checkpoint {}, or choose another --output_dir",
        .dir.display(), .dir.display()
    )]
    NotEmpty {
        /// The run directory.
        dir: PathBuf,
        /// One of the entries found.
        found: String,
    },
    /// The directory or its lock file could not be created.
    #[error("{}: {source}", .path.display())]
    Io {
        /// The path.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
}

/// Exclusive ownership of a run directory for the lifetime of this value: an OS file lock on
/// [`LOCK_FILE`], which the OS releases when the process dies, so kill-and-resume keeps working.
#[derive(Debug)]
pub struct RunLock {
    _file: std::fs::File,
}

impl RunLock {
    /// Creates `run_dir` if needed and locks it; a fresh run (`resuming == false`) also needs the
    /// directory to hold nothing but the lock file.
    pub fn acquire(run_dir: &Path, resuming: bool) -> Result<Self, RunDirError> {
        let io_error = |path: &Path| {
            let path = path.to_owned();
            move |source| RunDirError::Io { path, source }
        };
        std::fs::create_dir_all(run_dir).map_err(io_error(run_dir))?;
        let lock_path = run_dir.join(LOCK_FILE);
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(io_error(&lock_path))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => return Err(RunDirError::InUse(run_dir.to_owned())),
            Err(std::fs::TryLockError::Error(source)) => {
                return Err(RunDirError::Io {
                    path: lock_path,
                    source,
                });
            }
        }
        if !resuming {
            let other = std::fs::read_dir(run_dir)
                .map_err(io_error(run_dir))?
                .filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .find(|name| name != LOCK_FILE);
            if let Some(found) = other {
                return Err(RunDirError::NotEmpty {
                    dir: run_dir.to_owned(),
                    found,
                });
            }
        }
        Ok(Self { _file: file })
    }
}

/// Deletes the oldest checkpoints beyond `limit` (`None` or `<= 0` keeps all), never the best
/// one: it is moved to the second-to-last position first, and with `limit == 1` a best that is
/// not the newest keeps two. Returns the deleted directories.
pub fn rotate_checkpoints(run_dir: &Path, limit: Option<i64>, best: Option<&Path>) -> io::Result<Vec<PathBuf>> {
    let Some(limit) = limit.filter(|&l| l > 0) else {
        return Ok(Vec::new());
    };
    let mut ordered: Vec<PathBuf> = list_checkpoints(run_dir)?.into_iter().map(|(_, p)| p).collect();
    let best_index = best.and_then(|b| ordered.iter().position(|p| same_dir(p, b)));
    if let Some(index) = best_index
        && ordered.len() >= 2
        && index < ordered.len() - 2
    {
        let best = ordered.remove(index);
        let at = ordered.len() - 1;
        ordered.insert(at, best);
    }
    let mut keep = limit as usize;
    if keep == 1 && best_index.is_some() && !ordered.last().is_some_and(|p| best.is_some_and(|b| same_dir(p, b))) {
        keep = 2;
    }
    let delete = ordered.len().saturating_sub(keep);
    let doomed: Vec<PathBuf> = ordered.into_iter().take(delete).collect();
    for dir in &doomed {
        tracing::info!("Deleting older checkpoint [{}] due to save_total_limit", dir.display());
        remove_checkpoint(dir)?;
    }
    Ok(doomed)
}

/// Marks for deletion: a checkpoint is renamed to this prefix before its files are removed, so
/// that a run killed meanwhile leaves no half-deleted `checkpoint-N` that still counts.
const DELETING_PREFIX: &str = ".deleting-";

/// Deletes a checkpoint directory: renamed out of the `checkpoint-N` namespace first (atomic),
/// then removed. Leftovers of an interrupted deletion are swept by [`sweep_deletions`].
fn remove_checkpoint(dir: &Path) -> io::Result<()> {
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let doomed = dir.with_file_name(format!("{DELETING_PREFIX}{name}"));
    if doomed.exists() {
        std::fs::remove_dir_all(&doomed)?;
    }
    std::fs::rename(dir, &doomed)?;
    std::fs::remove_dir_all(&doomed)
}

/// Removes what an interrupted [`remove_checkpoint`] left in `run_dir`.
pub fn sweep_deletions(run_dir: &Path) -> io::Result<()> {
    if !run_dir.exists() {
        return Ok(());
    }
    for entry in std::fs::read_dir(run_dir)? {
        let path = entry?.path();
        let leftover = path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with(DELETING_PREFIX));
        if leftover && path.is_dir() {
            tracing::info!("Removing the remains of an interrupted deletion: {}", path.display());
            std::fs::remove_dir_all(&path)?;
        }
    }
    Ok(())
}

/// At the end of training with `save_total_limit == 1`, keeps only the best checkpoint.
pub fn keep_only_best(run_dir: &Path, best: &Path) -> io::Result<()> {
    for (_, dir) in list_checkpoints(run_dir)? {
        if !same_dir(&dir, best) {
            remove_checkpoint(&dir)?;
        }
    }
    Ok(())
}

fn same_dir(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn make(run: &Path, steps: &[u64]) {
        for s in steps {
            std::fs::create_dir_all(run.join(provence_config::layout::checkpoint_name(*s))).unwrap();
        }
    }

    fn remaining(run: &Path) -> Vec<u64> {
        list_checkpoints(run).unwrap().into_iter().map(|(s, _)| s).collect()
    }

    #[test]
    fn deletion_leaves_no_half_deleted_checkpoint() {
        let tmp = tempfile::tempdir().unwrap();
        let run = tmp.path();
        make(run, &[1, 2, 3]);
        std::fs::write(run.join("checkpoint-1/model.safetensors"), b"w").unwrap();
        rotate_checkpoints(run, Some(2), None).unwrap();
        assert_eq!(remaining(run), vec![2, 3]);
        // What a kill during the removal of checkpoint-2 leaves: the renamed directory, which no
        // longer counts as a checkpoint, and which the next save sweeps away.
        std::fs::create_dir_all(run.join(".deleting-checkpoint-2")).unwrap();
        std::fs::write(run.join(".deleting-checkpoint-2/config.json"), b"{}").unwrap();
        std::fs::remove_dir_all(run.join("checkpoint-2")).unwrap();
        assert_eq!(remaining(run), vec![3]);
        sweep_deletions(run).unwrap();
        assert!(!run.join(".deleting-checkpoint-2").exists());
        assert_eq!(remaining(run), vec![3]);
    }

    #[test]
    fn rotation_keeps_newest_and_best() {
        let tmp = tempfile::tempdir().unwrap();
        make(tmp.path(), &[10, 20, 30, 40, 50]);
        rotate_checkpoints(tmp.path(), Some(2), Some(&tmp.path().join("checkpoint-10"))).unwrap();
        assert_eq!(remaining(tmp.path()), [10, 50]);
        rotate_checkpoints(tmp.path(), None, None).unwrap();
        assert_eq!(remaining(tmp.path()), [10, 50]);
    }

    #[test]
    fn limit_one_with_older_best_keeps_two() {
        let tmp = tempfile::tempdir().unwrap();
        make(tmp.path(), &[1, 2, 3]);
        rotate_checkpoints(tmp.path(), Some(1), Some(&tmp.path().join("checkpoint-2"))).unwrap();
        assert_eq!(remaining(tmp.path()), [2, 3]);
        keep_only_best(tmp.path(), &tmp.path().join("checkpoint-2")).unwrap();
        assert_eq!(remaining(tmp.path()), [2]);
        make(tmp.path(), &[5]);
        rotate_checkpoints(tmp.path(), Some(1), None).unwrap();
        assert_eq!(remaining(tmp.path()), [5]);
    }

    #[test]
    fn failed_fill_leaves_previous_checkpoint_intact() {
        let tmp = tempfile::tempdir().unwrap();
        write_dir_atomically::<io::Error>(tmp.path(), "checkpoint-1", |d| std::fs::write(d.join("a"), "old")).unwrap();
        let failed = write_dir_atomically::<io::Error>(tmp.path(), "checkpoint-1", |d| {
            std::fs::write(d.join("a"), "half")?;
            Err(io::Error::other("disk full"))
        });
        assert!(failed.is_err());
        assert_eq!(
            std::fs::read_to_string(tmp.path().join("checkpoint-1/a")).unwrap(),
            "old"
        );
        assert!(!tmp.path().join(".tmp-checkpoint-1").exists());
        write_dir_atomically::<io::Error>(tmp.path(), "checkpoint-1", |d| std::fs::write(d.join("a"), "new")).unwrap();
        assert_eq!(
            std::fs::read_to_string(tmp.path().join("checkpoint-1/a")).unwrap(),
            "new"
        );
        assert_eq!(remaining(tmp.path()), [1]);
    }
}
