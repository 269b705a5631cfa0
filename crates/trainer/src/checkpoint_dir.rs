//! Checkpoint directories on disk: atomic writes (a crash while saving leaves the previous
//! checkpoints usable and never a half-written `checkpoint-N/`) and upstream's rotation
//! (HF `Trainer._rotate_checkpoints` / `_sorted_checkpoints`).

use std::io;
use std::path::{Path, PathBuf};

use provence_config::layout::{self, list_checkpoints};

/// The prefix of the hidden directory an atomic write fills before renaming it into place.
const TMP_PREFIX: &str = ".tmp-";
/// The prefix an atomically replaced directory is renamed to until it is removed.
const OLD_PREFIX: &str = ".old-";

/// Writes `<run_dir>/<name>` atomically: `fill` writes into a hidden temporary directory, which
/// is renamed into place only when `fill` succeeded. An existing directory of that name is
/// replaced. Leftover temporaries of earlier crashes are removed.
pub fn write_dir_atomically<E: From<io::Error>>(
    run_dir: &Path,
    name: &str,
    fill: impl FnOnce(&Path) -> Result<(), E>,
) -> Result<PathBuf, E> {
    std::fs::create_dir_all(run_dir)?;
    let tmp = run_dir.join(format!("{TMP_PREFIX}{name}"));
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
        let old = run_dir.join(format!("{OLD_PREFIX}{name}"));
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
    /// A fresh run would mix its checkpoints and logs with an earlier run's, which saved a
    /// checkpoint to resume from.
    #[error(
        "{} already holds a run ({found}); resume it with --checkpoint {}, start it over with \
         --overwrite_output_dir, or choose another --output_dir",
        .dir.display(), .dir.display()
    )]
    NotEmpty {
        /// The run directory.
        dir: PathBuf,
        /// One of the entries found.
        found: String,
    },
    /// A fresh run would mix its logs with those of an earlier run that was stopped before it
    /// saved a (complete) checkpoint, so it cannot be resumed.
    #[error(
        "{} holds a run with no checkpoint saved yet ({found}); start it over with --overwrite_output_dir, \
         or choose another --output_dir",
        .dir.display()
    )]
    NoCheckpointYet {
        /// The run directory.
        dir: PathBuf,
        /// One of the entries found.
        found: String,
    },
    /// The directory holds files no training run writes: neither resumed nor started over in
    /// (`--overwrite_output_dir` removes only what a run wrote).
    #[error("{} holds {found}, which no training run writes; choose another --output_dir", .dir.display())]
    NotARunDir {
        /// The directory.
        dir: PathBuf,
        /// The first such entry.
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

/// How a trainer means to use its run directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DirUse {
    /// Resume the run it holds.
    Resume,
    /// Start a run: the directory must hold nothing of an earlier run.
    Fresh,
    /// Start a run over (`--overwrite_output_dir`): what an earlier run wrote is removed first.
    Overwrite,
}

/// Exclusive ownership of a run directory for the lifetime of this value: an OS file lock on
/// [`LOCK_FILE`], which the OS releases when the process dies, so kill-and-resume keeps working.
#[derive(Debug)]
pub struct RunLock {
    _file: std::fs::File,
}

impl RunLock {
    /// Creates `run_dir` if needed and locks it, then prepares it for `usage`: a fresh run needs
    /// it to hold nothing but the lock file, a run started over removes an earlier run's files.
    pub(crate) fn acquire(run_dir: &Path, usage: DirUse) -> Result<Self, RunDirError> {
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
        match usage {
            DirUse::Resume => {}
            DirUse::Fresh => refuse_earlier_run(run_dir)?,
            DirUse::Overwrite => remove_earlier_run(run_dir)?,
        }
        Ok(Self { _file: file })
    }
}

fn io_error(path: &Path) -> impl FnOnce(io::Error) -> RunDirError {
    let path = path.to_owned();
    move |source| RunDirError::Io { path, source }
}

/// The entries of `run_dir` but its lock file, each with whether a training run writes it.
fn earlier_entries(run_dir: &Path) -> Result<Vec<(String, bool)>, RunDirError> {
    let mut entries = Vec::new();
    for entry in std::fs::read_dir(run_dir).map_err(io_error(run_dir))? {
        let name = entry
            .map_err(io_error(run_dir))?
            .file_name()
            .to_string_lossy()
            .into_owned();
        if name != LOCK_FILE {
            let written_by_a_run = is_run_entry(&name);
            entries.push((name, written_by_a_run));
        }
    }
    entries.sort();
    Ok(entries)
}

