//! Bad requests: each gets the right status and a JSON `{error, error_type}` body, and the
//! server keeps serving.

use crate::common::*;
use provence_serve::Limits;
use serde_json::{Value, json};
use std::io::{Read, Write};

const BODY_LIMIT: usize = 64 * 1024;

/// `(what, method, path, body, status, error_type)`.
type Case = (&'static str, &'static str, &'static str, Vec<u8>, u16, &'static str);

/// A `/prune` body answered 422 `Validation`.
fn prune(what: &'static str, body: impl Into<Vec<u8>>) -> Case {
    (what, "POST", "/prune", body.into(), 422, "Validation")
}

/// A `/rerank` body answered with `status` and `kind`.
fn rerank(what: &'static str, body: Value, status: u16, kind: &'static str) -> Case {
    (what, "POST", "/rerank", body.to_string().into_bytes(), status, kind)
}

/// Malformed bodies.
fn syntax_cases() -> Vec<Case> {
    let nested = "[".repeat(5000) + &"]".repeat(5000);
    let huge = json!({"question": "q", "contexts": "x".repeat(BODY_LIMIT + 1)});
    vec![
        prune("not JSON", "question=q"),
        prune("empty body", ""),
        prune("truncated JSON", "{\"question\": \"q\", \"cont"),
        prune(
            "invalid UTF-8",
            b"{\"question\": \"\xff\xfe\", \"contexts\": \"c\"}".to_vec(),
        ),
        prune("5000 nested arrays", nested),
        (
            "body over the limit",
            "POST",
            "/prune",
            huge.to_string().into_bytes(),
            413,
            "Validation",
        ),
        ("unknown route", "GET", "/embed", Vec::new(), 404, "NotFound"),
        ("wrong method", "GET", "/prune", Vec::new(), 405, "NotFound"),
        ("POST to a GET route", "POST", "/health", Vec::new(), 405, "NotFound"),
    ]
}

/// Well-formed JSON with wrong types, values or shapes.
fn value_cases() -> Vec<Case> {
    let nine: Vec<String> = (0..9).map(|i| format!("text {i}")).collect();
    let j = |v: Value| v.to_string();
    vec![
        prune("question is a number", j(json!({"question": 5, "contexts": "c"}))),
        prune("no contexts", j(json!({"question": "q"}))),
        prune("contexts an object", j(json!({"question": "q", "contexts": {"a": 1}}))),
        prune(
            "sentence not a string",
            j(json!({"question": "q", "contexts": ["a", [1]]})),
        ),
        prune(
            "threshold above 1",
            j(json!({"question": "q", "contexts": "c", "threshold": 2})),
        ),
        prune(
            "threshold a string",
            j(json!({"question": "q", "contexts": "c", "threshold": "high"})),
        ),
        prune(
            "unknown language",
            j(json!({"question": "q", "contexts": "c", "language": "fr"})),
        ),
        prune(
            "misspelt option",
            j(json!({"question": "q", "contexts": "c", "treshold": 0.2})),
        ),
        prune(
            "negative top_k",
            j(json!({"question": "q", "contexts": ["c"], "top_k": -1})),
        ),
        prune(
            "misaligned questions",
            j(json!({"question": ["a", "b"], "contexts": ["x"]})),
        ),
        prune("too many texts", j(json!({"question": "q", "contexts": nine}))),
        prune(
            "title list too short",
            j(json!({"question": "q", "contexts": ["a", "b"], "title": [["t"]]})),
        ),
        prune(
            "two kinds of title",
            j(json!({"question": "q", "contexts": "c", "title": "T", "first_line_as_title": true})),
        ),
        prune(
            "title a number",
            j(json!({"question": "q", "contexts": "c", "title": 3})),
        ),
        rerank("rerank without texts", json!({"query": "q", "texts": []}), 400, "Empty"),
        rerank(
            "rerank texts a string",
            json!({"query": "q", "texts": "abc"}),
            422,
            "Validation",
        ),
        rerank(
            "rerank too many texts",
            json!({"query": "q", "texts": nine}),
            422,
            "Validation",
        ),
        rerank("rerank without query", json!({"texts": ["a"]}), 422, "Validation"),
        rerank(
            "rerank raw_scores a string",
            json!({"query": "q", "texts": ["a"], "raw_scores": "yes"}),
            422,
            "Validation",
        ),
    ]
}

