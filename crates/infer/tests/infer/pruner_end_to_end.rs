//! `Pruner::process` end to end on a tiny random model saved as a `final_model/` with the demo
//! tokenizer, checked against an independent re-computation with a direct forward pass and
//! against properties that must hold whatever the weights.

use crate::common;

use burn::prelude::*;
use burn::tensor::activation::{sigmoid, softmax};
use common::{B, load, tiny_model_dir};
use provence_infer::{Document, InputShape, ProcessInput, ProcessOptions, PruneError, Pruner, Title};
use provence_model::OpenProvenceModel;
use serde_json::json;
use std::path::PathBuf;

const CONTEXT: &str = "I went to Kyoto last year. The temples were quiet.\nSushi is my favourite food, with soy sauce.\nThe weather was cold.";
const QUESTION: &str = "What is your favorite Japanese food?";

fn metrics() -> ProcessOptions {
    ProcessOptions {
        return_sentence_metrics: true,
        return_sentence_texts: true,
        ..ProcessOptions::default()
    }
}

#[test]
fn sentence_probabilities_match_a_direct_forward_pass() {
    let dir = tiny_model_dir(512, None);
    let pruner = load(dir.path());
    let sentences: Vec<String> = vec![
        "The cat sat. ".into(),
        "Dogs bark loudly at night. ".into(),
        "Fish swim.".into(),
    ];
    let out = pruner
        .process(
            ProcessInput::Documents {
                question: "Where do cats sit?".into(),
                documents: vec![Document::Sentences(sentences.clone())],
            },
            &metrics(),
        )
        .unwrap();
    let got = out.results[0][0].sentence_probabilities.clone().unwrap();

    // Independent re-computation: tokenise each sentence alone, [CLS] q [SEP] s1 s2 s3 [SEP].
    let tok = tokenizers::Tokenizer::from_file(provence_test_support::demo("model/tokenizer.json")).unwrap();
    let enc = |t: &str| tok.encode(t, false).unwrap().get_ids().to_vec();
    let (cls, sep) = (tok.token_to_id("[CLS]").unwrap(), tok.token_to_id("[SEP]").unwrap());
    let mut ids = vec![cls];
    ids.extend(enc("Where do cats sit?"));
    ids.push(sep);
    let mut ranges = Vec::new();
    for s in &sentences {
        let t = enc(s);
        ranges.push((ids.len(), ids.len() + t.len()));
        ids.extend(t);
    }
    ids.push(sep);
    let n = ids.len();
    let model = OpenProvenceModel::<B>::load(dir.path(), &Default::default()).unwrap();
    let input = Tensor::<B, 2, Int>::from_data(
        TensorData::new(ids.iter().map(|&i| i as i64).collect::<Vec<_>>(), [1, n]),
        &Default::default(),
    );
    let mask = Tensor::<B, 2, Int>::ones([1, n], &Default::default());
    let o = model.forward(input, mask);
    let keep: Vec<f32> = softmax(o.pruning_logits, 2)
        .narrow(2, 1, 1)
        .reshape([n])
        .into_data()
        .to_vec()
        .unwrap();
    let score: Vec<f32> = sigmoid(o.ranking_logits).into_data().to_vec().unwrap();
    for (i, &(s, e)) in ranges.iter().enumerate() {
        let mean = keep[s..e].iter().map(|&p| f64::from(p)).sum::<f64>() / (e - s) as f64;
        assert!((got[i] - mean).abs() < 1e-5, "sentence {i}: {} vs {mean}", got[i]);
    }
    // Threshold between the extreme probabilities: the kept set is exactly those above it.
    let mid = (got.iter().cloned().fold(f64::MIN, f64::max) + got.iter().cloned().fold(f64::MAX, f64::min)) / 2.0;
    let options = ProcessOptions {
        threshold: Some(mid),
        ..metrics()
    };
    let out = pruner
        .process(
            ProcessInput::Documents {
                question: "Where do cats sit?".into(),
                documents: vec![Document::Sentences(sentences.clone())],
            },
            &options,
        )
        .unwrap();
    let r = &out.results[0][0];
    let expected: String = sentences
        .iter()
        .zip(&got)
        .filter(|(_, p)| **p > mid)
        .map(|(s, _)| s.as_str())
        .collect();
    assert_eq!(r.pruned_context, expected);
    let base = sentences.concat().chars().count() as f64;
    assert!((r.compression_rate - (base - expected.chars().count() as f64) / base * 100.0).abs() < 1e-9);
    assert!((r.reranking_score.unwrap() - f64::from(score[0])).abs() < 1e-5);
}

