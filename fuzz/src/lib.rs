//! Shared pieces of the fuzz targets (`fuzz_targets/*.rs`): the repository's fixtures, scratch
//! directories, the tiny model the model-running targets load once, and the decoding of a
//! `process()` case from JSON. Run the targets with `scripts/fuzz.sh`; docs/architecture.md
//! ("Fuzzing") says how to add one.

use provence_infer::{Document, ProcessInput, ProcessOptions, Pruner, SplitterLanguage, Title};
use serde_json::Value;
use std::fmt::Display;
use std::path::{Path, PathBuf};

/// The CPU backend the targets run models on.
pub type B = burn::backend::Flex;

/// Inputs longer than this are skipped by the targets that run the model: a longer input is no
/// new boundary, only more tokens, and keeps the search from moving.
pub const MAX_MODEL_INPUT: usize = 4096;

/// `relative` inside the repository.
pub fn repo(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(relative)
}

/// The tiny ModernBERT of the `process()` fixtures, with its tokenizer files.
pub fn tiny_model_dir() -> PathBuf {
    repo("tests/fixtures/process/model")
}

/// The result of harness set-up (fixtures, scratch files): a failure there is the harness's,
/// not a finding, and stops the run with `what`.
pub fn setup<T, E: Display>(result: Result<T, E>, what: &str) -> T {
    match result {
        Ok(value) => value,
        Err(e) => panic!("fuzz harness set-up failed: {what}: {e}"),
    }
}

/// A fresh scratch directory (under `$TMPDIR`, which `scripts/fuzz.sh` points at its work
/// folder) holding copies of `files` of `from`; it outlives the process (libFuzzer exits without
/// running destructors).
pub fn scratch_dir(from: &Path, files: &[&str]) -> PathBuf {
    let dir = setup(
        tempfile::Builder::new().prefix("provence-fuzz").tempdir(),
        "scratch dir",
    )
    .keep();
    for file in files {
        setup(std::fs::copy(from.join(file), dir.join(file)), file);
    }
    dir
}

/// Writes one fuzz input as `path`.
pub fn write_input(path: &Path, data: &[u8]) {
    setup(std::fs::write(path, data), "writing the input file");
}

/// A bad input's error: it must say something (its `Display` is what a user reads).
pub fn check_error(error: &dyn Display) {
    assert!(!error.to_string().trim().is_empty(), "an error with an empty message");
}

/// The pruner over [`tiny_model_dir`].
pub fn tiny_pruner() -> Pruner<B> {
    setup(
        Pruner::load(&tiny_model_dir(), Default::default()),
        "loading the tiny model",
    )
}

/// A `process()` call as the fixtures write it: `question` (string or list), `context` (string,
/// list of texts or sentence lists, or per-question lists of them) and `options` (the keyword
/// arguments of upstream's `process()`). `None` when the JSON has another shape.
pub fn process_case(case: &Value) -> Option<(ProcessInput, ProcessOptions)> {
    let input = process_input(case.get("question")?, case.get("context")?)?;
    let options = process_options(case.get("options").unwrap_or(&Value::Null))?;
    Some((input, options))
}

fn document(value: &Value) -> Option<Document> {
    match value {
        Value::String(text) => Some(Document::Text(text.clone())),
        Value::Array(sentences) => Some(Document::Sentences(strings(sentences)?)),
        _ => None,
    }
}

fn strings(values: &[Value]) -> Option<Vec<String>> {
    values.iter().map(|v| v.as_str().map(str::to_owned)).collect()
}

fn documents(value: &Value) -> Option<Vec<Document>> {
    value.as_array()?.iter().map(document).collect()
}

/// upstream's `_normalize_inputs` shapes: pair, documents, aligned, nested.
fn process_input(question: &Value, context: &Value) -> Option<ProcessInput> {
    match (question, context) {
        (Value::String(q), Value::String(c)) => Some(ProcessInput::Pair {
            question: q.clone(),
            context: c.clone(),
        }),
        (Value::String(q), Value::Array(_)) => Some(ProcessInput::Documents {
            question: q.clone(),
            documents: documents(context)?,
        }),
        (Value::Array(qs), Value::Array(cs)) if cs.iter().all(Value::is_string) => Some(ProcessInput::Aligned {
            questions: strings(qs)?,
            documents: documents(context)?,
        }),
        (Value::Array(qs), Value::Array(cs)) => Some(ProcessInput::Nested {
            questions: strings(qs)?,
            documents: cs.iter().map(documents).collect::<Option<_>>()?,
        }),
        _ => None,
    }
}

fn title(value: Option<&Value>) -> Option<Title> {
    Some(match value {
        None => Title::FirstSentence,
        Some(Value::Null) => Title::None,
        Some(Value::String(t)) => Title::Fixed(t.clone()),
        Some(Value::Array(items)) if items.iter().all(Value::is_string) => Title::PerQuery(strings(items)?),
        Some(Value::Array(items)) => Title::PerDocument(
            items
                .iter()
                .map(|per_query| strings(per_query.as_array()?))
                .collect::<Option<_>>()?,
        ),
        Some(_) => return None,
    })
}

/// The options the fixtures set; sizes are capped so that one run stays short.
fn process_options(o: &Value) -> Option<ProcessOptions> {
    let flag = |k: &str, default: bool| o.get(k).and_then(Value::as_bool).unwrap_or(default);
    let size = |k: &str| o.get(k).and_then(Value::as_u64).map(|v| v.min(1 << 16) as usize);
    let defaults = ProcessOptions::default();
    Some(ProcessOptions {
        title: title(o.get("title"))?,
        first_line_as_title: flag("first_line_as_title", false),
        always_select_title: flag("always_select_title", false),
        reorder: flag("reorder", false),
        top_k: size("top_k"),
        threshold: o.get("threshold").and_then(Value::as_f64),
        language: match o.get("language").and_then(Value::as_str) {
            Some(language) => language.parse().ok()?,
            None => SplitterLanguage::Auto,
        },
        respect_sentence_boundaries: flag("respect_sentence_boundaries", false),
        use_best_reranker_score: flag("use_best_reranker_score", true),
        zero_score_when_empty: flag("zero_score_when_empty", true),
        strip_sentences: flag("strip_sentences", false),
        return_sentence_metrics: flag("return_sentence_metrics", false),
        return_sentence_texts: flag("return_sentence_texts", false),
        legacy_prefix_offset: flag("legacy_prefix_offset", false),
        batch_size: size("batch_size").unwrap_or(defaults.batch_size),
        max_batch_tokens: size("max_batch_tokens").unwrap_or(defaults.max_batch_tokens),
        ..defaults
    })
}
