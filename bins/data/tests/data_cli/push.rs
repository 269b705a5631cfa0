//! `open_provence_data push` against the loopback fake Hub (HF_ENDPOINT, HF_TOKEN from the
//! environment): a stage's output goes up in the Hub parquet layout with a card, through a
//! transient 500, and loads back by its repo id equal to the local dataset; an earlier push's
//! extra shards are deleted in the same commit; no token, a missing directory and a dataset of 0
//! rows fail with one line and exit 2 before anything is sent.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Output;

use provence_datasets::{DatasetTables, SourceResolver};
use provence_hub::{HubClient, HubOptions};
use provence_test_support::fake_hub::{self, TOKEN};
use provence_test_support::fixture;

use crate::common::{assert_one_line_error, data, run, triplets};

/// `push` with `args` against the Hub at `url` (a token when `token`), the cache under `home`.
fn push(url: &str, home: &Path, token: bool, args: &[&str]) -> Output {
    let mut command = data(&[&["push"], args].concat());
    command
        .env_remove("HF_HUB_OFFLINE")
        .env_remove("HF_TOKEN")
        .env_remove("HUGGING_FACE_HUB_TOKEN")
        .env_remove("HF_TOKEN_PATH")
        .env_remove("HF_HUB_CACHE")
        .env("HF_ENDPOINT", url)
        .env("HF_HOME", home);
    if token {
        command.env("HF_TOKEN", TOKEN);
    }
    command.output().unwrap()
}

fn ok(out: &Output) -> String {
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout.clone()).unwrap()
}

fn local(dir: &Path) -> DatasetTables {
    let resolver = SourceResolver::local_only();
    resolver
        .load_tables(&resolver.resolve(dir.to_str().unwrap(), None).unwrap())
        .unwrap()
}

/// Dataset repository `repo` read back from the Hub at `url` into a fresh cache.
fn from_hub(url: &str, repo: &str) -> (DatasetTables, tempfile::TempDir) {
    let cache = tempfile::tempdir().unwrap();
    let options = HubOptions {
        endpoint: url.to_owned(),
        cache_dir: cache.path().to_owned(),
        token: None,
        offline: false,
        revision: "main".to_owned(),
        progress: false,
    };
    let resolver = SourceResolver::with_hub(HubClient::new(options).unwrap());
    let tables = resolver.load_tables(&resolver.resolve(repo, None).unwrap()).unwrap();
    (tables, cache)
}

fn assert_same(pushed: &DatasetTables, local: &DatasetTables) {
    assert_eq!(pushed.counts(), local.counts());
    for (a, b) in pushed.splits.iter().zip(&local.splits) {
        assert_eq!(a.batch, b.batch, "split {}", a.name);
    }
}

#[test]
fn a_stage_output_is_pushed_as_parquet_with_a_card_and_loads_back_by_repo_id() {
    let (url, hub) = fake_hub::start();
    let tmp = tempfile::tempdir().unwrap();
    let filtered = tmp.path().join("filtered");
    let saved = fixture("data_pipeline/convert/en_hard_negatives/saved");
    ok(&run(&[
        "filter-frequency",
        "--dataset",
        saved.to_str().unwrap(),
        "--threshold",
        "2",
        "--output-dir",
        filtered.to_str().unwrap(),
    ]));
    hub.lock().unwrap().faults.insert("put", 1);
    let out = ok(&push(
        &url,
        tmp.path(),
        true,
        &["--dataset-path", filtered.to_str().unwrap(), "--repo-id", "me/my-data"],
    ));
    assert!(out.contains("me/my-data") && out.contains("train "), "{out}");

    let splits = local(&filtered).counts();
    {
        let hub = hub.lock().unwrap();
        assert_eq!(hub.created, vec![("datasets/me/my-data".to_owned(), None)]);
        assert_eq!(hub.commits.len(), 1);
        let commit = &hub.commits[0];
        assert_eq!(commit.message, "Upload dataset");
        let mut expected: Vec<(String, String)> = splits
            .iter()
            .map(|(s, _)| (format!("data/{s}-00000-of-00001.parquet"), "lfsFile".to_owned()))
            .collect();
        expected.push(("README.md".to_owned(), "file".to_owned()));
        assert_eq!(commit.files, expected, "the data files through LFS, the card inline");
        assert_eq!(
            hub.log.iter().filter(|(_, status)| *status == 500).count(),
            1,
            "one upload answered 500 and was retried: {:?}",
            hub.log
        );

        let card = String::from_utf8(hub.repos["datasets/me/my-data"]["README.md"].clone()).unwrap();
        let (front, body) = card.split_once("\n---\n\n").unwrap();
        assert!(
            front.starts_with("---\ndataset_info:\n  features:\n  - name: id\n    dtype: string\n"),
            "{card}"
        );
        for (split, rows) in &splits {
            assert!(
                front.contains(&format!("  - name: \"{split}\"\n    num_examples: {rows}\n")),
                "{card}"
            );
            assert!(
                front.contains(&format!("  - split: \"{split}\"\n    path: \"data/{split}-*\"\n")),
                "{card}"
            );
        }
        let stage_card = std::fs::read_to_string(filtered.join("README.md")).unwrap();
        assert_eq!(body, stage_card, "the stage's card follows the front matter");
    }
    let (pushed, _cache) = from_hub(&url, "me/my-data");
    assert_same(&pushed, &local(&filtered));
}

