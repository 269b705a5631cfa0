//! `Pruner::process` against upstream's own `process()` on a tiny random model
//! (tests/fixtures/process, made by scripts/fixtures/process_fixtures.py): same pruned texts,
//! titles and kept/removed sentences, same scores and probabilities up to float noise. Upstream's
//! title-window bug is reproduced with `legacy_prefix_offset` (it only matters for the cases
//! with titles). Every option comes from the case (batch_size and return_* are always
//! recorded); the fixtures must hold at least 40 (question, document) pairs. With
//! `return_offsets` the same outputs come back, and the kept spans rebuild each pruned text.

use crate::common::{assert_spans_rebuild, documents_of};
use burn::backend::Flex;
use provence_infer::{Document, ProcessInput, ProcessOptions, Pruner, SplitterLanguage, Title};
use provence_model::ModelBackend;
use provence_test_support::{fixture, json};
use serde_json::Value;
use std::path::Path;

const TOLERANCE: f64 = 1e-4;

fn document(v: &Value) -> Document {
    match v {
        Value::String(s) => Document::Text(s.clone()),
        Value::Array(items) => Document::Sentences(items.iter().map(|s| s.as_str().unwrap().to_string()).collect()),
        other => panic!("bad document {other}"),
    }
}

/// Upstream's input normalisation (`modeling_open_provence_standalone.py::_normalize_inputs`) for the shapes the fixtures use.
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
    let flag = |k: &str, default: bool| o.get(k).and_then(Value::as_bool).unwrap_or(default);
    ProcessOptions {
        title: match o.get("title") {
            None => Title::FirstSentence,
            Some(Value::Null) => Title::None,
            Some(t) => Title::Fixed(t.as_str().unwrap().into()),
        },
        first_line_as_title: flag("first_line_as_title", false),
        always_select_title: flag("always_select_title", false),
        reorder: flag("reorder", false),
        top_k: o.get("top_k").and_then(Value::as_u64).map(|k| k as usize),
        threshold: o.get("threshold").and_then(Value::as_f64),
        language: o
            .get("language")
            .and_then(Value::as_str)
            .map_or(SplitterLanguage::Auto, |l| l.parse().unwrap()),
        respect_sentence_boundaries: flag("respect_sentence_boundaries", false),
        use_best_reranker_score: flag("use_best_reranker_score", true),
        zero_score_when_empty: flag("zero_score_when_empty", true),
        strip_sentences: flag("strip_sentences", false),
        return_sentence_metrics: flag("return_sentence_metrics", false),
        return_sentence_texts: flag("return_sentence_texts", false),
        legacy_prefix_offset: true,
        batch_size: o["batch_size"].as_u64().unwrap() as usize,
        ..ProcessOptions::default()
    }
}

/// (question, document) pairs a case scores: one per document.
fn pair_count(question: &Value, context: &Value) -> usize {
    match (question, context) {
        (_, Value::String(_)) => 1,
        (Value::String(_), Value::Array(docs)) => docs.len(),
        (_, Value::Array(items)) if items.iter().all(Value::is_string) => items.len(),
        (_, Value::Array(per_query)) => per_query.iter().map(|docs| docs.as_array().unwrap().len()).sum(),
        other => panic!("bad input {other:?}"),
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

/// Every case of the fixture directory `dir` (`model/` and `cases.json`) against upstream, on
/// the CPU.
fn check_fixture(dir: &Path) {
    check_fixture_on::<Flex>(dir, Default::default());
}

/// Every case of the fixture directory `dir` against upstream, on backend `B`'s `device`;
/// returns how many cases ran.
pub(crate) fn check_fixture_on<B: ModelBackend>(dir: &Path, device: B::Device) -> usize {
    let pruner = Pruner::<B>::load(&dir.join("model"), device).unwrap();
    let cases: Vec<Value> = json::parse(&dir.join("cases.json"));
    let pairs: usize = cases.iter().map(|c| pair_count(&c["question"], &c["context"])).sum();
    assert!(pairs >= 40, "only {pairs} (question, document) pairs in the fixtures");
    for case in &cases {
        let name = case["name"].as_str().unwrap();
        let out = pruner
            .process(input(&case["question"], &case["context"]), &options(&case["options"]))
            .unwrap()
            .to_json();
        for (field, want) in case["output"].as_object().unwrap() {
            assert_close(name, field, &out[field.as_str()], want);
        }
        assert!(out.get("kept_spans").is_none(), "{name}: offsets are off by default");
    }
    cases.len()
}

/// With `return_offsets`, every case still gives upstream's output, and each document's kept
/// spans rebuild its pruned text from its own text (titles, first lines, pre-split sentences,
/// stripped sentences and multi-block documents included).
fn check_offsets(dir: &Path) {
    let pruner = Pruner::<Flex>::load(&dir.join("model"), Default::default()).unwrap();
    let cases: Vec<Value> = json::parse(&dir.join("cases.json"));
    for case in &cases {
        let name = case["name"].as_str().unwrap();
        let input = input(&case["question"], &case["context"]);
        let options = ProcessOptions {
            return_offsets: true,
            ..options(&case["options"])
        };
        let out = pruner.process(input.clone(), &options).unwrap();
        let json = out.to_json();
        for (field, want) in case["output"].as_object().unwrap() {
            assert_close(name, field, &json[field.as_str()], want);
        }
        assert!(json["kept_spans"].is_array(), "{name}: {json}");
        // Results in input order (reordering would hide which document each one is).
        let in_order = ProcessOptions {
            reorder: false,
            top_k: None,
            ..options.clone()
        };
        let out = if options.reorder {
            pruner.process(input.clone(), &in_order).unwrap()
        } else {
            out
        };
        for (docs, results) in documents_of(&input).iter().zip(&out.results) {
            assert_eq!(docs.len(), results.len(), "{name}");
            for (doc, result) in docs.iter().zip(results) {
                let spans = result.kept_spans.as_deref().unwrap();
                assert_spans_rebuild(&doc.source_text(), spans, &result.pruned_context, name);
            }
        }
    }
}

#[test]
fn process_matches_upstream_on_every_fixture_case() {
    check_fixture(&fixture("process"));
}

#[test]
fn offsets_leave_upstream_outputs_unchanged_and_rebuild_pruned_texts() {
    for name in ["process", "process_bert", "process_xlmr"] {
        check_offsets(&fixture(name));
    }
}

/// BERT: `[CLS] q [SEP] c [SEP]` with token types 0 then 1, as upstream passes them.
#[test]
fn process_matches_upstream_with_a_bert_backbone() {
    check_fixture(&fixture("process_bert"));
}

/// XLM-R: `<s> q </s></s> c </s>`, positions from `pad_token_id + 1`.
#[test]
fn process_matches_upstream_with_an_xlm_roberta_backbone() {
    check_fixture(&fixture("process_xlmr"));
}
