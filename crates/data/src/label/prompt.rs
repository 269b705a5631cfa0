//! Upstream's prompt and answer rules (`add_context_spans_relevance.py`, `create_prompt`,
//! `_truncate_content`, `parse_indices`): the chunks of a passage, the user message
//! `"{query}\n---\n[1] …\n[2] …"`, the truncation loop against the model's token limit, and the
//! chunk flags read from an answer.

use std::collections::BTreeMap;
use std::path::Path;

use provence_hub::{TokenizerError, read_tokenizer_json};
use provence_infer::pytext::{decimal_value, py_strip};
use provence_llm::{ChatMessage, ChatTemplate};
use serde_json::Value;
use tokenizers::Tokenizer;

use crate::error::DataError;

/// Tokens upstream keeps free beside the answer's `max_tokens`.
const SAFETY_MARGIN: usize = 10;
/// The query is always cut to this many code points.
const QUERY_CHARS: usize = 256;
/// … and to this many once truncation starts.
const TRUNCATED_QUERY_CHARS: usize = 100;
/// Truncation attempts (the first sends everything).
const ATTEMPTS: usize = 5;

/// The chunks of one passage: the text of every span with `end > start` (code points), stripped.
pub(crate) fn chunks(text: &str, spans: &[(usize, usize)]) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    spans
        .iter()
        .filter(|(start, end)| end > start)
        .map(|&(start, end)| {
            let piece: String = chars[start.min(chars.len())..end.min(chars.len())].iter().collect();
            py_strip(&piece).to_owned()
        })
        .collect()
}

/// The user message for `query` and `chunks`.
pub(crate) fn user_content(query: &str, chunks: &[String]) -> String {
    let block: Vec<String> = chunks
        .iter()
        .enumerate()
        .map(|(i, c)| format!("[{}] {c}", i + 1))
        .collect();
    format!("{query}\n---\n{}", block.join("\n"))
}

/// The first `n` code points of `s`.
fn prefix(s: &str, n: usize) -> String {
    s.chars().take(n).collect()
}

/// Upstream's `_truncate_content` for attempt `iteration` (1–4), applied to the previous
/// attempt's query and chunks.
fn truncate(query: &str, chunks: &[String], iteration: usize) -> (String, Vec<String>) {
    let query = prefix(query, TRUNCATED_QUERY_CHARS);
    let cut = |keep: usize, chars: usize| -> Vec<String> {
        chunks
            .iter()
            .take(keep)
            .map(|c| {
                let dots = if c.chars().count() > chars { "..." } else { "" };
                format!("{}{dots}", prefix(c, chars))
            })
            .collect()
    };
    let chunks = match iteration {
        1 => cut(10, 200),
        2 => cut(10, 100),
        3 => cut(5, 50),
        _ => vec!["none".to_owned()],
    };
    (query, chunks)
}

/// A prompt ready to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Prompt {
    /// The user message.
    pub user_content: String,
    /// The rendered chat template (only with a tokenizer).
    pub rendered: Option<String>,
}

/// The model's tokenizer and chat template: the prompt as the model sees it and its length.
pub(crate) struct PromptModel {
    tokenizer: Tokenizer,
    template: ChatTemplate,
}

impl PromptModel {
    /// Loads `tokenizer.json` and `tokenizer_config.json`'s `chat_template` from `dir`.
    pub(crate) fn load(dir: &Path) -> Result<Self, DataError> {
        let fail = |path: &Path, message: String| DataError::File {
            path: path.to_owned(),
            message,
        };
        let path = dir.join("tokenizer.json");
        let tokenizer = read_tokenizer_json(&path).map_err(|e| match e {
            TokenizerError::TokenizerJson { message, .. } => fail(&path, message),
            other => fail(&path, other.to_string()),
        })?;
        let path = dir.join("tokenizer_config.json");
        let text = std::fs::read_to_string(&path).map_err(|e| DataError::io(&path, e))?;
        let config: Value = serde_json::from_str(&text).map_err(|e| fail(&path, e.to_string()))?;
        let source = config
            .get("chat_template")
            .and_then(Value::as_str)
            .ok_or_else(|| fail(&path, "no \"chat_template\" string".to_owned()))?;
        let special: BTreeMap<String, String> = ["bos_token", "eos_token", "pad_token", "unk_token"]
            .into_iter()
            .filter_map(|key| {
                let value = config.get(key)?;
                let text = value.as_str().or_else(|| value.get("content")?.as_str())?;
                Some((key.to_owned(), text.to_owned()))
            })
            .collect();
        let template = ChatTemplate::new(source, special).map_err(|e| fail(&path, e.to_string()))?;
        Ok(Self { tokenizer, template })
    }