#[test]
fn extreme_thresholds_keep_all_or_nothing() {
    let dir = tiny_model_dir(512, None);
    let pruner = load(dir.path());
    let pair = || ProcessInput::Pair {
        question: QUESTION.into(),
        context: CONTEXT.into(),
    };
    let all = pruner
        .process(
            pair(),
            &ProcessOptions {
                threshold: Some(0.0),
                ..metrics()
            },
        )
        .unwrap();
    let r = &all.results[0][0];
    assert_eq!(
        r.pruned_context, CONTEXT,
        "the splitter tiles the text, so keeping all restores it"
    );
    assert_eq!(r.compression_rate, 0.0);
    assert!(r.reranking_score.unwrap() > 0.0);
    assert!(r.kept_sentences.as_ref().unwrap().len() >= 3);
    let none = pruner
        .process(
            pair(),
            &ProcessOptions {
                threshold: Some(1.0),
                ..metrics()
            },
        )
        .unwrap();
    let r = &none.results[0][0];
    assert_eq!(
        (r.pruned_context.as_str(), r.compression_rate, r.reranking_score),
        ("", 100.0, Some(0.0))
    );
    let json = none.to_json();
    assert_eq!(json["pruned_context"], json!(""), "str/str input gives scalars");
}

#[test]
fn default_threshold_comes_from_the_model_config() {
    let with = tiny_model_dir(512, Some(0.42));
    assert_eq!(load(with.path()).resolve_threshold(None).unwrap(), 0.42);
    assert_eq!(load(with.path()).resolve_threshold(Some(0.2)).unwrap(), 0.2);
    let without = tiny_model_dir(512, None);
    assert_eq!(load(without.path()).resolve_threshold(None).unwrap(), 0.1);
    for bad in [f64::NAN, -1.0, 2.0] {
        assert!(matches!(
            load(without.path()).resolve_threshold(Some(bad)),
            Err(PruneError::Threshold { .. })
        ));
    }
}

#[test]
fn input_shapes_give_upstream_output_shapes() {
    let dir = tiny_model_dir(512, None);
    let pruner = load(dir.path());
    let o = ProcessOptions::default();
    let text = |s: &str| Document::Text(s.into());
    let list = pruner
        .process(
            ProcessInput::Documents {
                question: QUESTION.into(),
                documents: vec![text(CONTEXT), Document::Sentences(vec!["A.".into(), "B.".into()])],
            },
            &o,
        )
        .unwrap();
    assert_eq!(list.shape, InputShape::List);
    assert_eq!(list.to_json()["compression_rate"].as_array().unwrap().len(), 2);
    let aligned = pruner
        .process(
            ProcessInput::Aligned {
                questions: vec!["q1".into(), "q2".into()],
                documents: vec![text("One."), text("Two.")],
            },
            &o,
        )
        .unwrap();
    assert!(aligned.to_json()["pruned_context"].as_array().unwrap()[1].is_string());
    let nested = pruner
        .process(
            ProcessInput::Nested {
                questions: vec!["q1".into(), "q2".into()],
                documents: vec![
                    vec![text("One."), text("Uno.")],
                    vec![Document::Sentences(vec!["Two.".into()])],
                ],
            },
            &o,
        )
        .unwrap();
    let j = nested.to_json();
    assert_eq!(j["reranking_score"].as_array().unwrap()[0].as_array().unwrap().len(), 2);
    assert_eq!(j["reranking_score"].as_array().unwrap()[1].as_array().unwrap().len(), 1);
    let bad = pruner.process(
        ProcessInput::Nested {
            questions: vec!["q1".into(), "q2".into()],
            documents: vec![vec![text("One.")]],
        },
        &o,
    );
    assert!(matches!(bad, Err(PruneError::Shape(_))));
}

