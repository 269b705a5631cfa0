//! Model repositories through the Hub cache: a hand-made Python-layout `models--owner--name`
//! cache resolves offline to its snapshot directory (sharded weights included), a local
//! directory is used as is, and a missing repository names repo, revision and file.

use provence_hub::{HubClient, HubError, HubOptions, RepoKind, resolve_model_dir};
use std::path::Path;

const SHA: &str = "fedcba9876543210fedcba9876543210fedcba98";

fn offline(cache: &Path) -> HubOptions {
    HubOptions {
        endpoint: "http://127.0.0.1:9".to_owned(),
        cache_dir: cache.to_owned(),
        token: None,
        offline: true,
        revision: "main".to_owned(),
        progress: false,
    }
}

fn model_cache(cache: &Path, repo: &str, files: &[(&str, &str)]) -> std::path::PathBuf {
    let base = cache.join(format!("models--{}", repo.replace('/', "--")));
    std::fs::create_dir_all(base.join("refs")).unwrap();
    std::fs::write(base.join("refs/main"), SHA).unwrap();
    let snapshot = base.join("snapshots").join(SHA);
    for (i, (name, content)) in files.iter().enumerate() {
        let blob = base.join("blobs").join(format!("{i:040x}"));
        std::fs::create_dir_all(blob.parent().unwrap()).unwrap();
        std::fs::write(&blob, content).unwrap();
        std::fs::create_dir_all(snapshot.join(name).parent().unwrap()).unwrap();
        std::os::unix::fs::symlink(&blob, snapshot.join(name)).unwrap();
    }
    snapshot
}

#[test]
fn cached_model_resolves_offline_with_sharded_weights() {
    let tmp = tempfile::tempdir().unwrap();
    let index = r#"{"metadata": {}, "weight_map": {"a": "model-00001-of-00002.safetensors", "b": "model-00002-of-00002.safetensors"}}"#;
    let snapshot = model_cache(
        tmp.path(),
        "org/tiny-reranker",
        &[
            ("config.json", "{}"),
            ("tokenizer.json", "{}"),
            ("model.safetensors.index.json", index),
            ("model-00001-of-00002.safetensors", "x"),
            ("model-00002-of-00002.safetensors", "y"),
        ],
    );
    let dir = resolve_model_dir("org/tiny-reranker", offline(tmp.path())).unwrap();
    assert_eq!(dir, snapshot);
    let client = HubClient::for_kind(offline(tmp.path()), RepoKind::Model).unwrap();
    assert_eq!(client.fetch_model("org/tiny-reranker").unwrap(), snapshot);
}

#[test]
fn local_directory_wins_and_missing_repo_is_a_clear_error() {
    let tmp = tempfile::tempdir().unwrap();
    assert_eq!(
        resolve_model_dir(tmp.path().to_str().unwrap(), offline(tmp.path())).unwrap(),
        tmp.path()
    );
    let err = resolve_model_dir("org/absent", offline(tmp.path())).unwrap_err();
    assert!(matches!(err, HubError::Request { .. }), "{err:?}");
    let message = err.to_string();
    assert!(message.contains("org/absent") && message.contains("main"), "{message}");

    // Weights listed nowhere: the error names the missing file.
    model_cache(tmp.path(), "org/no-weights", &[("config.json", "{}")]);
    let err = resolve_model_dir("org/no-weights", offline(tmp.path())).unwrap_err();
    assert!(err.to_string().contains("model.safetensors"), "{err}");
}

/// What a name is: an existing directory, a Hub id, or a local path that is missing or a file,
/// each reported as such (a missing local path used to be reported as a failed Hub request for
/// a "dataset repo", even for a model).
#[test]
fn names_are_directories_hub_ids_or_bad_local_paths() {
    use provence_hub::{RepoKind, is_hub_id};
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("file.txt");
    std::fs::write(&file, "x").unwrap();
    let dir_name = dir.path().to_str().unwrap();
    assert_eq!(RepoKind::Model.locate(dir_name).unwrap(), None);
    assert_eq!(
        RepoKind::Model.locate("hotchpotch/open-provence-reranker-v1").unwrap(),
        Some("hotchpotch/open-provence-reranker-v1")
    );
    for (name, problem) in [
        ("/no/such/model", "model /no/such/model does not exist"),
        ("./relative/missing", "model ./relative/missing does not exist"),
        ("a/b/c", "model a/b/c does not exist"),
    ] {
        assert_eq!(RepoKind::Model.locate(name).unwrap_err().to_string(), problem);
    }
    let err = RepoKind::Dataset
        .locate(file.to_str().unwrap())
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("dataset ") && err.ends_with("is a file, not a directory"),
        "{err}"
    );
    assert!(is_hub_id("bert-base-uncased") && is_hub_id("BAAI/bge-reranker-v2-m3"));
    assert!(!is_hub_id("../x") && !is_hub_id("/abs") && !is_hub_id("owner/") && !is_hub_id(".hidden/x"));
}
