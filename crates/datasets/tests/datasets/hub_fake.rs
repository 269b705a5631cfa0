//! The Hub path against a loopback fake Hub (the endpoint is set per client, not through the
//! process environment, so tests can run in parallel) and against hand-made Python-layout caches
//! in offline mode.

#![cfg(feature = "hub")]

use provence_test_support::fixture;
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::{Arc, Mutex};

use provence_datasets::{BadRowPolicy, DataOptions, DatasetError, DatasetSpec, SourceResolver, prepare_datasets};
use provence_hub::{HubClient, HubError, HubOptions};

const SHA: &str = "0123456789abcdef0123456789abcdef01234567";

/// Requests seen by the fake Hub: (path, authorization header).
type Log = Arc<Mutex<Vec<(String, Option<String>)>>>;

/// A minimal HTTP/1.1 server speaking the Hub's `api/datasets/.../revision/...` and
/// `datasets/.../resolve/...` URLs. `listed` files appear in the listing; only `files` can be
/// downloaded (so a listed-but-absent file answers 404).
fn fake_hub(repo: &'static str, files: BTreeMap<String, Vec<u8>>, listed: Vec<String>) -> (String, Log) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let log: Log = Arc::default();
    let log2 = Arc::clone(&log);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            serve(stream, repo, &files, &listed, &log2);
        }
    });
    (url, log)
}

fn serve(mut stream: TcpStream, repo: &str, files: &BTreeMap<String, Vec<u8>>, listed: &[String], log: &Log) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).is_err() {
        return;
    }
    let (mut range, mut auth) = (None, None);
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
            break;
        }
        let (name, value) = line.split_once(':').unwrap_or((&line, ""));
        match name.to_ascii_lowercase().as_str() {
            "range" => range = Some(value.trim().to_owned()),
            "authorization" => auth = Some(value.trim().to_owned()),
            _ => {}
        }
    }
    let path = request_line.split_whitespace().nth(1).unwrap_or("").to_owned();
    log.lock().unwrap().push((path.clone(), auth));
    let api = format!("/api/datasets/{repo}/revision/main");
    let resolve = format!("/datasets/{repo}/resolve/main/");
    let (status, headers, body): (&str, Vec<String>, Vec<u8>) = if path == api {
        let siblings: Vec<String> = listed.iter().map(|f| format!("{{\"rfilename\":\"{f}\"}}")).collect();
        let json = format!("{{\"sha\":\"{SHA}\",\"siblings\":[{}]}}", siblings.join(","));
        (
            "200 OK",
            vec!["Content-Type: application/json".into()],
            json.into_bytes(),
        )
    } else if let Some(data) = path.strip_prefix(&resolve).and_then(|f| files.get(f)) {
        let start: usize = range
            .as_deref()
            .and_then(|r| r.strip_prefix("bytes="))
            .and_then(|r| r.split('-').next())
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let end = if range.as_deref() == Some("bytes=0-0") {
            1
        } else {
            data.len()
        };
        let etag = format!("\"blob{}\"", data.len());
        let headers = vec![
            format!("ETag: {etag}"),
            format!("X-Repo-Commit: {SHA}"),
            format!("Content-Range: bytes {start}-{}/{}", end.saturating_sub(1), data.len()),
        ];
        ("206 Partial Content", headers, data[start.min(end)..end].to_vec())
    } else {
        ("404 Not Found", vec![], b"not found".to_vec())
    };
    let mut response = format!(
        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for h in headers {
        response.push_str(&h);
        response.push_str("\r\n");
    }
    response.push_str("\r\n");
    let _ = stream.write_all(response.as_bytes());
    let _ = stream.write_all(&body);
}

fn options(endpoint: &str, cache: &Path, offline: bool) -> HubOptions {
    HubOptions {
        endpoint: endpoint.to_owned(),
        cache_dir: cache.to_owned(),
        token: Some("hf_test_token".to_owned()),
        offline,
        revision: "main".to_owned(),
        progress: false,
    }
}

fn ds_a_files() -> BTreeMap<String, Vec<u8>> {
    let mut files = BTreeMap::new();
    for split in ["train", "validation", "test"] {
        let name = format!("sub_a/{split}-00000-of-00001.parquet");
        files.insert(
            name.clone(),
            std::fs::read(fixture("datasets/mix/ds_a").join(&name)).unwrap(),
        );
    }
    files.insert(
        "other/train-00000-of-00001.parquet".into(),
        files["sub_a/train-00000-of-00001.parquet"].clone(),
    );
    files.insert("README.md".into(), b"---\nconfigs: []\n---\n".to_vec());
    files
}

