//! `open_provence_eval mldr` as a process: killed while judging, then run again, it asks the
//! fake judge nothing it already had and ends with upstream's counts; without OPENAI_API_KEY
//! (default endpoint) or with a bad split it exits 2 naming the problem.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests unwrap known-good values.

use std::collections::HashSet;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use provence_test_support::fake_judge::FakeJudge;
use provence_test_support::fixture;
use provence_test_support::json::load;

/// The golden's `en_pruned` run; `split` and `endpoint` as given.
fn command(out: &Path, split: &str, endpoint: &str, timeout: &str) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_open_provence_eval"));
    let model = fixture("process/model");
    let dataset = fixture("mldr/input");
    let ignore = fixture("mldr/ignored_questions.yaml");
    c.args([
        "mldr",
        "--model",
        model.to_str().unwrap(),
        "--dataset",
        dataset.to_str().unwrap(),
    ])
    .args([
        "--lang",
        "en",
        "--split",
        split,
        "--limit",
        "10",
        "--batch-size",
        "4",
        "--threshold",
        "0.45",
    ])
    .args([
        "--include-negatives",
        "--ignore-file",
        ignore.to_str().unwrap(),
        "--no-progress",
    ])
    .args([
        "--concurrency",
        "1",
        "--retries",
        "2",
        "--retry-delay",
        "0.1",
        "--request-timeout",
        timeout,
    ])
    .args(["--llm-endpoint", endpoint, "--output-dir", out.to_str().unwrap()])
    .env("OPENAI_API_KEY", "sk-fixture-key")
    .env("RUST_LOG", "off")
    .env("HF_HUB_OFFLINE", "1");
    c
}

#[test]
fn a_killed_run_resumes_without_asking_twice() {
    // The first request about q-en-906 stalls 30 s and the client waits 60: the run hangs there
    // (one request at a time, after q-en-901..905 are judged), and is killed.
    let judge = FakeJudge::start(Duration::from_secs(30));
    let out = tempfile::tempdir().unwrap();
    let mut child = command(out.path(), "test", &judge.endpoint, "60")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while !judge.requests().iter().any(|r| r.query_id == "q-en-906") {
        assert!(
            start.elapsed() < Duration::from_secs(300),
            "the run never reached q-en-906"
        );
        assert!(child.try_wait().unwrap().is_none(), "the run ended early");
        std::thread::sleep(Duration::from_millis(100));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let before = judge.requests();
    let answered: HashSet<String> = before
        .iter()
        .filter(|r| r.answered)
        .map(|r| r.body.to_string())
        .collect();
    assert!(answered.len() >= 2, "judgments before the kill: {}", answered.len());
    assert!(
        !out.path().join("eval_llm/dataset").exists(),
        "no half-written stage output"
    );

    let output = command(out.path(), "test", &judge.endpoint, "1").output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let after = &judge.requests()[before.len()..];
    for r in after {
        assert!(
            !answered.contains(&r.body.to_string()),
            "{} asked again after the kill",
            r.query_id
        );
    }
    let summary = load(&out.path().join("eval_llm/summary.json"));
    let golden = load(&fixture("mldr/en_pruned/eval_summary.json"));
    assert_eq!(summary["counts"], golden["counts"]);
    assert_eq!(summary["records_evaluated"], golden["records_evaluated"]);
}

#[test]
fn missing_key_and_bad_split_exit_2_naming_them() {
    let out = tempfile::tempdir().unwrap();
    let output = command(out.path(), "test", "https://api.openai.com/v1", "1")
        .env_remove("OPENAI_API_KEY")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("OPENAI_API_KEY"));

    let output = command(out.path(), "test[:x]", "http://127.0.0.1:9/v1", "1")
        .arg("--no-eval")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--split") && stderr.contains("test[:x]"), "{stderr}");
    assert!(!out.path().join("process/dataset").exists());
}

#[test]
fn shitao_mldr_by_hub_id_from_the_hub_cache_gzipped() {
    // The Hub id goes through provence-hub (here its offline cache, Python's layout) and the
    // Hub's `.jsonl.gz` form; the pruned rows are the local copy's (upstream's golden).
    let cache = tempfile::tempdir().unwrap();
    let repo = cache.path().join("datasets--Shitao--MLDR");
    let sha = "0123456789abcdef0123456789abcdef01234567";
    std::fs::create_dir_all(repo.join("refs")).unwrap();
    std::fs::write(repo.join("refs/main"), sha).unwrap();
    let dir = repo.join("snapshots").join(sha).join("mldr-v1.0-ja");
    std::fs::create_dir_all(&dir).unwrap();
    let mut gz = flate2::write::GzEncoder::new(
        std::fs::File::create(dir.join("test.jsonl.gz")).unwrap(),
        flate2::Compression::default(),
    );
    std::io::Write::write_all(
        &mut gz,
        &std::fs::read(fixture("mldr/input/mldr-v1.0-ja/test.jsonl")).unwrap(),
    )
    .unwrap();
    gz.finish().unwrap();

    let out = tempfile::tempdir().unwrap();
    let model = fixture("process/model");
    let output = Command::new(env!("CARGO_BIN_EXE_open_provence_eval"))
        .args([
            "mldr",
            "--model",
            model.to_str().unwrap(),
            "--lang",
            "jp",
            "--mldr-lang",
            "ja",
        ])
        .args([
            "--split",
            "test[1:]",
            "--batch-size",
            "3",
            "--threshold",
            "0.5",
            "--no-eval",
            "--no-progress",
        ])
        .args(["--output-dir", out.path().to_str().unwrap()])
        .env("HF_HUB_CACHE", cache.path())
        .env("HF_HUB_OFFLINE", "1")
        .env("RUST_LOG", "off")
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let ours = std::fs::read_to_string(out.path().join("process/dataset/rows.jsonl")).unwrap();
    let golden = std::fs::read_to_string(fixture("mldr/ja_pruned/process_rows.jsonl")).unwrap();
    let texts = |s: &str| -> Vec<String> {
        s.lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["pruned_text"].to_string())
            .collect()
    };
    assert_eq!(texts(&ours), texts(&golden));
}
