//! Dynamic batching under load: 64 clients × 20 requests of mixed sizes on both endpoints, each
//! client checking its own answers against `Pruner::process` / `Pruner::score`.

use crate::common::*;
use provence_infer::{Document, ProcessInput, ProcessOptions};
use serde_json::{Value, json};

const CLIENTS: usize = 64;
const REQUESTS: usize = 20;
const POOL: usize = 24;

/// Request `i` of the pool: `(path, body, expected answer)`.
fn request(i: usize, pruner: &provence_infer::Pruner<B>) -> (&'static str, Value, Value) {
    let q = query(i);
    // 1 to 3 passages of 1 to 5 sentences (up to 3 blocks each).
    let texts: Vec<String> = (0..1 + i % 3)
        .map(|k| passage(i * 3 + k).split_inclusive(". ").take(1 + (i + k) % 5).collect())
        .collect();
    let documents: Vec<Document> = texts.iter().cloned().map(Document::Text).collect();
    match i % 3 {
        0 => {
            let body = json!({"question": q, "contexts": texts[0]});
            let input = ProcessInput::Pair {
                question: q,
                context: texts[0].clone(),
            };
            let want = pruner.process(input, &ProcessOptions::default()).unwrap().to_json();
            ("/prune", body, without_timing(want))
        }
        1 => {
            let body = json!({"question": q, "contexts": texts, "return_sentence_metrics": true});
            let options = ProcessOptions {
                return_sentence_metrics: true,
                ..ProcessOptions::default()
            };
            let input = ProcessInput::Documents { question: q, documents };
            let want = pruner.process(input, &options).unwrap().to_json();
            ("/prune", body, without_timing(want))
        }
        _ => {
            let body = json!({"query": q, "texts": texts, "return_pruned": true});
            let input = ProcessInput::Documents { question: q, documents };
            let scored = pruner.score(input, &ProcessOptions::default()).unwrap();
            let want: Vec<Value> = scored.documents[0]
                .iter()
                .map(|d| {
                    let r = d.finish(0.1, &ProcessOptions::default());
                    json!({"score": d.block_score, "pruned_text": r.pruned_context, "compression_rate": r.compression_rate})
                })
                .collect();
            ("/rerank", body, Value::Array(want))
        }
    }
}

/// Checks one answer against its expectation.
fn check(path: &str, got: &Value, want: &Value, at: &str) {
    if path == "/prune" {
        assert_close(&without_timing(got.clone()), want, 1e-6, at);
        return;
    }
    let ranks = got.as_array().unwrap();
    assert_eq!(ranks.len(), want.as_array().unwrap().len(), "{at}");
    let mut previous = f64::INFINITY;
    for r in ranks {
        let score = r["score"].as_f64().unwrap();
        assert!(score <= previous, "{at}: not sorted");
        previous = score;
        let expected = &want[r["index"].as_u64().unwrap() as usize];
        let mut item = r.as_object().unwrap().clone();
        item.remove("index");
        assert_close(&Value::Object(item), expected, 1e-6, at);
    }
}

fn sample_value(metrics: &str, name: &str) -> f64 {
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(name).and_then(|rest| rest.trim().parse().ok()))
        .unwrap_or_else(|| panic!("{name} not in metrics"))
}

#[test]
fn sixty_four_clients_each_get_their_own_results() {
    let server = TestServer::default_limits();
    let pruner = pruner();
    let pool: Vec<(&str, Value, Value)> = (0..POOL).map(|i| request(i, &pruner)).collect();
    std::thread::scope(|scope| {
        for client in 0..CLIENTS {
            let (pool, url) = (&pool, &server.url);
            scope.spawn(move || {
                let agent = agent();
                for r in 0..REQUESTS {
                    let i = (client * 5 + r * 7) % POOL;
                    let (path, body, want) = &pool[i];
                    let got = post(&agent, url, path, body);
                    assert_eq!(got.status, 200, "client {client} request {r}: {}", got.text);
                    check(
                        path,
                        &got.json(),
                        want,
                        &format!("client {client} request {r} (pool {i})"),
                    );
                }
            });
        }
    });
    let metrics = get(&agent(), &server.url, "/metrics").text;
    let total = (CLIENTS * REQUESTS) as f64;
    let calls = sample_value(&metrics, "provence_batch_requests_count");
    let merged = sample_value(&metrics, "provence_batch_requests_sum");
    assert_eq!(merged, total, "every request scored once");
    assert!(
        calls < total,
        "requests shared model calls: {calls} calls for {total} requests"
    );
    assert_eq!(sample_value(&metrics, "provence_queue_depth"), 0.0);
    server.stop().unwrap();
}
