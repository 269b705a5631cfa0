//! The HTTP client: one JSON request to an OpenAI-compatible route, answered from the cache or
//! sent with retries (see the crate docs).

use std::path::PathBuf;
use std::time::Duration;

use serde_json::{Value, json};

use crate::cache::ResponseCache;
use crate::error::LlmError;
use crate::pool::map_concurrent;
use crate::template::ChatMessage;

/// The environment variable holding the API key (sent as `Authorization: Bearer …`).
pub const API_KEY_VAR: &str = "OPENAI_API_KEY";

/// The longest `Retry-After` honoured; longer waits fall back to the backoff.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);

/// How much of an error answer's body an error message quotes.
const ERROR_BODY_CHARS: usize = 300;

/// An OpenAI-compatible route below the endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// `chat/completions`: `messages` in, `choices[0].message.content` out.
    Chat,
    /// `completions`: `prompt` in, `choices[0].text` out.
    Completions,
}

impl Route {
    /// The path below the endpoint.
    pub fn path(self) -> &'static str {
        match self {
            Self::Chat => "chat/completions",
            Self::Completions => "completions",
        }
    }
}

/// Where and how to ask.
#[derive(Debug, Clone, PartialEq)]
pub struct LlmConfig {
    /// Base URL including the API prefix, e.g. `http://127.0.0.1:8000/v1`.
    pub endpoint: String,
    /// The model name sent in every request (`model`).
    pub model: String,
    /// API key (`OPENAI_API_KEY`); local servers usually need none.
    pub api_key: Option<String>,
    /// Limit of one request, connect to last byte.
    pub timeout: Duration,
    /// Retries after the first attempt, for retryable failures.
    pub max_retries: u32,
    /// Wait before the first retry; doubled for each further one.
    pub retry_delay: Duration,
    /// Longest wait between retries.
    pub max_retry_delay: Duration,
    /// Requests in flight at once in [`LlmClient::ask_all`].
    pub concurrency: usize,
    /// Answer cache directory (`None`: no cache).
    pub cache_dir: Option<PathBuf>,
}

impl LlmConfig {
    /// Defaults for `model` at `endpoint`: key from `OPENAI_API_KEY`, 120 s timeout, 5 retries
    /// from 1 s doubling up to 30 s, 8 requests at once, no cache.
    pub fn new(endpoint: impl Into<String>, model: impl Into<String>) -> Self {
        Self {
            endpoint: endpoint.into(),
            model: model.into(),
            api_key: std::env::var(API_KEY_VAR).ok().filter(|k| !k.is_empty()),
            timeout: Duration::from_secs(120),
            max_retries: 5,
            retry_delay: Duration::from_secs(1),
            max_retry_delay: Duration::from_secs(30),
            concurrency: 8,
            cache_dir: None,
        }
    }
}

/// Sampling settings of one request; `None` leaves the server's default.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Sampling {
    /// `temperature`.
    pub temperature: Option<f64>,
    /// `top_p`.
    pub top_p: Option<f64>,
    /// `max_tokens`.
    pub max_tokens: Option<u32>,
    /// `stop` sequences (omitted when empty).
    pub stop: Vec<String>,
}

impl Sampling {
    /// Adds the settings that are set to a request body.
    fn extend(&self, body: &mut serde_json::Map<String, Value>) {
        if let Some(t) = self.temperature {
            body.insert("temperature".to_owned(), t.into());
        }
        if let Some(p) = self.top_p {
            body.insert("top_p".to_owned(), p.into());
        }
        if let Some(n) = self.max_tokens {
            body.insert("max_tokens".to_owned(), n.into());
        }
        if !self.stop.is_empty() {
            body.insert("stop".to_owned(), self.stop.clone().into());
        }
    }
}

/// One request: chat messages (`chat/completions`) or a rendered prompt (`completions`).
#[derive(Debug, Clone, PartialEq)]
pub enum Prompt {
    /// Messages; the server applies the model's chat template.
    Chat(Vec<ChatMessage>),
    /// A prompt string sent as is.
    Text(String),
}

