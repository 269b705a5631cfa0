//! `convert` against upstream's `generate_ds_from_sentense_transformer.py` run on the same inputs
//! (`tests/fixtures/data_pipeline/convert/`, made by `scripts/fixtures/data_pipeline_fixtures.py`):
//! identical rows, spans, ids, split sizes and order, and source-row mapping.

use std::path::Path;

use provence_data::{ConvertOptions, DEFAULT_MAX_TEXT_CHARS, DataError, OutputOptions, convert, split_size};
use provence_datasets::DatasetTables;
use serde_json::Value;

use provence_test_support::fixture;
use provence_test_support::json::{load, load_jsonl};

use crate::common::{hub_cache_resolver, read_back, rows};

/// The Hub ids the fixture generator served, their input directories and subset directories.
const INPUTS: [(&str, &str, &str); 6] = [
    ("fixture/en-triplet", "data_pipeline/input/en_triplet/data", "data"),
    (
        "fixture/en-hard-negatives",
        "data_pipeline/input/en_hard_negatives/data",
        "triplet-3",
    ),
    ("fixture/ja-triplet", "data_pipeline/input/ja_triplet/data", "data"),
    (
        "fixture/many-negatives",
        "data_pipeline/input/many_negatives/data",
        "data",
    ),
    (
        "fixture/duplicate-heavy",
        "data_pipeline/input/duplicate_heavy/data",
        "data",
    ),
    (
        "fixture/anchor-triplet",
        "data_pipeline/input/anchor_triplet/data",
        "data",
    ),
];

/// `ConvertOptions` from upstream's argv (`--output-root`/`--overwrite` replaced by `out`).
fn options_from_argv(argv: &[Value], out: &Path) -> ConvertOptions {
    let mut options = ConvertOptions {
        dataset: String::new(),
        subset: None,
        lang: "en".to_owned(),
        punkt_dir: None,
        sample_size: None,
        seed: 42,
        max_text_chars: DEFAULT_MAX_TEXT_CHARS,
        output: OutputOptions::new(out),
    };
    let args: Vec<&str> = argv.iter().map(|v| v.as_str().unwrap()).collect();
    let mut i = 0;
    while i < args.len() {
        let value = args.get(i + 1).copied().unwrap_or("");
        match args[i] {
            "--dataset" => options.dataset = value.to_owned(),
            "--subset" => options.subset = Some(value.to_owned()),
            "--lang" => options.lang = value.to_owned(),
            "--sample-size" => options.sample_size = Some(value.parse().unwrap()),
            "--seed" => options.seed = value.parse().unwrap(),
            "--overwrite" => {
                i += 1;
                continue;
            }
            _ => {}
        }
        i += 2;
    }
    options
}

/// The (query, positive) of source row `"split:index"`, as the fixture generator matched rows.
fn source_key(source: &DatasetTables, at: &str) -> (Value, Value) {
    let (split, index) = at.split_once(':').unwrap();
    let row = &rows(&source.get(split).unwrap().batch)[index.parse::<usize>().unwrap()];
    let first = |keys: &[&str]| {
        keys.iter()
            .map(|k| &row[*k])
            .find(|v| v.as_str().is_some_and(|s| !s.is_empty()))
            .cloned()
            .unwrap_or(Value::Null)
    };
    (first(&["query", "question"]), first(&["answer", "positive", "pos"]))
}

