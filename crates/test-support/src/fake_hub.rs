//! A fake Hugging Face Hub on 127.0.0.1 speaking the parts of the Hub's HTTP API that uploads
//! and downloads use, for model and dataset repositories: `api/repos/create`, `preupload`, the
//! LFS batch API (upload + verify), the NDJSON `commit` endpoint (added, LFS and deleted files),
//! the revision listing and `resolve/` downloads. It checks the bearer token, records every
//! request and can answer 500 a given number of times per step. Repositories are keyed as the
//! Hub's URLs name them: `owner/name` for a model, `datasets/owner/name` for a dataset.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use serde_json::{Value, json};

/// The commit id every repository reports.
pub const SHA: &str = "0123456789abcdef0123456789abcdef01234567";
/// The token the fake Hub accepts.
pub const TOKEN: &str = "hf_fake_write_token";

/// One commit received.
#[derive(Debug, Clone)]
pub struct Commit {
    /// Repository id.
    pub repo: String,
    /// The header's summary.
    pub message: String,
    /// Paths committed, in body order, with how they came (`file`, `lfsFile` or `deletedFile`).
    pub files: Vec<(String, String)>,
}

/// What the fake Hub holds and saw.
#[derive(Debug, Default)]
pub struct Hub {
    /// Files per repository (`owner/name`, `datasets/owner/name`).
    pub repos: BTreeMap<String, BTreeMap<String, Vec<u8>>>,
    /// `create` requests (repo id, private flag).
    pub created: Vec<(String, Option<bool>)>,
    /// Commits, in order.
    pub commits: Vec<Commit>,
    /// LFS objects by sha256.
    pub lfs: BTreeMap<String, Vec<u8>>,
    /// Requests as `METHOD path` with their status.
    pub log: Vec<(String, u16)>,
    /// Answers of 500 still to give per step (`create`, `preupload`, `batch`, `put`, `verify`, `commit`).
    pub faults: BTreeMap<&'static str, usize>,
}

/// The shared state.
pub type Shared = Arc<Mutex<Hub>>;

/// Starts the fake Hub; returns its base URL and state.
pub fn start() -> (String, Shared) {
    let hub: Shared = Arc::default();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let state = Arc::clone(&hub);
    let base = url.clone();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            let app = axum::Router::new()
                .fallback(move |s, m, u, h, b| handle(s, m, u, h, b, base.clone()))
                .with_state(state);
            axum::serve(listener, app).await.unwrap();
        });
    });
    (url, hub)
}

async fn handle(
    State(hub): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
    base: String,
) -> Response {
    let path = uri.path().to_owned();
    let auth = headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or("");
    let mut hub = hub.lock().unwrap();
    let response = route(
        &mut hub,
        &method,
        &path,
        auth == format!("Bearer {TOKEN}"),
        &headers,
        &body,
        &base,
    );
    hub.log.push((format!("{method} {path}"), response.0.as_u16()));
    let (status, extra, bytes) = response;
    let mut out = (status, bytes).into_response();
    for (k, v) in extra {
        out.headers_mut().insert(
            axum::http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
            v.parse().unwrap(),
        );
    }
    out
}

type Answer = (StatusCode, Vec<(String, String)>, Vec<u8>);

fn json_answer(status: StatusCode, value: Value) -> Answer {
    (
        status,
        vec![("content-type".into(), "application/json".into())],
        value.to_string().into_bytes(),
    )
}

/// A 500 if `step` still has faults to give.
fn fault(hub: &mut Hub, step: &'static str) -> Option<Answer> {
    let left = hub.faults.get_mut(step)?;
    if *left == 0 {
        return None;
    }
    *left -= 1;
    Some(json_answer(
        StatusCode::INTERNAL_SERVER_ERROR,
        json!({"error": "Internal Error - We're working hard to fix this as soon as possible!"}),
    ))
}

