//! Metric goldens: per-passage gold/predicted labels and per-dataset metrics computed by a Python
//! transcription of upstream's `eval_datasets.py` formulas (`scripts/fixtures/metrics_fixtures.py`)
//! on synthetic `process()` outputs, including every `None` case.

use provence_eval::{DatasetMetrics, MetricsAccumulator, PassageOutcome, normalize_relevance};
use provence_infer::extract_sentences;
use serde::Deserialize;

#[derive(Deserialize)]
struct Passage {
    text: String,
    spans: Vec<[i64; 2]>,
    relevance: Option<Vec<i64>>,
    pruned: String,
    compression_rate: Option<f64>,
    probabilities: Vec<f64>,
}

#[derive(Deserialize)]
struct ExpectedPassage {
    sentences: Vec<String>,
    gold: Vec<u8>,
    predicted: Vec<u8>,
}

#[derive(Deserialize)]
struct Dataset {
    name: String,
    passages: Vec<Passage>,
    expected_passages: Vec<ExpectedPassage>,
    expected: serde_json::Value,
}

fn load() -> Vec<Dataset> {
    provence_test_support::json::parse(&provence_test_support::fixture("metrics/eval_datasets.json"))
}

fn assert_close(name: &str, key: &str, got: Option<f64>, expected: &serde_json::Value) {
    match (got, expected.as_f64()) {
        (None, None) => assert!(expected.is_null(), "{name}: {key} expected {expected}"),
        (Some(g), Some(e)) => assert!((g - e).abs() <= 1e-12 * e.abs().max(1.0), "{name}: {key} {g} != {e}"),
        _ => panic!("{name}: {key} got {got:?}, expected {expected}"),
    }
}

fn check(name: &str, got: &DatasetMetrics, expected: &serde_json::Value) {
    for (key, value) in [
        ("span_accuracy", got.span_accuracy),
        ("mean_compression", got.mean_compression),
        ("precision", got.precision),
        ("recall", got.recall),
        ("f2", got.f2),
    ] {
        assert_close(name, key, value, &expected[key]);
    }
    let got_json = serde_json::to_value(got).unwrap_or_else(|e| panic!("{name}: {e}"));
    for key in [
        "span_total",
        "span_correct",
        "span_skipped",
        "contexts",
        "confusion_matrix",
        "roc_data",
    ] {
        assert_eq!(got_json[key], expected[key], "{name}: {key}");
    }
}

#[test]
fn dataset_metrics_equal_upstream_formulas() {
    let datasets = load();
    assert!(datasets.len() >= 20);
    let mut none_seen = [false; 5];
    for dataset in &datasets {
        let mut acc = MetricsAccumulator::new();
        for (passage, expected) in dataset.passages.iter().zip(&dataset.expected_passages) {
            let sentences = extract_sentences(&passage.text, &passage.spans);
            assert_eq!(sentences, expected.sentences, "{}: sentences", dataset.name);
            let span_count = passage.spans.len();
            assert_eq!(
                normalize_relevance(passage.relevance.as_deref(), span_count),
                expected.gold,
                "{}: gold",
                dataset.name
            );
            let outcome = PassageOutcome::score(
                &sentences,
                span_count,
                passage.relevance.as_deref(),
                &passage.pruned,
                passage.compression_rate,
                passage.probabilities.clone(),
            );
            assert_eq!(
                outcome.predicted, expected.predicted,
                "{}: predicted {:?}",
                dataset.name, passage.pruned
            );
            acc.add(&outcome);
        }
        let metrics = acc.finish();
        check(&dataset.name, &metrics, &dataset.expected);
        for (seen, value) in none_seen.iter_mut().zip([
            metrics.precision,
            metrics.recall,
            metrics.f2,
            metrics.span_accuracy,
            metrics.mean_compression,
        ]) {
            *seen |= value.is_none();
        }
    }
    assert_eq!(none_seen, [true; 5], "fixture must cover every None case");
}