/// A request to the configured model.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    /// What to ask.
    pub prompt: Prompt,
    /// How to sample.
    pub sampling: Sampling,
}

impl Request {
    /// A chat request of one user message.
    pub fn user(content: impl Into<String>, sampling: Sampling) -> Self {
        Self {
            prompt: Prompt::Chat(vec![ChatMessage::user(content)]),
            sampling,
        }
    }

    /// The route it goes to.
    pub fn route(&self) -> Route {
        match self.prompt {
            Prompt::Chat(_) => Route::Chat,
            Prompt::Text(_) => Route::Completions,
        }
    }

    /// The JSON body for `model`.
    pub fn body(&self, model: &str) -> Value {
        let mut body = serde_json::Map::new();
        body.insert("model".to_owned(), model.into());
        match &self.prompt {
            Prompt::Chat(messages) => body.insert("messages".to_owned(), json!(messages)),
            Prompt::Text(prompt) => body.insert("prompt".to_owned(), prompt.as_str().into()),
        };
        self.sampling.extend(&mut body);
        Value::Object(body)
    }
}

/// An answer: the response JSON, and whether it came from the cache.
#[derive(Debug, Clone, PartialEq)]
pub struct Completion {
    /// The route asked.
    pub route: Route,
    /// The response body.
    pub body: Value,
    /// Answered from the cache (no request sent).
    pub cached: bool,
    /// Requests sent for it (0 when cached).
    pub attempts: u32,
}

impl Completion {
    /// The generated text: `choices[0].message.content` (chat) or `choices[0].text`; `None`
    /// when the answer has none (e.g. a refusal with `content: null`).
    pub fn text(&self) -> Option<&str> {
        let choice = self.body.get("choices")?.get(0)?;
        match self.route {
            Route::Chat => choice.get("message")?.get("content")?.as_str(),
            Route::Completions => choice.get("text")?.as_str(),
        }
    }
}

/// The generated text of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// The text (`choices[0].message.content` or `choices[0].text`).
    pub text: String,
    /// Answered from the cache (no request sent).
    pub cached: bool,
    /// Requests sent for it (0 when cached).
    pub attempts: u32,
}

/// One failed attempt, and whether another may succeed.
enum Failure {
    Status {
        status: u16,
        body: String,
        retry_after: Option<Duration>,
    },
    Timeout,
    Transport(String),
    Body(String),
}

impl Failure {
    fn retryable(&self) -> bool {
        match self {
            Self::Status { status, .. } => matches!(status, 408 | 409 | 429) || *status >= 500,
            Self::Timeout | Self::Transport(_) => true,
            Self::Body(_) => false,
        }
    }

    fn into_error(self, url: &str, timeout: Duration, attempts: u32) -> LlmError {
        let url = url.to_owned();
        match self {
            Self::Status { status, body, .. } => LlmError::Status {
                url,
                status,
                body,
                attempts,
            },
            Self::Timeout => LlmError::Timeout {
                url,
                timeout_secs: timeout.as_secs_f64(),
                attempts,
            },
            Self::Transport(message) => LlmError::Transport { url, message, attempts },
            Self::Body(message) => LlmError::BadResponse { url, message },
        }
    }
}

/// A client of one endpoint (see the crate docs). Cheap to share between threads.
#[derive(Debug)]
pub struct LlmClient {
    config: LlmConfig,
    agent: ureq::Agent,
    cache: Option<ResponseCache>,
}