fn route(
    hub: &mut Hub,
    method: &Method,
    path: &str,
    authed: bool,
    headers: &HeaderMap,
    body: &[u8],
    base: &str,
) -> Answer {
    let write = *method != Method::GET && *method != Method::HEAD;
    if write && !authed && !path.starts_with("/lfs-store/") {
        return json_answer(
            StatusCode::UNAUTHORIZED,
            json!({"error": "Invalid credentials in Authorization header"}),
        );
    }
    if path == "/api/repos/create" {
        return create(hub, body);
    }
    if let Some((prefix, rest)) = api_repo_path(path) {
        if rest.contains("/preupload/") {
            return fault(hub, "preupload").unwrap_or_else(|| preupload(body));
        }
        if let Some((repo, _)) = rest.split_once("/commit/") {
            return fault(hub, "commit").unwrap_or_else(|| commit(hub, &format!("{prefix}{repo}"), body));
        }
        if let Some((repo, _)) = rest.split_once("/revision/") {
            return listing(hub, &format!("{prefix}{repo}"));
        }
    }
    if let Some(repo) = path.strip_suffix(".git/info/lfs/objects/batch") {
        return fault(hub, "batch").unwrap_or_else(|| lfs_batch(hub, &repo[1..], body, base));
    }
    if let Some(oid) = path.strip_prefix("/lfs-store/") {
        if let Some(answer) = fault(hub, "put") {
            return answer;
        }
        hub.lfs.insert(oid.to_owned(), body.to_vec());
        return (StatusCode::OK, vec![], vec![]);
    }
    if path == "/lfs-verify" {
        return fault(hub, "verify").unwrap_or_else(|| verify(hub, body));
    }
    if let Some((repo, file)) = path[1..].split_once("/resolve/main/") {
        return resolve(hub, repo, file, headers);
    }
    json_answer(StatusCode::NOT_FOUND, json!({"error": "not found"}))
}

/// `/api/models/<rest>` → `("", rest)`, `/api/datasets/<rest>` → `("datasets/", rest)`: the
/// repository key's prefix and the rest of the path.
fn api_repo_path(path: &str) -> Option<(&'static str, &str)> {
    if let Some(rest) = path.strip_prefix("/api/models/") {
        return Some(("", rest));
    }
    path.strip_prefix("/api/datasets/").map(|rest| ("datasets/", rest))
}

fn create(hub: &mut Hub, body: &[u8]) -> Answer {
    if let Some(answer) = fault(hub, "create") {
        return answer;
    }
    let request: Value = serde_json::from_slice(body).unwrap();
    let name = request["name"].as_str().unwrap();
    let prefix = if request["type"] == "dataset" { "datasets/" } else { "" };
    let repo = match request["organization"].as_str() {
        Some(org) => format!("{prefix}{org}/{name}"),
        None => format!("{prefix}fake-user/{name}"),
    };
    hub.created
        .push((repo.clone(), request.get("private").and_then(Value::as_bool)));
    if hub.repos.contains_key(&repo) {
        return json_answer(
            StatusCode::CONFLICT,
            json!({"error": "You already created this model repo"}),
        );
    }
    hub.repos.insert(repo.clone(), BTreeMap::new());
    json_answer(StatusCode::OK, json!({"url": format!("https://huggingface.co/{repo}")}))
}

/// `*.safetensors` and `*.parquet` go through LFS, everything else inline (the Hub decides by
/// its default `.gitattributes`).
fn preupload(body: &[u8]) -> Answer {
    let request: Value = serde_json::from_slice(body).unwrap();
    let files: Vec<Value> = request["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let path = f["path"].as_str().unwrap();
            let mode = if path.ends_with(".safetensors") || path.ends_with(".parquet") {
                "lfs"
            } else {
                "regular"
            };
            json!({"path": path, "uploadMode": mode, "shouldIgnore": false})
        })
        .collect();
    json_answer(StatusCode::OK, json!({"files": files, "commitOid": SHA}))
}

fn lfs_batch(hub: &Hub, _repo: &str, body: &[u8], base: &str) -> Answer {
    let request: Value = serde_json::from_slice(body).unwrap();
    let objects: Vec<Value> = request["objects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            let oid = o["oid"].as_str().unwrap();
            if hub.lfs.contains_key(oid) {
                json!({"oid": oid, "size": o["size"]})
            } else {
                json!({"oid": oid, "size": o["size"], "actions": {
                    "upload": {"href": format!("{base}/lfs-store/{oid}")},
                    "verify": {"href": format!("{base}/lfs-verify")}}})
            }
        })
        .collect();
    json_answer(StatusCode::OK, json!({"transfer": "basic", "objects": objects}))
}

