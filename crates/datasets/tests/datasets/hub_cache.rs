//! The Hub cache without the network: hand-made Python-layout caches read in offline mode (and as
//! a fallback when the Hub is unreachable). Works with or without the `hub` feature.

use provence_test_support::fixture;
use std::path::{Path, PathBuf};

use provence_datasets::{BadRowPolicy, SourceResolver};
use provence_hub::{HubClient, HubError, HubOptions};

const SHA: &str = "0123456789abcdef0123456789abcdef01234567";

fn options(endpoint: &str, cache: &Path, offline: bool) -> HubOptions {
    HubOptions {
        endpoint: endpoint.to_owned(),
        cache_dir: cache.to_owned(),
        token: None,
        offline,
        revision: "main".to_owned(),
        progress: false,
    }
}

/// Builds `datasets--owner--name/{refs/main, blobs/<hash>, snapshots/<sha>/<file> -> blob}` the
/// way Python's `huggingface_hub` does.
fn python_cache(cache: &Path, repo: &str, files: &[(&str, PathBuf)]) {
    let base = cache.join(format!("datasets--{}", repo.replace('/', "--")));
    std::fs::create_dir_all(base.join("refs")).unwrap();
    std::fs::create_dir_all(base.join("blobs")).unwrap();
    std::fs::write(base.join("refs/main"), SHA).unwrap();
    for (i, (file, source)) in files.iter().enumerate() {
        let blob = base.join("blobs").join(format!("{i:040x}"));
        std::fs::copy(source, &blob).unwrap();
        let link = base.join("snapshots").join(SHA).join(file);
        std::fs::create_dir_all(link.parent().unwrap()).unwrap();
        let depth = file.matches('/').count() + 2;
        let target: PathBuf = std::iter::repeat_n("..", depth)
            .collect::<PathBuf>()
            .join("blobs")
            .join(format!("{i:040x}"));
        std::os::unix::fs::symlink(target, &link).unwrap();
    }
}

#[test]
fn offline_mode_reads_a_hand_made_python_cache() {
    let cache = tempfile::tempdir().unwrap();
    python_cache(
        cache.path(),
        "owner/cached",
        &[
            (
                "data/train-00000-of-00001.parquet",
                fixture("datasets/mix/ds_c/data/train-00000-of-00001.parquet"),
            ),
            ("README.md", fixture("datasets/rng_golden.json")),
        ],
    );
    let client = HubClient::new(options("http://127.0.0.1:9", cache.path(), true)).unwrap();
    let resolver = SourceResolver::with_hub(client);
    let ds = resolver.resolve("owner/cached", None).unwrap();
    assert_eq!(ds.split_names(), vec!["train".to_owned()]);
    let data = resolver
        .load_split(
            &ds,
            "train",
            "teacher_scores.gte-reranker-modernbert-base",
            BadRowPolicy::Fail,
        )
        .unwrap();
    assert_eq!(data.rows.len(), 12);
    assert!(data.rows[0].teacher_score.is_some());

    let client = HubClient::new(options("http://127.0.0.1:9", cache.path(), true)).unwrap();
    match client.fetch("owner/cached", "data/validation-00000-of-00001.parquet") {
        Err(e @ HubError::FileNotFound { offline: true, .. }) => {
            let msg = e.to_string();
            assert!(
                msg.contains("owner/cached") && msg.contains("main") && msg.contains("validation-00000"),
                "{msg}"
            );
            assert!(msg.contains("HF_HUB_OFFLINE"), "{msg}");
        }
        other => panic!("expected offline HubFileNotFound, got {other:?}"),
    }
    // Online but unreachable (connection refused): falls back to the cached snapshot, like Python.
    let unreachable =
        SourceResolver::with_hub(HubClient::new(options("http://127.0.0.1:9", cache.path(), false)).unwrap());
    let ds = unreachable.resolve("owner/cached", None).unwrap();
    assert_eq!(ds.split_names(), vec!["train".to_owned()]);

    let err = client.list_files("owner/not-cached").unwrap_err();
    assert!(err.to_string().contains("owner/not-cached"), "{err}");
}
