//! `teacher-scores` against transformers and upstream's `add_reranker_teacher_scores.py`
//! (`tests/fixtures/data_pipeline/teacher/`): the same pair encodings, logits within 1e-4 of
//! `AutoModelForSequenceClassification`, the activation each config names, and the same
//! stacked columns as upstream's three chained runs.

use std::collections::HashMap;
use std::path::Path;

use provence_data::{
    DEFAULT_CHUNK_ROWS, DataError, OutputOptions, Teacher, TeacherOptions, default_column_name, teacher_scores_with,
};
use provence_datasets::SourceResolver;
use provence_hub::HubOptions;
use provence_infer::{InferenceBackend, default_device};
use serde_json::Value;

use provence_test_support::fixture;
use provence_test_support::json::{load, load_jsonl};

use crate::common::{read_back, rows};

/// The fixture models and the column each upstream run wrote.
const MODELS: [(&str, &str); 3] = [
    ("tiny-modernbert-reranker", "teacher_scores.tiny-modernbert"),
    ("tiny.bert-reranker", "teacher_scores.tiny_bert-reranker"),
    ("tiny-xlmr-reranker", "teacher_scores.tiny-xlmr"),
];

fn load_teacher(model: &str) -> Teacher<InferenceBackend> {
    let dir = fixture(&format!("data_pipeline/teacher/models/{model}"));
    Teacher::load(dir.to_str().unwrap(), offline(), default_device()).unwrap()
}

fn offline() -> HubOptions {
    HubOptions {
        offline: true,
        ..HubOptions::from_vars(|_| None)
    }
}

pub fn options(dataset: &Path, model: &str, column: Option<&str>, out: &Path) -> TeacherOptions {
    TeacherOptions {
        dataset: dataset.display().to_string(),
        model: fixture(&format!("data_pipeline/teacher/models/{model}"))
            .display()
            .to_string(),
        column_name: column.map(str::to_owned),
        overwrite_column: false,
        batch_size: 8,
        max_batch_tokens: 512,
        chunk_rows: DEFAULT_CHUNK_ROWS,
        debug_limit: None,
        progress: false,
        hub: offline(),
        output: OutputOptions::new(out),
    }
}

/// (query, passages) of every row of the converted fixture, by id.
fn passages() -> HashMap<String, (String, Vec<String>)> {
    let mut out = HashMap::new();
    for split in read_back(&fixture("data_pipeline/convert/en_hard_negatives/saved")).splits {
        for row in rows(&split.batch) {
            let texts = row["texts"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t.as_str().unwrap().to_owned())
                .collect();
            out.insert(
                row["id"].as_str().unwrap().to_owned(),
                (row["query"].as_str().unwrap().to_owned(), texts),
            );
        }
    }
    out
}

#[test]
fn encodings_and_logits_match_transformers() {
    let rows = passages();
    let expected = load_jsonl::<Value>(&fixture("data_pipeline/teacher/expected_pairs.jsonl"));
    for (model, column) in MODELS {
        let teacher = load_teacher(model);
        let mut worst = 0.0f64;
        for pair in &expected {
            let want = &pair["models"][column];
            let (query, texts) = &rows[pair["id"].as_str().unwrap()];
            let text = &texts[pair["text_index"].as_u64().unwrap() as usize];
            let encoded = teacher.encode(query, text).unwrap();
            let ids: Vec<u64> = want["input_ids"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_u64().unwrap())
                .collect();
            assert_eq!(
                encoded.ids.iter().map(|&i| u64::from(i)).collect::<Vec<_>>(),
                ids,
                "{model} {pair}"
            );
            if let Some(types) = want.get("token_type_ids") {
                let types: Vec<u64> = types.as_array().unwrap().iter().map(|v| v.as_u64().unwrap()).collect();
                assert_eq!(encoded.types.iter().map(|&t| u64::from(t)).collect::<Vec<_>>(), types);
            }
            let logit = f64::from(teacher.logits(&[&encoded])[0]);
            let activated = f64::from(teacher.score(&[&encoded])[0]);
            worst = worst.max((logit - want["logit"].as_f64().unwrap()).abs());
            assert!(
                (activated - want["activated"].as_f64().unwrap()).abs() < 1e-4,
                "{model}: {activated} vs {want}"
            );
        }
        eprintln!("{model}: largest |logit - transformers| = {worst:.2e}");
        assert!(worst < 1e-4, "{model}: largest logit difference {worst}");
    }
}

