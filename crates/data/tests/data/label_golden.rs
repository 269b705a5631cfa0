//! `label-spans` against upstream's `add_context_spans_relevance.py`
//! (`tests/fixtures/data_pipeline/label_spans/`): the same prompts (truncation included) and
//! sampling for every passage, and the same `context_spans_relevance` from the same answers;
//! an over-long row, failures of the endpoint, the answer cache, and a dry run.

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use provence_data::{
    DEFAULT_MAX_MODEL_LEN, DataError, LabelOptions, OutputOptions, RELEVANCE_COLUMN, default_label_sampling,
    label_spans,
};
use provence_datasets::SourceResolver;
use provence_llm::LlmConfig;
use serde_json::{Value, json};

use provence_test_support::fixture;
use provence_test_support::json::{load, load_jsonl};

use crate::common::{read_back, rows};
use crate::fake_llm::{Failure, FakeLlm};

fn options(fake: &FakeLlm, cache: &Path, out: &Path, max_model_len: usize) -> LabelOptions {
    let mut llm = LlmConfig::new(&fake.endpoint, "llm");
    llm.api_key = None;
    llm.cache_dir = Some(cache.to_owned());
    llm.retry_delay = Duration::from_millis(5);
    llm.max_retries = 2;
    llm.timeout = Duration::from_secs(10);
    LabelOptions {
        dataset: fixture("data_pipeline/convert/label_rows/saved").display().to_string(),
        llm,
        sampling: default_label_sampling(),
        tokenizer: Some(fixture("data_pipeline/label_spans/llm_tokenizer")),
        max_model_len,
        debug_limit: None,
        dry_run: false,
        output: OutputOptions::new(out),
    }
}