fn limits() -> Limits {
    Limits {
        max_body_bytes: BODY_LIMIT,
        max_client_batch_size: 8,
        ..Limits::default()
    }
}

#[test]
fn bad_requests_get_their_status_and_a_json_error_and_the_server_keeps_serving() {
    let server = TestServer::start(config(limits()));
    let agent = agent();
    let good = json!({"question": query(0), "contexts": [passage(1), passage(2)]});
    let cases: Vec<Case> = syntax_cases().into_iter().chain(value_cases()).collect();
    assert!(cases.len() >= 15);
    for (what, method, path, payload, status, error_type) in cases {
        let reply = match method {
            "GET" => get(&agent, &server.url, path),
            _ => post_raw(&agent, &server.url, path, payload.as_slice()),
        };
        assert_eq!(reply.status, status, "{what}: {}", reply.text);
        let json = reply.json();
        assert_eq!(json["error_type"], error_type, "{what}: {json}");
        assert!(json["error"].as_str().is_some_and(|e| !e.is_empty()), "{what}: {json}");
        assert_eq!(json.as_object().unwrap().len(), 2, "{what}: {json}");
        // Still serving, and still right.
        let ok = post(&agent, &server.url, "/prune", &good);
        assert_eq!(ok.status, 200, "after {what}: {}", ok.text);
    }
    assert_eq!(get(&agent, &server.url, "/health").status, 200);
    server.stop().unwrap();
}

#[test]
fn garbage_on_the_socket_does_not_stop_the_server() {
    let server = TestServer::default_limits();
    let addr = server.url.trim_start_matches("http://").to_string();
    let mut stream = std::net::TcpStream::connect(&addr).unwrap();
    stream.write_all(b"\x00\x01GARBAGE / HTTP/9\r\n\r\n").unwrap();
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    assert!(answer.is_empty() || answer.starts_with("HTTP/1.1 4"), "{answer:?}");
    // A client that sends half a request and goes away.
    let mut half = std::net::TcpStream::connect(&addr).unwrap();
    half.write_all(b"POST /prune HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{\"quest")
        .unwrap();
    drop(half);
    let ok = post(
        &agent(),
        &server.url,
        "/prune",
        &json!({"question": "q", "contexts": "c"}),
    );
    assert_eq!(ok.status, 200, "{}", ok.text);
    server.stop().unwrap();
}

#[test]
fn a_full_server_answers_429_with_retry_after() {
    let limits = Limits {
        max_concurrent_requests: 1,
        ..Limits::default()
    };
    let server = TestServer::start(config(limits));
    let big = json!({"question": query(0), "contexts": (0..30).map(passage).collect::<Vec<_>>()});
    let mut overloaded = None;
    // Sixteen simultaneous requests against one slot; a few rounds in case the slot is free
    // every time (it never is in practice).
    for _ in 0..5 {
        let barrier = std::sync::Barrier::new(16);
        let replies: Vec<Reply> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..16)
                .map(|_| {
                    let (barrier, big, url) = (&barrier, &big, &server.url);
                    scope.spawn(move || {
                        let agent = agent();
                        barrier.wait();
                        post(&agent, url, "/prune", big)
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert!(replies.iter().all(|r| r.status == 200 || r.status == 429));
        assert!(replies.iter().any(|r| r.status == 200));
        overloaded = replies.into_iter().find(|r| r.status == 429);
        if overloaded.is_some() {
            break;
        }
    }
    let reply = overloaded.expect("no request was refused with 429");
    assert_eq!(reply.retry_after.as_deref(), Some("1"));
    assert_eq!(reply.json()["error_type"], "Overloaded");
    server.stop().unwrap();
}
