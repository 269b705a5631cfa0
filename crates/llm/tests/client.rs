//! The client against a scripted OpenAI-compatible fake on 127.0.0.1: answers, HTTP failures
//! (retried or not), timeouts, garbage bodies, the cache and concurrency.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests unwrap fixtures and known-good values.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use provence_llm::{LlmClient, LlmConfig, LlmError, Prompt, Request, Sampling};
use serde_json::{Value, json};

/// What the fake does with one request.
#[derive(Clone)]
enum Reply {
    /// Status, extra headers, body.
    Http(u16, Vec<(&'static str, String)>, String),
    /// Waits this long, then closes without answering.
    Hang(Duration),
}

fn ok_chat(text: &str) -> Reply {
    let body = json!({"choices": [{"index": 0, "message": {"role": "assistant", "content": text}}]});
    Reply::Http(200, Vec::new(), body.to_string())
}

/// A request the fake received: its headers (lower-cased names) and JSON body.
#[derive(Debug, Clone)]
struct Seen {
    path: String,
    headers: Vec<(String, String)>,
    body: Value,
}

/// A loopback server answering from a script; once the script is used up it echoes the last
/// user message back as the answer.
struct Fake {
    endpoint: String,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Fake {
    fn start(script: Vec<Reply>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let endpoint = format!("http://{}/v1", listener.local_addr().unwrap());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let script = Arc::new(Mutex::new(VecDeque::from(script)));
        let log = Arc::clone(&seen);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { break };
                let (log, script) = (Arc::clone(&log), Arc::clone(&script));
                std::thread::spawn(move || serve(stream, &log, &script));
            }
        });
        Self { endpoint, seen }
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

fn serve(stream: TcpStream, log: &Mutex<Vec<Seen>>, script: &Mutex<VecDeque<Reply>>) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    let path = line.split_whitespace().nth(1).unwrap_or_default().to_owned();
    let mut headers = Vec::new();
    loop {
        line.clear();
        reader.read_line(&mut line).unwrap();
        let Some((name, value)) = line.trim_end().split_once(':') else {
            break;
        };
        headers.push((name.to_ascii_lowercase(), value.trim().to_owned()));
    }
    let length: usize = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .map_or(0, |(_, v)| v.parse().unwrap());
    let mut raw = vec![0; length];
    reader.read_exact(&mut raw).unwrap();
    let body: Value = serde_json::from_slice(&raw).unwrap();
    let echo = body["messages"][0]["content"].as_str().unwrap_or_default().to_owned();
    log.lock().unwrap().push(Seen { path, headers, body });
    let reply = script.lock().unwrap().pop_front().unwrap_or_else(|| ok_chat(&echo));
    let mut stream = stream;
    match reply {
        Reply::Hang(wait) => std::thread::sleep(wait),
        Reply::Http(status, extra, body) => {
            let mut head = format!(
                "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n",
                body.len()
            );
            for (name, value) in extra {
                head.push_str(&format!("{name}: {value}\r\n"));
            }
            let _ = stream.write_all(format!("{head}\r\n{body}").as_bytes());
        }
    }
}

fn config(fake: &Fake) -> LlmConfig {
    let mut config = LlmConfig::new(&fake.endpoint, "tiny-llm");
    config.api_key = Some("sk-test".to_owned());
    config.timeout = Duration::from_millis(500);
    config.max_retries = 3;
    config.retry_delay = Duration::from_millis(10);
    config.max_retry_delay = Duration::from_millis(40);
    config
}

fn sampling() -> Sampling {
    Sampling {
        temperature: Some(0.1),
        top_p: Some(0.95),
        max_tokens: Some(64),
        stop: vec!["<|endoftext|>".to_owned()],
    }
}

#[test]
fn a_chat_request_carries_model_sampling_and_key_and_returns_the_text() {
    let fake = Fake::start(vec![ok_chat("1, 3")]);
    let client = LlmClient::new(config(&fake)).unwrap();
    let answer = client.ask(&Request::user("q\n---\n[1] a", sampling())).unwrap();
    assert_eq!(
        (answer.text.as_str(), answer.cached, answer.attempts),
        ("1, 3", false, 1)
    );
    let seen = fake.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].path, "/v1/chat/completions");
    assert_eq!(
        seen[0].body,
        json!({"model": "tiny-llm", "messages": [{"role": "user", "content": "q\n---\n[1] a"}],
               "temperature": 0.1, "top_p": 0.95, "max_tokens": 64, "stop": ["<|endoftext|>"]})
    );
    assert!(
        seen[0]
            .headers
            .contains(&("authorization".to_owned(), "Bearer sk-test".to_owned()))
    );
}

#[test]
fn a_text_prompt_goes_to_completions() {
    let body = json!({"choices": [{"index": 0, "text": "2"}]}).to_string();
    let fake = Fake::start(vec![Reply::Http(200, Vec::new(), body)]);
    let client = LlmClient::new(config(&fake)).unwrap();
    let request = Request {
        prompt: Prompt::Text("<|im_start|>user\nq<|im_end|>\n".to_owned()),
        sampling: Sampling::default(),
    };
    assert_eq!(client.ask(&request).unwrap().text, "2");
    let seen = fake.seen();
    assert_eq!(seen[0].path, "/v1/completions");
    assert_eq!(
        seen[0].body,
        json!({"model": "tiny-llm", "prompt": "<|im_start|>user\nq<|im_end|>\n"})
    );
}