#[test]
fn a_second_push_deletes_the_shards_it_does_not_replace() {
    let (url, hub) = fake_hub::start();
    let tmp = tempfile::tempdir().unwrap();
    let saved = fixture("data_pipeline/convert/en_hard_negatives/saved");
    let earlier: BTreeMap<String, Vec<u8>> = [
        ("README.md", b"old card".to_vec()),
        ("data/train-00000-of-00002.parquet", b"old shard".to_vec()),
        ("data/train-00001-of-00002.parquet", b"old shard".to_vec()),
        ("notes/keep.txt", b"not a data file".to_vec()),
    ]
    .into_iter()
    .map(|(path, bytes)| (path.to_owned(), bytes))
    .collect();
    hub.lock()
        .unwrap()
        .repos
        .insert("datasets/me/again".to_owned(), earlier);

    let out = ok(&push(
        &url,
        tmp.path(),
        true,
        &[
            "--dataset-path",
            saved.to_str().unwrap(),
            "--repo-id",
            "me/again",
            "--private",
        ],
    ));
    assert!(out.contains("2 data files of an earlier push deleted"), "{out}");
    {
        let hub = hub.lock().unwrap();
        assert_eq!(hub.created, vec![("datasets/me/again".to_owned(), Some(true))]);
        let deleted: Vec<&str> = hub.commits[0]
            .files
            .iter()
            .filter(|(_, how)| how == "deletedFile")
            .map(|(path, _)| path.as_str())
            .collect();
        assert_eq!(
            deleted,
            ["data/train-00000-of-00002.parquet", "data/train-00001-of-00002.parquet"]
        );
        let files: Vec<&String> = hub.repos["datasets/me/again"].keys().collect();
        assert_eq!(
            files,
            [
                "README.md",
                "data/test-00000-of-00001.parquet",
                "data/train-00000-of-00001.parquet",
                "data/validation-00000-of-00001.parquet",
                "notes/keep.txt"
            ]
        );
        // A save_to_disk dataset without a card of its own gets one naming the push.
        let card = String::from_utf8(hub.repos["datasets/me/again"]["README.md"].clone()).unwrap();
        assert!(
            card.contains("`open_provence_data push`") && card.contains("| train |"),
            "{card}"
        );
    }
    let (pushed, _cache) = from_hub(&url, "me/again");
    assert_same(&pushed, &local(&saved));
}

#[test]
fn no_token_a_missing_directory_and_zero_rows_fail_before_sending() {
    let (url, hub) = fake_hub::start();
    let tmp = tempfile::tempdir().unwrap();
    let saved = fixture("data_pipeline/convert/en_hard_negatives/saved");
    let saved = saved.to_str().unwrap();

    let out = push(&url, tmp.path(), false, &["--dataset-path", saved, "--repo-id", "me/x"]);
    assert_one_line_error(&out, &["HF_TOKEN", "me/x"]);

    let missing = tmp.path().join("missing");
    let args = ["--dataset-path", missing.to_str().unwrap(), "--repo-id", "me/x"];
    assert_one_line_error(
        &push(&url, tmp.path(), true, &args),
        &[missing.to_str().unwrap(), "does not exist"],
    );

    let empty = tmp.path().join("empty");
    triplets(&empty, &[]);
    let args = ["--dataset-path", empty.to_str().unwrap(), "--repo-id", "me/x"];
    assert_one_line_error(
        &push(&url, tmp.path(), true, &args),
        &["no rows", empty.to_str().unwrap()],
    );
    assert!(
        hub.lock().unwrap().log.is_empty(),
        "nothing was sent: {:?}",
        hub.lock().unwrap().log
    );
}