#[test]
fn long_documents_span_blocks_and_batching_does_not_change_results() {
    // max_length 40: fragments of 20 tokens, blocks of at most 38 tokens incl. the query.
    let dir = tiny_model_dir(40, None);
    let pruner = load(dir.path());
    let long: String = (0..12)
        .map(|i| format!("Sentence number {i} talks about sushi and rice. "))
        .collect();
    let input = || ProcessInput::Documents {
        question: QUESTION.into(),
        documents: vec![Document::Text(long.clone()), Document::Text("Short one.".into())],
    };
    let one = pruner
        .process(
            input(),
            &ProcessOptions {
                batch_size: 1,
                ..metrics()
            },
        )
        .unwrap();
    let many = pruner
        .process(
            input(),
            &ProcessOptions {
                batch_size: 64,
                ..metrics()
            },
        )
        .unwrap();
    for (a, b) in one.results[0].iter().zip(&many.results[0]) {
        let (pa, pb) = (
            a.sentence_probabilities.as_ref().unwrap(),
            b.sentence_probabilities.as_ref().unwrap(),
        );
        assert_eq!(pa.len(), pb.len());
        for (x, y) in pa.iter().zip(pb) {
            assert!((x - y).abs() < 1e-4, "{x} vs {y}");
        }
    }
    let probs = one.results[0][0].sentence_probabilities.as_ref().unwrap();
    assert_eq!(probs.len(), 12);
    assert!(
        probs.iter().all(|&p| p > 0.0),
        "every sentence is scored in some block: {probs:?}"
    );
}

#[test]
fn titles_are_prefixed_but_never_pruned_text() {
    let dir = tiny_model_dir(512, None);
    let pruner = load(dir.path());
    let options = ProcessOptions {
        title: Title::Fixed("  Kyoto trip  ".into()),
        threshold: Some(0.0),
        ..metrics()
    };
    let out = pruner
        .process(
            ProcessInput::Pair {
                question: QUESTION.into(),
                context: CONTEXT.into(),
            },
            &options,
        )
        .unwrap();
    let r = &out.results[0][0];
    assert_eq!(r.title, vec!["Kyoto trip\n".to_string()]);
    assert_eq!(r.pruned_context, CONTEXT);
    assert_eq!(r.compression_rate, 0.0, "the title is not part of the compression base");
    assert_eq!(r.kept_sentences.as_ref().unwrap()[0], "Kyoto trip\n");
    let legacy = ProcessOptions {
        legacy_prefix_offset: true,
        ..options.clone()
    };
    let shifted = pruner
        .process(
            ProcessInput::Pair {
                question: QUESTION.into(),
                context: CONTEXT.into(),
            },
            &legacy,
        )
        .unwrap();
    assert_ne!(
        shifted.results[0][0].sentence_probabilities, r.sentence_probabilities,
        "the compat flag reads shifted windows"
    );
    let first_line = ProcessOptions {
        first_line_as_title: true,
        threshold: Some(0.0),
        ..metrics()
    };
    let out = pruner
        .process(
            ProcessInput::Pair {
                question: QUESTION.into(),
                context: "My Title\nBody text here.".into(),
            },
            &first_line,
        )
        .unwrap();
    assert_eq!(out.results[0][0].title, vec!["My Title\n".to_string()]);
    assert_eq!(out.results[0][0].pruned_context, "Body text here.");
}

#[test]
fn missing_model_directory_is_a_clear_error() {
    let err = Pruner::<B>::load(&PathBuf::from("/nonexistent/model"), Default::default())
        .err()
        .unwrap();
    assert!(err.to_string().contains("/nonexistent/model"), "{err}");
}

