//! Answers on disk, so an interrupted run resumes without asking again: one JSON file per
//! request, `<dir>/<hh>/<hash>.json`, named by the SHA-256 of the route and the full request
//! body (the model, prompt and sampling parameters are all in it), written to a temporary file
//! and renamed into place. An entry holds the request too, and is used only for that request.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::error::LlmError;

/// An on-disk answer cache (see the module docs).
#[derive(Debug, Clone)]
pub struct ResponseCache {
    dir: PathBuf,
}

/// Distinguishes the temporary files of concurrent writers in one process.
static TMP_COUNTER: AtomicU64 = AtomicU64::new(0);

fn cache_error(path: &Path, message: impl std::fmt::Display) -> LlmError {
    LlmError::Cache {
        path: path.to_owned(),
        message: message.to_string(),
    }
}

impl ResponseCache {
    /// A cache in `dir` (created when the first answer is stored).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// The cache directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The key of a request: hex SHA-256 of `route`, a newline and the body's JSON.
    pub fn key(route: &str, body: &Value) -> String {
        let mut hasher = Sha256::new();
        hasher.update(route.as_bytes());
        hasher.update(b"\n");
        hasher.update(body.to_string().as_bytes());
        hasher.finalize().iter().map(|b| format!("{b:02x}")).collect()
    }

    fn path(&self, key: &str) -> PathBuf {
        self.dir.join(&key[..2]).join(format!("{key}.json"))
    }

    /// The cached answer to `body` on `route`, if any. An unreadable entry is reported and
    /// ignored (asked again).
    pub fn get(&self, route: &str, body: &Value) -> Option<Value> {
        let path = self.path(&Self::key(route, body));
        let text = std::fs::read_to_string(&path).ok()?;
        match serde_json::from_str::<Value>(&text) {
            Ok(entry)
                if entry.get("request") == Some(body) && entry.get("route").and_then(Value::as_str) == Some(route) =>
            {
                entry.get("response").cloned()
            }
            Ok(_) => {
                tracing::warn!(path = %path.display(), "cache entry of another request; asking again");
                None
            }
            Err(error) => {
                tracing::warn!(path = %path.display(), %error, "unreadable cache entry; asking again");
                None
            }
        }
    }

    /// Stores the answer to `body` on `route`.
    pub fn put(&self, route: &str, body: &Value, response: &Value) -> Result<(), LlmError> {
        let path = self.path(&Self::key(route, body));
        let dir = path.parent().unwrap_or(&self.dir);
        std::fs::create_dir_all(dir).map_err(|e| cache_error(dir, e))?;
        let entry = json!({"route": route, "request": body, "response": response});
        let tmp = path.with_extension(format!(
            "tmp-{}-{}",
            std::process::id(),
            TMP_COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::write(&tmp, entry.to_string()).map_err(|e| cache_error(&tmp, e))?;
        std::fs::rename(&tmp, &path).map_err(|e| cache_error(&path, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_found_by_the_exact_request() {
        let dir = tempfile::tempdir().unwrap();
        let cache = ResponseCache::new(dir.path().join("c"));
        let body = json!({"model": "m", "prompt": "p", "temperature": 0.1});
        assert!(cache.get("completions", &body).is_none());
        cache
            .put("completions", &body, &json!({"choices": [{"text": "1"}]}))
            .unwrap();
        assert_eq!(cache.get("completions", &body).unwrap()["choices"][0]["text"], "1");
        assert!(cache.get("chat/completions", &body).is_none(), "another route");
        assert!(
            cache
                .get("completions", &json!({"model": "m", "prompt": "p", "temperature": 0.2}))
                .is_none()
        );
        let files: Vec<_> = walk(dir.path());
        assert_eq!(files.len(), 1, "one file per request, no temporaries left: {files:?}");
    }

    fn walk(dir: &Path) -> Vec<PathBuf> {
        let mut out = Vec::new();
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                out.extend(walk(&path));
            } else {
                out.push(path);
            }
        }
        out
    }
}
