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
