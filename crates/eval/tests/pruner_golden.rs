//! `Pruner::process` against upstream's own `process()` on a tiny random model
//! (tests/fixtures/process, made by scripts/fixtures/process_fixtures.py): same pruned texts,
//! titles and kept/removed sentences, same scores and probabilities up to float noise. Upstream's
//! title-window bug is reproduced with `legacy_prefix_offset` (it only matters for the cases
//! with titles).

use burn::backend::Flex;
use provence_eval::{Document, ProcessInput, ProcessOptions, Pruner, Title};
use serde_json::Value;
use std::path::Path;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/process");
const TOLERANCE: f64 = 1e-4;

fn document(v: &Value) -> Document {
    match v {
        Value::String(s) => Document::Text(s.clone()),
        Value::Array(items) => Document::Sentences(items.iter().map(|s| s.as_str().unwrap().to_string()).collect()),
        other => panic!("bad document {other}"),
    }
}

/// Upstream's input normalisation (spec §2.2) for the shapes the fixtures use.
fn input(question: &Value, context: &Value) -> ProcessInput {
    let docs = |v: &Value| v.as_array().unwrap().iter().map(document).collect::<Vec<_>>();
    match (question, context) {
        (Value::String(q), Value::String(c)) => ProcessInput::Pair {
            question: q.clone(),
            context: c.clone(),
        },
        (Value::String(q), Value::Array(_)) => ProcessInput::Documents {
            question: q.clone(),
            documents: docs(context),
        },
        (Value::Array(qs), Value::Array(cs)) => {
            let questions = qs.iter().map(|q| q.as_str().unwrap().to_string()).collect();
            if cs.iter().all(Value::is_string) {
                ProcessInput::Aligned {
                    questions,
                    documents: docs(context),
                }
            } else {
                ProcessInput::Nested {
                    questions,
                    documents: cs.iter().map(docs).collect(),
                }
            }
        }
        other => panic!("unsupported fixture input {other:?}"),
    }
}

fn options(o: &Value) -> ProcessOptions {
    let flag = |k: &str| o.get(k).and_then(Value::as_bool).unwrap_or(false);
    ProcessOptions {
        title: o
            .get("title")
            .and_then(Value::as_str)
            .map_or(Title::FirstSentence, |t| Title::Fixed(t.into())),
        first_line_as_title: flag("first_line_as_title"),
        always_select_title: flag("always_select_title"),
        reorder: flag("reorder"),
        top_k: o.get("top_k").and_then(Value::as_u64).map(|k| k as usize),
        threshold: o.get("threshold").and_then(Value::as_f64),
        respect_sentence_boundaries: flag("respect_sentence_boundaries"),
        use_best_reranker_score: o
            .get("use_best_reranker_score")
            .and_then(Value::as_bool)
            .unwrap_or(true),
        return_sentence_metrics: true,
        return_sentence_texts: true,
        legacy_prefix_offset: true,
        batch_size: 3,
        ..ProcessOptions::default()
    }
}

/// Same structure; numbers within the tolerance; everything else equal.
fn assert_close(case: &str, field: &str, got: &Value, want: &Value) {
    match (got, want) {
        (Value::Number(g), Value::Number(w)) => {
            let (g, w) = (g.as_f64().unwrap(), w.as_f64().unwrap());
            assert!((g - w).abs() < TOLERANCE, "{case}.{field}: {g} vs upstream {w}");
        }
        (Value::Array(g), Value::Array(w)) => {
            assert_eq!(g.len(), w.len(), "{case}.{field}: lengths differ: {got} vs {want}");
            for (g, w) in g.iter().zip(w) {
                assert_close(case, field, g, w);
            }
        }
        _ => assert_eq!(got, want, "{case}.{field}"),
    }
}

#[test]
fn process_matches_upstream_on_every_fixture_case() {
    let pruner = Pruner::<Flex>::load(&Path::new(FIXTURES).join("model"), Default::default()).unwrap();
    let text = std::fs::read_to_string(Path::new(FIXTURES).join("cases.json")).unwrap();
    let cases: Vec<Value> = serde_json::from_str(&text).unwrap();
    assert!(cases.len() >= 9);
    for case in &cases {
        let name = case["name"].as_str().unwrap();
        let out = pruner
            .process(input(&case["question"], &case["context"]), &options(&case["options"]))
            .unwrap()
            .to_json();
        for (field, want) in case["output"].as_object().unwrap() {
            assert_close(name, field, &out[field.as_str()], want);
        }
    }
}
