//! Who may call the server: the API key (TEI's 401 with an empty body; probes, metrics and
//! documentation stay open), CORS origins, and metrics on a port of their own.

use crate::common::*;
use provence_serve::{Limits, ServeConfig};
use serde_json::json;

const KEY: &str = "s3cret-key";

#[test]
fn without_the_key_guarded_routes_answer_401() {
    let server = TestServer::start(ServeConfig {
        api_key: Some(KEY.into()),
        ..config(Limits::default())
    });
    let agent = agent();
    let rerank = json!({"query": "q", "texts": ["a", "b"]}).to_string();
    let prune = json!({"question": "q", "contexts": "a. b."}).to_string();
    let guarded = [
        ("POST", "/rerank", Some(rerank.as_str())),
        ("POST", "/", Some(rerank.as_str())),
        ("POST", "/invocations", Some(rerank.as_str())),
        ("POST", "/prune", Some(prune.as_str())),
        ("GET", "/info", None),
    ];
    let good = format!("Bearer {KEY}");
    for (method, path, body) in guarded {
        for headers in [
            vec![],
            vec![("Authorization", "Bearer wrong")],
            vec![("Authorization", KEY)],
        ] {
            let reply = send(&agent, method, &server.url, path, &headers, body);
            assert_eq!(reply.status, 401, "{method} {path} {headers:?}: {}", reply.text);
            assert_eq!(reply.text, "", "TEI's 401 has an empty body");
            assert_eq!(reply.header("www-authenticate"), Some("Bearer"));
        }
        let reply = send(&agent, method, &server.url, path, &[("Authorization", &good)], body);
        assert_eq!(reply.status, 200, "{method} {path}: {}", reply.text);
    }
    for path in ["/health", "/ping", "/", "/metrics", "/docs", "/api-doc/openapi.json"] {
        assert_eq!(get(&agent, &server.url, path).status, 200, "{path} stays open");
    }
    let info = send(&agent, "GET", &server.url, "/info", &[("Authorization", &good)], None).json();
    assert_eq!(info["auth_required"], true);
    server.stop().unwrap();
}

#[test]
fn cors_answers_only_the_allowed_origins() {
    let allowed = "http://app.example.test";
    let server = TestServer::start(ServeConfig {
        cors_allow_origin: vec![allowed.into()],
        api_key: Some(KEY.into()),
        ..config(Limits::default())
    });
    let agent = agent();
    let preflight = |origin: &str| {
        let headers = [
            ("Origin", origin),
            ("Access-Control-Request-Method", "POST"),
            ("Access-Control-Request-Headers", "authorization,content-type"),
        ];
        send(&agent, "OPTIONS", &server.url, "/rerank", &headers, None)
    };
    // A preflight carries no key and is answered before the key check.
    let ok = preflight(allowed);
    assert_eq!(ok.status, 200, "{}", ok.text);
    assert_eq!(ok.header("access-control-allow-origin"), Some(allowed));
    let methods = ok.header("access-control-allow-methods").unwrap().to_lowercase();
    assert!(methods.contains("post") && methods.contains("get"), "{methods}");
    let headers = ok.header("access-control-allow-headers").unwrap().to_lowercase();
    assert!(
        headers.contains("authorization") && headers.contains("content-type"),
        "{headers}"
    );
    assert_eq!(
        preflight("http://evil.example.test").header("access-control-allow-origin"),
        None
    );
    let health = send(&agent, "GET", &server.url, "/health", &[("Origin", allowed)], None);
    assert_eq!(health.header("access-control-allow-origin"), Some(allowed));
    server.stop().unwrap();

    // Without origins, no CORS header at all.
    let plain = TestServer::default_limits();
    let reply = send(&agent, "GET", &plain.url, "/health", &[("Origin", allowed)], None);
    assert_eq!(reply.header("access-control-allow-origin"), None);
    plain.stop().unwrap();
}

#[test]
fn metrics_also_on_the_prometheus_port() {
    let server = TestServer::start(ServeConfig {
        prometheus_port: Some(0),
        api_key: Some(KEY.into()),
        ..config(Limits::default())
    });
    let agent = agent();
    let good = format!("Bearer {KEY}");
    let body = json!({"query": "q", "texts": ["a", "b"]}).to_string();
    let reply = send(
        &agent,
        "POST",
        &server.url,
        "/rerank",
        &[("Authorization", &good)],
        Some(&body),
    );
    assert_eq!(reply.status, 200);
    let metrics_url = server.metrics_url.clone().expect("metrics listener");
    assert_ne!(metrics_url, server.url);
    let metrics = get(&agent, &metrics_url, "/metrics");
    assert_eq!(metrics.status, 200);
    assert!(
        metrics.text.contains("te_request_success{method=\"batch\"} 1"),
        "{}",
        metrics.text
    );
    // Only metrics there.
    assert_ne!(
        send(
            &agent,
            "POST",
            &metrics_url,
            "/rerank",
            &[("Authorization", &good)],
            Some(&body)
        )
        .status,
        200
    );
    server.stop().unwrap();
    assert!(
        std::net::TcpStream::connect(metrics_url.trim_start_matches("http://")).is_err(),
        "metrics port closed"
    );
}

#[test]
fn an_empty_key_or_a_bad_origin_is_refused_at_start() {
    for config in [
        ServeConfig {
            api_key: Some(String::new()),
            ..config(Limits::default())
        },
        ServeConfig {
            cors_allow_origin: vec!["http://a\nb".into()],
            ..config(Limits::default())
        },
    ] {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let result = runtime.block_on(provence_serve::Server::bind(pruner(), &config));
        let err = result.err().expect("refused");
        assert!(err.to_string().starts_with("invalid configuration"), "{err}");
    }
}