#[test]
fn overload_and_server_errors_are_retried_until_an_answer_comes() {
    let fake = Fake::start(vec![
        Reply::Http(
            429,
            vec![("Retry-After", "0".to_owned())],
            "{\"error\":\"slow down\"}".to_owned(),
        ),
        Reply::Http(503, Vec::new(), "unavailable".to_owned()),
        Reply::Hang(Duration::from_millis(800)),
        ok_chat("7"),
    ]);
    let client = LlmClient::new(config(&fake)).unwrap();
    let answer = client.ask(&Request::user("q", Sampling::default())).unwrap();
    assert_eq!((answer.text.as_str(), answer.attempts), ("7", 4));
    assert_eq!(fake.seen().len(), 4);
}

#[test]
fn retries_run_out_with_the_last_failure_named() {
    let fake = Fake::start(vec![Reply::Http(500, Vec::new(), "boom".to_owned()); 4]);
    let client = LlmClient::new(config(&fake)).unwrap();
    let error = client.ask(&Request::user("q", Sampling::default())).unwrap_err();
    assert!(
        matches!(&error, LlmError::Status { status: 500, attempts: 4, body, .. } if body == "boom"),
        "{error:?}"
    );
    assert!(
        error
            .to_string()
            .contains("/v1/chat/completions: HTTP 500 after 4 attempt(s)"),
        "{error}"
    );
}

#[test]
fn a_server_that_never_answers_times_out() {
    let fake = Fake::start(vec![Reply::Hang(Duration::from_millis(900)); 2]);
    let mut config = config(&fake);
    config.timeout = Duration::from_millis(200);
    config.max_retries = 1;
    let client = LlmClient::new(config).unwrap();
    let error = client.ask(&Request::user("q", Sampling::default())).unwrap_err();
    assert!(matches!(error, LlmError::Timeout { attempts: 2, .. }), "{error:?}");
}

#[test]
fn client_errors_and_garbage_are_not_retried() {
    let fake = Fake::start(vec![
        Reply::Http(400, Vec::new(), "{\"error\":\"bad model\"}".to_owned()),
        Reply::Http(200, Vec::new(), "<html>not json</html>".to_owned()),
        Reply::Http(
            200,
            Vec::new(),
            "{\"choices\": [{\"message\": {\"content\": null}}]}".to_owned(),
        ),
    ]);
    let client = LlmClient::new(config(&fake)).unwrap();
    let request = Request::user("q", Sampling::default());
    let error = client.ask(&request).unwrap_err();
    assert!(
        matches!(
            error,
            LlmError::Status {
                status: 400,
                attempts: 1,
                ..
            }
        ),
        "{error:?}"
    );
    let error = client.ask(&request).unwrap_err();
    assert!(
        matches!(&error, LlmError::BadResponse { message, .. } if message.contains("not JSON")),
        "{error:?}"
    );
    let error = client.ask(&request).unwrap_err();
    assert!(
        matches!(&error, LlmError::BadResponse { message, .. } if message.contains("no generated text")),
        "{error:?}"
    );
    assert_eq!(fake.seen().len(), 3);
}

#[test]
fn an_unreachable_endpoint_is_a_transport_error_after_the_retries() {
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut config = LlmConfig::new(format!("http://127.0.0.1:{port}/v1"), "m");
    config.max_retries = 2;
    config.retry_delay = Duration::from_millis(1);
    let error = LlmClient::new(config)
        .unwrap()
        .ask(&Request::user("q", Sampling::default()))
        .unwrap_err();
    assert!(matches!(error, LlmError::Transport { attempts: 3, .. }), "{error:?}");
}

#[test]
fn cached_answers_are_not_asked_again() {
    let fake = Fake::start(Vec::new());
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(&fake);
    config.cache_dir = Some(dir.path().to_owned());
    let client = LlmClient::new(config.clone()).unwrap();
    let request = Request::user("remember me", sampling());
    assert!(!client.ask(&request).unwrap().cached);
    let again = LlmClient::new(config.clone()).unwrap().ask(&request).unwrap();
    assert_eq!(
        (again.text.as_str(), again.cached, again.attempts),
        ("remember me", true, 0)
    );
    config.model = "another-model".to_owned();
    assert!(
        !LlmClient::new(config).unwrap().ask(&request).unwrap().cached,
        "the model is part of the key"
    );
    assert_eq!(fake.seen().len(), 2);
}

#[test]
fn ask_all_keeps_input_order() {
    let fake = Fake::start(Vec::new());
    let mut config = config(&fake);
    config.concurrency = 3;
    let client = LlmClient::new(config).unwrap();
    let requests: Vec<_> = (0..10)
        .map(|i| Request::user(format!("q{i}"), Sampling::default()))
        .collect();
    let texts: Vec<String> = client.ask_all(&requests).into_iter().map(|a| a.unwrap().text).collect();
    assert_eq!(texts, (0..10).map(|i| format!("q{i}")).collect::<Vec<_>>());
}

#[test]
fn bad_settings_are_refused() {
    let error = LlmClient::new(LlmConfig::new("localhost:8000", "m")).unwrap_err();
    assert!(error.to_string().contains("invalid endpoint"), "{error}");
    let mut config = LlmConfig::new("http://127.0.0.1:1/v1", "m");
    config.concurrency = 0;
    assert!(
        LlmClient::new(config)
            .unwrap_err()
            .to_string()
            .contains("invalid concurrency")
    );
}
