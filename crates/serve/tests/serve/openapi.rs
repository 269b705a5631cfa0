//! The OpenAPI document against the server: every documented route answers its documented
//! methods (and only those), every sample request validates against its documented request
//! schema and is accepted, and every answer (successes and errors) has a documented status and
//! validates against its documented schema.

use crate::common::schema::validate;
use crate::common::*;
use provence_serve::Limits;
use serde_json::{Value, json};

const METHODS: [&str; 4] = ["GET", "POST", "PUT", "DELETE"];

/// Sample bodies per `(method, path)`, each with the status it must get.
fn samples(method: &str, path: &str) -> Vec<(Value, u16)> {
    let texts: Vec<String> = (0..4).map(passage).collect();
    match (method, path) {
        ("post", "/rerank" | "/" | "/invocations") => vec![
            (json!({"query": query(0), "texts": texts}), 200),
            (
                json!({"query": query(1), "texts": texts, "return_text": true, "raw_scores": true,
                       "truncate": true, "truncation_direction": "Left", "return_pruned": true,
                       "threshold": 0.3, "language": "en"}),
                200,
            ),
            (json!({"query": query(1), "texts": []}), 400),
            (
                json!({"query": query(1), "texts": (0..9).map(passage).collect::<Vec<_>>()}),
                422,
            ),
            (
                json!({"query": query(1), "texts": texts, "truncation_direction": "Up"}),
                422,
            ),
            (json!({"query": query(1), "texts": ["x".repeat(70_000)]}), 413),
        ],
        ("post", "/prune") => vec![
            (json!({"question": query(0), "contexts": passage(3)}), 200),
            (
                json!({"question": query(0), "contexts": [passage(1), ["One.", "Two."]],
                       "return_sentence_metrics": true, "return_sentence_texts": true, "title": "T"}),
                200,
            ),
            (
                json!({"question": [query(0), query(2)], "contexts": [passage(1), passage(2)], "title": null}),
                200,
            ),
            (
                json!({"question": [query(0), query(2)], "contexts": [[passage(1)], [passage(2), passage(5)]],
                       "reorder": true, "top_k": 1, "title": [["a"], ["b", "c"]], "first_line_as_title": false}),
                200,
            ),
            (json!({"question": query(0), "contexts": "c", "treshold": 0.2}), 422),
        ],
        _ => vec![(Value::Null, 200)],
    }
}

/// The documented response of `operation` for `status`: `(content type, schema)`.
fn documented(operation: &Value, status: u16, at: &str) -> Option<(String, Value)> {
    let response = operation["responses"]
        .get(status.to_string())
        .unwrap_or_else(|| panic!("{at}: status {status} is not documented"));
    let content = response.get("content")?.as_object()?;
    let (kind, media) = content.iter().next()?;
    Some((kind.clone(), media["schema"].clone()))
}

fn check_operation(agent: &ureq::Agent, url: &str, doc: &Value, path: &str, method: &str, operation: &Value) {
    let request_schema = operation.pointer("/requestBody/content/application~1json/schema");
    for (body, want) in samples(method, path) {
        let at = format!("{method} {path} {body}");
        if want == 200
            && let Some(schema) = request_schema
        {
            validate(doc, schema, &body).unwrap_or_else(|e| panic!("{at}: request: {e}"));
        }
        let reply = match method {
            "post" => post(agent, url, path, &body),
            _ => get(agent, url, path),
        };
        assert_eq!(reply.status, want, "{at}: {}", reply.text);
        let Some((kind, schema)) = documented(operation, reply.status, &at) else {
            continue;
        };
        assert!(
            reply.content_type.as_deref().is_some_and(|c| c.starts_with(&kind)),
            "{at}: content type {:?}, documented {kind}",
            reply.content_type
        );
        if kind == "application/json" {
            validate(doc, &schema, &reply.json()).unwrap_or_else(|e| panic!("{at}: response: {e}"));
        }
    }
}

#[test]
fn every_documented_route_answers_as_documented() {
    let limits = Limits {
        max_client_batch_size: 8,
        max_body_bytes: 64 * 1024,
        ..Limits::default()
    };
    let server = TestServer::start(config(limits));
    let agent = agent();
    let doc = get(&agent, &server.url, "/api-doc/openapi.json").json();
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3.1"),
        "{}",
        doc["openapi"]
    );
    let paths = doc["paths"].as_object().unwrap();
    let mut seen: Vec<String> = Vec::new();
    for (path, item) in paths {
        for method in METHODS {
            let at = format!("{method} {path}");
            match item.get(method.to_lowercase()) {
                Some(operation) => {
                    check_operation(&agent, &server.url, &doc, path, &method.to_lowercase(), operation);
                    seen.push(at);
                }
                None => {
                    let reply = send(&agent, method, &server.url, path, &[], None);
                    assert_eq!(reply.status, 405, "{at} is not documented: {}", reply.text);
                }
            }
        }
    }
    seen.sort();
    assert_eq!(
        seen,
        [
            "GET /",
            "GET /health",
            "GET /info",
            "GET /metrics",
            "GET /ping",
            "POST /",
            "POST /invocations",
            "POST /prune",
            "POST /rerank"
        ]
    );
    // Every component schema is used by an operation or another schema.
    let text = doc.to_string();
    for name in doc["components"]["schemas"].as_object().unwrap().keys() {
        let reference = format!("\"#/components/schemas/{name}\"");
        assert!(text.contains(&reference), "schema {name} is never used");
    }
    server.stop().unwrap();
}

#[test]
fn the_docs_page_is_self_contained() {
    let server = TestServer::default_limits();
    let page = get(&agent(), &server.url, "/docs");
    assert_eq!(page.status, 200);
    assert!(page.content_type.as_deref().unwrap().starts_with("text/html"));
    assert!(page.text.contains("api-doc/openapi.json"));
    // Nothing is fetched from elsewhere: no absolute URL in a src or href, no import.
    for needle in [
        "src=\"http",
        "href=\"http",
        "src=\"//",
        "href=\"//",
        "@import",
        "import(",
    ] {
        assert!(!page.text.contains(needle), "{needle}");
    }
    server.stop().unwrap();
}