#[test]
fn hub_cases_match_upstream_rows_spans_and_splits() {
    let tmp = tempfile::tempdir().unwrap();
    let resolver = hub_cache_resolver(&tmp.path().join("hub"), &INPUTS);
    for case in [
        "en_triplet",
        "en_hard_negatives",
        "ja_triplet",
        "many_negatives",
        "duplicate_heavy",
    ] {
        let expected = load(&fixture(&format!("data_pipeline/convert/{case}/case.json")));
        let out = tmp.path().join(expected["output_dir_name"].as_str().unwrap());
        let options = options_from_argv(expected["argv"].as_array().unwrap(), &out);
        let report = convert(&resolver, &options).unwrap_or_else(|e| panic!("{case}: {e}"));
        let source = read_back(&fixture(&format!("data_pipeline/input/{case}")));

        let order: Vec<&str> = expected["split_order"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        let written = read_back(&out);
        let names: Vec<&str> = written.splits.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, order, "{case}: split order");
        for split in &written.splits {
            let want = load_jsonl::<Value>(&fixture(&format!("data_pipeline/convert/{case}/{}.jsonl", split.name)));
            assert_eq!(
                split.batch.num_rows(),
                expected["splits"][&split.name].as_u64().unwrap() as usize
            );
            let got = rows(&split.batch);
            assert_eq!(got.len(), want.len(), "{case}/{}", split.name);
            for (g, w) in got.iter().zip(&want) {
                assert_eq!(g, w, "{case}/{}", split.name);
            }
            let mapping: Vec<String> = report
                .source_rows
                .iter()
                .find(|(name, _)| name == &split.name)
                .unwrap()
                .1
                .clone();
            let want_mapping: Vec<String> = expected["source_rows"][&split.name]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_str().unwrap().to_owned())
                .collect();
            // The fixture maps output rows back to the first unused source row with the same query
            // and positive, so among identical source rows either index is right.
            for (got, want) in mapping.iter().zip(&want_mapping) {
                assert_eq!(
                    source_key(&source, got),
                    source_key(&source, want),
                    "{case}/{}: {got} vs {want}",
                    split.name
                );
            }
            assert_eq!(mapping.len(), want_mapping.len());
        }
        let schema: Vec<String> = written.splits[0]
            .batch
            .schema()
            .fields()
            .iter()
            .map(|f| format!("{}: {}", f.name(), f.data_type()))
            .collect();
        assert_eq!(schema.len(), 5, "{case}: {schema:?}");
    }
}

#[test]
fn written_features_equal_upstreams_dataset_info() {
    let tmp = tempfile::tempdir().unwrap();
    let resolver = hub_cache_resolver(&tmp.path().join("hub"), &INPUTS);
    let expected = load(&fixture("data_pipeline/convert/en_hard_negatives/case.json"));
    let out = tmp.path().join("out");
    convert(
        &resolver,
        &options_from_argv(expected["argv"].as_array().unwrap(), &out),
    )
    .unwrap();
    for split in ["train", "validation", "test"] {
        let read = |dir: &Path| -> Value {
            serde_json::from_str(&std::fs::read_to_string(dir.join(split).join("dataset_info.json")).unwrap()).unwrap()
        };
        let upstream = read(&fixture("data_pipeline/convert/en_hard_negatives/saved"));
        assert_eq!(read(&out)["features"], upstream["features"], "{split}");
    }
    let dict = std::fs::read_to_string(out.join("dataset_dict.json")).unwrap();
    let upstream = std::fs::read_to_string(fixture(
        "data_pipeline/convert/en_hard_negatives/saved/dataset_dict.json",
    ))
    .unwrap();
    assert_eq!(dict, upstream);
    assert!(out.join("README.md").is_file());
}

#[test]
fn split_sizes_match_upstreams_table() {
    for entry in load(&fixture("data_pipeline/convert/split_sizes.json"))
        .as_array()
        .unwrap()
    {
        let n = entry["train_rows_in"].as_u64().unwrap() as usize;
        let validation = split_size(n);
        let test = split_size(n - validation);
        assert_eq!(
            (n - validation - test, validation, test),
            (
                entry["train"].as_u64().unwrap() as usize,
                entry["validation"].as_u64().unwrap() as usize,
                entry["test"].as_u64().unwrap() as usize
            ),
            "{n} rows"
        );
    }
}

#[test]
fn upstreams_failures_are_clear_errors_and_write_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let resolver = hub_cache_resolver(&tmp.path().join("hub"), &INPUTS);
    let errors = load(&fixture("data_pipeline/convert/errors.json"));
    // `anchor` is not a query column (upstream: "Example does not contain a query/question field.").
    let out = tmp.path().join("anchor");
    let error = convert(
        &resolver,
        &options_from_argv(errors["anchor_columns"]["argv"].as_array().unwrap(), &out),
    )
    .unwrap_err();
    assert!(matches!(error, DataError::MissingColumn { .. }), "{error}");
    assert!(error.to_string().contains("query / question / prompt"), "{error}");
    assert!(!out.exists());
    let out = tmp.path().join("zero");
    let error = convert(
        &resolver,
        &options_from_argv(errors["sample_size_zero"]["argv"].as_array().unwrap(), &out),
    )
    .unwrap_err();
    assert!(error.to_string().contains("--sample-size"), "{error}");
    assert!(!out.exists());
}
