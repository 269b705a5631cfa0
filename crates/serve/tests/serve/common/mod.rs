//! Shared helpers: a tiny random model with the demo tokenizer, a server on an ephemeral port on
//! its own runtime, a small HTTP client, JSON comparison and a JSON-schema check.
#![allow(dead_code)]

pub mod schema;

use burn::backend::Flex;
use burn::prelude::*;
use provence_infer::Pruner;
use provence_model::{ModernBertConfig, OpenProvenceConfig, OpenProvenceModel};
use provence_serve::{Limits, Scorer, ServeConfig, ServeError, Server};
use serde_json::{Value, json};
use std::path::Path;
use std::sync::OnceLock;
use std::thread::JoinHandle;
use std::time::Duration;

/// The CPU test backend.
pub type B = Flex;

/// The demo model directory (tokenizer files).
pub const DEMO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/demo/model");

/// Blocks of the tiny model are at most this many tokens, so long passages span several.
pub const MAX_LENGTH: usize = 64;

/// The tiny random model, saved once per test binary (seeded under a lock: all tests of a
/// binary share the backend's RNG).
pub fn model_dir() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| {
        static RNG: std::sync::Mutex<()> = std::sync::Mutex::new(());
        let turn = RNG.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        B::seed(&Default::default(), 7);
        let backbone = ModernBertConfig::from_json(json!({
            "vocab_size": 2000, "hidden_size": 32, "intermediate_size": 48, "num_hidden_layers": 2,
            "num_attention_heads": 2, "num_labels": 1, "pad_token_id": 3, "cls_token_id": 1, "sep_token_id": 2,
        }))
        .unwrap();
        let mut config = OpenProvenceConfig::new(backbone, 0.0);
        config.set_max_length(MAX_LENGTH).unwrap();
        let model = OpenProvenceModel::<B>::from_scratch(config, &Default::default()).unwrap();
        drop(turn);
        let dir = tempfile::tempdir().unwrap();
        model.save_final_model(dir.path(), "test/tiny").unwrap();
        for f in ["tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"] {
            std::fs::copy(Path::new(DEMO).join(f), dir.path().join(f)).unwrap();
        }
        dir
    })
    .path()
}

/// A pruner over the tiny model (the reference the server's answers are compared with).
pub fn pruner() -> Pruner<B> {
    Pruner::load(model_dir(), Default::default()).unwrap()
}

/// A running server on 127.0.0.1 and an ephemeral port, on its own runtime thread.
pub struct TestServer {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// `http://127.0.0.1:PORT` of the metrics-only listener, when configured.
    pub metrics_url: Option<String>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<Result<(), ServeError>>>,
}

/// A config with `limits` on an ephemeral port.
pub fn config(limits: Limits) -> ServeConfig {
    ServeConfig {
        port: 0,
        limits,
        ..ServeConfig::new("test/tiny")
    }
}

impl TestServer {
    /// Serves the tiny model with `config`.
    pub fn start(config: ServeConfig) -> Self {
        Self::start_with(pruner(), config)
    }

    /// Serves `scorer` with `config`.
    pub fn start_with<S: Scorer>(scorer: S, config: ServeConfig) -> Self {
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()?;
            runtime.block_on(async move {
                let server = Server::bind(scorer, &config).await?;
                let _ = addr_tx.send((server.local_addr()?, server.metrics_addr()?));
                server
                    .run(async {
                        let _ = stopped.await;
                    })
                    .await
            })
        });
        let (addr, metrics) = addr_rx.recv_timeout(Duration::from_secs(60)).expect("server address");
        Self {
            url: format!("http://{addr}"),
            metrics_url: metrics.map(|m| format!("http://{m}")),
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// Serves the tiny model with the default limits.
    pub fn default_limits() -> Self {
        Self::start(config(Limits::default()))
    }

    /// Triggers the graceful shutdown and waits for the server to return.
    pub fn stop(mut self) -> Result<(), ServeError> {
        self.shutdown()
    }

    fn shutdown(&mut self) -> Result<(), ServeError> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match self.thread.take() {
            Some(thread) => thread.join().expect("server thread"),
            None => Ok(()),
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        let _ = self.shutdown();
    }
}

/// A blocking client that reports every status instead of erroring on 4xx/5xx.
pub fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(120)))
        .build()
        .into()
}

