//! One client for OpenAI-compatible LLM endpoints (vLLM's and llama.cpp's servers, OpenAI), for
//! every part of open-provence-rs that asks an LLM: the dataset builder's span labels and the
//! MLDR judge.
//!
//! * [`LlmClient`] (`client`): a [`Request`] (chat messages or a rendered prompt, plus
//!   [`Sampling`]) → the generated text ([`LlmClient::ask`]), `POST {endpoint}/chat/completions`
//!   or `/completions` with the configured model, the API key from `OPENAI_API_KEY`, a request
//!   timeout, and retries with exponential backoff (or the server's `Retry-After`) on
//!   408/409/429/5xx, timeouts and connection errors. Blocking HTTP (ureq + rustls);
//!   [`LlmClient::ask_all`] keeps `concurrency` requests in flight on worker threads (`pool`).
//!   [`LlmClient::post`] sends any other JSON body to either route.
//! * [`ResponseCache`] (`cache`): answers on disk keyed by a hash of the route and the full
//!   request body, one file per request written atomically, so an interrupted run resumes
//!   without asking again.
//! * [`ChatTemplate`] (`template`): a tokenizer's Jinja chat template rendered as transformers'
//!   `apply_chat_template` does, for `/completions` prompts and token counts.
//! * [`LlmError`] (`error`): typed failures naming the URL, the status or cause and the attempts.

mod cache;
mod client;
mod error;
mod pool;
mod template;

pub use cache::ResponseCache;
pub use client::{API_KEY_VAR, Answer, Completion, LlmClient, LlmConfig, Prompt, Request, Route, Sampling};
pub use error::LlmError;
pub use pool::map_concurrent;
pub use template::{ChatMessage, ChatTemplate};
