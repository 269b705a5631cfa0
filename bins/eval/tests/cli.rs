//! `open_provence_eval` user errors: exit code 2 with a one-line message naming the culprit.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests unwrap known-good values.

use std::path::PathBuf;
use std::process::{Command, Output};

fn eval(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_open_provence_eval"))
        .args(args)
        .env("RUST_LOG", "off")
        .output()
        .unwrap()
}

fn scratch(name: &str, contents: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("open_provence_eval_cli_{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, contents).unwrap();
    path
}

fn stderr_line(out: &Output) -> String {
    let text = String::from_utf8_lossy(&out.stderr).trim().to_string();
    assert_eq!(text.lines().count(), 1, "one-line error expected, got {text:?}");
    text
}

#[test]
fn missing_model_directory_exits_2_with_one_line() {
    let out = eval(&[
        "process",
        "--model",
        "/no/such/model_dir",
        "--question",
        "q",
        "--context",
        "c",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr_line(&out);
    assert!(err.starts_with("error:") && err.contains("/no/such/model_dir"), "{err}");
}

#[test]
fn malformed_jsonl_line_is_named() {
    let input = scratch(
        "bad.jsonl",
        "{\"question\": \"q\", \"context\": \"c\"}\n{\"question\": \"q\", \"context\": 5}\n",
    );
    let out = eval(&[
        "process",
        "--model",
        "/no/such/model_dir",
        "--input",
        input.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr_line(&out);
    assert!(err.contains("line 2") && err.contains("context"), "{err}");
}

#[test]
fn process_needs_question_and_context_or_input() {
    let out = eval(&["process", "--model", "/no/such/model_dir"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr_line(&out).contains("--input"));
}

#[test]
fn bad_eval_config_is_named() {
    let config = scratch("bad.yaml", "split: test\n");
    let out = eval(&[
        "datasets",
        "--config",
        config.to_str().unwrap(),
        "--model",
        "/no/such/model_dir",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr_line(&out);
    assert!(err.contains("bad.yaml") && err.contains("datasets"), "{err}");
}

/// Thresholds follow the recipes' rule (a number in [0, 1]) at every entry point, and negative
/// numbers reach that check instead of being taken for flags.
#[test]
fn thresholds_outside_zero_one_are_refused() {
    for bad in ["NaN", "-1", "2", "inf"] {
        let process = eval(&[
            "process",
            "--model",
            "/no/such/model_dir",
            "--question",
            "q",
            "--context",
            "c",
            "--threshold",
            bad,
        ]);
        let datasets = eval(&[
            "datasets",
            "--config",
            "/no/such.yaml",
            "--model",
            "/no/such/model_dir",
            "--th",
            &format!("0.1,{bad}"),
        ]);
        for out in [process, datasets] {
            assert_eq!(out.status.code(), Some(2), "{bad}");
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(err.contains("a threshold must be a number in [0, 1]"), "{bad}: {err}");
        }
    }
}

/// A missing local model directory is reported as that, once (it used to be a failed Hub request
/// for a "dataset repo", printed twice).
#[test]
fn a_missing_model_directory_is_named_once() {
    let out = eval(&[
        "process",
        "--model",
        "/no/such/model_dir",
        "--question",
        "q",
        "--context",
        "c",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let errors: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(errors, ["error: model /no/such/model_dir does not exist"], "{stderr}");
}

/// Log lines carry no ANSI colour codes when stderr is not a terminal.
#[test]
fn no_colour_codes_when_stderr_is_piped() {
    let out = Command::new(env!("CARGO_BIN_EXE_open_provence_eval"))
        .args([
            "--threads",
            "1",
            "process",
            "--model",
            "/no/such/model_dir",
            "--question",
            "q",
            "--context",
            "c",
        ])
        .env("RUST_LOG", "info")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("CPU threads: 1"), "{stderr}");
    assert!(!stderr.contains('\u{1b}'), "{stderr:?}");
}

/// A tiny random model with the demo tokenizer.
fn tiny_model() -> tempfile::TempDir {
    use burn::prelude::Backend;
    use provence_model::{ModernBertConfig, OpenProvenceConfig, OpenProvenceModel};
    let backbone = ModernBertConfig::from_json(serde_json::json!({
        "vocab_size": 2000, "hidden_size": 32, "intermediate_size": 48, "num_hidden_layers": 2,
        "num_attention_heads": 2, "num_labels": 1, "pad_token_id": 3, "cls_token_id": 1, "sep_token_id": 2,
    }))
    .unwrap();
    burn::backend::Flex::seed(&Default::default(), 7);
    let config = OpenProvenceConfig::new(backbone, 0.0);
    let model = OpenProvenceModel::<burn::backend::Flex>::from_scratch(config, &Default::default()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    model.save_final_model(dir.path(), "test/tiny").unwrap();
    let demo = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../data/demo/model");
    for f in ["tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"] {
        std::fs::copy(demo.join(f), dir.path().join(f)).unwrap();
    }
    dir
}

/// `serve` on port 0 logs its address, takes its API key from `API_KEY`, answers `/prune` and
/// `/rerank` with the key (401 without), and on SIGTERM drains and exits 0.
#[cfg(unix)]
#[test]
fn serve_answers_http_and_exits_0_on_sigterm() {
    use std::io::{BufRead, BufReader};
    let model = tiny_model();
    let mut child = Command::new(env!("CARGO_BIN_EXE_open_provence_eval"))
        .args(["--threads", "1", "serve", "--port", "0", "--model"])
        .arg(model.path())
        .args([
            "--hostname",
            "127.0.0.1",
            "--cors-allow-origin",
            "http://a.test,http://b.test",
        ])
        .env("RUST_LOG", "info")
        .env("API_KEY", "cli-key")
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let addr = loop {
        let line = lines.next().expect("serve exited before listening").unwrap();
        if let Some(rest) = line.split("address=").nth(1) {
            break rest.split_whitespace().next().unwrap().to_string();
        }
    };
    // Keep reading stderr so that the server never blocks on a full pipe.
    let rest = std::thread::spawn(move || lines.map_while(Result::ok).collect::<Vec<_>>());
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    let body = r#"{"question": "capital of Japan", "contexts": "Tokyo is the capital. Rain fell."}"#;
    let refused = agent.post(&format!("http://{addr}/prune")).send(body).unwrap();
    assert_eq!(refused.status(), 401);
    let mut reply = agent
        .post(&format!("http://{addr}/prune"))
        .header("Authorization", "Bearer cli-key")
        .send(body)
        .unwrap();
    assert_eq!(reply.status(), 200);
    let json: serde_json::Value = serde_json::from_str(&reply.body_mut().read_to_string().unwrap()).unwrap();
    assert!(json["pruned_context"].is_string(), "{json}");
    let body = r#"{"query": "capital of Japan", "texts": ["Rain fell.", "Tokyo is the capital."]}"#;
    let mut reply = agent
        .post(&format!("http://{addr}/rerank"))
        .header("Authorization", "Bearer cli-key")
        .header("Origin", "http://b.test")
        .send(body)
        .unwrap();
    let origin = reply.headers().get("access-control-allow-origin").cloned();
    assert_eq!(origin.as_ref().and_then(|v| v.to_str().ok()), Some("http://b.test"));
    assert_eq!(reply.status(), 200);
    let ranks: serde_json::Value = serde_json::from_str(&reply.body_mut().read_to_string().unwrap()).unwrap();
    assert_eq!(ranks.as_array().unwrap().len(), 2, "{ranks}");

    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = child.wait().unwrap();
    let log = rest.join().unwrap().join("\n");
    assert_eq!(status.code(), Some(0), "{log}");
    assert!(
        log.contains("shutdown signal received") && log.contains("stopped"),
        "{log}"
    );
}