impl LlmClient {
    /// A client for `config`'s endpoint (an `http://` or `https://` URL).
    pub fn new(config: LlmConfig) -> Result<Self, LlmError> {
        if !(config.endpoint.starts_with("http://") || config.endpoint.starts_with("https://")) {
            return Err(LlmError::Config {
                key: "endpoint",
                message: format!("{:?} is not an http(s) URL", config.endpoint),
            });
        }
        if config.concurrency == 0 {
            return Err(LlmError::Config {
                key: "concurrency",
                message: "must be at least 1".to_owned(),
            });
        }
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(config.timeout))
            .http_status_as_error(false)
            .build()
            .into();
        Ok(Self {
            cache: config.cache_dir.clone().map(ResponseCache::new),
            config,
            agent,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &LlmConfig {
        &self.config
    }

    /// The URL of `route`.
    pub fn url(&self, route: Route) -> String {
        format!("{}/{}", self.config.endpoint.trim_end_matches('/'), route.path())
    }

    /// The generated text for `request`: from the cache, else asked (with retries) and cached.
    /// An answer without text is [`LlmError::BadResponse`].
    pub fn ask(&self, request: &Request) -> Result<Answer, LlmError> {
        let completion = self.post(request.route(), &request.body(&self.config.model))?;
        let text = completion
            .text()
            .map(str::to_owned)
            .ok_or_else(|| LlmError::BadResponse {
                url: self.url(completion.route),
                message: format!("no generated text in {}", completion.body),
            })?;
        Ok(Answer {
            text,
            cached: completion.cached,
            attempts: completion.attempts,
        })
    }

    /// [`ask`](Self::ask) for every request, `concurrency` at a time; results in input order.
    pub fn ask_all(&self, requests: &[Request]) -> Vec<Result<Answer, LlmError>> {
        map_concurrent(requests, self.config.concurrency, |_, request| self.ask(request))
    }

    /// The answer to `body` on `route`: from the cache, else asked (with retries) and cached.
    pub fn post(&self, route: Route, body: &Value) -> Result<Completion, LlmError> {
        if let Some(cached) = self.cache.as_ref().and_then(|c| c.get(route.path(), body)) {
            return Ok(Completion {
                route,
                body: cached,
                cached: true,
                attempts: 0,
            });
        }
        let url = self.url(route);
        let text = body.to_string();
        let mut attempts = 0;
        let answer = loop {
            attempts += 1;
            match self.send(&url, &text) {
                Ok(answer) => break answer,
                Err(failure) if failure.retryable() && attempts <= self.config.max_retries => {
                    let wait = match &failure {
                        Failure::Status {
                            retry_after: Some(wait),
                            ..
                        } if *wait <= MAX_RETRY_AFTER => *wait,
                        _ => self.backoff(attempts),
                    };
                    tracing::debug!(url, attempts, ?wait, "retrying");
                    std::thread::sleep(wait);
                }
                Err(failure) => return Err(failure.into_error(&url, self.config.timeout, attempts)),
            }
        };
        if let Some(cache) = &self.cache {
            cache.put(route.path(), body, &answer)?;
        }
        Ok(Completion {
            route,
            body: answer,
            cached: false,
            attempts,
        })
    }

    /// The wait before retry number `attempt` (1-based): `backoff · 2^(attempt-1)`, capped.
    fn backoff(&self, attempt: u32) -> Duration {
        let factor = 2u32.saturating_pow(attempt.saturating_sub(1).min(20));
        self.config
            .retry_delay
            .saturating_mul(factor)
            .min(self.config.max_retry_delay)
    }

    /// One attempt.
    fn send(&self, url: &str, body: &str) -> Result<Value, Failure> {
        let mut request = self.agent.post(url).header("Content-Type", "application/json");
        if let Some(key) = &self.config.api_key {
            request = request.header("Authorization", format!("Bearer {key}"));
        }
        let mut response = request.send(body).map_err(|e| match e {
            ureq::Error::Timeout(_) => Failure::Timeout,
            other => Failure::Transport(other.to_string()),
        })?;
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<f64>().ok())
            .filter(|s| s.is_finite() && *s >= 0.0)
            .map(Duration::from_secs_f64);
        let text = response.body_mut().read_to_string().map_err(|e| match e {
            ureq::Error::Timeout(_) => Failure::Timeout,
            other => Failure::Transport(other.to_string()),
        })?;
        if !(200..300).contains(&status) {
            return Err(Failure::Status {
                status,
                body: text.chars().take(ERROR_BODY_CHARS).collect(),
                retry_after,
            });
        }
        serde_json::from_str(&text).map_err(|e| {
            let start: String = text.chars().take(ERROR_BODY_CHARS).collect();
            Failure::Body(format!("not JSON ({e}): {start:?}"))
        })
    }
}