/// A run directory loads its `final_model/`; a set cancellation flag stops `process()` before
/// its forward batches with `PruneError::Cancelled`.
#[test]
fn run_directories_load_and_cancelled_calls_stop() {
    let run = tempfile::tempdir().unwrap();
    let model = tiny_model_dir(512, None);
    std::fs::rename(model.path(), run.path().join("final_model")).unwrap();
    let pruner = load(run.path());
    let input = || ProcessInput::Pair {
        question: QUESTION.into(),
        context: CONTEXT.into(),
    };
    let flag = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let options = ProcessOptions {
        cancel: Some(flag.clone()),
        ..ProcessOptions::default()
    };
    assert!(pruner.process(input(), &options).is_ok());
    flag.store(true, std::sync::atomic::Ordering::Relaxed);
    let err = pruner.process(input(), &options).err().unwrap();
    assert!(matches!(err, PruneError::Cancelled), "{err}");
}

/// A Hub model id resolves through a Python-layout cache (offline) to the same model as the
/// directory itself; an unknown id is a clear error naming it.
#[test]
fn hub_model_id_loads_from_the_cache_offline() {
    let fixture = provence_test_support::fixture("process/model");
    let cache = tempfile::tempdir().unwrap();
    let sha = "0123456789abcdef0123456789abcdef01234567";
    let base = cache.path().join("models--org--tiny-pruner");
    let snapshot = base.join("snapshots").join(sha);
    std::fs::create_dir_all(&snapshot).unwrap();
    std::fs::create_dir_all(base.join("refs")).unwrap();
    std::fs::write(base.join("refs/main"), sha).unwrap();
    for entry in std::fs::read_dir(&fixture).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), snapshot.join(entry.file_name())).unwrap();
    }
    let options = provence_hub::HubOptions {
        endpoint: "http://127.0.0.1:9".to_owned(),
        cache_dir: cache.path().to_owned(),
        token: None,
        offline: true,
        revision: "main".to_owned(),
        progress: false,
    };
    let device = Default::default();
    let from_hub =
        provence_infer::Pruner::<B>::from_pretrained_with("org/tiny-pruner", options.clone(), device).unwrap();
    let from_dir = provence_infer::Pruner::<B>::load(&fixture, Default::default()).unwrap();
    let input = provence_infer::ProcessInput::Pair {
        question: "What is the capital of Japan?".into(),
        context: "Tokyo is the capital of Japan. It is large.".into(),
    };
    let options_p = provence_infer::ProcessOptions::default();
    let a = from_hub.process(input.clone(), &options_p).unwrap().to_json();
    let b = from_dir.process(input, &options_p).unwrap().to_json();
    assert_eq!(a["pruned_context"], b["pruned_context"]);
    assert_eq!(a["reranking_score"], b["reranking_score"]);
    let err = provence_infer::Pruner::<B>::from_pretrained_with("org/absent", options, Default::default())
        .err()
        .unwrap();
    assert!(err.to_string().contains("org/absent"), "{err}");
}

