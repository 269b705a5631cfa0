//! `label-spans --dry-run` prints upstream's prompt for the first passage and neither asks the
//! endpoint (nothing listens on it) nor writes anything.

use provence_test_support::fixture;

use crate::common::{any_output, run};

#[test]
fn a_dry_run_prints_the_first_prompt() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let output = run(&[
        "label-spans",
        "--dataset-path",
        fixture("data_pipeline/convert/label_rows/saved").to_str().unwrap(),
        "--endpoint",
        "http://127.0.0.1:9/v1",
        "--model",
        "llm",
        "--tokenizer",
        fixture("data_pipeline/label_spans/llm_tokenizer").to_str().unwrap(),
        "--cache-dir",
        tmp.path().join("cache").to_str().unwrap(),
        "--output-path",
        out.to_str().unwrap(),
        "--dry-run",
    ]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let expected = crate::common::first_fixture_prompt();
    assert_eq!(String::from_utf8(output.stdout).unwrap(), format!("{expected}\n"));
    assert!(!any_output(&out));
    assert!(!tmp.path().join("cache").exists());
}
