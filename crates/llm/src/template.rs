//! A tokenizer's chat template (`tokenizer_config.json` `chat_template`, Jinja) rendered as
//! transformers' `apply_chat_template(messages, tokenize=False, add_generation_prompt=…)` does:
//! `trim_blocks` and `lstrip_blocks`, Python's string methods, `raise_exception`, and the
//! tokenizer's special tokens (`bos_token`, `eos_token`, …) as variables.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::error::LlmError;

/// One chat message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChatMessage {
    /// `system`, `user` or `assistant`.
    pub role: String,
    /// The text.
    pub content: String,
}

impl ChatMessage {
    /// A `user` message.
    pub fn user(content: impl Into<String>) -> Self {
        Self {
            role: "user".to_owned(),
            content: content.into(),
        }
    }
}

/// A compiled chat template.
pub struct ChatTemplate {
    env: minijinja::Environment<'static>,
    special_tokens: BTreeMap<String, String>,
}

impl std::fmt::Debug for ChatTemplate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChatTemplate")
            .field("special_tokens", &self.special_tokens)
            .finish_non_exhaustive()
    }
}

fn template_error(e: minijinja::Error) -> LlmError {
    LlmError::Template {
        message: format!("{e:#}"),
    }
}

/// The template's `raise_exception(message)`.
fn raise_exception(message: String) -> Result<String, minijinja::Error> {
    Err(minijinja::Error::new(minijinja::ErrorKind::InvalidOperation, message))
}

impl ChatTemplate {
    /// Compiles `source`; `special_tokens` maps variable names (`bos_token`, …) to their text.
    pub fn new(source: &str, special_tokens: BTreeMap<String, String>) -> Result<Self, LlmError> {
        let mut env = minijinja::Environment::new();
        env.set_trim_blocks(true);
        env.set_lstrip_blocks(true);
        env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
        env.add_function("raise_exception", raise_exception);
        env.add_template_owned("chat", source.to_owned())
            .map_err(template_error)?;
        Ok(Self { env, special_tokens })
    }

    /// The prompt for `messages`, ending with the assistant turn's opening when
    /// `add_generation_prompt`.
    pub fn render(&self, messages: &[ChatMessage], add_generation_prompt: bool) -> Result<String, LlmError> {
        let template = self.env.get_template("chat").map_err(template_error)?;
        let mut context: BTreeMap<String, minijinja::Value> = self
            .special_tokens
            .iter()
            .map(|(k, v)| (k.clone(), minijinja::Value::from(v.clone())))
            .collect();
        context.insert("messages".to_owned(), minijinja::Value::from_serialize(messages));
        context.insert(
            "add_generation_prompt".to_owned(),
            minijinja::Value::from(add_generation_prompt),
        );
        template.render(context).map_err(template_error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHATML: &str = "{%- for message in messages %}{{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>' + '\\n' }}{%- endfor %}{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}";

    #[test]
    fn chatml_renders_like_transformers() {
        let template = ChatTemplate::new(CHATML, BTreeMap::new()).unwrap();
        let prompt = template.render(&[ChatMessage::user("q\n---\n[1] a")], true).unwrap();
        assert_eq!(
            prompt,
            "<|im_start|>user\nq\n---\n[1] a<|im_end|>\n<|im_start|>assistant\n"
        );
    }

    #[test]
    fn python_methods_and_exceptions_work() {
        let source = "{% if messages[0].role != 'user' %}{{ raise_exception('first must be user') }}{% endif %}\
                      {{ bos_token }}{{ messages[0].content.strip().upper() }}";
        let template = ChatTemplate::new(source, BTreeMap::from([("bos_token".to_owned(), "<s>".to_owned())])).unwrap();
        assert_eq!(template.render(&[ChatMessage::user("  hi ")], false).unwrap(), "<s>HI");
        let system = ChatMessage {
            role: "system".to_owned(),
            content: String::new(),
        };
        let error = template.render(&[system], false).unwrap_err();
        assert!(error.to_string().contains("first must be user"), "{error}");
    }
}