/// The fixture case's canned answers by prompt.
fn answers(case: &str) -> HashMap<String, String> {
    load_jsonl::<Value>(&fixture(&format!("data_pipeline/label_spans/{case}/requests.jsonl")))
        .into_iter()
        .map(|r| {
            (
                r["prompt"].as_str().unwrap().to_owned(),
                r["canned_answer"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// The sampling fields and prompt of a request body, for comparison.
fn sent(body: &Value) -> Value {
    json!([
        body["model"],
        body["prompt"],
        body["temperature"],
        body["top_p"],
        body["max_tokens"],
        body["stop"]
    ])
}

#[test]
fn prompts_and_labels_match_upstream_for_every_truncation_level() {
    for (case, len) in [
        ("default", DEFAULT_MAX_MODEL_LEN),
        ("max_model_len_620", 620),
        ("max_model_len_450", 450),
        ("max_model_len_330", 330),
    ] {
        let tmp = tempfile::tempdir().unwrap();
        let fake = FakeLlm::start(answers(case), Vec::new());
        let out = tmp.path().join("out");
        let report = label_spans(
            &SourceResolver::local_only(),
            &options(&fake, &tmp.path().join("cache"), &out, len),
        )
        .unwrap();
        let expected = load_jsonl::<Value>(&fixture(&format!("data_pipeline/label_spans/{case}/requests.jsonl")));
        let mut want: Vec<String> = expected.iter().map(|r| sent(r).to_string()).collect();
        let mut got: Vec<String> = fake.requests().iter().map(|r| sent(r).to_string()).collect();
        want.sort();
        got.sort();
        assert_eq!(got, want, "{case}: requests");
        assert_eq!(
            report.requests,
            load(&fixture(&format!("data_pipeline/label_spans/{case}/case.json")))["requests"]
                .as_u64()
                .unwrap() as usize
        );
        assert_eq!(
            report.unparseable,
            vec!["validation/input_label_rows:validation:0#0".to_owned()],
            "{case}"
        );
        let labelled: HashMap<String, Value> = read_back(&out)
            .splits
            .iter()
            .flat_map(|s| rows(&s.batch))
            .map(|r| (r["id"].as_str().unwrap().to_owned(), r[RELEVANCE_COLUMN].clone()))
            .collect();
        for row in load_jsonl::<Value>(&fixture(&format!("data_pipeline/label_spans/{case}/output.jsonl"))) {
            assert_eq!(
                labelled[row["id"].as_str().unwrap()],
                row[RELEVANCE_COLUMN],
                "{case} {}",
                row["id"]
            );
        }
    }
}

#[test]
fn a_row_that_cannot_fit_is_named_and_nothing_is_written() {
    let tmp = tempfile::tempdir().unwrap();
    let fake = FakeLlm::start(HashMap::new(), Vec::new());
    let out = tmp.path().join("out");
    let error = label_spans(
        &SourceResolver::local_only(),
        &options(&fake, &tmp.path().join("c"), &out, 80),
    )
    .unwrap_err();
    assert!(matches!(error, DataError::BadRow(_)), "{error:?}");
    let message = error.to_string();
    assert!(
        message.contains("split train row 0") && message.contains("does not fit"),
        "{message}"
    );
    assert!(fake.requests().is_empty());
    assert!(!out.exists());
}

#[test]
fn failures_are_retried_answers_are_cached_and_a_dead_endpoint_writes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path().join("cache");
    // Two 503s are retried; garbage is not: the run stops, the answers so far are cached.
    let fake = FakeLlm::start(
        answers("default"),
        vec![Failure::Unavailable, Failure::Unavailable, Failure::Garbage],
    );
    let mut opts = options(&fake, &cache, &tmp.path().join("out"), DEFAULT_MAX_MODEL_LEN);
    opts.llm.concurrency = 1;
    let error = label_spans(&SourceResolver::local_only(), &opts).unwrap_err();
    assert!(
        error.to_string().contains("the LLM gave no answer") && error.to_string().contains("unusable answer"),
        "{error}"
    );
    assert!(!opts.output.path.exists());
    // The rerun asks only what is not cached, and gives upstream's labels.
    let before = fake.requests().len();
    let report = label_spans(&SourceResolver::local_only(), &opts).unwrap();
    assert_eq!(report.requests, 5);
    assert_eq!(fake.requests().len() - before, 5 - report.cached);
    assert!(report.cached >= 1, "{report:?}");
    let again = label_spans(
        &SourceResolver::local_only(),
        &LabelOptions {
            output: OutputOptions::new(tmp.path().join("again")),
            ..opts.clone()
        },
    )
    .unwrap();
    assert_eq!(again.cached, 5);
}

#[test]
fn a_dry_run_shows_the_first_prompt_and_asks_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let fake = FakeLlm::start(HashMap::new(), Vec::new());
    let mut opts = options(
        &fake,
        &tmp.path().join("c"),
        &tmp.path().join("out"),
        DEFAULT_MAX_MODEL_LEN,
    );
    opts.dry_run = true;
    opts.tokenizer = None;
    let report = label_spans(&SourceResolver::local_only(), &opts).unwrap();
    assert_eq!(
        report.first_prompt.as_deref(),
        Some(
            "how many hearts does an octopus have\n---\n[1] Octopuses have three hearts.\n[2] Two pump blood through the gills.\n[3] The third serves the body."
        )
    );
    assert!(fake.requests().is_empty());
    assert!(!opts.output.path.exists());
}

/// Found by the `label_spans_inputs` fuzz target (fed the inputs of the earlier `tokenizer_json`
/// findings): the LLM's `tokenizer.json` was read by the tokenizers crate directly, which panics
/// on the first two files. It is now read as every `tokenizer.json` is
/// (`provence_hub::read_tokenizer_json`), so each of the three is a `File` error naming it before
/// any prompt is built (the third, a template inserting an undefined special token, used to pass
/// here only because prompts are encoded without special tokens).
#[test]
fn a_malformed_llm_tokenizer_json_is_an_error_not_a_panic() {
    let source = fixture("data_pipeline/label_spans/llm_tokenizer");
    let text = std::fs::read_to_string(source.join("tokenizer.json")).unwrap();
    let mut json: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(json["decoder"]["type"], "ByteLevel");
    json["decoder"]["type"] = json!("DECODER_TYPE");
    // A raw control character in a string of the decoder (invalid JSON right there).
    let decoder = json.to_string().replace("\"DECODER_TYPE\"", "\"Byte\u{1}Level\"");
    json["decoder"]["type"] = json!("ByteLevel");
    json["normalizer"] = json!({"type": "Precompiled", "precompiled_charsmap": "not base64!"});
    let precompiled = json.to_string();
    json["normalizer"] = Value::Null;
    json["post_processor"] = json!({
        "type": "TemplateProcessing",
        "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
        "pair": [{"Sequence": {"id": "A", "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 1}}],
        "special_tokens": {}
    });
    let broken = [
        ("decoder", decoder),
        // A Precompiled normalizer whose charsmap is not base64.
        ("normalizer", precompiled),
        // A template inserting a special token the post-processor does not define.
        ("post_processor", json.to_string()),
    ];
    let tmp = tempfile::tempdir().unwrap();
    let fake = FakeLlm::start(HashMap::new(), Vec::new());
    for (what, broken) in broken {
        let dir = tmp.path().join(what);
        std::fs::create_dir(&dir).unwrap();
        std::fs::copy(source.join("tokenizer_config.json"), dir.join("tokenizer_config.json")).unwrap();
        std::fs::write(dir.join("tokenizer.json"), broken).unwrap();
        let mut opts = options(
            &fake,
            &tmp.path().join("c"),
            &tmp.path().join("out"),
            DEFAULT_MAX_MODEL_LEN,
        );
        opts.dry_run = true;
        opts.tokenizer = Some(dir.clone());
        match label_spans(&SourceResolver::local_only(), &opts) {
            Err(DataError::File { path, message }) => {
                assert_eq!(path, dir.join("tokenizer.json"), "{what}: {message}");
            }
            other => panic!("{what}: expected a File error, got {other:?}"),
        }
    }
    assert!(fake.requests().is_empty());
}
