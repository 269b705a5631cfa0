//! Hugging Face Hub access and tokenizer loading for open-provence-rs, below the datasets, model
//! and inference crates: one place for the Hub's environment, cache layout and HTTP client.
//!
//! * [`HubOptions`] (`options`): settings from the same environment variables as Python's
//!   `huggingface_hub` ([`HubOptions::from_env`]): `HF_ENDPOINT`, `HF_HUB_CACHE` /
//!   `HUGGINGFACE_HUB_CACHE` / `HF_HOME`, `HF_TOKEN` / `HF_TOKEN_PATH`, `HF_HUB_OFFLINE`,
//!   `HF_HUB_DISABLE_PROGRESS_BARS`.
//! * `cache`: Python's cache layout (`datasets--owner--name/{refs,snapshots,blobs}`), so files
//!   downloaded by either side are reused by the other.
//! * [`HubClient`] (`client`): one kind of repository ([`RepoKind`]), the HTTP client and its
//!   errors ([`HubError`]); `download`: listing and fetching files and whole model directories
//!   ([`resolve_model_dir`]); `upload`: creating repositories and commits through the Hub's
//!   HTTP API (preupload, LFS batch, NDJSON commit; [`HubClient::create_commit`]); `publish`:
//!   a model directory with a generated model card ([`HubClient::publish_model`]).
//! * Offline mode (`HF_HUB_OFFLINE=1`) only reads the cache and works without the `hub` feature;
//!   talking to the Hub needs the `hub` feature (hf-hub over ureq + rustls).
//! * [`PretrainedTokenizer`] (`tokenizer`): a model directory's tokenizer files loaded the way
//!   `transformers.AutoTokenizer.from_pretrained` loads them.

mod cache;
mod client;
mod download;
mod error;
mod options;
#[cfg(feature = "hub")]
mod publish;
mod repo;
mod tokenizer;
#[cfg(feature = "hub")]
mod upload;

pub use cache::repo_files;
pub use client::HubClient;
pub use download::resolve_model_dir;
pub use error::HubError;
pub use options::HubOptions;
#[cfg(feature = "hub")]
pub use publish::{END_OF_TRAINING, PublishRequest, model_card, model_dir_of};
pub use repo::{RepoKind, is_hub_id};
pub use tokenizer::{PretrainedTokenizer, SpecialToken, SpecialTokens, TokenizerError, read_tokenizer_json};
#[cfg(feature = "hub")]
pub use upload::{CommitFile, CommitInfo, FileSource};