fn verify(hub: &Hub, body: &[u8]) -> Answer {
    let request: Value = serde_json::from_slice(body).unwrap();
    let oid = request["oid"].as_str().unwrap();
    match hub.lfs.get(oid) {
        Some(bytes) if bytes.len() as u64 == request["size"].as_u64().unwrap() => (StatusCode::OK, vec![], vec![]),
        _ => json_answer(StatusCode::NOT_FOUND, json!({"error": "object not uploaded"})),
    }
}

fn commit(hub: &mut Hub, repo: &str, body: &[u8]) -> Answer {
    let Some(mut files) = hub.repos.get(repo).cloned() else {
        return json_answer(StatusCode::NOT_FOUND, json!({"error": "Repository not found"}));
    };
    let mut record = Commit {
        repo: repo.to_owned(),
        message: String::new(),
        files: Vec::new(),
    };
    for line in std::str::from_utf8(body).unwrap().lines() {
        let entry: Value = serde_json::from_str(line).unwrap();
        let value = &entry["value"];
        match entry["key"].as_str().unwrap() {
            "header" => record.message = value["summary"].as_str().unwrap().to_owned(),
            "file" => {
                assert_eq!(value["encoding"], "base64");
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(value["content"].as_str().unwrap())
                    .unwrap();
                let path = value["path"].as_str().unwrap().to_owned();
                record.files.push((path.clone(), "file".into()));
                files.insert(path, bytes);
            }
            "lfsFile" => {
                let oid = value["oid"].as_str().unwrap();
                let Some(bytes) = hub.lfs.get(oid) else {
                    return json_answer(
                        StatusCode::BAD_REQUEST,
                        json!({"error": format!("LFS object {oid} missing")}),
                    );
                };
                let path = value["path"].as_str().unwrap().to_owned();
                record.files.push((path.clone(), "lfsFile".into()));
                files.insert(path, bytes.clone());
            }
            "deletedFile" => {
                let path = value["path"].as_str().unwrap().to_owned();
                if files.remove(&path).is_none() {
                    return json_answer(
                        StatusCode::NOT_FOUND,
                        json!({"error": format!("cannot delete {path}: no such file")}),
                    );
                }
                record.files.push((path, "deletedFile".into()));
            }
            other => panic!("unexpected commit line key {other}"),
        }
    }
    hub.repos.insert(repo.to_owned(), files);
    hub.commits.push(record);
    json_answer(
        StatusCode::OK,
        json!({"commitUrl": format!("https://huggingface.co/{repo}/commit/{SHA}"), "commitOid": SHA}),
    )
}

fn listing(hub: &Hub, repo: &str) -> Answer {
    let Some(files) = hub.repos.get(repo) else {
        return json_answer(StatusCode::NOT_FOUND, json!({"error": "Repository not found"}));
    };
    let siblings: Vec<Value> = files.keys().map(|f| json!({"rfilename": f})).collect();
    json_answer(StatusCode::OK, json!({"sha": SHA, "siblings": siblings}))
}

/// A download as `hf-hub` expects it: ranged, with ETag, X-Repo-Commit and Content-Range.
fn resolve(hub: &Hub, repo: &str, file: &str, headers: &HeaderMap) -> Answer {
    let Some(data) = hub.repos.get(repo).and_then(|f| f.get(file)) else {
        return json_answer(StatusCode::NOT_FOUND, json!({"error": "Entry not found"}));
    };
    let range = headers.get("range").and_then(|v| v.to_str().ok()).unwrap_or("");
    let start: usize = range
        .strip_prefix("bytes=")
        .and_then(|r| r.split('-').next())
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let end = if range == "bytes=0-0" { 1 } else { data.len() };
    let headers = vec![
        ("etag".into(), format!("\"{:016x}\"", content_hash(data))),
        ("x-repo-commit".into(), SHA.into()),
        (
            "content-range".into(),
            format!("bytes {start}-{}/{}", end.saturating_sub(1), data.len()),
        ),
    ];
    (StatusCode::PARTIAL_CONTENT, headers, data[start.min(end)..end].to_vec())
}

fn content_hash(data: &[u8]) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    data.hash(&mut hasher);
    hasher.finish()
}
