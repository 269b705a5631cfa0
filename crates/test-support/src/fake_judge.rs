//! The fake MLDR judge on 127.0.0.1 that `scripts/fixtures/mldr_fixtures.py` ran upstream's
//! eval_mldr.py against (`FakeJudge.respond`), with the same behaviours per query
//! (`tests/fixtures/mldr/manifest.json`, `fake_judge`): answers, refusals, 429/500 (always or
//! once per prompt), an 8 s stall once per prompt, prose, alias keys, fenced JSON, an invalid
//! payload. Every request is logged with its query id and the status given.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};

use crate::fixture;
use crate::json::load;

/// One request the judge received.
#[derive(Debug, Clone, PartialEq)]
pub struct JudgeRequest {
    /// The query it was about.
    pub query_id: String,
    /// The request body.
    pub body: Value,
    /// The HTTP status answered.
    pub status: u16,
    /// Whether a judgment was answered (a 200 whose content eval_mldr.py parses).
    pub answered: bool,
}

/// Per query: `(query_id, behaviour, answer_key)`, by question text.
type Specs = HashMap<String, (String, String, String)>;

struct State {
    specs: Specs,
    attempts: Mutex<HashMap<String, u32>>,
    log: Mutex<Vec<JudgeRequest>>,
    stall: Duration,
}

/// A running fake judge.
pub struct FakeJudge {
    /// `http://127.0.0.1:PORT/v1`.
    pub endpoint: String,
    state: Arc<State>,
}

impl FakeJudge {
    /// Starts the judge with the fixture's behaviours; a stalled request waits `stall`.
    pub fn start(stall: Duration) -> Self {
        let manifest = load(&fixture("mldr/manifest.json"));
        let judge = &manifest["fake_judge"];
        let mut specs = Specs::new();
        for lang in ["en", "ja"] {
            let path = fixture(&format!("mldr/input/mldr-v1.0-{lang}/test.jsonl"));
            for line in crate::json::read(&path).lines().filter(|l| !l.trim().is_empty()) {
                let row: Value = serde_json::from_str(line).unwrap();
                let id = row["query_id"].as_str().unwrap().to_owned();
                let behaviour = judge["query_behaviours"][&id].as_str().unwrap().to_owned();
                let key = judge["answer_keys"][&id].as_str().unwrap().to_owned();
                specs.insert(row["query"].as_str().unwrap().trim().to_owned(), (id, behaviour, key));
            }
        }
        let state = Arc::new(State {
            specs,
            attempts: Mutex::new(HashMap::new()),
            log: Mutex::new(Vec::new()),
            stall,
        });
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let endpoint = format!("http://{}/v1", listener.local_addr().unwrap());
        let shared = Arc::clone(&state);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let state = Arc::clone(&shared);
                std::thread::spawn(move || serve(stream, &state));
            }
        });
        Self { endpoint, state }
    }

    /// Every request so far, in arrival order.
    pub fn requests(&self) -> Vec<JudgeRequest> {
        self.state.log.lock().unwrap().clone()
    }

    /// Forgets the requests and the once-per-prompt failures (a fresh judge for the next run).
    pub fn reset(&self) {
        self.state.log.lock().unwrap().clear();
        self.state.attempts.lock().unwrap().clear();
    }
}

fn between<'a>(text: &'a str, open: &str, close: &str) -> &'a str {
    let start = text.find(open).unwrap() + open.len();
    let end = if close == "</text>" {
        text.rfind(close).unwrap()
    } else {
        start + text[start..].find(close).unwrap()
    };
    &text[start..end]
}

/// The fixture generator's `respond`: `(status, payload, stalled)`.
fn respond(state: &State, body: &Value, raw: &[u8]) -> (u16, Value, bool) {
    let user = body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["role"] == "user")
        .unwrap()["content"]
        .as_str()
        .unwrap();
    let (question, text) = (
        between(user, "<question>", "</question>"),
        between(user, "<text>", "</text>"),
    );
    let (query_id, behaviour, key) = state.specs[question].clone();
    let attempt = {
        let mut attempts = state.attempts.lock().unwrap();
        let n = attempts.entry(String::from_utf8_lossy(raw).into_owned()).or_insert(0);
        *n += 1;
        *n
    };
    let has = i64::from(text.contains(&key));
    let (score, reasoning) = if has == 1 {
        ("0.9", "The answer is stated.")
    } else {
        ("0.1", "The answer is not in the text.")
    };
    // Python's json.dumps text (", " and ": ", insertion order): the error messages quote it.
    let dumps = |has: i64| format!(r#"{{"has_answer": {has}, "answer_score": {score}, "reasoning": "{reasoning}"}}"#);
    let (mut status, mut content, mut refusal, mut stall) = (200u16, Some(dumps(has)), None, false);
    match behaviour.as_str() {
        "refuse" => (content, refusal) = (None, Some("I'm sorry, but I can't help with that.")),
        "rate_limit_once" if attempt == 1 => status = 429,
        "server_error" => status = 500,
        "server_error_once" if attempt == 1 => status = 500,
        "timeout_once" if attempt == 1 => stall = true,
        "unparseable" => {
            content = Some(
                if has == 1 {
                    "Yes, the passage answers the question."
                } else {
                    "No, it does not."
                }
                .into(),
            );
        }
        "alias_keys" => content = Some(format!(r#"{{"contains_answer": {has}, "reason": "{reasoning}"}}"#)),
        "fenced_json" => content = Some(format!("```json\n{}\n```", dumps(has))),
        "invalid_payload" => content = Some(dumps(2)),
        _ => {}
    }
    let payload = match status {
        429 => {
            json!({"error": {"message": "Rate limit reached for requests", "type": "requests", "code": "rate_limit_exceeded"}})
        }
        500 => {
            json!({"error": {"message": "The server had an error while processing your request.", "type": "server_error"}})
        }
        _ => json!({"id": format!("chatcmpl-fixture-{attempt}"), "object": "chat.completion", "model": body["model"],
            "choices": [{"index": 0, "finish_reason": "stop",
                "message": {"role": "assistant", "content": content, "refusal": refusal}}]}),
    };
    state.log.lock().unwrap().push(JudgeRequest {
        query_id,
        body: body.clone(),
        status,
        answered: status == 200
            && !stall
            && matches!(
                behaviour.as_str(),
                "judge" | "rate_limit_once" | "server_error_once" | "timeout_once" | "alias_keys"
            ),
    });
    (status, payload, stall)
}

fn serve(stream: TcpStream, state: &State) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let (mut line, mut length) = (String::new(), 0usize);
    while reader.read_line(&mut line).unwrap_or(0) > 2 {
        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
            length = v.trim().parse().unwrap();
        }
        line.clear();
    }
    let mut raw = vec![0; length];
    if reader.read_exact(&mut raw).is_err() {
        return;
    }
    let body: Value = serde_json::from_slice(&raw).unwrap();
    let (status, payload, stall) = respond(state, &body, &raw);
    if stall {
        std::thread::sleep(state.stall);
    }
    let reply = payload.to_string();
    let mut stream = stream;
    let _ = write!(
        stream,
        "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{reply}",
        reply.len()
    );
}
