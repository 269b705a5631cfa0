//! text-embeddings-inference's wire contract (`router/src/http/server.rs`, `router/src/lib.rs`):
//! `/info`'s fields and shapes, the routes TEI serves for a reranker, `truncate` /
//! `truncation_direction` checks, tie order, 424 for a failing model (never a NaN score), the
//! `x-*` headers and TEI's metric names.

use crate::common::*;
use provence_infer::{ProcessInput, ProcessOptions, PruneError, Pruner, ScoredMany};
use provence_serve::{Limits, ModelCard, Scorer};
use serde_json::{Value, json};

#[test]
fn info_has_tei_fields_and_shapes() {
    let server = TestServer::default_limits();
    let info = get(&agent(), &server.url, "/info").json();
    // TEI's Info, field by field (router/src/lib.rs).
    assert_eq!(info["model_id"], "test/tiny");
    assert_eq!(info["model_sha"], Value::Null);
    assert_eq!(info["model_dtype"], "float32");
    assert_eq!(info["served_model_name"], "test/tiny");
    assert_eq!(
        info["model_type"],
        json!({"reranker": {"id2label": {"0": "LABEL_0"}, "label2id": {"LABEL_0": 0}}})
    );
    assert_eq!(info["max_input_length"], MAX_LENGTH);
    let limits = Limits::default();
    assert_eq!(info["max_concurrent_requests"], limits.max_concurrent_requests);
    assert_eq!(info["max_batch_tokens"], limits.max_batch_tokens);
    assert_eq!(info["max_batch_requests"], limits.max_batch_requests);
    assert_eq!(info["max_client_batch_size"], limits.max_client_batch_size);
    assert_eq!(info["auto_truncate"], true);
    assert_eq!(info["tokenization_workers"], 1);
    assert_eq!(info["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!((&info["sha"], &info["docker_label"]), (&Value::Null, &Value::Null));
    // Ours, beside them.
    assert_eq!(info["default_threshold"], 0.1);
    assert_eq!(info["backbone"]["hidden_size"], 32);
    assert_eq!(info["backbone"]["num_hidden_layers"], 2);
    assert_eq!(info["auth_required"], false);
    server.stop().unwrap();
}

#[test]
fn a_reranker_answers_at_root_and_invocations_and_probes_at_ping() {
    let server = TestServer::default_limits();
    let agent = agent();
    let body = json!({"query": query(1), "texts": (0..5).map(passage).collect::<Vec<_>>(), "return_text": true});
    let rerank = post(&agent, &server.url, "/rerank", &body);
    assert_eq!(rerank.status, 200, "{}", rerank.text);
    for path in ["/", "/invocations"] {
        let other = post(&agent, &server.url, path, &body);
        assert_eq!(other.status, 200, "{path}: {}", other.text);
        assert_close(&other.json(), &rerank.json(), 1e-6, path);
    }
    for path in ["/ping", "/", "/health"] {
        assert_eq!(get(&agent, &server.url, path).status, 200, "{path}");
    }
    server.stop().unwrap();
}

#[test]
fn truncation_fields_are_checked_as_tei_checks_them() {
    let server = TestServer::default_limits();
    let agent = agent();
    let with = |extra: Value| {
        let mut body = json!({"query": "q", "texts": ["a b c", "d e f"]});
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        post(&agent, &server.url, "/rerank", &body)
    };
    for ok in [
        json!({"truncate": true, "truncation_direction": "Left"}),
        json!({"truncate": false, "truncation_direction": "left"}),
        json!({"truncate": null, "truncation_direction": "Right"}),
        json!({"truncation_direction": "right"}),
    ] {
        let reply = with(ok.clone());
        assert_eq!(reply.status, 200, "{ok}: {}", reply.text);
    }
    // TEI's serde rejects these (422).
    for bad in [
        json!({"truncation_direction": "up"}),
        json!({"truncation_direction": "LEFT"}),
        json!({"truncation_direction": null}),
        json!({"truncate": "yes"}),
        json!({"truncate": 1}),
    ] {
        let reply = with(bad.clone());
        assert_eq!(reply.status, 422, "{bad}: {}", reply.text);
        assert_eq!(reply.json()["error_type"], "Validation", "{bad}");
    }
    server.stop().unwrap();
}

#[test]
fn equal_scores_come_later_passage_first_as_in_tei() {
    let server = TestServer::default_limits();
    // The same passage at 0, 2 and 4 scores the same; TEI sorts ascending, stable, then
    // reverses, so equal scores come out last index first.
    let same = passage(3);
    let texts = [same.clone(), passage(5), same.clone(), passage(6), same];
    let reply = post(
        &agent(),
        &server.url,
        "/rerank",
        &json!({"query": query(0), "texts": texts}),
    );
    let ranks = reply.json();
    let ranks = ranks.as_array().unwrap();
    let tied: Vec<(u64, f64)> = ranks
        .iter()
        .map(|r| (r["index"].as_u64().unwrap(), r["score"].as_f64().unwrap()))
        .filter(|(i, _)| i % 2 == 0)
        .collect();
    assert!(
        tied.windows(2).all(|w| w[0].1 == w[1].1),
        "identical passages score the same: {tied:?}"
    );
    assert_eq!(tied.iter().map(|t| t.0).collect::<Vec<_>>(), [4, 2, 0]);
    server.stop().unwrap();
}

/// The tiny model, failing on purpose: a panic for the query `"panic"` (as a backend failing in
/// the middle of a forward pass would), NaN scores for the query `"nan"`.
struct Faulty(Pruner<B>);

impl Scorer for Faulty {
    fn score_many(
        &self,
        requests: Vec<(ProcessInput, &ProcessOptions)>,
        max_blocks: usize,
        max_tokens: usize,
    ) -> ScoredMany {
        let question = |input: &ProcessInput| match input {
            ProcessInput::Documents { question, .. } | ProcessInput::Pair { question, .. } => question.clone(),
            _ => String::new(),
        };
        let questions: Vec<String> = requests.iter().map(|(input, _)| question(input)).collect();
        assert!(!questions.iter().any(|q| q == "panic"), "injected backend failure");
        let mut scored = self.0.score_many(requests, max_blocks, max_tokens);
        for (q, result) in questions.iter().zip(&mut scored.results) {
            if let (Ok(batch), "nan") = (result, q.as_str()) {
                for doc in batch.documents.iter_mut().flatten() {
                    doc.block_score = Some(f64::NAN);
                    doc.block_logit = Some(f64::NAN);
                }
            }
        }
        scored
    }

    fn resolve_threshold(&self, threshold: Option<f64>) -> Result<f64, PruneError> {
        self.0.resolve_threshold(threshold)
    }

    fn card(&self) -> ModelCard {
        Scorer::card(&self.0)
    }
}

#[test]
fn a_failing_model_gets_424_and_no_nan_is_ever_sent() {
    let server = TestServer::start_with(Faulty(pruner()), config(Limits::default()));
    let agent = agent();
    let texts = [passage(1), passage(2)];
    for (path, body) in [
        ("/rerank", json!({"query": "panic", "texts": texts})),
        ("/rerank", json!({"query": "nan", "texts": texts})),
        ("/rerank", json!({"query": "nan", "texts": texts, "raw_scores": true})),
        ("/prune", json!({"question": "nan", "contexts": texts})),
        ("/invocations", json!({"query": "panic", "texts": texts})),
    ] {
        let reply = post(&agent, &server.url, path, &body);
        assert_eq!(reply.status, 424, "{path} {body}: {}", reply.text);
        assert_eq!(reply.json()["error_type"], "Backend");
        assert!(
            !reply.text.contains("NaN") || reply.text.contains("score is NaN"),
            "{}",
            reply.text
        );
    }
    // The worker survived, and other queries are served.
    let ok = post(
        &agent,
        &server.url,
        "/rerank",
        &json!({"query": query(0), "texts": texts}),
    );
    assert_eq!(ok.status, 200, "{}", ok.text);
    assert_eq!(get(&agent, &server.url, "/health").status, 200);
    let metrics = get(&agent, &server.url, "/metrics").text;
    assert!(metrics.contains("te_request_failure{err=\"inference\"} 5"), "{metrics}");
    server.stop().unwrap();
}

#[test]
fn tei_headers_and_metric_names() {
    let limits = Limits {
        max_client_batch_size: 4,
        ..Limits::default()
    };
    let server = TestServer::start(config(limits));
    let agent = agent();
    let texts: Vec<String> = (0..3).map(passage).collect();
    let reply = post(
        &agent,
        &server.url,
        "/rerank",
        &json!({"query": "capital", "texts": texts}),
    );
    assert_eq!(reply.status, 200);
    let characters: usize = texts.iter().map(|t| "capital".len() + t.chars().count()).sum();
    assert_eq!(
        reply.header("x-compute-characters"),
        Some(characters.to_string().as_str())
    );
    assert_eq!(reply.header("x-compute-type"), Some("flex"));
    for name in [
        "x-compute-time",
        "x-total-time",
        "x-tokenization-time",
        "x-queue-time",
        "x-inference-time",
    ] {
        let ms: u64 = reply.header(name).unwrap().parse().unwrap();
        assert!(ms < 600_000, "{name}");
    }
    let prune = post(
        &agent,
        &server.url,
        "/prune",
        &json!({"question": "q", "contexts": texts}),
    );
    assert_eq!(prune.status, 200);
    let too_many = post(
        &agent,
        &server.url,
        "/rerank",
        &json!({"query": "q", "texts": (0..5).map(passage).collect::<Vec<_>>()}),
    );
    assert_eq!(too_many.status, 422);
    let empty = post(&agent, &server.url, "/rerank", &json!({"query": "q", "texts": []}));
    assert_eq!(empty.status, 400);
    let text = get(&agent, &server.url, "/metrics").text;
    for needle in [
        "te_request_count{method=\"batch\"} 4",
        "te_request_success{method=\"batch\"} 2",
        "te_request_failure{err=\"batch_size\"} 1",
        "te_request_failure{err=\"validation\"} 1",
        "te_request_duration_count 2",
        "te_request_tokenization_duration_count 2",
        "te_request_queue_duration_count 2",
        "te_request_inference_duration_count 2",
        "te_request_duration_bucket{le=\"+Inf\"} 2",
        "# TYPE te_batch_next_size histogram",
        "te_batch_next_tokens_count",
        "te_queue_size 0",
        // Ours stay.
        "provence_requests_total{route=\"/rerank\",status=\"200\"} 1",
        "provence_batch_requests_count 2",
    ] {
        assert!(text.contains(needle), "{needle} missing from\n{text}");
    }
    server.stop().unwrap();
}
