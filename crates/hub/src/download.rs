//! Listing and fetching repository files through the shared cache: the cached snapshot first,
//! the Hub when online (falling back to the cache, as Python does, when the Hub is unreachable),
//! and whole model directories.

use std::path::{Path, PathBuf};

use provence_config::layout;

use crate::cache;
use crate::client::HubClient;
use crate::error::HubError;
use crate::options::HubOptions;
use crate::repo::RepoKind;

impl HubClient {
    /// All file paths of the repository at the configured revision: from the Hub API, or from
    /// the cached snapshot when offline (or, as Python does, when the Hub is unreachable and the
    /// snapshot is cached).
    pub fn list_files(&self, repo: &str) -> Result<Vec<String>, HubError> {
        if !self.options().offline {
            match self.list_files_online(repo) {
                Ok(files) => return Ok(files),
                Err((error, true)) if self.snapshot_dir(repo).is_some() => {
                    tracing::warn!(repo, %error, "Hub unreachable; using the cached snapshot");
                }
                Err((error, _)) => return Err(error),
            }
        }
        let dir = self.snapshot_dir(repo).ok_or_else(|| {
            self.hub_error(
                repo,
                format!(
                    "not in the local cache {}{}",
                    self.repo_cache_dir(repo).display(),
                    if self.options().offline {
                        " (offline mode: HF_HUB_OFFLINE=1)"
                    } else {
                        ""
                    }
                ),
            )
        })?;
        let mut files = cache::repo_files(&dir).map_err(|e| self.hub_error(repo, e.to_string()))?;
        files.sort();
        Ok(files)
    }

    /// The repository listing from the Hub API; on error, whether the cache may stand in
    /// (transport failures, not HTTP answers such as 404).
    #[cfg(feature = "hub")]
    fn list_files_online(&self, repo: &str) -> Result<Vec<String>, (HubError, bool)> {
        let api_repo = self.api_repo(repo).map_err(|e| (e, true))?;
        let info = api_repo.info().map_err(|e| {
            let transport = !crate::client::is_status(&e, None);
            (self.hub_error(repo, crate::client::describe_api_error(&e)), transport)
        })?;
        let mut files: Vec<String> = info.siblings.into_iter().map(|s| s.rfilename).collect();
        files.sort();
        Ok(files)
    }

    #[cfg(not(feature = "hub"))]
    fn list_files_online(&self, repo: &str) -> Result<Vec<String>, (HubError, bool)> {
        Err((self.disabled(repo), true))
    }

    /// A local path for `file` of `repo`: the cached copy, else (online) a download into the cache.
    pub fn fetch(&self, repo: &str, file: &str) -> Result<PathBuf, HubError> {
        if let Some(path) = self.snapshot_dir(repo).map(|d| d.join(file)).filter(|p| p.is_file()) {
            return Ok(path);
        }
        if self.options().offline {
            return Err(self.not_found(repo, file));
        }
        self.download(repo, file)
    }

    /// Fetches what a model directory needs (config, tokenizer files, `model.safetensors` or the
    /// sharded index and its shards) and returns the local snapshot directory holding them.
    pub fn fetch_model(&self, repo: &str) -> Result<PathBuf, HubError> {
        let files = self.list_files(repo)?;
        let mut wanted: Vec<String> = std::iter::once(&layout::MODEL_CONFIG)
            .chain(layout::TOKENIZER_FILES)
            .filter(|f| files.iter().any(|have| have == *f))
            .map(|f| (*f).to_owned())
            .collect();
        if files.iter().any(|f| f == layout::WEIGHTS) {
            wanted.push(layout::WEIGHTS.to_owned());
        } else if files.iter().any(|f| f == layout::WEIGHTS_INDEX) {
            let index = self.fetch(repo, layout::WEIGHTS_INDEX)?;
            let text = std::fs::read_to_string(&index).map_err(|e| self.hub_error(repo, e.to_string()))?;
            let json: serde_json::Value = serde_json::from_str(&text)
                .map_err(|e| self.hub_error(repo, format!("model.safetensors.index.json: {e}")))?;
            let mut shards: Vec<String> = json
                .get("weight_map")
                .and_then(|m| m.as_object())
                .map(|m| m.values().filter_map(|v| v.as_str().map(str::to_owned)).collect())
                .unwrap_or_default();
            shards.sort();
            shards.dedup();
            wanted.extend(shards);
        } else {
            return Err(self.not_found(repo, layout::WEIGHTS));
        }
        let config = self.fetch(repo, layout::MODEL_CONFIG)?;
        for file in &wanted {
            self.fetch(repo, file)?;
        }
        config
            .parent()
            .map(Path::to_path_buf)
            .ok_or_else(|| self.hub_error(repo, "config.json has no parent directory"))
    }

    #[cfg(feature = "hub")]
    fn download(&self, repo: &str, file: &str) -> Result<PathBuf, HubError> {
        let api_repo = self.api_repo(repo)?;
        tracing::info!(repo, file, revision = %self.options().revision, "downloading");
        let result = if self.options().progress {
            api_repo.download_with_progress(file, indicatif::ProgressBar::new(0))
        } else {
            api_repo.download_with_progress(file, ())
        };
        result.map_err(|e| {
            if crate::client::is_status(&e, Some(404)) {
                self.not_found(repo, file)
            } else {
                self.hub_error(
                    repo,
                    format!("downloading {file:?}: {}", crate::client::describe_api_error(&e)),
                )
            }
        })
    }

    #[cfg(not(feature = "hub"))]
    fn download(&self, repo: &str, _file: &str) -> Result<PathBuf, HubError> {
        Err(self.disabled(repo))
    }
}

/// A local directory for `name_or_path`: the path itself when it exists, else the model
/// repository of that id fetched through the Hub cache (see [`HubClient::fetch_model`]).
pub fn resolve_model_dir(name_or_path: &str, options: HubOptions) -> Result<PathBuf, HubError> {
    match RepoKind::Model.locate(name_or_path)? {
        None => Ok(PathBuf::from(name_or_path)),
        Some(id) => HubClient::for_kind(options, RepoKind::Model)?.fetch_model(id),
    }
}