#[test]
fn batched_length_sorted_scores_match_upstreams_stacked_columns() {
    let tmp = tempfile::tempdir().unwrap();
    let resolver = SourceResolver::local_only();
    let input = fixture("data_pipeline/convert/en_hard_negatives/saved");
    let out = tmp.path().join("teacher_in_with_teacher_scores");
    let case = load(&fixture("data_pipeline/teacher/case.json"));
    // Upstream's three runs: the first with --debug-limit 2 into a new directory, the others
    // stacking columns in place.
    for (i, (model, column)) in MODELS.iter().enumerate() {
        let name = column.strip_prefix("teacher_scores.").unwrap();
        let explicit = (name != default_column_name(model)).then_some(name);
        let source = if i == 0 { input.as_path() } else { out.as_path() };
        let mut opts = options(source, model, explicit, &out);
        if i == 0 {
            opts.debug_limit = Some(2);
        }
        let report = teacher_scores_with(&resolver, &load_teacher(model), &opts).unwrap();
        assert_eq!(report.column, *column);
    }
    let written = read_back(&out);
    let want_schema: Vec<&str> = case["arrow_schema"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    let schema: Vec<String> = written.splits[0]
        .batch
        .schema()
        .fields()
        .iter()
        .map(|f| format!("{}: {}", f.name(), f.data_type()))
        .collect();
    assert_eq!(schema.len(), want_schema.len());
    for (ours, theirs) in schema.iter().zip(&want_schema) {
        assert_eq!(ours.split(':').next(), theirs.split(':').next(), "column order");
    }
    let want: HashMap<String, Value> = load_jsonl::<Value>(&fixture("data_pipeline/teacher/scores.jsonl"))
        .into_iter()
        .map(|r| (r["id"].as_str().unwrap().to_owned(), r))
        .collect();
    let mut compared = 0;
    for split in &written.splits {
        for row in rows(&split.batch) {
            let expected = &want[row["id"].as_str().unwrap()];
            for (_, column) in MODELS {
                let (ours, theirs) = (row[column].as_array().unwrap(), expected[column].as_array().unwrap());
                assert_eq!(ours.len(), theirs.len());
                for (a, b) in ours.iter().zip(theirs) {
                    let d = (a.as_f64().unwrap() - b.as_f64().unwrap()).abs();
                    assert!(d < 1e-4, "{column}: {a} vs {b}");
                    compared += 1;
                }
            }
        }
    }
    assert_eq!(compared, 72);
}

#[test]
fn an_existing_column_needs_overwrite() {
    let tmp = tempfile::tempdir().unwrap();
    let resolver = SourceResolver::local_only();
    let first = tmp.path().join("a");
    let model = "tiny-xlmr-reranker";
    let mut opts = options(
        &fixture("data_pipeline/convert/en_hard_negatives/saved"),
        model,
        Some("tiny-xlmr"),
        &first,
    );
    opts.debug_limit = Some(1);
    teacher_scores_with(&resolver, &load_teacher(model), &opts).unwrap();
    let second = tmp.path().join("b");
    let opts = options(&first, model, Some("tiny-xlmr"), &second);
    let error = teacher_scores_with(&resolver, &load_teacher(model), &opts).unwrap_err();
    assert!(
        error.to_string().contains("teacher_scores.tiny-xlmr") && error.to_string().contains("--overwrite"),
        "{error}"
    );
    assert!(!second.exists());
    let mut opts = options(&first, model, Some("tiny-xlmr"), &second);
    opts.overwrite_column = true;
    teacher_scores_with(&resolver, &load_teacher(model), &opts).unwrap();
}

#[test]
fn a_plain_encoder_is_not_a_teacher() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("encoder");
    std::fs::create_dir(&dir).unwrap();
    let source = fixture("data_pipeline/teacher/models/tiny.bert-reranker");
    for entry in std::fs::read_dir(&source).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), dir.join(entry.file_name())).unwrap();
    }
    let mut config: Value = serde_json::from_str(&std::fs::read_to_string(dir.join("config.json")).unwrap()).unwrap();
    config["architectures"] = serde_json::json!(["BertModel"]);
    std::fs::write(dir.join("config.json"), config.to_string()).unwrap();
    let error = Teacher::<InferenceBackend>::load(dir.to_str().unwrap(), offline(), default_device())
        .err()
        .unwrap();
    assert!(matches!(error, DataError::Teacher { .. }));
    assert!(error.to_string().contains("sequence-classification"), "{error}");
}