    fn render(&self, content: &str) -> Result<(String, usize), String> {
        let rendered = self
            .template
            .render(&[ChatMessage::user(content)], true)
            .map_err(|e| e.to_string())?;
        let tokens = self
            .tokenizer
            .encode(rendered.as_str(), false)
            .map_err(|e| e.to_string())?;
        Ok((rendered, tokens.len()))
    }
}

/// Upstream's `create_prompt`: the query cut to 256 code points, then up to four truncations
/// until the rendered prompt fits `max_model_len - max_tokens - 10` tokens. Without a model
/// only the query cut applies (nothing to count with). `Err` says why nothing fits.
pub(crate) fn build_prompt(
    model: Option<&PromptModel>,
    query: &str,
    chunks: &[String],
    max_model_len: usize,
    max_tokens: usize,
) -> Result<Prompt, String> {
    let mut query = prefix(query, QUERY_CHARS);
    let Some(model) = model else {
        return Ok(Prompt {
            user_content: user_content(&query, chunks),
            rendered: None,
        });
    };
    let limit = max_model_len.saturating_sub(max_tokens + SAFETY_MARGIN);
    let mut chunks = chunks.to_vec();
    for iteration in 0..ATTEMPTS {
        if iteration > 0 {
            (query, chunks) = truncate(&query, &chunks, iteration);
        }
        let content = user_content(&query, &chunks);
        let (rendered, tokens) = model.render(&content)?;
        if tokens <= limit {
            return Ok(Prompt {
                user_content: content,
                rendered: Some(rendered),
            });
        }
    }
    Err(format!(
        "the prompt does not fit {limit} tokens (--max-model-len {max_model_len} less --max-tokens {max_tokens} and {SAFETY_MARGIN}) even truncated to {} chunk(s)",
        chunks.len()
    ))
}

/// Upstream's `parse_indices` + `to_flags`: every run of Unicode decimal digits read as a
/// 1-based chunk number; numbers outside `1..=chunks` are ignored. `None` when the answer has no
/// digits at all (unparseable; upstream silently reads it as all zeros).
pub fn parse_relevance_flags(answer: &str, chunks: usize) -> Option<Vec<i64>> {
    let mut flags = vec![0; chunks];
    let mut any = false;
    let mut value: Option<u128> = None;
    let finish = |value: Option<u128>, flags: &mut Vec<i64>| {
        if let Some(v) = value
            && let Some(i) = usize::try_from(v).ok().and_then(|v| v.checked_sub(1))
            && i < chunks
        {
            flags[i] = 1;
        }
    };
    for c in answer.chars() {
        match decimal_value(c) {
            Some(d) => {
                any = true;
                // Saturates: a number that long is out of range anyway.
                value = Some(value.unwrap_or(0).saturating_mul(10).saturating_add(u128::from(d)));
            }
            None => finish(value.take(), &mut flags),
        }
    }
    finish(value, &mut flags);
    any.then_some(flags)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_parse_like_pythons_findall_and_int() {
        assert_eq!(parse_relevance_flags("3\n1\n3", 3), Some(vec![1, 0, 1]));
        assert_eq!(parse_relevance_flags("1.5", 2), Some(vec![1, 0]));
        assert_eq!(parse_relevance_flags("-1", 2), Some(vec![1, 0]));
        let mut want = vec![0; 36];
        for i in [1, 2, 30] {
            want[i] = 1;
        }
        assert_eq!(
            parse_relevance_flags("0, 2, 31, ２, ٣, 99999999999999999999", 36),
            Some(want)
        );
        assert_eq!(
            parse_relevance_flags("I cannot tell which chunks are relevant.", 3),
            None
        );
        assert_eq!(parse_relevance_flags("0", 2), Some(vec![0, 0]));
    }

    #[test]
    fn chunks_are_stripped_code_point_slices_of_non_empty_spans() {
        assert_eq!(
            chunks("ab é cd\n", &[(0, 2), (3, 4), (5, 8), (0, 0)]),
            vec!["ab", "é", "cd"]
        );
        assert!(chunks("   ", &[(0, 0)]).is_empty());
    }
}
