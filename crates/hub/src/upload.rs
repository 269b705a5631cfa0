//! Uploads through the Hub's HTTP API, the way `huggingface_hub` 0.34's `create_repo` and
//! `create_commit` do it: create the repository (an existing one is fine), ask the `preupload`
//! endpoint which files go through LFS, send those through the LFS batch API (basic transfer,
//! then `verify`), then one commit whose NDJSON body carries the small files inline (base64),
//! points at the LFS objects and names the files it deletes. Every request is retried on 5xx, 429 and transport failures, so a
//! transient server error mid-upload does not lose the push; a persistent one names the step.

use std::path::PathBuf;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::client::HubClient;
use crate::error::HubError;
use crate::repo::RepoKind;

/// Attempts per HTTP request before an upload step fails.
const ATTEMPTS: u32 = 4;
/// Pause before the first retry; doubled for each further one.
const FIRST_BACKOFF: Duration = Duration::from_millis(250);
/// Bytes of each file the `preupload` endpoint sees (its `sample`).
const SAMPLE_BYTES: usize = 512;
/// Media type of the LFS batch API.
const LFS_MEDIA_TYPE: &str = "application/vnd.git-lfs+json";

/// One file of a commit: where it goes in the repository and where its bytes come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitFile {
    /// Path inside the repository (`/`-separated).
    pub path_in_repo: String,
    /// The content.
    pub source: FileSource,
}

/// Where a [`CommitFile`]'s bytes come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileSource {
    /// A local file, read when the commit is made.
    Path(PathBuf),
    /// Bytes in memory (a generated model card).
    Bytes(Vec<u8>),
}

/// What the Hub answered to a commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitInfo {
    /// The commit's page (`commitUrl`).
    pub url: String,
    /// The commit id (`commitOid`).
    pub oid: String,
}

/// A file read into memory with what the Hub needs to know about it.
struct Staged {
    path: String,
    bytes: Vec<u8>,
    sha256: String,
}

impl HubClient {
    /// Creates the repository `repo_id` (`owner/name`, or a bare name in the token's namespace);
    /// an existing one is left as it is (409 is fine), so `private` only applies to a new one.
    pub fn create_repo(&self, repo_id: &str, private: Option<bool>) -> Result<(), HubError> {
        let (organization, name) = match repo_id.split_once('/') {
            Some((owner, name)) => (Some(owner), name),
            None => (None, repo_id),
        };
        let mut body = json!({ "name": name, "organization": organization });
        if let Some(private) = private {
            body["private"] = json!(private);
        }
        if self.kind() == RepoKind::Dataset {
            body["type"] = json!("dataset");
        }
        let url = format!("{}/api/repos/create", self.options().endpoint);
        match self.send(repo_id, "create the repository", || self.post(&url).send_json(&body)) {
            Err(HubError::Request { message, .. }) if message.contains("HTTP 409") => {
                tracing::info!(repo = repo_id, "repository exists");
                Ok(())
            }
            other => other.map(|_| ()),
        }
    }

    /// Commits `files` to `repo_id` at the configured revision with `message`, deleting the
    /// repository files `deleted` in the same commit (the repository must exist:
    /// [`Self::create_repo`]). Needs a token.
    pub fn create_commit(
        &self,
        repo_id: &str,
        files: &[CommitFile],
        deleted: &[String],
        message: &str,
    ) -> Result<CommitInfo, HubError> {
        let staged = files
            .iter()
            .map(|f| stage(f).map_err(|e| self.hub_error(repo_id, e)))
            .collect::<Result<Vec<_>, _>>()?;
        let modes = self.preupload(repo_id, &staged)?;
        let mut lines = vec![json!({"key": "header", "value": {"summary": message, "description": ""}})];
        let mut lfs = Vec::new();
        for (file, (mode, ignore)) in staged.iter().zip(modes) {
            if ignore {
                tracing::warn!(file = file.path, "the Hub ignores this file (.gitignore); not uploaded");
            } else if mode == "lfs" {
                lfs.push(file);
                lines.push(json!({"key": "lfsFile", "value": {
                    "path": file.path, "algo": "sha256", "oid": file.sha256, "size": file.bytes.len()}}));
            } else {
                lines.push(json!({"key": "file", "value": {
                    "content": BASE64.encode(&file.bytes), "path": file.path, "encoding": "base64"}}));
            }
        }
        for path in deleted {
            lines.push(json!({"key": "deletedFile", "value": {"path": path}}));
        }
        self.upload_lfs(repo_id, &lfs)?;
        let body: String = lines.iter().map(|l| format!("{l}\n")).collect();
        let url = format!("{}/{}", self.api_repo_url(repo_id), self.revision_path("commit"));
        let answer = self.send(repo_id, "commit", || {
            self.post(&url)
                .content_type("application/x-ndjson")
                .send(body.as_bytes())
        })?;
        let text = |key: &str| answer.get(key).and_then(Value::as_str).unwrap_or_default().to_owned();
        Ok(CommitInfo {
            url: text("commitUrl"),
            oid: text("commitOid"),
        })
    }

