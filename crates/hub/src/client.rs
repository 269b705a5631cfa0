//! The client of one kind of Hub repository: its options, the HTTP client (hf-hub over ureq +
//! rustls, behind the `hub` feature; none in offline mode), the cache paths of its repositories
//! and the errors it reports. What it does with them is in `download` and `upload`.

use std::path::PathBuf;

use crate::cache;
use crate::error::HubError;
use crate::options::HubOptions;
use crate::repo::RepoKind;

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
    pub fn new(options: HubOptions) -> Result<Self, HubError> {
        Self::for_kind(options, RepoKind::Dataset)
    }

    /// Builds a client for repositories of `kind`.
    pub fn for_kind(options: HubOptions, kind: RepoKind) -> Result<Self, HubError> {
        #[cfg(feature = "hub")]
        let api = if options.offline {
            None
        } else {
            let api = hf_hub::api::sync::ApiBuilder::from_cache(hf_hub::Cache::new(options.cache_dir.clone()))
                .with_endpoint(options.endpoint.clone())
                .with_token(options.token.clone())
                .with_progress(options.progress)
                .build()
                .map_err(|e| HubError::Request {
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

    /// The kind of repository this client talks to.
    pub fn kind(&self) -> RepoKind {
        self.kind
    }

    /// `<cache>/datasets--owner--name` (or `models--owner--name`).
    pub(crate) fn repo_cache_dir(&self, repo: &str) -> PathBuf {
        cache::repo_dir(&self.options.cache_dir, self.kind, repo)
    }

    /// The cached snapshot directory of `repo` at the configured revision, if any.
    pub(crate) fn snapshot_dir(&self, repo: &str) -> Option<PathBuf> {
        cache::snapshot_dir(&self.options.cache_dir, self.kind, repo, &self.options.revision)
    }

    /// A failed request about `repo`.
    pub(crate) fn hub_error(&self, repo: &str, message: impl Into<String>) -> HubError {
        HubError::Request {
            kind: self.kind.name(),
            repo: repo.to_owned(),
            revision: self.options.revision.clone(),
            message: message.into(),
        }
    }

    /// `file` is not in `repo` (or, offline, not in its cached snapshot).
    pub(crate) fn not_found(&self, repo: &str, file: &str) -> HubError {
        HubError::FileNotFound {
            kind: self.kind.name(),
            repo: repo.to_owned(),
            revision: self.options.revision.clone(),
            file: file.to_owned(),
            offline: self.options.offline,
        }
    }

    /// There is no HTTP client to reach `repo` with (a build without the `hub` feature).
    #[cfg(not(feature = "hub"))]
    pub(crate) fn disabled(&self, repo: &str) -> HubError {
        HubError::Disabled {
            kind: self.kind.name(),
            repo: repo.to_owned(),
        }
    }

    /// `repo` at the configured revision on the HTTP client (an error when offline).
    #[cfg(feature = "hub")]
    pub(crate) fn api_repo(&self, repo: &str) -> Result<hf_hub::api::sync::ApiRepo, HubError> {
        let api = self
            .api
            .as_ref()
            .ok_or_else(|| self.hub_error(repo, "no HTTP client"))?;
        Ok(api.repo(hf_hub::Repo::with_revision(
            repo.to_owned(),
            match self.kind {
                RepoKind::Dataset => hf_hub::RepoType::Dataset,
                RepoKind::Model => hf_hub::RepoType::Model,
            },
            self.options.revision.clone(),
        )))
    }
}

/// Whether an HTTP error is the Hub's answer `status` (rather than a transport failure).
#[cfg(feature = "hub")]
pub(crate) fn is_status(e: &hf_hub::api::sync::ApiError, status: Option<u16>) -> bool {
    use hf_hub::api::sync::ApiError;
    matches!(e, ApiError::RequestError(inner)
        if matches!(**inner, ureq::Error::StatusCode(code) if status.is_none_or(|s| s == code)))
}

/// An HTTP error with a hint for the usual causes (a missing token, a wrong id or revision).
#[cfg(feature = "hub")]
pub(crate) fn describe_api_error(e: &hf_hub::api::sync::ApiError) -> String {
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
