//! Publishing against the fake Hub on 127.0.0.1: which files go inline and which through LFS,
//! the model card, the commit message, a 401 without a (valid) token, a transient 5xx that the
//! client retries through, a persistent 5xx that fails naming the step and a rerun that
//! completes; then the pushed model downloads back through the same endpoint.

use std::path::{Path, PathBuf};

use provence_hub::{END_OF_TRAINING, HubClient, HubError, HubOptions, PublishRequest, RepoKind, resolve_model_dir};

use provence_test_support::fake_hub::{self, TOKEN};

fn model_dir() -> PathBuf {
    provence_test_support::fixture("process/model")
}

fn options(endpoint: &str, cache: &Path, token: Option<&str>) -> HubOptions {
    HubOptions {
        endpoint: endpoint.to_owned(),
        cache_dir: cache.to_owned(),
        token: token.map(str::to_owned),
        offline: false,
        revision: "main".to_owned(),
        progress: false,
    }
}

fn request(dir: &Path, repo: &str) -> PublishRequest {
    PublishRequest {
        model_dir: dir.to_owned(),
        repo_id: repo.to_owned(),
        private: Some(true),
        commit_message: END_OF_TRAINING.to_owned(),
    }
}

fn client(endpoint: &str, cache: &Path, token: Option<&str>) -> HubClient {
    HubClient::for_kind(options(endpoint, cache, token), RepoKind::Model).unwrap()
}

/// A run directory: `final_model/` (the tiny model, an eval report, a private `_scratch` file),
/// a checkpoint and the run's log history.
fn run_dir(root: &Path) -> PathBuf {
    let run = root.join("run");
    let final_model = run.join("final_model");
    std::fs::create_dir_all(final_model.join("eval_datasets")).unwrap();
    for entry in std::fs::read_dir(model_dir()).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), final_model.join(entry.file_name())).unwrap();
    }
    std::fs::write(
        final_model.join("eval_datasets/results.md"),
        "# Eval\n\n| dataset | F2 |\n|---|---|\n| nano | 0.5 |\n",
    )
    .unwrap();
    std::fs::write(final_model.join("_scratch"), "x").unwrap();
    std::fs::create_dir_all(run.join("checkpoint-5")).unwrap();
    std::fs::write(
        run.join("log_history.jsonl"),
        "{\"loss\": 1.0}\n{\"train_runtime\": 3723.4}\n",
    )
    .unwrap();
    run
}