/// A response: status, `Retry-After`, body text.
pub struct Reply {
    pub status: u16,
    pub retry_after: Option<String>,
    pub content_type: Option<String>,
    pub headers: ureq::http::HeaderMap,
    pub text: String,
}

impl Reply {
    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The body as JSON.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.text))
    }
}

fn reply(mut response: ureq::http::Response<ureq::Body>) -> Reply {
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let (retry_after, content_type) = (header("retry-after"), header("content-type"));
    let headers = response.headers().clone();
    let text = response.body_mut().read_to_string().unwrap();
    Reply {
        status: response.status().as_u16(),
        retry_after,
        content_type,
        headers,
        text,
    }
}

/// Any request: `method url/path` with `headers` and an optional body.
pub fn send(
    agent: &ureq::Agent,
    method: &str,
    url: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> Reply {
    let mut request = ureq::http::Request::builder()
        .method(method)
        .uri(format!("{url}{path}"));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = match body {
        Some(body) => agent.run(request.body(body.to_string()).unwrap()),
        None => agent.run(request.body(()).unwrap()),
    };
    reply(response.unwrap())
}

/// `POST url/path` with a raw body.
pub fn post_raw(agent: &ureq::Agent, url: &str, path: &str, body: impl ureq::AsSendBody) -> Reply {
    reply(
        agent
            .post(&format!("{url}{path}"))
            .header("content-type", "application/json")
            .send(body)
            .unwrap(),
    )
}

/// `POST url/path` with a JSON body.
pub fn post(agent: &ureq::Agent, url: &str, path: &str, body: &Value) -> Reply {
    post_raw(agent, url, path, body.to_string().as_str())
}

/// `GET url/path`.
pub fn get(agent: &ureq::Agent, url: &str, path: &str) -> Reply {
    reply(agent.get(&format!("{url}{path}")).call().unwrap())
}

/// `value` without its `timing` (which differs run to run).
pub fn without_timing(mut value: Value) -> Value {
    if let Some(object) = value.as_object_mut() {
        object.remove("timing");
    }
    value
}

/// Equal JSON, numbers within `tol` (absolute; the results of a request may come from forward
/// passes shared with other requests, whose matmuls may sum in another order).
pub fn assert_close(got: &Value, want: &Value, tol: f64, at: &str) {
    match (got, want) {
        (Value::Number(a), Value::Number(b)) => {
            let (a, b) = (a.as_f64().unwrap(), b.as_f64().unwrap());
            assert!((a - b).abs() <= tol, "{at}: {a} vs {b}");
        }
        (Value::Array(a), Value::Array(b)) => {
            assert_eq!(a.len(), b.len(), "{at}: lengths");
            for (i, (x, y)) in a.iter().zip(b).enumerate() {
                assert_close(x, y, tol, &format!("{at}[{i}]"));
            }
        }
        (Value::Object(a), Value::Object(b)) => {
            let keys = |o: &serde_json::Map<String, Value>| o.keys().cloned().collect::<Vec<_>>();
            assert_eq!(keys(a), keys(b), "{at}: keys");
            for (k, x) in a {
                assert_close(x, &b[k], tol, &format!("{at}.{k}"));
            }
        }
        _ => assert_eq!(got, want, "{at}"),
    }
}

/// Texts of mixed sizes: a few words up to several blocks of the tiny model.
pub fn passage(seed: usize) -> String {
    const SENTENCES: [&str; 8] = [
        "The Rust compiler checks ownership at compile time. ",
        "Tokyo is the capital of Japan and its largest city. ",
        "Photosynthesis turns light into chemical energy in plants. ",
        "A reranker orders passages by relevance to a query. ",
        "Rain fell all afternoon over the quiet harbour town. ",
        "Context pruning removes sentences an answer does not need. ",
        "The museum opens at nine and closes at five on weekdays. ",
        "Transformers attend to every token of their input window. ",
    ];
    let n = 1 + (seed * 7) % 12;
    (0..n).map(|i| SENTENCES[(seed + i * 3) % SENTENCES.len()]).collect()
}

/// A query.
pub fn query(seed: usize) -> String {
    [
        "What does pruning do?",
        "capital of Japan",
        "How do plants make energy?",
        "Rust ownership",
    ][seed % 4]
        .to_string()
}