/// Whether a training run writes an entry of this name into its run directory: logs,
/// checkpoints, `final_model/` and the hidden directories of atomic writes and deletions.
fn is_run_entry(name: &str) -> bool {
    [layout::LOG_HISTORY, layout::TENSORBOARD_DIR, layout::FINAL_MODEL].contains(&name)
        || layout::checkpoint_step(name).is_some()
        || [TMP_PREFIX, OLD_PREFIX, DELETING_PREFIX]
            .iter()
            .any(|prefix| name.starts_with(prefix))
}

/// Fails unless `run_dir` holds nothing of an earlier run, naming the way out that works.
fn refuse_earlier_run(run_dir: &Path) -> Result<(), RunDirError> {
    let entries = earlier_entries(run_dir)?;
    let dir = run_dir.to_owned();
    if let Some((found, _)) = entries.iter().find(|(_, by_run)| !by_run) {
        return Err(RunDirError::NotARunDir {
            dir,
            found: found.clone(),
        });
    }
    let Some((found, _)) = entries.into_iter().next() else {
        return Ok(());
    };
    let resumable = list_checkpoints(run_dir)
        .map_err(io_error(run_dir))?
        .iter()
        .any(|(_, checkpoint)| layout::missing_checkpoint_files(checkpoint).is_empty());
    Err(if resumable {
        RunDirError::NotEmpty { dir, found }
    } else {
        RunDirError::NoCheckpointYet { dir, found }
    })
}

/// Removes what an earlier run wrote into `run_dir`; refuses (removing nothing) when it also
/// holds anything else.
fn remove_earlier_run(run_dir: &Path) -> Result<(), RunDirError> {
    let entries = earlier_entries(run_dir)?;
    if let Some((found, _)) = entries.iter().find(|(_, by_run)| !by_run) {
        return Err(RunDirError::NotARunDir {
            dir: run_dir.to_owned(),
            found: found.clone(),
        });
    }
    for (name, _) in entries {
        let path = run_dir.join(&name);
        tracing::info!("--overwrite_output_dir: removing {} of an earlier run", path.display());
        let removed = if layout::checkpoint_step(&name).is_some() {
            remove_checkpoint(&path)
        } else if path.is_dir() {
            std::fs::remove_dir_all(&path)
        } else {
            std::fs::remove_file(&path)
        };
        removed.map_err(io_error(&path))?;
    }
    Ok(())
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

    /// What a run killed before its first checkpoint leaves: resuming it cannot work, so the
    /// refusal names what does.
    #[test]
    fn a_run_without_checkpoints_is_refused_with_the_way_out() {
        let tmp = tempfile::tempdir().unwrap();
        let run = tmp.path();
        std::fs::write(run.join("log_history.jsonl"), "").unwrap();
        std::fs::create_dir_all(run.join("runs")).unwrap();
        let message = RunLock::acquire(run, DirUse::Fresh).unwrap_err().to_string();
        assert!(message.contains("no checkpoint saved yet"), "{message}");
        assert!(
            message.contains("--overwrite_output_dir") && message.contains("--output_dir"),
            "{message}"
        );
        assert!(!message.contains("--checkpoint"), "{message}");
    }

    /// A run with a checkpoint is refused with the resume hint; `--overwrite_output_dir` removes
    /// what the earlier run wrote, and touches nothing in a directory holding other files.
    #[test]
    fn overwrite_removes_only_what_a_run_wrote() {
        let tmp = tempfile::tempdir().unwrap();
        let run = tmp.path().join("run");
        make(&run, &[2]);
        std::fs::write(run.join("checkpoint-2/trainer_state.json"), "{}").unwrap();
        std::fs::write(run.join("checkpoint-2/model.safetensors"), "").unwrap();
        std::fs::create_dir_all(run.join(".tmp-checkpoint-4")).unwrap();
        std::fs::write(run.join("log_history.jsonl"), "{}\n").unwrap();
        let message = RunLock::acquire(&run, DirUse::Fresh).unwrap_err().to_string();
        assert!(
            message.contains("--checkpoint") && message.contains("--overwrite_output_dir"),
            "{message}"
        );
        drop(RunLock::acquire(&run, DirUse::Overwrite).unwrap());
        let left: Vec<_> = std::fs::read_dir(&run)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(left, [LOCK_FILE]);
        drop(RunLock::acquire(&run, DirUse::Fresh).unwrap());

        std::fs::write(run.join("log_history.jsonl"), "{}\n").unwrap();
        std::fs::write(run.join("notes.txt"), "mine").unwrap();
        for usage in [DirUse::Fresh, DirUse::Overwrite] {
            let message = RunLock::acquire(&run, usage).unwrap_err().to_string();
            assert!(
                message.contains("notes.txt") && message.contains("--output_dir"),
                "{message}"
            );
        }
        assert!(run.join("log_history.jsonl").exists() && run.join("notes.txt").exists());
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
