//! Hugging Face Hub access for dataset and model repositories, sharing Python's cache.
//!
//! * Settings come from the same environment variables as Python's `huggingface_hub`
//!   ([`HubOptions::from_env`]): `HF_ENDPOINT`, `HF_HUB_CACHE` / `HUGGINGFACE_HUB_CACHE` /
//!   `HF_HOME`, `HF_TOKEN` / `HF_TOKEN_PATH`, `HF_HUB_OFFLINE`, `HF_HUB_DISABLE_PROGRESS_BARS`.
//! * The cache layout is Python's (`datasets--owner--name/{refs,snapshots,blobs}`), so files
//!   downloaded by either side are reused by the other.
//! * Offline mode (`HF_HUB_OFFLINE=1`) only reads that cache and works without the `hub` feature;
//!   downloads need the `hub` feature (hf-hub over ureq + rustls).

use std::path::{Path, PathBuf};

use crate::error::DatasetError;
use provence_config::layout;

const DEFAULT_ENDPOINT: &str = "https://huggingface.co";

/// Where and how to reach the Hub.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HubOptions {
    /// Base URL (`HF_ENDPOINT`, default `https://huggingface.co`), without trailing slash.
    pub endpoint: String,
    /// Hub cache directory (Python layout).
    pub cache_dir: PathBuf,
    /// Access token, sent as `Authorization: Bearer ...`.
    pub token: Option<String>,
    /// Cache-only mode (`HF_HUB_OFFLINE=1`).
    pub offline: bool,
    /// Revision (branch, tag or commit) of every dataset repository.
    pub revision: String,
    /// Show a download progress bar (indicatif hides it when stderr is not a terminal).
    pub progress: bool,
}

fn env_true(value: Option<String>) -> bool {
    value.is_some_and(|v| matches!(v.trim().to_ascii_uppercase().as_str(), "1" | "ON" | "YES" | "TRUE"))
}

impl HubOptions {
    /// Options from the process environment, resolved like Python's `huggingface_hub`.
    pub fn from_env() -> Self {
        Self::from_vars(|k| std::env::var(k).ok().filter(|v| !v.is_empty()))
    }

