//! Bad input gives one clear line naming the file, split, row or column, exit status 2, and no
//! output (not even a staging directory).

use std::path::Path;
use std::process::Output;
use std::sync::Arc;

use arrow_array::{ArrayRef, RecordBatch, StringArray};
use parquet::data_type::{ByteArray, ByteArrayType};
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::parser::parse_message_type;

use provence_test_support::{fake_hub, fixture};

use crate::common::{any_output, assert_one_line_error, run, string_lists, triplets, write_parquet};

fn convert(input: &Path, output: &Path) -> Output {
    run(&[
        "convert",
        "--dataset",
        input.to_str().unwrap(),
        "--output",
        output.to_str().unwrap(),
    ])
}

#[test]
fn missing_columns_are_named() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let input = fixture("data_pipeline/input/anchor_triplet");
    assert_one_line_error(
        &convert(&input, &out),
        &["split train", "query / question / prompt", "anchor"],
    );
    assert!(!any_output(&out));
    // teacher-scores needs `texts`.
    let teacher = run(&[
        "teacher-scores",
        "--dataset-path",
        input.to_str().unwrap(),
        "--model",
        fixture("data_pipeline/teacher/models/tiny.bert-reranker")
            .to_str()
            .unwrap(),
        "--output-path",
        out.to_str().unwrap(),
    ]);
    assert_one_line_error(&teacher, &["split train", "\"query\""]);
    assert!(!any_output(&out));
    // label-spans needs `context_spans` (a teacher-scored dataset without it, say).
    let scored = tmp.path().join("scored");
    let ids: ArrayRef = Arc::new(StringArray::from(vec!["a"]));
    let batch = RecordBatch::try_from_iter([
        ("id", Arc::clone(&ids)),
        ("query", ids),
        ("texts", string_lists(&[vec!["p"]])),
    ])
    .unwrap();
    write_parquet(&scored, batch);
    let label = run(&[
        "label-spans",
        "--dataset-path",
        scored.to_str().unwrap(),
        "--endpoint",
        "http://127.0.0.1:9/v1",
        "--output-path",
        out.to_str().unwrap(),
    ]);
    assert_one_line_error(&label, &["split train", "\"context_spans\""]);
    assert!(!any_output(&out));
}

#[test]
fn an_empty_positive_passage_is_named_by_row() {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("in");
    triplets(&input, &[("q0", "p0", "n0"), ("q1", "", "n1"), ("q2", "p2", "")]);
    let out = tmp.path().join("out");
    assert_one_line_error(
        &convert(&input, &out),
        &["split train row 1", "positive", "no positive passage"],
    );
    assert!(!any_output(&out));
}

#[test]
fn non_utf8_text_is_named_by_file_column_and_row() {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("in");
    std::fs::create_dir_all(input.join("data")).unwrap();
    let file = input.join("data/train-00000-of-00001.parquet");
    let schema = parse_message_type(
        "message schema { REQUIRED BINARY query (UTF8); REQUIRED BINARY positive (UTF8); REQUIRED BINARY negative (UTF8); }",
    )
    .unwrap();
    let mut writer = SerializedFileWriter::new(
        std::fs::File::create(&file).unwrap(),
        Arc::new(schema),
        Arc::new(WriterProperties::builder().build()),
    )
    .unwrap();
    let mut group = writer.next_row_group().unwrap();
    let columns: [Vec<&[u8]>; 3] = [
        vec![b"q0", b"q1", b"q2"],
        vec![b"fine", b"fine too", b"caf\xe9 latin-1"],
        vec![b"n0", b"n1", b"n2"],
    ];
    for values in columns {
        let mut column = group.next_column().unwrap().unwrap();
        let values: Vec<ByteArray> = values.into_iter().map(|v| ByteArray::from(v.to_vec())).collect();
        column
            .typed::<ByteArrayType>()
            .write_batch(&values, None, None)
            .unwrap();
        column.close().unwrap();
    }
    group.close().unwrap();
    writer.close().unwrap();
    let out = tmp.path().join("out");
    assert_one_line_error(
        &convert(&input, &out),
        &[
            "train-00000-of-00001.parquet",
            "column \"positive\" row 2",
            "not valid UTF-8",
        ],
    );
    assert!(!any_output(&out));
}

#[test]
fn a_ten_megabyte_passage_is_refused_by_row() {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("in");
    let huge = "All work and no play makes Jack a dull boy. ".repeat(10_000_000 / 44 + 1);
    triplets(&input, &[("q0", "p0", "n0"), ("q1", "p1", &huge)]);
    let out = tmp.path().join("out");
    assert_one_line_error(
        &convert(&input, &out),
        &[
            "split train row 1",
            "negative",
            "more than the limit",
            "--max-text-chars",
        ],
    );
    assert!(!any_output(&out));
}

#[test]
fn zero_rows_are_refused_by_every_stage() {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("in");
    triplets(&input, &[]);
    let out = tmp.path().join("out");
    assert_one_line_error(&convert(&input, &out), &["train split is empty"]);
    assert!(!any_output(&out));

    let converted = tmp.path().join("converted");
    let ids: ArrayRef = Arc::new(StringArray::from(Vec::<&str>::new()));
    let batch =
        RecordBatch::try_from_iter([("id", Arc::clone(&ids)), ("query", ids), ("texts", string_lists(&[]))]).unwrap();
    write_parquet(&converted, batch);
    let filter = run(&[
        "filter-frequency",
        "--dataset",
        converted.to_str().unwrap(),
        "--output-dir",
        out.to_str().unwrap(),
    ]);
    assert_one_line_error(&filter, &["train split is empty"]);
    let teacher = run(&[
        "teacher-scores",
        "--dataset-path",
        converted.to_str().unwrap(),
        "--model",
        fixture("data_pipeline/teacher/models/tiny.bert-reranker")
            .to_str()
            .unwrap(),
        "--output-path",
        out.to_str().unwrap(),
    ]);
    assert_one_line_error(&teacher, &["no rows to score"]);
    assert!(!any_output(&out));
}

#[test]
fn a_hub_id_that_does_not_exist_is_named() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let output = crate::common::data(&[
        "convert",
        "--dataset",
        "nobody/no-such-dataset",
        "--output",
        out.to_str().unwrap(),
    ])
    .env("HF_HUB_OFFLINE", "0")
    .env("HF_ENDPOINT", fake_hub::start().0) // a Hub that knows no repository
    .env("HF_HUB_CACHE", tmp.path().join("cache"))
    .output()
    .unwrap();
    assert_one_line_error(&output, &["nobody/no-such-dataset", "not found"]);
    assert!(!any_output(&out));
}
