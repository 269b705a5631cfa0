//! Python's Hub cache layout (`huggingface_hub`): `<cache>/datasets--owner--name` (or
//! `models--owner--name`) with `refs/<revision>` holding a commit, `snapshots/<commit>/<file>`
//! links into `blobs/`. Files downloaded by either side are reused by the other.

use std::path::{Path, PathBuf};

use crate::repo::RepoKind;

/// `<cache>/datasets--owner--name` (or `models--owner--name`).
pub(crate) fn repo_dir(cache_dir: &Path, kind: RepoKind, repo: &str) -> PathBuf {
    let prefix = match kind {
        RepoKind::Dataset => "datasets",
        RepoKind::Model => "models",
    };
    cache_dir.join(format!("{prefix}--{}", repo.replace('/', "--")))
}

/// The cached snapshot directory of `repo` at `revision` (a branch or tag resolved through
/// `refs/`, or a commit), if any.
pub(crate) fn snapshot_dir(cache_dir: &Path, kind: RepoKind, repo: &str, revision: &str) -> Option<PathBuf> {
    let base = repo_dir(cache_dir, kind, repo);
    let commit = std::fs::read_to_string(base.join("refs").join(revision))
        .ok()
        .map(|c| c.trim().to_owned())
        .unwrap_or_else(|| revision.to_owned());
    let dir = base.join("snapshots").join(commit);
    dir.is_dir().then_some(dir)
}

/// Relative paths (with `/`) of every file under `dir`, a cache snapshot or a local copy of a
/// repository, following symlinks (cache snapshots are symlinks into `blobs/`). In directory
/// order, not sorted.
pub fn repo_files(dir: &Path) -> std::io::Result<Vec<String>> {
    let mut files = Vec::new();
    walk_files(dir, dir, &mut files)?;
    Ok(files)
}

fn walk_files(root: &Path, dir: &Path, out: &mut Vec<String>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            walk_files(root, &path, out)?;
        } else if path.is_file()
            && let Ok(rel) = path.strip_prefix(root)
        {
            let parts: Vec<_> = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            out.push(parts.join("/"));
        }
    }
    Ok(())
}