    /// Options from an arbitrary variable lookup (the testable core of [`Self::from_env`]).
    ///
    /// Cache: `HF_HUB_CACHE` > `HUGGINGFACE_HUB_CACHE` > `$HF_HOME/hub` >
    /// `$XDG_CACHE_HOME/huggingface/hub` > `~/.cache/huggingface/hub`.
    /// Token: `HF_TOKEN` > `HUGGING_FACE_HUB_TOKEN` > file `HF_TOKEN_PATH` > `$HF_HOME/token`,
    /// none when `HF_HUB_DISABLE_IMPLICIT_TOKEN` is true.
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Self {
        let hf_home = var("HF_HOME").map(PathBuf::from).unwrap_or_else(|| {
            var("XDG_CACHE_HOME")
                .map(PathBuf::from)
                .or_else(|| var("HOME").map(|h| Path::new(&h).join(".cache")))
                .unwrap_or_else(|| PathBuf::from(".cache"))
                .join("huggingface")
        });
        let cache_dir = var("HF_HUB_CACHE")
            .or_else(|| var("HUGGINGFACE_HUB_CACHE"))
            .map(PathBuf::from)
            .unwrap_or_else(|| hf_home.join("hub"));
        let token = if env_true(var("HF_HUB_DISABLE_IMPLICIT_TOKEN")) {
            None
        } else {
            var("HF_TOKEN").or_else(|| var("HUGGING_FACE_HUB_TOKEN")).or_else(|| {
                let path = var("HF_TOKEN_PATH")
                    .map(PathBuf::from)
                    .unwrap_or_else(|| hf_home.join("token"));
                std::fs::read_to_string(path)
                    .ok()
                    .map(|t| t.trim().to_owned())
                    .filter(|t| !t.is_empty())
            })
        };
        Self {
            endpoint: var("HF_ENDPOINT")
                .map(|e| e.trim_end_matches('/').to_owned())
                .unwrap_or_else(|| DEFAULT_ENDPOINT.to_owned()),
            cache_dir,
            token,
            offline: env_true(var("HF_HUB_OFFLINE")),
            revision: "main".to_owned(),
            progress: !env_true(var("HF_HUB_DISABLE_PROGRESS_BARS")),
        }
    }
}

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
    pub fn locate(self, name_or_path: &str) -> Result<Option<&str>, DatasetError> {
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
        Err(DatasetError::LocalPath {
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

/// A client for dataset (or model) repositories: lists files and fetches them into the shared cache.
#[derive(Debug)]
pub struct HubClient {
    options: HubOptions,
    kind: RepoKind,
    #[cfg(feature = "hub")]
    api: Option<hf_hub::api::sync::Api>,
}

impl HubClient {
    /// Builds a client for dataset repositories. In offline mode no HTTP client is created.
    pub fn new(options: HubOptions) -> Result<Self, DatasetError> {
        Self::for_kind(options, RepoKind::Dataset)
    }

    /// Builds a client for repositories of `kind`.
    pub fn for_kind(options: HubOptions, kind: RepoKind) -> Result<Self, DatasetError> {
        #[cfg(feature = "hub")]
        let api = if options.offline {
            None
        } else {
            let api = hf_hub::api::sync::ApiBuilder::from_cache(hf_hub::Cache::new(options.cache_dir.clone()))
                .with_endpoint(options.endpoint.clone())
                .with_token(options.token.clone())
                .with_progress(options.progress)
                .build()
                .map_err(|e| DatasetError::Hub {
                    kind: kind.name(),
                    repo: String::new(),
                    revision: options.revision.clone(),
                    message: format!("cannot build the HTTP client: {e}"),
                })?;
            Some(api)
        };
        Ok(Self {
            options,
            kind,
            #[cfg(feature = "hub")]
            api,
        })
    }

    /// The options this client uses.
    pub fn options(&self) -> &HubOptions {
        &self.options
    }

    /// `<cache>/datasets--owner--name` (or `models--owner--name`).
    fn repo_cache_dir(&self, repo: &str) -> PathBuf {
        let prefix = match self.kind {
            RepoKind::Dataset => "datasets",
            RepoKind::Model => "models",
        };
        self.options
            .cache_dir
            .join(format!("{prefix}--{}", repo.replace('/', "--")))
    }

    /// The cached snapshot directory of `repo` at the configured revision, if any.
    fn snapshot_dir(&self, repo: &str) -> Option<PathBuf> {
        let base = self.repo_cache_dir(repo);
        let revision = &self.options.revision;
        let commit = std::fs::read_to_string(base.join("refs").join(revision))
            .ok()
            .map(|c| c.trim().to_owned())
            .unwrap_or_else(|| revision.clone());
        let dir = base.join("snapshots").join(commit);
        dir.is_dir().then_some(dir)
    }

    fn hub_error(&self, repo: &str, message: impl Into<String>) -> DatasetError {
        DatasetError::Hub {
            kind: self.kind.name(),
            repo: repo.to_owned(),
            revision: self.options.revision.clone(),
            message: message.into(),
        }
    }

    /// All file paths of the dataset repository at the configured revision: from the Hub API, or
    /// from the cached snapshot when offline (or, as Python does, when the Hub is unreachable and
    /// the snapshot is cached).
    pub fn list_files(&self, repo: &str) -> Result<Vec<String>, DatasetError> {
        if !self.options.offline {
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
                    if self.options.offline {
                        " (offline mode: HF_HUB_OFFLINE=1)"
                    } else {
                        ""
                    }
                ),
            )
        })?;
        let mut files = Vec::new();
        walk_files(&dir, &dir, &mut files).map_err(|e| self.hub_error(repo, e.to_string()))?;
        files.sort();
        Ok(files)
    }

    /// The repository listing from the Hub API; on error, whether the cache may stand in
    /// (transport failures, not HTTP answers such as 404).
    #[cfg(feature = "hub")]
    fn list_files_online(&self, repo: &str) -> Result<Vec<String>, (DatasetError, bool)> {
        use hf_hub::api::sync::ApiError;
        let api = self
            .api
            .as_ref()
            .ok_or_else(|| (self.hub_error(repo, "no HTTP client"), true))?;
        let info = api.repo(self.repo(repo)).info().map_err(|e| {
            let transport =
                !matches!(&e, ApiError::RequestError(inner) if matches!(**inner, ureq::Error::StatusCode(_)));
            (self.hub_error(repo, describe_api_error(&e)), transport)
        })?;
        let mut files: Vec<String> = info.siblings.into_iter().map(|s| s.rfilename).collect();
        files.sort();
        Ok(files)
    }

    #[cfg(not(feature = "hub"))]
    fn list_files_online(&self, repo: &str) -> Result<Vec<String>, (DatasetError, bool)> {
        Err((
            DatasetError::HubDisabled {
                dataset: repo.to_owned(),
            },
            true,
        ))
    }

    #[cfg(feature = "hub")]
    fn repo(&self, repo: &str) -> hf_hub::Repo {
        hf_hub::Repo::with_revision(
            repo.to_owned(),
            match self.kind {
                RepoKind::Dataset => hf_hub::RepoType::Dataset,
                RepoKind::Model => hf_hub::RepoType::Model,
            },
            self.options.revision.clone(),
        )
    }

    /// A local path for `file` of `repo`: the cached copy, else (online) a download into the cache.
    pub fn fetch(&self, repo: &str, file: &str) -> Result<PathBuf, DatasetError> {
        if let Some(path) = self.snapshot_dir(repo).map(|d| d.join(file)).filter(|p| p.is_file()) {
            return Ok(path);
        }
        if self.options.offline {
            return Err(self.not_found(repo, file));
        }
        self.download(repo, file)
    }

    /// Fetches what a model directory needs (config, tokenizer files, `model.safetensors` or the
    /// sharded index and its shards) and returns the local snapshot directory holding them.
    pub fn fetch_model(&self, repo: &str) -> Result<PathBuf, DatasetError> {
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

    fn not_found(&self, repo: &str, file: &str) -> DatasetError {
        DatasetError::HubFileNotFound {
            kind: self.kind.name(),
            repo: repo.to_owned(),
            revision: self.options.revision.clone(),
            file: file.to_owned(),
            offline: self.options.offline,
        }
    }

    #[cfg(feature = "hub")]
    fn download(&self, repo: &str, file: &str) -> Result<PathBuf, DatasetError> {
        use hf_hub::api::sync::ApiError;
        let api = self
            .api
            .as_ref()
            .ok_or_else(|| self.hub_error(repo, "no HTTP client"))?;
        let api_repo = api.repo(self.repo(repo));
        tracing::info!(repo, file, revision = %self.options.revision, "downloading");
        let result = if self.options.progress {
            api_repo.download_with_progress(file, indicatif::ProgressBar::new(0))
        } else {
            api_repo.download_with_progress(file, ())
        };
        result.map_err(|e| match &e {
            ApiError::RequestError(inner) if matches!(**inner, ureq::Error::StatusCode(404)) => {
                self.not_found(repo, file)
            }
            _ => DatasetError::Hub {
                kind: self.kind.name(),
                repo: repo.to_owned(),
                revision: self.options.revision.clone(),
                message: format!("downloading {file:?}: {}", describe_api_error(&e)),
            },
        })
    }

    #[cfg(not(feature = "hub"))]
    fn download(&self, repo: &str, _file: &str) -> Result<PathBuf, DatasetError> {
        Err(DatasetError::HubDisabled {
            dataset: repo.to_owned(),
        })
    }
}

#[cfg(feature = "hub")]
fn describe_api_error(e: &hf_hub::api::sync::ApiError) -> String {
    use hf_hub::api::sync::ApiError;
    match e {
        ApiError::RequestError(inner) => match **inner {
            ureq::Error::StatusCode(401) | ureq::Error::StatusCode(403) => {
                format!("{e} (access denied: set HF_TOKEN for private or gated repos)")
            }
            ureq::Error::StatusCode(404) => format!("{e} (repository or revision not found)"),
            _ => e.to_string(),
        },
        _ => e.to_string(),
    }
}

/// Relative paths (with `/`) of every file under `dir`, following symlinks (cache snapshots are
/// symlinks into `blobs/`).
pub(crate) fn walk_files(root: &Path, dir: &Path, out: &mut Vec<String>) -> std::io::Result<()> {
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

/// A local directory for `name_or_path`: the path itself when it exists, else the model
/// repository of that id fetched through the Hub cache (see [`HubClient::fetch_model`]).
pub fn resolve_model_dir(name_or_path: &str, options: HubOptions) -> Result<PathBuf, DatasetError> {
    match RepoKind::Model.locate(name_or_path)? {
        None => Ok(PathBuf::from(name_or_path)),
        Some(id) => HubClient::for_kind(options, RepoKind::Model)?.fetch_model(id),
    }
}