fn spec(name: &str, subset: &str) -> DatasetSpec {
    let mut spec = DatasetSpec::new(name, Some(subset));
    spec.items = Some(3);
    spec.n_samples = Some(0.5);
    spec
}

#[test]
fn downloads_only_needed_shards_into_python_cache_and_matches_local_copy() {
    let files = ds_a_files();
    let listed = files.keys().cloned().collect();
    let (url, log) = fake_hub("owner/ds", files, listed);
    let cache = tempfile::tempdir().unwrap();

    let hub = SourceResolver::with_hub(HubClient::new(options(&url, cache.path(), false)).unwrap());
    let from_hub = prepare_datasets(&[spec("owner/ds", "sub_a")], &DataOptions::default(), 42, &hub).unwrap();
    let local_dir = fixture("datasets/mix/ds_a");
    let local_spec = spec(local_dir.to_str().unwrap(), "sub_a");
    let local = prepare_datasets(
        &[local_spec],
        &DataOptions::default(),
        42,
        &SourceResolver::local_only(),
    )
    .unwrap();
    assert_eq!(from_hub.train, local.train);
    assert_eq!(from_hub.eval, local.eval);
    assert!(!from_hub.train.is_empty());

    let requests = log.lock().unwrap().clone();
    let paths: Vec<&str> = requests.iter().map(|(p, _)| p.as_str()).collect();
    assert!(paths.iter().any(|p| p.ends_with("sub_a/train-00000-of-00001.parquet")));
    assert!(
        paths
            .iter()
            .any(|p| p.ends_with("sub_a/validation-00000-of-00001.parquet"))
    );
    assert!(
        !paths
            .iter()
            .any(|p| p.contains("test-00000") || p.contains("other/") || p.contains("README")),
        "{paths:?}"
    );
    assert!(
        requests
            .iter()
            .all(|(_, auth)| auth.as_deref() == Some("Bearer hf_test_token"))
    );

    // Python's cache layout: refs/main -> commit, snapshots/<commit>/<file>.
    let repo_dir = cache.path().join("datasets--owner--ds");
    assert_eq!(std::fs::read_to_string(repo_dir.join("refs/main")).unwrap().trim(), SHA);
    assert!(
        repo_dir
            .join("snapshots")
            .join(SHA)
            .join("sub_a/train-00000-of-00001.parquet")
            .is_file()
    );

    // Offline afterwards (unreachable endpoint): served from the cache.
    let offline = SourceResolver::with_hub(HubClient::new(options("http://127.0.0.1:9", cache.path(), true)).unwrap());
    let again = prepare_datasets(&[spec("owner/ds", "sub_a")], &DataOptions::default(), 42, &offline).unwrap();
    assert_eq!(again.train, local.train);
}

#[test]
fn listed_but_missing_file_names_repo_revision_and_file() {
    let files = ds_a_files();
    let mut listed: Vec<String> = files.keys().cloned().collect();
    listed.push("sub_a/train-00001-of-00002.parquet".into());
    let (url, _log) = fake_hub("owner/gone", files, listed);
    let cache = tempfile::tempdir().unwrap();
    let resolver = SourceResolver::with_hub(HubClient::new(options(&url, cache.path(), false)).unwrap());
    let ds = resolver.resolve("owner/gone", Some("sub_a")).unwrap();
    let err = resolver
        .load_split(&ds, "train", "teacher_score", BadRowPolicy::Fail)
        .unwrap_err();
    match &err {
        DatasetError::Hub(HubError::FileNotFound {
            kind,
            repo,
            revision,
            file,
            offline,
        }) => {
            assert_eq!(*kind, "dataset");
            assert_eq!(repo, "owner/gone");
            assert_eq!(revision, "main");
            assert_eq!(file, "sub_a/train-00001-of-00002.parquet");
            assert!(!offline);
        }
        other => panic!("expected HubFileNotFound, got {other:?}"),
    }
    let msg = err.to_string();
    assert!(
        msg.contains("owner/gone") && msg.contains("main") && msg.contains("train-00001-of-00002"),
        "{msg}"
    );
}

#[test]
fn unknown_repo_is_a_hub_error() {
    let (url, _log) = fake_hub("owner/exists", BTreeMap::new(), vec![]);
    let cache = tempfile::tempdir().unwrap();
    let resolver = SourceResolver::with_hub(HubClient::new(options(&url, cache.path(), false)).unwrap());
    let err = resolver.resolve("owner/absent", None).unwrap_err();
    assert!(matches!(err, DatasetError::Hub(HubError::Request { .. })), "{err}");
    assert!(err.to_string().contains("owner/absent"), "{err}");
}
