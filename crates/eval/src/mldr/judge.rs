//! The MLDR LLM judge's request and answer, as upstream's `scripts/eval_mldr.py` makes and reads
//! them (`SYSTEM_PROMPT`, `build_user_prompt`, `call_litellm`, `EvalPayload`): the chat body for
//! an OpenAI-compatible `/chat/completions`, and the parsing of the answer with its exact error
//! texts (no code-fence stripping; `reason` / `contains_answer` aliases; pydantic's lax checks).

use provence_config::{python_dict_repr, python_repr};
use serde_json::{Value, json};

/// The system message (`SYSTEM_PROMPT`).
pub const SYSTEM_PROMPT: &str = "You are an impartial verifier who checks whether a passage answers a question. \
Evaluate based on the actual content in <text>, considering <title> as supplementary context.\n\
Return strict JSON: {\"has_answer\": 0 or 1, \"answer_score\": float between 0 and 1, \"reasoning\": \"brief English explanation (≤3 sentences)\"}";

/// The instruction block of the user message (upstream's text, stripped).
pub const INSTRUCTION: &str = include_str!("judge_instruction.txt");

/// The completion-token budget upstream asks for.
pub const MAX_COMPLETION_TOKENS: u32 = 20000;

/// Longest `reasoning` the answer may carry (pydantic `max_length`).
const MAX_REASONING_CHARS: usize = 16000;

/// The user message (`build_user_prompt`): blank parts become `(empty question)`, `(empty text)`,
/// `(none)`.
pub fn user_prompt(question: &str, text: &str, title: Option<&str>) -> String {
    let or = |s: &str, empty: &str| {
        let s = s.trim();
        if s.is_empty() { empty.to_owned() } else { s.to_owned() }
    };
    [
        format!("<instruction>{INSTRUCTION}</instruction>"),
        format!("<question>{}</question>", or(question, "(empty question)")),
        format!("<title>{}</title>", or(title.unwrap_or(""), "(none)")),
        format!("<text>{}</text>", or(text, "(empty text)")),
    ]
    .join("\n")
}

/// The request body for `llm_model` as LiteLLM sends it: an `openai/` prefix is dropped from the
/// wire model; ids containing `gpt-5` get `max_completion_tokens` and temperature 1.0, others
/// `max_tokens` and 0.0; `response_format` is always `json_object`.
pub fn request_body(llm_model: &str, question: &str, text: &str, title: Option<&str>) -> Value {
    let gpt5 = llm_model.to_lowercase().contains("gpt-5");
    let wire_model = llm_model.strip_prefix("openai/").unwrap_or(llm_model);
    let mut body = json!({
        "messages": [
            {"role": "system", "content": SYSTEM_PROMPT},
            {"role": "user", "content": user_prompt(question, text, title)},
        ],
        "model": wire_model,
        "response_format": {"type": "json_object"},
        "temperature": if gpt5 { 1.0 } else { 0.0 },
    });
    let budget = if gpt5 { "max_completion_tokens" } else { "max_tokens" };
    body[budget] = json!(MAX_COMPLETION_TOKENS);
    body
}

/// A judgment the answer carried.
#[derive(Debug, Clone, PartialEq)]
pub struct Judgment {
    /// 0 or 1.
    pub has_answer: i64,
    /// In [0, 1] when given.
    pub answer_score: Option<f64>,
    /// The judge's reasoning.
    pub reasoning: String,
}

/// Reads the message content of an answer (`None`: no content, e.g. a refusal); the error is
/// upstream's text (`LLM returned empty content.`, `Failed to parse LLM response as JSON: …`,
/// `Invalid payload: <Python repr>`).
pub fn parse_judgment(content: Option<&str>) -> Result<Judgment, String> {
    let content = content.ok_or_else(|| "LLM returned empty content.".to_owned())?;
    let parsed: Value =
        serde_json::from_str(content).map_err(|_| format!("Failed to parse LLM response as JSON: {content}"))?;
    let Ok(Ordered(mut entries)) = serde_json::from_str::<Ordered>(content) else {
        return Err(format!("Invalid payload: {}", python_repr(&parsed)));
    };
    // `parsed["reasoning"] = parsed.pop("reason")`: the value moves to the end.
    for (alias, key) in [("reason", "reasoning"), ("contains_answer", "has_answer")] {
        let has_key = entries.iter().any(|(k, _)| k == key);
        if let Some(at) = entries.iter().position(|(k, _)| k == alias).filter(|_| !has_key) {
            let (_, value) = entries.remove(at);
            entries.push((key.to_owned(), value));
        }
    }
    validate(&entries).ok_or_else(|| {
        format!(
            "Invalid payload: {}",
            python_dict_repr(entries.iter().map(|(k, v)| (k, v)))
        )
    })
}

/// A JSON object's entries in document order (the last of repeated keys wins, as in Python).
struct Ordered(Vec<(String, Value)>);

impl<'de> serde::Deserialize<'de> for Ordered {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visit;
        impl<'de> serde::de::Visitor<'de> for Visit {
            type Value = Ordered;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Ordered, A::Error> {
                let mut entries: Vec<(String, Value)> = Vec::new();
                while let Some((key, value)) = map.next_entry::<String, Value>()? {
                    match entries.iter_mut().find(|(k, _)| *k == key) {
                        Some(slot) => slot.1 = value,
                        None => entries.push((key, value)),
                    }
                }
                Ok(Ordered(entries))
            }
        }
        deserializer.deserialize_map(Visit)
    }
}

/// pydantic's lax validation of `EvalPayload`.
fn validate(entries: &[(String, Value)]) -> Option<Judgment> {
    let get = |key: &str| entries.iter().find(|(k, _)| k == key).map(|(_, v)| v);
    let has_answer = lax_int(get("has_answer")?).filter(|v| (0..=1).contains(v))?;
    let answer_score = match get("answer_score") {
        None | Some(Value::Null) => None,
        Some(v) => Some(lax_float(v).filter(|x| (0.0..=1.0).contains(x))?),
    };
    let reasoning = get("reasoning")?.as_str()?;
    (reasoning.chars().count() <= MAX_REASONING_CHARS).then(|| Judgment {
        has_answer,
        answer_score,
        reasoning: reasoning.to_owned(),
    })
}

/// An `int` in pydantic's lax mode: integers, booleans, floats without a fraction, numeric strings.
fn lax_int(value: &Value) -> Option<i64> {
    match value {
        Value::Bool(b) => Some(i64::from(*b)),
        Value::Number(n) => n
            .as_i64()
            .or_else(|| n.as_f64().filter(|x| x.fract() == 0.0).map(|x| x as i64)),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// A `float` in pydantic's lax mode: numbers, booleans, numeric strings; NaN fails the bounds.
fn lax_float(value: &Value) -> Option<f64> {
    match value {
        Value::Bool(b) => Some(f64::from(u8::from(*b))),
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}
