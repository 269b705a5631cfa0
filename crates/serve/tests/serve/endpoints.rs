//! Every endpoint, and `/prune` and `/rerank` answers against `Pruner::process` on the same inputs.

use crate::common::*;
use provence_infer::{Document, ProcessInput, ProcessOptions, SplitterLanguage, Title};
use serde_json::{Value, json};

/// A threshold in the middle of the widest gap between the sentence probabilities of `input`,
/// so that some sentences are kept and some removed with a clear margin.
fn split_threshold(input: ProcessInput) -> f64 {
    let scored = pruner().score(input, &ProcessOptions::default()).unwrap();
    let mut probs: Vec<f64> = scored
        .documents
        .iter()
        .flatten()
        .flat_map(|d| d.sentence_probabilities.clone())
        .collect();
    probs.sort_by(f64::total_cmp);
    let (i, _) = probs
        .windows(2)
        .enumerate()
        .max_by(|a, b| (a.1[1] - a.1[0]).total_cmp(&(b.1[1] - b.1[0])))
        .unwrap();
    (probs[i] + probs[i + 1]) / 2.0
}

fn text(s: String) -> Document {
    Document::Text(s)
}

type Case = (Value, ProcessInput, ProcessOptions);

/// Default options with threshold `t`, changed by `f`.
fn opts(t: f64, f: &dyn Fn(&mut ProcessOptions)) -> ProcessOptions {
    let mut o = ProcessOptions {
        threshold: Some(t),
        ..ProcessOptions::default()
    };
    f(&mut o);
    o
}

/// `(body, the same input and options for process())`: every input shape.
fn shape_cases(t: f64) -> Vec<Case> {
    let opts = |f: &dyn Fn(&mut ProcessOptions)| opts(t, f);
    let split = vec!["First given sentence. ".to_string(), "Second one.".to_string()];
    vec![
        (
            json!({"question": query(0), "contexts": passage(5), "threshold": t}),
            ProcessInput::Pair {
                question: query(0),
                context: passage(5),
            },
            opts(&|_| {}),
        ),
        (
            json!({"question": query(1), "contexts": [passage(1), split, passage(9)], "threshold": t,
                   "return_sentence_metrics": true}),
            ProcessInput::Documents {
                question: query(1),
                documents: vec![text(passage(1)), Document::Sentences(split.clone()), text(passage(9))],
            },
            opts(&|o| o.return_sentence_metrics = true),
        ),
        (
            json!({"question": [query(0), query(1)], "contexts": [passage(2), passage(3)], "threshold": t}),
            ProcessInput::Aligned {
                questions: vec![query(0), query(1)],
                documents: vec![text(passage(2)), text(passage(3))],
            },
            opts(&|_| {}),
        ),
        (
            json!({"question": [query(2), query(3)], "contexts": [[passage(4), passage(5), passage(6)], [passage(7)]],
                   "reorder": true, "top_k": 2, "threshold": t}),
            ProcessInput::Nested {
                questions: vec![query(2), query(3)],
                documents: vec![
                    vec![text(passage(4)), text(passage(5)), text(passage(6))],
                    vec![text(passage(7))],
                ],
            },
            opts(&|o| {
                o.reorder = true;
                o.top_k = Some(2);
            }),
        ),
    ]
}

/// Titles and languages.
fn option_cases(t: f64) -> Vec<Case> {
    let opts = |f: &dyn Fn(&mut ProcessOptions)| opts(t, f);
    vec![
        (
            json!({"question": query(0), "contexts": [passage(1), passage(2)], "title": "Guide",
                   "always_select_title": true, "return_sentence_texts": true, "threshold": t}),
            ProcessInput::Documents {
                question: query(0),
                documents: vec![text(passage(1)), text(passage(2))],
            },
            opts(&|o| {
                o.title = Title::Fixed("Guide".into());
                o.always_select_title = true;
                o.return_sentence_texts = true;
            }),
        ),
        (
            json!({"question": [query(0)], "contexts": [[passage(1), passage(2)]], "title": [["A", "B"]], "threshold": t}),
            ProcessInput::Nested {
                questions: vec![query(0)],
                documents: vec![vec![text(passage(1)), text(passage(2))]],
            },
            opts(&|o| o.title = Title::PerDocument(vec![vec!["A".into(), "B".into()]])),
        ),
        (
            json!({"question": query(2), "contexts": [format!("Heading line\n{}", passage(4))],
                   "first_line_as_title": true, "title": null, "language": "en", "threshold": t}),
            ProcessInput::Documents {
                question: query(2),
                documents: vec![text(format!("Heading line\n{}", passage(4)))],
            },
            opts(&|o| {
                o.first_line_as_title = true;
                o.title = Title::None;
                o.language = SplitterLanguage::En;
            }),
        ),
        (
            json!({"question": "日本の首都は？", "contexts": "東京は日本の首都です。人口がとても多い。富士山は高い。",
                   "language": "ja"}),
            ProcessInput::Pair {
                question: "日本の首都は？".into(),
                context: "東京は日本の首都です。人口がとても多い。富士山は高い。".into(),
            },
            ProcessOptions {
                language: SplitterLanguage::Ja,
                ..ProcessOptions::default()
            },
        ),
    ]
}

#[test]
fn prune_equals_process_for_every_input_shape_and_option() {
    let server = TestServer::default_limits();
    let pruner = pruner();
    let agent = agent();
    let t = split_threshold(ProcessInput::Documents {
        question: query(0),
        documents: (0..10).map(|i| text(passage(i))).collect(),
    });
    for (body, input, options) in shape_cases(t).into_iter().chain(option_cases(t)) {
        let got = post(&agent, &server.url, "/prune", &body);
        assert_eq!(got.status, 200, "{body}: {}", got.text);
        let want = pruner.process(input, &options).unwrap().to_json();
        assert_close(
            &without_timing(got.json()),
            &without_timing(want),
            1e-6,
            &body.to_string(),
        );
        assert!(got.json()["timing"]["total_seconds"].is_number());
    }
    server.stop().unwrap();
}