#[test]
fn pushes_final_model_with_card_through_lfs_and_downloads_it_back() {
    let (url, hub) = fake_hub::start();
    let tmp = tempfile::tempdir().unwrap();
    let run = run_dir(tmp.path());
    let info = client(&url, tmp.path(), Some(TOKEN))
        .publish_model(&request(&run, "me/tiny-pruner"))
        .unwrap();
    assert_eq!(info.oid, fake_hub::SHA);

    let hub = hub.lock().unwrap();
    assert_eq!(hub.created, vec![("me/tiny-pruner".to_owned(), Some(true))]);
    let commit = &hub.commits[0];
    assert_eq!(commit.message, "End of training");
    let mut expected: Vec<String> = std::fs::read_dir(model_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    expected.extend(["README.md".to_owned(), "eval_datasets/results.md".to_owned()]);
    expected.sort();
    let mut got: Vec<String> = commit.files.iter().map(|(p, _)| p.clone()).collect();
    got.sort();
    assert_eq!(
        got, expected,
        "final_model/ plus the card, without _scratch or checkpoints"
    );
    for (path, how) in &commit.files {
        let want = if path.ends_with(".safetensors") {
            "lfsFile"
        } else {
            "file"
        };
        assert_eq!(how, want, "{path}");
    }
    let repo = &hub.repos["me/tiny-pruner"];
    let weights = std::fs::read(model_dir().join("model.safetensors")).unwrap();
    assert_eq!(repo["model.safetensors"], weights);

    let card = String::from_utf8(repo["README.md"].clone()).unwrap();
    assert!(card.starts_with("---\nlicense: mit\n"), "{card}");
    for needle in [
        "# me/tiny-pruner",
        "- Training time: 1h 02m 03s",
        "### Eval",
        "| nano | 0.5 |",
        "open_provence_eval process --model me/tiny-pruner",
        "AutoModel.from_pretrained(\"me/tiny-pruner\", trust_remote_code=True)",
    ] {
        assert!(card.contains(needle), "{needle:?} missing from\n{card}");
    }
    drop(hub);

    // Back through the same endpoint into a fresh cache: byte-identical files.
    let cache = tempfile::tempdir().unwrap();
    let dir = resolve_model_dir("me/tiny-pruner", options(&url, cache.path(), None)).unwrap();
    for name in ["config.json", "model.safetensors", "tokenizer.json"] {
        assert_eq!(
            std::fs::read(dir.join(name)).unwrap(),
            std::fs::read(model_dir().join(name)).unwrap(),
            "{name}"
        );
    }
}

#[test]
fn no_token_and_a_rejected_token_fail_clearly() {
    let (url, hub) = fake_hub::start();
    let tmp = tempfile::tempdir().unwrap();
    let err = client(&url, tmp.path(), None)
        .publish_model(&request(&model_dir(), "me/x"))
        .unwrap_err();
    assert!(matches!(err, HubError::NoToken { .. }), "{err:?}");
    assert!(err.to_string().contains("HF_TOKEN"), "{err}");
    assert!(hub.lock().unwrap().log.is_empty(), "nothing is sent without a token");

    let err = client(&url, tmp.path(), Some("hf_wrong"))
        .publish_model(&request(&model_dir(), "me/x"))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("HTTP 401") && err.contains("me/x") && err.contains("HF_TOKEN"),
        "{err}"
    );
    assert_eq!(hub.lock().unwrap().log.len(), 1, "a 401 is not retried");
}

#[test]
fn transient_5xx_is_retried_and_a_persistent_one_fails_then_a_rerun_completes() {
    let (url, hub) = fake_hub::start();
    let tmp = tempfile::tempdir().unwrap();
    hub.lock().unwrap().faults.extend([("put", 1), ("commit", 1)]);
    client(&url, tmp.path(), Some(TOKEN))
        .publish_model(&request(&model_dir(), "me/flaky"))
        .unwrap();
    {
        let hub = hub.lock().unwrap();
        assert_eq!(hub.commits.len(), 1);
        let failed: Vec<&String> = hub.log.iter().filter(|(_, s)| *s == 500).map(|(r, _)| r).collect();
        assert_eq!(failed.len(), 2, "{:?}", hub.log);
    }

    // The commit keeps failing: a clear error naming the step; nothing is committed.
    hub.lock().unwrap().faults.insert("commit", 10);
    let err = client(&url, tmp.path(), Some(TOKEN))
        .publish_model(&request(&model_dir(), "me/second"))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("me/second") && err.contains("commit: HTTP 500") && err.contains("after 4 attempts"),
        "{err}"
    );
    assert_eq!(hub.lock().unwrap().commits.len(), 1);

    // The Hub recovers: the same push completes (the LFS objects it already has are not re-sent).
    hub.lock().unwrap().faults.clear();
    let puts_before = hub
        .lock()
        .unwrap()
        .log
        .iter()
        .filter(|(r, _)| r.starts_with("PUT"))
        .count();
    client(&url, tmp.path(), Some(TOKEN))
        .publish_model(&request(&model_dir(), "me/second"))
        .unwrap();
    let hub = hub.lock().unwrap();
    assert_eq!(hub.commits.len(), 2);
    assert!(hub.repos["me/second"].contains_key("model.safetensors"));
    let puts_after = hub.log.iter().filter(|(r, _)| r.starts_with("PUT")).count();
    assert_eq!(
        puts_after, puts_before,
        "weights already on the Hub are not uploaded again"
    );
}
