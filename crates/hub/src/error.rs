//! The crate's typed errors of Hub access: each names the repository kind, the repository, the
//! revision and the file involved.

use std::path::PathBuf;

/// Errors of locating, listing and fetching Hub repositories (and of reading their cache).
#[derive(Debug, thiserror::Error)]
pub enum HubError {
    /// A file is missing from a Hub repository or from the local cache.
    #[error("file {file:?} not found in {kind} repo {repo} at revision {revision}{}", if *.offline { " (offline mode: HF_HUB_OFFLINE=1, looked in the local cache only)" } else { "" })]
    FileNotFound {
        /// `dataset` or `model`.
        kind: &'static str,
        /// Repository id (`owner/name`).
        repo: String,
        /// Revision (branch, tag or commit).
        revision: String,
        /// Path of the file within the repository.
        file: String,
        /// Whether only the cache was consulted.
        offline: bool,
    },
    /// Any other Hub failure (network, HTTP status, cache layout).
    #[error("Hub request for {kind} repo {repo} at revision {revision} failed: {message}")]
    Request {
        /// `dataset` or `model`.
        kind: &'static str,
        /// Repository id.
        repo: String,
        /// Revision.
        revision: String,
        /// What went wrong.
        message: String,
    },
    /// A local path (it is not an `owner/name` Hub id) does not exist or is not a directory.
    #[error("{kind} {} {problem}", .path.display())]
    LocalPath {
        /// `dataset` or `model`.
        kind: &'static str,
        /// The path given.
        path: PathBuf,
        /// `does not exist` or `is a file, not a directory`.
        problem: &'static str,
    },
    /// A Hub repository was requested but there is no way to reach the Hub: the build has no
    /// `hub` feature (or the caller configured no Hub client).
    #[error("{kind} {repo} is not a local directory and this build has no Hub support (feature \"hub\")")]
    Disabled {
        /// `dataset` or `model`.
        kind: &'static str,
        /// The requested repository id.
        repo: String,
    },
    /// An upload was asked for without a token.
    #[error(
        "cannot upload to {repo}: no Hugging Face token (set HF_TOKEN to a token with write access, or log in with `hf auth login`)"
    )]
    NoToken {
        /// The repository id.
        repo: String,
    },
}