#[test]
fn rerank_is_tei_shaped_and_scores_as_process() {
    let server = TestServer::default_limits();
    let pruner = pruner();
    let agent = agent();
    let texts: Vec<String> = (0..6).map(passage).collect();
    let input = ProcessInput::Documents {
        question: query(1),
        documents: texts.iter().cloned().map(Document::Text).collect(),
    };
    let scored = pruner.score(input.clone(), &ProcessOptions::default()).unwrap();
    let docs = &scored.documents[0];

    let plain = post(
        &agent,
        &server.url,
        "/rerank",
        &json!({"query": query(1), "texts": texts}),
    );
    assert_eq!(plain.status, 200, "{}", plain.text);
    let ranks = plain.json();
    let ranks = ranks.as_array().unwrap();
    let mut indices: Vec<u64> = ranks.iter().map(|r| r["index"].as_u64().unwrap()).collect();
    let scores: Vec<f64> = ranks.iter().map(|r| r["score"].as_f64().unwrap()).collect();
    assert!(scores.windows(2).all(|w| w[0] >= w[1]), "sorted by score: {scores:?}");
    for r in ranks {
        let doc = &docs[r["index"].as_u64().unwrap() as usize];
        assert!((r["score"].as_f64().unwrap() - doc.block_score.unwrap()).abs() < 1e-6);
        assert_eq!(r.as_object().unwrap().len(), 2, "only index and score by default: {r}");
    }
    indices.sort_unstable();
    assert_eq!(indices, (0..6).collect::<Vec<u64>>());

    let t = split_threshold(input.clone());
    let body = json!({"query": query(1), "texts": texts, "raw_scores": true, "return_text": true,
                      "return_pruned": true, "threshold": t, "truncate": true, "truncation_direction": "Right"});
    let full = post(&agent, &server.url, "/rerank", &body);
    assert_eq!(full.status, 200, "{}", full.text);
    let options = ProcessOptions {
        threshold: Some(t),
        ..ProcessOptions::default()
    };
    let processed = pruner.process(input, &options).unwrap();
    for r in full.json().as_array().unwrap() {
        let i = r["index"].as_u64().unwrap() as usize;
        let logit = r["score"].as_f64().unwrap();
        assert!((logit - docs[i].block_logit.unwrap()).abs() < 1e-5);
        assert!((1.0 / (1.0 + (-logit).exp()) - docs[i].block_score.unwrap()).abs() < 1e-6);
        assert_eq!(r["text"], json!(texts[i]));
        let want = &processed.results[0][i];
        assert_eq!(r["pruned_text"], json!(want.pruned_context));
        assert!((r["compression_rate"].as_f64().unwrap() - want.compression_rate).abs() < 1e-9);
        if !want.pruned_context.trim().is_empty() {
            let sigmoid = 1.0 / (1.0 + (-logit).exp());
            assert!(
                (sigmoid - want.reranking_score.unwrap()).abs() < 1e-6,
                "process()'s reranking_score"
            );
        }
    }
    server.stop().unwrap();
}

#[test]
fn health_info_and_metrics() {
    let server = TestServer::default_limits();
    let agent = agent();
    let health = get(&agent, &server.url, "/health");
    assert_eq!((health.status, health.json()), (200, json!({"status": "ok"})));

    let info = get(&agent, &server.url, "/info").json();
    assert_eq!(info["model_id"], "test/tiny");
    assert!(info["model_type"]["reranker"].is_object(), "{info}");
    assert_eq!(info["max_input_length"], MAX_LENGTH);
    assert_eq!(info["default_threshold"], 0.1);
    assert_eq!(info["backbone"]["hidden_size"], 32);
    assert_eq!(info["backbone"]["num_hidden_layers"], 2);
    for key in [
        "max_batch_tokens",
        "max_batch_requests",
        "max_concurrent_requests",
        "max_client_batch_size",
        "max_body_bytes",
    ] {
        assert!(info[key].as_u64().unwrap() > 0, "{key}");
    }

    let body = json!({"question": query(0), "contexts": [passage(1), passage(2)]});
    assert_eq!(post(&agent, &server.url, "/prune", &body).status, 200);
    let _ = get(&agent, &server.url, "/nowhere");
    let metrics = get(&agent, &server.url, "/metrics");
    assert_eq!(metrics.status, 200);
    assert!(metrics.content_type.unwrap().starts_with("text/plain"));
    let text = metrics.text;
    for needle in [
        "provence_requests_total{route=\"/prune\",status=\"200\"} 1",
        "provence_requests_total{route=\"/health\",status=\"200\"} 1",
        "provence_requests_total{route=\"other\",status=\"404\"} 1",
        "provence_request_duration_seconds_count{route=\"/prune\"} 1",
        "provence_batch_requests_count 1",
        "provence_forward_blocks_bucket{le=\"+Inf\"}",
        "provence_forward_tokens_sum",
        "provence_queue_depth 0",
        "# TYPE provence_request_duration_seconds histogram",
    ] {
        assert!(text.contains(needle), "{needle} missing from\n{text}");
    }
    // Every sample line is `name{labels} value` with a numeric value.
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let value = line.rsplit(' ').next().unwrap();
        assert!(value.parse::<f64>().is_ok(), "{line}");
    }
    server.stop().unwrap();
}
