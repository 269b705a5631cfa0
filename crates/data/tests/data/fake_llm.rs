//! An OpenAI-compatible fake on 127.0.0.1 for the label stage: answers each prompt from a table
//! (or `"1"`), after failing the first requests as scripted, and records every request body.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

/// A running fake.
pub struct FakeLlm {
    /// `http://127.0.0.1:PORT/v1`.
    pub endpoint: String,
    requests: Arc<Mutex<Vec<Value>>>,
}

/// What the fake does with the n-th request before it starts answering.
#[derive(Clone, Copy)]
pub enum Failure {
    /// HTTP 503.
    Unavailable,
    /// HTTP 200 with a body that is not JSON.
    Garbage,
}

impl FakeLlm {
    /// Answers `answers[prompt]` (the `/completions` prompt or the chat's last message), `"1"`
    /// for others, after `failures`.
    pub fn start(answers: HashMap<String, String>, failures: Vec<Failure>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let endpoint = format!("http://{}/v1", listener.local_addr().unwrap());
        let requests = Arc::new(Mutex::new(Vec::new()));
        let state = (Arc::clone(&requests), Arc::new(answers), Arc::new(Mutex::new(failures)));
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (log, answers, failures) = (Arc::clone(&state.0), Arc::clone(&state.1), Arc::clone(&state.2));
                std::thread::spawn(move || answer(stream, &log, &answers, &failures));
            }
        });
        Self { endpoint, requests }
    }

    /// The request bodies received so far.
    pub fn requests(&self) -> Vec<Value> {
        self.requests.lock().unwrap().clone()
    }
}

fn answer(
    stream: TcpStream,
    log: &Mutex<Vec<Value>>,
    answers: &HashMap<String, String>,
    failures: &Mutex<Vec<Failure>>,
) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let (mut line, mut length) = (String::new(), 0usize);
    while reader.read_line(&mut line).unwrap() > 2 {
        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
            length = v.trim().parse().unwrap();
        }
        line.clear();
    }
    let mut raw = vec![0; length];
    reader.read_exact(&mut raw).unwrap();
    let body: Value = serde_json::from_slice(&raw).unwrap();
    log.lock().unwrap().push(body.clone());
    let failure = {
        let mut failures = failures.lock().unwrap();
        (!failures.is_empty()).then(|| failures.remove(0))
    };
    let (status, reply) = match failure {
        Some(Failure::Unavailable) => (503, "overloaded".to_owned()),
        Some(Failure::Garbage) => (200, "<html>".to_owned()),
        None => {
            let key = body["prompt"]
                .as_str()
                .or_else(|| body["messages"][0]["content"].as_str())
                .unwrap();
            let text = answers.get(key).map_or("1", String::as_str);
            let choice = if body.get("prompt").is_some() {
                json!({"index": 0, "text": text})
            } else {
                json!({"index": 0, "message": {"role": "assistant", "content": text}})
            };
            (200, json!({"choices": [choice]}).to_string())
        }
    };
    let mut stream = stream;
    let _ = write!(
        stream,
        "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{reply}",
        reply.len()
    );
}