    /// The `preupload` answer per file, in order: its upload mode (`regular` or `lfs`) and
    /// whether the repository's `.gitignore` excludes it.
    fn preupload(&self, repo_id: &str, staged: &[Staged]) -> Result<Vec<(String, bool)>, HubError> {
        let mut modes = Vec::with_capacity(staged.len());
        for chunk in staged.chunks(256) {
            let files: Vec<Value> = chunk
                .iter()
                .map(|f| {
                    let sample = &f.bytes[..f.bytes.len().min(SAMPLE_BYTES)];
                    json!({"path": f.path, "sample": BASE64.encode(sample), "size": f.bytes.len()})
                })
                .collect();
            let url = format!("{}/{}", self.api_repo_url(repo_id), self.revision_path("preupload"));
            let body = json!({ "files": files });
            let answer = self.send(repo_id, "preupload", || self.post(&url).send_json(&body))?;
            for file in chunk {
                let entry =
                    self.answer_for(repo_id, "preupload", &answer["files"], ("path", &file.path), &file.path)?;
                let mode = entry.get("uploadMode").and_then(Value::as_str).unwrap_or("regular");
                let ignore = entry.get("shouldIgnore").and_then(Value::as_bool).unwrap_or(false);
                modes.push((mode.to_owned(), ignore));
            }
        }
        Ok(modes)
    }

    /// Sends the LFS objects the Hub does not have yet: batch request, one PUT each, verify.
    fn upload_lfs(&self, repo_id: &str, files: &[&Staged]) -> Result<(), HubError> {
        if files.is_empty() {
            return Ok(());
        }
        let prefix = if self.kind() == RepoKind::Dataset {
            "datasets/"
        } else {
            ""
        };
        let url = format!(
            "{}/{prefix}{repo_id}.git/info/lfs/objects/batch",
            self.options().endpoint
        );
        let objects: Vec<Value> = files
            .iter()
            .map(|f| json!({"oid": f.sha256, "size": f.bytes.len()}))
            .collect();
        let body = json!({"operation": "upload", "transfers": ["basic"], "objects": objects,
                          "hash_algo": "sha256", "ref": {"name": self.options().revision}});
        let answer = self.send(repo_id, "LFS batch", || {
            self.post(&url)
                .header("Accept", LFS_MEDIA_TYPE)
                .content_type(LFS_MEDIA_TYPE)
                .send(body.to_string().as_bytes())
        })?;
        for file in files {
            let object = self.answer_for(
                repo_id,
                "LFS batch",
                &answer["objects"],
                ("oid", &file.sha256),
                &file.path,
            )?;
            self.upload_lfs_object(repo_id, file, object)?;
        }
        Ok(())
    }

    /// One object of an LFS batch answer: nothing to do without `actions` (the Hub has it), else
    /// PUT the bytes to `actions.upload.href` and POST `actions.verify` when given.
    fn upload_lfs_object(&self, repo_id: &str, file: &Staged, object: &Value) -> Result<(), HubError> {
        if let Some(error) = object.get("error") {
            return Err(self.hub_error(repo_id, format!("LFS batch refused {:?}: {error}", file.path)));
        }
        let Some(actions) = object.get("actions") else {
            tracing::info!(file = file.path, "already on the Hub");
            return Ok(());
        };
        let href = |action: &str| actions.get(action)?.get("href")?.as_str().map(str::to_owned);
        let upload = href("upload")
            .ok_or_else(|| self.hub_error(repo_id, format!("LFS batch: no upload action for {:?}", file.path)))?;
        if actions.pointer("/upload/header/chunk_size").is_some() {
            return Err(self.hub_error(
                repo_id,
                format!(
                    "LFS batch asked for a multi-part upload of {:?}, which this client does not do",
                    file.path
                ),
            ));
        }
        tracing::info!(file = file.path, bytes = file.bytes.len(), "uploading");
        let step = format!("upload {}", file.path);
        self.send(repo_id, &step, || agent().put(&upload).send(&file.bytes[..]))?;
        if let Some(verify) = href("verify") {
            let body = json!({"oid": file.sha256, "size": file.bytes.len()});
            self.send(repo_id, "LFS verify", || self.post(&verify).send_json(&body))?;
        }
        Ok(())
    }

