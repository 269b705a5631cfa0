//! Tokenizer loading that matches Python's `AutoTokenizer.from_pretrained(dir)` for fast
//! tokenizers: `tokenizer.json` plus `tokenizer_config.json` / `special_tokens_map.json`.
//!
//! What transformers adds on top of `tokenizer.json` and what we reproduce:
//! * the special tokens (`cls_token`, `sep_token`, `pad_token`, ...) come from
//!   `tokenizer_config.json`, overridden by `special_tokens_map.json`;
//! * `model_max_length` comes from `tokenizer_config.json` (transformers' "very large integer"
//!   sentinel means "no limit");
//! * Llama/Gemma-style SentencePiece fast tokenizers rebuild the post-processor at load time from
//!   `add_bos_token` / `add_eos_token` (`update_post_processor`), ignoring the one stored in
//!   `tokenizer.json`;
//! * padding and truncation embedded in `tokenizer.json` are dropped: the collator sets its own.

use std::path::{Path, PathBuf};

use serde_json::Value;
use tokenizers::Tokenizer;
use tokenizers::normalizers::precompiled::Precompiled;
use tokenizers::processors::template::TemplateProcessing;

/// Tokenizer classes whose fast implementation rewrites the post-processor from
/// `add_bos_token` / `add_eos_token` when it is loaded (transformers 4.57 `update_post_processor`),
/// with their defaults for the two flags.
const BOS_EOS_POST_PROCESSOR_CLASSES: &[(&str, bool, bool)] = &[
    ("LlamaTokenizer", true, false),
    ("LlamaTokenizerFast", true, false),
    ("CodeLlamaTokenizer", true, false),
    ("CodeLlamaTokenizerFast", true, false),
    ("GemmaTokenizer", true, false),
    ("GemmaTokenizerFast", true, false),
    ("CohereTokenizer", true, false),
    ("CohereTokenizerFast", true, false),
    ("GPTNeoXTokenizer", false, false),
    ("GPTNeoXTokenizerFast", false, false),
];

/// transformers stores "no limit" as `int(1e30)`; anything this large means unbounded.
const VERY_LARGE_MODEL_MAX_LENGTH: f64 = 1e29;

/// Errors while loading a tokenizer directory.
#[derive(Debug, thiserror::Error)]
pub enum TokenizerError {
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// `tokenizer.json` is missing or not a valid tokenizers file.
    #[error("cannot load tokenizer {path}: {message}")]
    TokenizerJson {
        /// The file.
        path: PathBuf,
        /// What the tokenizers crate reported.
        message: String,
    },
    /// `tokenizer_config.json` or `special_tokens_map.json` is not valid JSON.
    #[error("invalid JSON in {path}: {source}")]
    Json {
        /// The file.
        path: PathBuf,
        /// The parse error.
        source: serde_json::Error,
    },
    /// A configured special token is not in the vocabulary.
    #[error("special token {key} = {content:?} is not in the tokenizer vocabulary")]
    UnknownSpecialToken {
        /// The config key (`pad_token`, ...).
        key: &'static str,
        /// The token text.
        content: String,
    },
    /// `add_bos_token` / `add_eos_token` is set but the matching token is not configured.
    #[error("{flag} is true but {token_key} is not set")]
    MissingBosEos {
        /// `add_bos_token` or `add_eos_token`.
        flag: &'static str,
        /// `bos_token` or `eos_token`.
        token_key: &'static str,
    },
    /// Rebuilding the post-processor failed.
    #[error("cannot build the post-processor from add_bos_token/add_eos_token: {0}")]
    PostProcessor(String),
}

/// One configured special token: its text and vocabulary id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecialToken {
    /// Token text, e.g. `[CLS]`.
    pub content: String,
    /// Vocabulary id.
    pub id: u32,
}

/// The special tokens transformers knows by name (`SPECIAL_TOKENS_ATTRIBUTES`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SpecialTokens {
    /// `bos_token`.
    pub bos: Option<SpecialToken>,
    /// `eos_token`.
    pub eos: Option<SpecialToken>,
    /// `unk_token`.
    pub unk: Option<SpecialToken>,
    /// `sep_token`.
    pub sep: Option<SpecialToken>,
    /// `pad_token`.
    pub pad: Option<SpecialToken>,
    /// `cls_token`.
    pub cls: Option<SpecialToken>,
    /// `mask_token`.
    pub mask: Option<SpecialToken>,
}

/// A fast tokenizer loaded the way `AutoTokenizer.from_pretrained` loads it.
///
/// The wrapped [`Tokenizer`] has no padding and no truncation; callers configure their own.
#[derive(Debug, Clone)]
pub struct PretrainedTokenizer {
    tokenizer: Tokenizer,
    special_tokens: SpecialTokens,
    model_max_length: Option<usize>,
    tokenizer_class: Option<String>,
}

