//! HTTP request bodies of `/rerank` (first byte even) and `/prune` (odd), through the service's
//! router in process on the tiny model: any body gets an answer, and a bad one a 4xx with a
//! JSON error, never a 5xx.
#![no_main]

use axum::Router;
use axum::body::Body;
use axum::http::{Request, header};
use libfuzzer_sys::fuzz_target;
use provence_fuzz::{MAX_MODEL_INPUT, setup, tiny_pruner};
use provence_serve::{ServeConfig, Server};
use tower::ServiceExt;

/// The largest response body read back.
const MAX_RESPONSE: usize = 1 << 24;

thread_local! {
    /// The runtime, and the bound server (whose model worker answers) with its router.
    static SERVICE: (tokio::runtime::Runtime, Server, Router) = {
        let runtime = setup(tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build(), "runtime");
        let config = ServeConfig { hostname: "127.0.0.1".into(), port: 0, ..ServeConfig::new("fuzz/tiny") };
        let server = setup(runtime.block_on(Server::bind(tiny_pruner(), &config)), "server");
        let router = server.router();
        (runtime, server, router)
    };
}

fuzz_target!(|data: &[u8]| {
    let Some((&route, body)) = data.split_first() else {
        return;
    };
    if body.len() > MAX_MODEL_INPUT {
        return;
    }
    let path = if route % 2 == 0 { "/rerank" } else { "/prune" };
    SERVICE.with(|(runtime, _, router)| {
        let request = Request::post(path)
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body.to_vec()));
        let request = setup(request, "request");
        let response = setup(runtime.block_on(router.clone().oneshot(request)), "router");
        let status = response.status();
        let bytes = setup(
            runtime.block_on(axum::body::to_bytes(response.into_body(), MAX_RESPONSE)),
            "response body",
        );
        assert!(
            !status.is_server_error(),
            "{path}: {status} for a client's body: {}",
            String::from_utf8_lossy(&bytes)
        );
        if status.is_client_error() {
            assert!(
                serde_json::from_slice::<serde_json::Value>(&bytes).is_ok(),
                "{path}: {status} without a JSON error body"
            );
        }
    });
});