#[test]
fn packing_sorting_and_token_budgets_do_not_change_results() {
    // max_length 40: long documents span several blocks; the documents differ in length so that
    // sorting reorders the blocks and the token budget splits them into several batches.
    let dir = tiny_model_dir(40, None);
    let documents: Vec<Document> = (0..9)
        .map(|d| {
            let text: String = (0..1 + (d * 5) % 7)
                .map(|i| format!("Document {d} sentence {i} is about rice, fish or trains. "))
                .collect();
            Document::Text(text)
        })
        .collect();
    let input = || ProcessInput::Documents {
        question: QUESTION.into(),
        documents: documents.clone(),
    };
    // Reference: every block alone, padded (the eager path), no sorting effect possible.
    let reference = load(dir.path())
        .with_execution(
            provence_model::Execution::for_backend::<B>().with_layout(provence_model::AttentionLayout::Padded),
        )
        .process(
            input(),
            &ProcessOptions {
                batch_size: 1,
                ..metrics()
            },
        )
        .unwrap();
    for (batch_size, max_batch_tokens) in [(64, 100_000), (64, 120), (3, 100_000)] {
        let options = ProcessOptions {
            batch_size,
            max_batch_tokens,
            ..metrics()
        };
        let out = load(dir.path()).process(input(), &options).unwrap();
        for (d, (a, b)) in out.results[0].iter().zip(&reference.results[0]).enumerate() {
            assert_eq!(a.pruned_context, b.pruned_context, "document {d}");
            let (pa, pb) = (
                a.sentence_probabilities.as_ref().unwrap(),
                b.sentence_probabilities.as_ref().unwrap(),
            );
            assert_eq!(pa.len(), pb.len(), "document {d}");
            for (x, y) in pa.iter().zip(pb) {
                assert!((x - y).abs() < 1e-6, "document {d}: {x} vs {y}");
            }
            let (sa, sb) = (a.reranking_score.unwrap(), b.reranking_score.unwrap());
            assert!((sa - sb).abs() < 1e-6, "document {d}: score {sa} vs {sb}");
        }
    }
}

#[test]
fn jsonl_requests_scored_together_equal_one_call_each() {
    let dir = tiny_model_dir(40, None);
    let pruner = load(dir.path());
    let lines: String = (0..5)
        .map(|i| {
            let context: String = (0..1 + i)
                .map(|k| format!("Line {i} part {k} mentions sushi. "))
                .collect();
            if i == 3 {
                format!("{}\n", json!({"question": QUESTION, "context": [context, "Short."]}))
            } else {
                format!(
                    "{}\n",
                    json!({"question": format!("{QUESTION} {i}"), "context": context})
                )
            }
        })
        .collect();
    let requests = provence_infer::read_requests(lines.as_bytes()).unwrap();
    let mut out = Vec::new();
    let options = ProcessOptions::default();
    provence_infer::process_requests(&pruner, requests.clone(), &mut out, &options).unwrap();
    let got: Vec<serde_json::Value> = String::from_utf8(out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(got.len(), 5);
    for ((_, request), got) in requests.into_iter().zip(got) {
        let want = pruner.process(request, &options).unwrap().to_json();
        assert_eq!(got["pruned_context"], want["pruned_context"]);
        let (a, b) = (&got["reranking_score"], &want["reranking_score"]);
        let close =
            |x: &serde_json::Value, y: &serde_json::Value| (x.as_f64().unwrap() - y.as_f64().unwrap()).abs() < 1e-6;
        match (a, b) {
            (serde_json::Value::Array(a), serde_json::Value::Array(b)) => {
                assert!(a.iter().zip(b).all(|(x, y)| close(x, y)), "{a:?} vs {b:?}")
            }
            _ => assert!(close(a, b), "{a} vs {b}"),
        }
    }
}

/// A question longer than half of `max_length` is cut to that (upstream never truncates it, and
/// every block then ran past the model's limit: the work grew with the square of its length).
#[test]
fn a_huge_question_is_bounded_to_half_of_max_length() {
    assert_eq!(
        provence_infer::prepare::bound_query(vec![7; 50_000], 64, false).len(),
        32
    );
    assert_eq!(provence_infer::prepare::bound_query(vec![7; 10], 64, false).len(), 10);
    // Upstream's rule (MLDR): whole while one context token fits.
    assert_eq!(provence_infer::prepare::bound_query(vec![7; 35], 64, true).len(), 35);
    assert_eq!(
        provence_infer::prepare::bound_query(vec![7; 50_000], 64, true).len(),
        60
    );
    let dir = tiny_model_dir(64, None);
    let question = "Which sushi rice is best? ".repeat(4_000); // ~100 KB
    let out = load(dir.path())
        .process(
            ProcessInput::Pair {
                question,
                context: CONTEXT.into(),
            },
            &metrics(),
        )
        .unwrap();
    let probs = out.results[0][0].sentence_probabilities.as_ref().unwrap();
    assert_eq!(probs.len(), 4, "every sentence is still scored");
}
