//! What a name given by the user is: a local directory, a Hub repository id, or a bad local path;
//! and the kinds of repositories.

use std::path::Path;

use crate::error::HubError;

/// The kind of Hub repository a client talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RepoKind {
    /// `datasets/owner/name` (cache folder `datasets--owner--name`).
    Dataset,
    /// `owner/name` model repositories (cache folder `models--owner--name`).
    Model,
}

impl RepoKind {
    /// `dataset` or `model`, for messages.
    pub fn name(self) -> &'static str {
        match self {
            Self::Dataset => "dataset",
            Self::Model => "model",
        }
    }

    /// What `name_or_path` names: an existing directory (`Ok(None)`), a Hub id `owner/name`
    /// (`Ok(Some(id))`), or else a local path that is missing or not a directory (`Err`).
    pub fn locate(self, name_or_path: &str) -> Result<Option<&str>, HubError> {
        let path = Path::new(name_or_path);
        if path.is_dir() {
            return Ok(None);
        }
        let problem = if path.exists() {
            "is a file, not a directory"
        } else if is_hub_id(name_or_path) {
            return Ok(Some(name_or_path));
        } else {
            "does not exist"
        };
        Err(HubError::LocalPath {
            kind: self.name(),
            path: path.to_path_buf(),
            problem,
        })
    }
}

/// Whether `name` reads as a Hub repository id: `owner/name` (or a bare `name`) of letters,
/// digits, `-`, `_` and `.`, not starting with `.` or `-`. Anything else is a local path.
pub fn is_hub_id(name: &str) -> bool {
    let part = |p: &str| {
        !p.is_empty()
            && !p.starts_with(['.', '-'])
            && p.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    };
    match name.split_once('/') {
        Some((owner, repo)) => part(owner) && part(repo),
        None => part(name),
    }
}