    /// The entry of the answer list `list` (of step `step`) whose field `key.0` is `key.1`, else
    /// an error naming the step and the file `path`.
    fn answer_for<'v>(
        &self,
        repo_id: &str,
        step: &str,
        list: &'v Value,
        key: (&str, &str),
        path: &str,
    ) -> Result<&'v Value, HubError> {
        list.as_array()
            .and_then(|items| {
                items
                    .iter()
                    .find(|e| e.get(key.0).and_then(Value::as_str) == Some(key.1))
            })
            .ok_or_else(|| self.hub_error(repo_id, format!("{step}: no answer for {path:?}")))
    }

    /// `{endpoint}/api/models/{repo_id}` (or `datasets`).
    fn api_repo_url(&self, repo_id: &str) -> String {
        let kind = if self.kind() == RepoKind::Dataset {
            "datasets"
        } else {
            "models"
        };
        format!("{}/api/{kind}/{repo_id}", self.options().endpoint)
    }

    /// `{endpoint_name}/{revision}` with the revision's `/` escaped, as the Hub expects.
    fn revision_path(&self, endpoint_name: &str) -> String {
        format!("{endpoint_name}/{}", self.options().revision.replace('/', "%2F"))
    }

    /// A POST with the token.
    fn post(&self, url: &str) -> ureq::RequestBuilder<ureq::typestate::WithBody> {
        let token = self.options().token.clone().unwrap_or_default();
        agent().post(url).header("Authorization", format!("Bearer {token}"))
    }

    /// Runs `request` (step `step` of an upload to `repo_id`) until it gets a 2xx answer, retrying
    /// 5xx, 429 and transport failures; returns the answer's JSON (`null` when it has none).
    fn send(
        &self,
        repo_id: &str,
        step: &str,
        request: impl Fn() -> Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    ) -> Result<Value, HubError> {
        if self.options().token.is_none() {
            return Err(HubError::NoToken {
                repo: repo_id.to_owned(),
            });
        }
        if self.options().offline {
            return Err(self.hub_error(repo_id, format!("{step}: offline mode (HF_HUB_OFFLINE=1)")));
        }
        let mut backoff = FIRST_BACKOFF;
        let mut attempt = 1;
        loop {
            let failure = match request() {
                Ok(mut response) => {
                    let status = response.status().as_u16();
                    let body = response.body_mut().read_to_string().unwrap_or_default();
                    if (200..300).contains(&status) {
                        return Ok(serde_json::from_str(&body).unwrap_or(Value::Null));
                    }
                    let message = format!("{step}: HTTP {status}: {}", hub_message(&body));
                    if status < 500 && status != 429 {
                        return Err(self.hub_error(repo_id, with_hint(status, message)));
                    }
                    message
                }
                Err(e) => format!("{step}: {e}"),
            };
            if attempt == ATTEMPTS {
                return Err(self.hub_error(repo_id, format!("{failure} (after {ATTEMPTS} attempts)")));
            }
            tracing::warn!(repo = repo_id, attempt, "{failure}; retrying in {backoff:?}");
            std::thread::sleep(backoff);
            backoff *= 2;
            attempt += 1;
        }
    }
}

/// The HTTP agent of uploads: HTTP statuses are answers to read, not errors.
fn agent() -> ureq::Agent {
    let config = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(3600)))
        .build();
    ureq::Agent::new_with_config(config)
}

/// Reads a commit file into memory with its SHA-256.
fn stage(file: &CommitFile) -> Result<Staged, String> {
    let bytes = match &file.source {
        FileSource::Path(path) => std::fs::read(path).map_err(|e| format!("reading {}: {e}", path.display()))?,
        FileSource::Bytes(bytes) => bytes.clone(),
    };
    let sha256 = Sha256::digest(&bytes).iter().map(|b| format!("{b:02x}")).collect();
    Ok(Staged {
        path: file.path_in_repo.clone(),
        bytes,
        sha256,
    })
}

/// The Hub's `error` message of an answer body, else the body itself (shortened).
fn hub_message(body: &str) -> String {
    serde_json::from_str::<Value>(body)
        .ok()
        .and_then(|v| v.get("error").and_then(Value::as_str).map(str::to_owned))
        .unwrap_or_else(|| body.chars().take(300).collect())
}

/// `message` with a hint for the usual causes of a 401/403/404.
fn with_hint(status: u16, message: String) -> String {
    match status {
        401 | 403 => format!("{message} (the token in HF_TOKEN has no write access to this repository)"),
        404 => format!("{message} (repository or revision not found)"),
        _ => message,
    }
}