impl PretrainedTokenizer {
    /// Loads `dir/tokenizer.json` and, when present, `dir/tokenizer_config.json` and
    /// `dir/special_tokens_map.json`.
    pub fn from_pretrained(dir: impl AsRef<Path>) -> Result<Self, TokenizerError> {
        let dir = dir.as_ref();
        let tokenizer = read_tokenizer_json(&dir.join("tokenizer.json"))?;
        let config = read_optional_json(&dir.join("tokenizer_config.json"))?;
        let special_map = read_optional_json(&dir.join("special_tokens_map.json"))?;
        Self::from_parts(tokenizer, config.as_ref(), special_map.as_ref())
    }

    /// Builds from an already parsed `tokenizer.json` and the (optional) parsed
    /// `tokenizer_config.json` and `special_tokens_map.json`.
    pub fn from_parts(
        mut tokenizer: Tokenizer,
        tokenizer_config: Option<&Value>,
        special_tokens_map: Option<&Value>,
    ) -> Result<Self, TokenizerError> {
        tokenizer.with_padding(None);
        // Removing truncation cannot fail (only setting a too-large stride can).
        if let Err(e) = tokenizer.with_truncation(None) {
            return Err(TokenizerError::PostProcessor(e.to_string()));
        }
        let lookup = |key: &'static str| -> Result<Option<SpecialToken>, TokenizerError> {
            let content = special_tokens_map
                .and_then(|m| token_content(m.get(key)))
                .or_else(|| tokenizer_config.and_then(|c| token_content(c.get(key))));
            content
                .map(|content| match tokenizer.token_to_id(&content) {
                    Some(id) => Ok(SpecialToken { content, id }),
                    None => Err(TokenizerError::UnknownSpecialToken { key, content }),
                })
                .transpose()
        };
        let special_tokens = SpecialTokens {
            bos: lookup("bos_token")?,
            eos: lookup("eos_token")?,
            unk: lookup("unk_token")?,
            sep: lookup("sep_token")?,
            pad: lookup("pad_token")?,
            cls: lookup("cls_token")?,
            mask: lookup("mask_token")?,
        };
        let model_max_length = tokenizer_config
            .and_then(|c| c.get("model_max_length"))
            .and_then(Value::as_f64)
            .filter(|v| (0.0..VERY_LARGE_MODEL_MAX_LENGTH).contains(v))
            .map(|v| v as usize);
        if let Some(config) = tokenizer_config {
            apply_bos_eos_post_processor(&mut tokenizer, config, &special_tokens)?;
        }
        let tokenizer_class = tokenizer_config
            .and_then(|c| c.get("tokenizer_class"))
            .and_then(Value::as_str)
            .map(str::to_owned);
        Ok(Self {
            tokenizer,
            special_tokens,
            model_max_length,
            tokenizer_class,
        })
    }

    /// The underlying tokenizer (no padding, no truncation).
    pub fn tokenizer(&self) -> &Tokenizer {
        &self.tokenizer
    }

    /// `tokenizer_class` of `tokenizer_config.json` (e.g. `BertTokenizer`), if given.
    pub fn tokenizer_class(&self) -> Option<&str> {
        self.tokenizer_class.as_deref()
    }

    /// The configured special tokens.
    pub fn special_tokens(&self) -> &SpecialTokens {
        &self.special_tokens
    }

    /// `pad_token_id`, if a pad token is configured.
    pub fn pad_token_id(&self) -> Option<u32> {
        self.special_tokens.pad.as_ref().map(|t| t.id)
    }

    /// `model_max_length` from `tokenizer_config.json` (`None` when absent or unbounded).
    pub fn model_max_length(&self) -> Option<usize> {
        self.model_max_length
    }

    /// Vocabulary size including added tokens (`len(tokenizer)` in Python).
    pub fn vocab_size(&self) -> usize {
        self.tokenizer.get_vocab_size(true)
    }
}

/// Reads a `tokenizer.json` file (any tokenizer's, not only a model directory's: every reader
/// of one goes through here). Some malformed files make the tokenizers crate (0.23) panic instead
/// of erring, so they are checked first: a JSON syntax error inside the `decoder` value (its
/// deserializer `expect`s), a `Precompiled` normalizer it cannot read (same), and a template
/// post-processor using a special token it does not define (loads, then panics on encoding).
/// The error is always [`TokenizerError::TokenizerJson`].
pub fn read_tokenizer_json(path: &Path) -> Result<Tokenizer, TokenizerError> {
    /// The only parts of the file read before the tokenizers crate reads it all.
    #[derive(serde::Deserialize)]
    struct Head {
        normalizer: Option<Value>,
        post_processor: Option<Value>,
    }
    let bad = |message: String| TokenizerError::TokenizerJson {
        path: path.to_path_buf(),
        message,
    };
    let text = std::fs::read_to_string(path).map_err(|e| bad(e.to_string()))?;
    let head: Head = serde_json::from_str(&text).map_err(|e| bad(e.to_string()))?;
    if let Some(normalizer) = &head.normalizer {
        check_normalizer(normalizer).map_err(|e| bad(format!("normalizer: {e}")))?;
    }
    if let Some(processor) = &head.post_processor {
        check_post_processor(processor).map_err(|e| bad(format!("post_processor: {e}")))?;
    }
    text.parse().map_err(|e: tokenizers::Error| bad(e.to_string()))
}

