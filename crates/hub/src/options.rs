//! Where and how to reach the Hub, read from the same environment variables as Python's
//! `huggingface_hub`: the one place that knows `HF_ENDPOINT`, the token variables and files,
//! `HF_HUB_OFFLINE` and where the cache lives.

use std::path::{Path, PathBuf};

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
