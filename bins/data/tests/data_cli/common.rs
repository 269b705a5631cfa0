//! Running the binary and making small input datasets.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::Arc;

use arrow_array::builder::{ListBuilder, StringBuilder};
use arrow_array::{ArrayRef, RecordBatch, StringArray};
use provence_datasets::{DatasetTables, OutputLayout, SplitTable, write_dataset};
use provence_test_support::fixture;

/// The binary with `args`, quiet logs and no Hub.
pub fn data(args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_open_provence_data"));
    command
        .args(args)
        .env("RUST_LOG", "off")
        .env("HF_HUB_OFFLINE", "1")
        .stdin(Stdio::null());
    command
}

/// Runs the binary to the end.
pub fn run(args: &[&str]) -> Output {
    data(args).output().unwrap()
}

/// Checks that a run failed with exit status 2 and one `error: ` line containing every part
/// of `expected`.
pub fn assert_one_line_error(out: &Output, expected: &[&str]) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "one line: {stderr}");
    assert!(lines[0].starts_with("error: "), "{stderr}");
    for part in expected {
        assert!(lines[0].contains(part), "{part:?} missing from: {}", lines[0]);
    }
}

/// A triplet dataset (`query`, `positive`, `negative`) in the Hub parquet layout at `dir`.
pub fn triplets(dir: &Path, rows: &[(&str, &str, &str)]) {
    let column = |i: usize| -> ArrayRef {
        Arc::new(StringArray::from(
            rows.iter().map(|r| [r.0, r.1, r.2][i]).collect::<Vec<&str>>(),
        ))
    };
    let batch =
        RecordBatch::try_from_iter([("query", column(0)), ("positive", column(1)), ("negative", column(2))]).unwrap();
    write_parquet(dir, batch);
}

/// `batch` as split `train` of a Hub-layout dataset at `dir`.
pub fn write_parquet(dir: &Path, batch: RecordBatch) {
    let tables = DatasetTables {
        splits: vec![SplitTable {
            name: "train".to_owned(),
            batch,
        }],
    };
    write_dataset(dir, &tables, OutputLayout::HubParquet).unwrap();
}

/// A `list<string>` column.
pub fn string_lists(rows: &[Vec<&str>]) -> ArrayRef {
    let mut builder = ListBuilder::new(StringBuilder::new());
    for row in rows {
        for s in row {
            builder.values().append_value(s);
        }
        builder.append(true);
    }
    Arc::new(builder.finish())
}

/// Whether `dir` or its staging directory exists.
pub fn any_output(dir: &Path) -> bool {
    let staging = dir.with_file_name(format!(".{}.partial", dir.file_name().unwrap().to_str().unwrap()));
    dir.exists() || staging.exists()
}

/// The prompt upstream rendered for the first passage of `convert/label_rows/saved`.
pub fn first_fixture_prompt() -> String {
    let text = std::fs::read_to_string(fixture("data_pipeline/label_spans/default/requests.jsonl")).unwrap();
    let first: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    first["prompt"].as_str().unwrap().to_owned()
}