/// Whether every `Precompiled` normalizer in `normalizer` (or its `Sequence`) can be read.
fn check_normalizer(normalizer: &Value) -> Result<(), String> {
    match normalizer.get("type").and_then(Value::as_str) {
        Some("Precompiled") => serde_json::from_str::<Precompiled>(&normalizer.to_string())
            .map(drop)
            .map_err(|e| e.to_string()),
        Some("Sequence") => normalizer
            .get("normalizers")
            .and_then(Value::as_array)
            .map_or(Ok(()), |items| items.iter().try_for_each(check_normalizer)),
        _ => Ok(()),
    }
}

/// Whether every special token the templates of a `TemplateProcessing` post-processor (or of one
/// in its `Sequence`) insert is defined in its `special_tokens`.
fn check_post_processor(processor: &Value) -> Result<(), String> {
    match processor.get("type").and_then(Value::as_str) {
        Some("TemplateProcessing") => {
            let defined = processor.get("special_tokens").and_then(Value::as_object);
            for template in ["single", "pair"] {
                let pieces = processor.get(template).and_then(Value::as_array).into_iter().flatten();
                for id in pieces.filter_map(|piece| piece.get("SpecialToken")?.get("id")?.as_str()) {
                    if !defined.is_some_and(|tokens| tokens.contains_key(id)) {
                        return Err(format!(
                            "the {template} template inserts special token {id:?}, which special_tokens does not define"
                        ));
                    }
                }
            }
            Ok(())
        }
        Some("Sequence") => processor
            .get("processors")
            .and_then(Value::as_array)
            .map_or(Ok(()), |items| items.iter().try_for_each(check_post_processor)),
        _ => Ok(()),
    }
}

fn read_optional_json(path: &Path) -> Result<Option<Value>, TokenizerError> {
    match std::fs::read_to_string(path) {
        Ok(text) => serde_json::from_str(&text)
            .map(Some)
            .map_err(|source| TokenizerError::Json {
                path: path.to_path_buf(),
                source,
            }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(TokenizerError::Io {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// A special-token value is a string or a serialised `AddedToken` (`{"content": ...}`).
fn token_content(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::String(s) => Some(s.clone()),
        Value::Object(map) => map.get("content")?.as_str().map(str::to_owned),
        _ => None,
    }
}

/// Reproduces transformers' `update_post_processor` for Llama-style fast tokenizers:
/// single = `[bos] $A [eos]`, pair = single + `[bos] $B [eos]` (type id 1 for the second half).
fn apply_bos_eos_post_processor(
    tokenizer: &mut Tokenizer,
    config: &Value,
    special: &SpecialTokens,
) -> Result<(), TokenizerError> {
    let class = config.get("tokenizer_class").and_then(Value::as_str);
    let Some(&(_, default_bos, default_eos)) = BOS_EOS_POST_PROCESSOR_CLASSES
        .iter()
        .find(|(name, _, _)| Some(*name) == class)
    else {
        return Ok(());
    };
    let add_bos = config
        .get("add_bos_token")
        .and_then(Value::as_bool)
        .unwrap_or(default_bos);
    let add_eos = config
        .get("add_eos_token")
        .and_then(Value::as_bool)
        .unwrap_or(default_eos);
    let bos = match (add_bos, &special.bos) {
        (true, None) => {
            return Err(TokenizerError::MissingBosEos {
                flag: "add_bos_token",
                token_key: "bos_token",
            });
        }
        (true, Some(t)) => Some(t),
        (false, _) => None,
    };
    let eos = match (add_eos, &special.eos) {
        (true, None) => {
            return Err(TokenizerError::MissingBosEos {
                flag: "add_eos_token",
                token_key: "eos_token",
            });
        }
        (true, Some(t)) => Some(t),
        (false, _) => None,
    };
    let half = |seq: &str, type_id: u8| {
        let mut parts = Vec::new();
        if let Some(b) = bos {
            parts.push(format!("{}:{type_id}", b.content));
        }
        parts.push(format!("${seq}:{type_id}"));
        if let Some(e) = eos {
            parts.push(format!("{}:{type_id}", e.content));
        }
        parts.join(" ")
    };
    let single = half("A", 0);
    let pair = format!("{single} {}", half("B", 1));
    let mut specials: Vec<(String, u32)> = Vec::new();
    for t in [bos, eos].into_iter().flatten() {
        if !specials.iter().any(|(c, _)| c == &t.content) {
            specials.push((t.content.clone(), t.id));
        }
    }
    let processor = TemplateProcessing::builder()
        .try_single(single.as_str())
        .and_then(|b| b.try_pair(pair.as_str()))
        .map_err(|e| TokenizerError::PostProcessor(e.to_string()))?
        .special_tokens(specials)
        .build()
        .map_err(|e| TokenizerError::PostProcessor(e.to_string()))?;
    tokenizer.with_post_processor(Some(processor));
    Ok(())
}
