//! The JSON bodies of the scoring endpoints (`POST /rerank`, `POST /prune`), checked and turned
//! into `process()` inputs and options, and their answers. Every type here also describes
//! itself for the OpenAPI document (`crate::openapi`).

use crate::batcher::estimate_tokens;
use crate::error::{ApiError, ErrorType};
use crate::schema;
use axum::http::StatusCode;
use provence_config::check_threshold;
use provence_infer::{Document, ProcessInput, ProcessOptions, ScoredBatch, SplitterLanguage, Title};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;
use std::str::FromStr;
use utoipa::ToSchema;

/// `POST /rerank` (also `POST /` and `POST /invocations`): text-embeddings-inference's rerank
/// request, plus `return_pruned`, `threshold` and `language`. Unknown fields are ignored, as
/// TEI does.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct RerankRequest {
    /// The query.
    #[schema(example = "What is the capital of Japan?")]
    pub query: String,
    /// The passages to rank (1 to `max_client_batch_size`).
    #[schema(example = json!(["Tokyo is the capital of Japan.", "Bananas are yellow."]))]
    pub texts: Vec<String>,
    /// Report the ranking logit instead of its sigmoid.
    #[serde(default)]
    pub raw_scores: bool,
    /// Echo each passage as `text`.
    #[serde(default)]
    pub return_text: bool,
    /// Checked as TEI checks it (a boolean or null); nothing is cut away either way: passages
    /// longer than the model's window are split into blocks, queries bounded to half of it.
    #[serde(default)]
    #[schema(nullable = true, default = json!(null))]
    pub truncate: Option<bool>,
    /// Checked as TEI checks it (`Left`, `left`, `Right`, `right`), then unused (see
    /// `truncate`).
    #[serde(default)]
    pub truncation_direction: TruncationDirection,
    /// Ours: also return each passage pruned (`pruned_text`, `compression_rate`).
    #[serde(default)]
    pub return_pruned: bool,
    /// Ours: pruning threshold in [0, 1] for `return_pruned` (default: the server's).
    #[serde(default)]
    #[schema(nullable = true, minimum = 0.0, maximum = 1.0)]
    pub threshold: Option<f64>,
    /// Ours: sentence splitter for `return_pruned`: `auto` (default), `en` or `ja`.
    #[serde(default)]
    #[schema(nullable = true, example = "auto")]
    pub language: Option<String>,
}

/// TEI's `truncation_direction`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, ToSchema)]
pub enum TruncationDirection {
    /// Cut the start of a text.
    #[serde(alias = "left")]
    Left,
    /// Cut the end of a text.
    #[serde(alias = "right")]
    #[default]
    Right,
}

/// One item of the `/rerank` answer (TEI's `Rank`, plus our pruning fields). Optional fields
/// appear only when asked for, so more can be added without changing TEI's shape.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Rank {
    /// Position of the passage in the request's `texts`.
    #[schema(example = 0)]
    pub index: usize,
    /// The passage (with `return_text`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// The reranker score: sigmoid of the ranking logit (the logit with `raw_scores`).
    #[schema(example = 0.93)]
    pub score: f64,
    /// Ours: the kept sentences (with `return_pruned`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pruned_text: Option<String>,
    /// Ours: percent of characters removed (with `return_pruned`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compression_rate: Option<f64>,
}

/// `POST /prune`: the `process()` options that make sense over HTTP. Unknown fields are
/// rejected.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PruneRequest {
    /// A question, or a list of questions.
    #[schema(schema_with = schema::question)]
    pub question: Value,
    /// One question: a text, or a list of documents (each a text or a list of sentences).
    /// Several questions: one text per question, or one list of documents per question.
    /// `context` is accepted as an alias.
    #[serde(alias = "context")]
    #[schema(schema_with = schema::contexts)]
    pub contexts: Value,
    /// Keep sentences whose probability is above this, in [0, 1] (default: the server's).
    #[serde(default)]
    #[schema(nullable = true, minimum = 0.0, maximum = 1.0)]
    pub threshold: Option<f64>,
    /// Sentence-splitter language: `auto` (default), `en` or `ja`.
    #[serde(default)]
    #[schema(nullable = true, example = "auto")]
    pub language: Option<String>,
    /// Sort each question's documents by score, descending.
    #[serde(default)]
    pub reorder: bool,
    /// With `reorder`, keep the first k documents.
    #[serde(default)]
    #[schema(nullable = true)]
    pub top_k: Option<usize>,
    /// Absent or `"first_sentence"`: upstream's default; `null`: no title; a string: one
    /// title for all; a list: one per question; a list of lists: one per document.
    #[serde(default, deserialize_with = "present")]
    #[schema(schema_with = schema::title)]
    pub title: Option<Value>,
    /// Take each document's first line as its title.
    #[serde(default)]
    pub first_line_as_title: bool,
    /// Keep the title sentence whenever any sentence is kept.
    #[serde(default)]
    pub always_select_title: bool,
    /// Return `sentence_probabilities`.
    #[serde(default)]
    pub return_sentence_metrics: bool,
    /// Return `kept_sentences` / `removed_sentences`.
    #[serde(default)]
    pub return_sentence_texts: bool,
}

/// The `/prune` answer: `process()`'s JSON (each field a scalar, a list over documents or
/// questions, or a list of lists, following the input's shape) with its `timing`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(transparent)]
pub struct PruneResponse(pub Value);

impl utoipa::PartialSchema for PruneResponse {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        schema::prune_response()
    }
}

impl ToSchema for PruneResponse {}

/// `Some(value)` for a present field, `null` included (absent fields get the default, `None`).
fn present<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(deserializer).map(Some)
}

/// What the server fills in and enforces.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Defaults {
    /// Threshold when a request gives none.
    pub threshold: f64,
    /// Texts per request.
    pub max_client_batch_size: usize,
}

/// A request ready for the batcher.
pub(crate) struct Prepared {
    pub input: ProcessInput,
    pub options: ProcessOptions,
    pub threshold: f64,
    /// Estimated tokens ([`estimate_tokens`]).
    pub cost: usize,
    /// Characters the model reads: the query once per document, plus the documents (TEI's
    /// `x-compute-characters`).
    pub characters: usize,
}

fn threshold(given: Option<f64>, defaults: Defaults) -> Result<f64, ApiError> {
    match given {
        Some(t) => check_threshold(t).map_err(|m| ApiError::validation(format!("threshold: {m}"))),
        None => Ok(defaults.threshold),
    }
}

fn language(given: Option<&str>) -> Result<SplitterLanguage, ApiError> {
    given.map_or(Ok(SplitterLanguage::Auto), |l| {
        SplitterLanguage::from_str(l)
            .map_err(|_| ApiError::validation(format!("language: expected \"auto\", \"en\" or \"ja\", got {l:?}")))
    })
}

/// What a `/rerank` answer shows besides index and score.
pub(crate) struct RankView {
    raw_scores: bool,
    return_pruned: bool,
    /// The passages, with `return_text`.
    texts: Option<Vec<String>>,
}

impl RerankRequest {
    pub(crate) fn prepare(self, defaults: Defaults) -> Result<(Prepared, RankView), ApiError> {
        if self.texts.is_empty() {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                ErrorType::Empty,
                "`texts` cannot be empty",
            ));
        }
        if self.texts.len() > defaults.max_client_batch_size {
            return Err(ApiError::batch_size(self.texts.len(), defaults.max_client_batch_size));
        }
        let options = ProcessOptions {
            language: language(self.language.as_deref())?,
            ..ProcessOptions::default()
        };
        let threshold = threshold(self.threshold, defaults)?;
        let view = RankView {
            raw_scores: self.raw_scores,
            return_pruned: self.return_pruned,
            texts: self.return_text.then(|| self.texts.clone()),
        };
        let input = ProcessInput::Documents {
            question: self.query,
            documents: self.texts.into_iter().map(Document::Text).collect(),
        };
        let (cost, characters) = costs(&input);
        let prepared = Prepared {
            input,
            options,
            threshold,
            cost,
            characters,
        };
        Ok((prepared, view))
    }
}

/// The ranking of `scored` (one query's documents), best first, ties in TEI's order (TEI sorts
/// ascending, stable, then reverses: of two equal scores the later passage comes first); pruned
/// texts with `threshold` and `options`. Scores are finite (the batcher answers 424 otherwise).
pub(crate) fn ranks(view: RankView, scored: &ScoredBatch, threshold: f64, options: &ProcessOptions) -> Vec<Rank> {
    let documents = scored.documents.first().map(Vec::as_slice).unwrap_or_default();
    let mut texts = view.texts.map(Vec::into_iter);
    let mut ranks: Vec<Rank> = documents
        .iter()
        .enumerate()
        .map(|(index, doc)| {
            let score = if view.raw_scores {
                doc.block_logit
            } else {
                doc.block_score
            };
            let pruned = view.return_pruned.then(|| doc.finish(threshold, options));
            Rank {
                index,
                score: score.unwrap_or(0.0),
                text: texts.as_mut().and_then(Iterator::next),
                compression_rate: pruned.as_ref().map(|p| p.compression_rate),
                pruned_text: pruned.map(|p| p.pruned_context),
            }
        })
        .collect();
    ranks.sort_by(|a, b| a.score.partial_cmp(&b.score).unwrap_or(std::cmp::Ordering::Equal));
    ranks.reverse();
    ranks
}

/// A document: a text, or a list of sentences.
fn document(value: &Value, what: &str) -> Result<Document, ApiError> {
    match value {
        Value::String(s) => Ok(Document::Text(s.clone())),
        Value::Array(items) => items
            .iter()
            .map(|s| s.as_str().map(str::to_string))
            .collect::<Option<Vec<_>>>()
            .map(Document::Sentences)
            .ok_or_else(|| ApiError::validation(format!("{what}: sentences must be strings"))),
        _ => Err(ApiError::validation(format!(
            "{what}: a document must be a string or a list of sentences"
        ))),
    }
}

fn documents(value: &Value, what: &str) -> Result<Vec<Document>, ApiError> {
    match value {
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, d)| document(d, &format!("{what}[{i}]")))
            .collect(),
        _ => Err(ApiError::validation(format!("{what} must be a list of documents"))),
    }
}

fn strings(value: &Value, what: &str) -> Result<Vec<String>, ApiError> {
    value
        .as_array()
        .and_then(|items| items.iter().map(|s| s.as_str().map(str::to_string)).collect())
        .ok_or_else(|| ApiError::validation(format!("{what} must be a list of strings")))
}

/// `question` and `contexts` as one of `process()`'s input shapes.
fn process_input(question: &Value, contexts: &Value) -> Result<ProcessInput, ApiError> {
    match (question, contexts) {
        (Value::String(q), Value::String(c)) => Ok(ProcessInput::Pair {
            question: q.clone(),
            context: c.clone(),
        }),
        (Value::String(q), Value::Array(_)) => Ok(ProcessInput::Documents {
            question: q.clone(),
            documents: documents(contexts, "contexts")?,
        }),
        (Value::String(_), _) => Err(ApiError::validation(
            "contexts: expected a string or a list of documents",
        )),
        (Value::Array(_), _) => {
            let questions = strings(question, "question")?;
            let Value::Array(items) = contexts else {
                return Err(ApiError::validation(
                    "contexts: with a list of questions, expected a list with one entry per question",
                ));
            };
            if items.len() != questions.len() {
                return Err(ApiError::validation(format!(
                    "{} questions but {} contexts; give one entry per question",
                    questions.len(),
                    items.len()
                )));
            }
            if items.iter().all(Value::is_string) {
                let documents = items
                    .iter()
                    .map(|c| document(c, "contexts"))
                    .collect::<Result<_, _>>()?;
                return Ok(ProcessInput::Aligned { questions, documents });
            }
            let documents = items
                .iter()
                .enumerate()
                .map(|(i, d)| documents(d, &format!("contexts[{i}]")))
                .collect::<Result<_, _>>()?;
            Ok(ProcessInput::Nested { questions, documents })
        }
        _ => Err(ApiError::validation("question: expected a string or a list of strings")),
    }
}

/// `title` as `process()`'s [`Title`].
fn title(value: Option<&Value>) -> Result<Title, ApiError> {
    let shape = || {
        ApiError::validation(
            "title: expected null, a string, a list of strings (one per question) or a list of lists of strings (one per document)",
        )
    };
    match value {
        None => Ok(Title::FirstSentence),
        Some(Value::Null) => Ok(Title::None),
        Some(Value::String(s)) if s == "first_sentence" => Ok(Title::FirstSentence),
        Some(Value::String(s)) => Ok(Title::Fixed(s.clone())),
        Some(Value::Array(items)) if items.iter().all(Value::is_string) => {
            strings(&Value::Array(items.clone()), "title").map(Title::PerQuery)
        }
        Some(Value::Array(items)) => items
            .iter()
            .map(|t| strings(t, "title").map_err(|_| shape()))
            .collect::<Result<_, _>>()
            .map(Title::PerDocument),
        Some(_) => Err(shape()),
    }
}

/// `(question sizes, document sizes per question)` of an input, each text measured by `measure`.
fn sizes(input: &ProcessInput, measure: fn(&str) -> usize) -> (Vec<usize>, Vec<Vec<usize>>) {
    let document = |d: &Document| match d {
        Document::Text(t) => measure(t),
        Document::Sentences(s) => s.iter().map(|s| measure(s)).sum(),
    };
    match input {
        ProcessInput::Pair { question, context } => (vec![measure(question)], vec![vec![measure(context)]]),
        ProcessInput::Documents { question, documents } => {
            (vec![measure(question)], vec![documents.iter().map(document).collect()])
        }
        ProcessInput::Aligned { questions, documents } => (
            questions.iter().map(|q| measure(q)).collect(),
            documents.iter().map(|d| vec![document(d)]).collect(),
        ),
        ProcessInput::Nested { questions, documents } => (
            questions.iter().map(|q| measure(q)).collect(),
            documents.iter().map(|ds| ds.iter().map(document).collect()).collect(),
        ),
    }
}

/// Documents of an input, checked against `max_client_batch_size`.
fn check_count(input: &ProcessInput, defaults: Defaults) -> Result<(), ApiError> {
    let count: usize = sizes(input, str::len).1.iter().map(Vec::len).sum();
    if count > defaults.max_client_batch_size {
        return Err(ApiError::batch_size(count, defaults.max_client_batch_size));
    }
    Ok(())
}

/// `(estimated tokens, characters the model reads)` of an input; the characters count the
/// query once per document, as TEI's `x-compute-characters` does.
fn costs(input: &ProcessInput) -> (usize, usize) {
    let (questions, documents) = sizes(input, str::len);
    let cost = estimate_tokens(&questions, &documents);
    let (questions, documents) = sizes(input, |s| s.chars().count());
    let characters = questions
        .iter()
        .zip(&documents)
        .map(|(q, docs)| docs.iter().map(|d| q + d).sum::<usize>())
        .sum();
    (cost, characters)
}

impl PruneRequest {
    pub(crate) fn prepare(self, defaults: Defaults) -> Result<Prepared, ApiError> {
        let input = process_input(&self.question, &self.contexts)?;
        check_count(&input, defaults)?;
        let (cost, characters) = costs(&input);
        let title = title(self.title.as_ref())?;
        if self.first_line_as_title && !matches!(title, Title::None | Title::FirstSentence) {
            return Err(ApiError::validation(
                "first_line_as_title cannot be combined with an explicit title",
            ));
        }
        let options = ProcessOptions {
            title,
            first_line_as_title: self.first_line_as_title,
            always_select_title: self.always_select_title,
            reorder: self.reorder,
            top_k: self.top_k,
            language: language(self.language.as_deref())?,
            return_sentence_metrics: self.return_sentence_metrics,
            return_sentence_texts: self.return_sentence_texts,
            ..ProcessOptions::default()
        };
        let threshold = threshold(self.threshold, defaults)?;
        Ok(Prepared {
            input,
            options: ProcessOptions {
                threshold: Some(threshold),
                ..options
            },
            threshold,
            cost,
            characters,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn prune(body: Value) -> Result<Prepared, ApiError> {
        let defaults = Defaults {
            threshold: 0.1,
            max_client_batch_size: 4,
        };
        serde_json::from_value::<PruneRequest>(body)
            .map_err(|e| ApiError::validation(e.to_string()))?
            .prepare(defaults)
    }

    #[test]
    fn shapes_follow_process_inputs() {
        let p = prune(json!({"question": "q", "contexts": "c"})).unwrap();
        assert!(matches!(p.input, ProcessInput::Pair { .. }));
        let p = prune(json!({"question": "q", "context": ["a", ["b", "c"]]})).unwrap();
        assert!(matches!(p.input, ProcessInput::Documents { ref documents, .. } if documents.len() == 2));
        let p = prune(json!({"question": ["q1", "q2"], "contexts": ["a", "b"]})).unwrap();
        assert!(matches!(p.input, ProcessInput::Aligned { .. }));
        let p = prune(json!({"question": ["q1", "q2"], "contexts": [["a"], ["b", ["c", "d"]]]})).unwrap();
        assert!(matches!(p.input, ProcessInput::Nested { .. }));
        assert_eq!(p.options.title, Title::FirstSentence);
        assert_eq!(p.threshold, 0.1);
    }

    #[test]
    fn titles_and_limits() {
        let t = |v: Value| prune(json!({"question": "q", "contexts": ["a"], "title": v})).map(|p| p.options.title);
        assert_eq!(t(Value::Null).unwrap(), Title::None);
        assert_eq!(t(json!("first_sentence")).unwrap(), Title::FirstSentence);
        assert_eq!(t(json!("T")).unwrap(), Title::Fixed("T".into()));
        assert_eq!(t(json!(["T"])).unwrap(), Title::PerQuery(vec!["T".into()]));
        assert_eq!(t(json!([["T"]])).unwrap(), Title::PerDocument(vec![vec!["T".into()]]));
        assert!(t(json!(3)).is_err());
        assert!(t(json!([3])).is_err());
        let err = prune(json!({"question": "q", "contexts": ["a", "b", "c", "d", "e"]}))
            .err()
            .unwrap();
        assert!(err.message.contains("maximum allowed batch size 4"), "{}", err.message);
        assert!(prune(json!({"question": "q", "contexts": "c", "threshold": 1.5})).is_err());
        assert!(prune(json!({"question": "q", "contexts": "c", "language": "fr"})).is_err());
        assert!(prune(json!({"question": ["a"], "contexts": ["x", "y"]})).is_err());
        assert!(prune(json!({"question": ["a", "b"], "contexts": ["x", ["y"]]})).is_err());
    }

    #[test]
    fn ties_come_later_index_first_as_in_tei() {
        // TEI: sort ascending (stable), then reverse.
        let doc = |score: f64| provence_infer::ScoredDocument {
            sentences: vec!["S. ".into()],
            n_prefix: 0,
            sentence_probabilities: vec![0.5],
            block_score: Some(score),
            block_logit: Some(score),
            base_chars: 3,
            title_index: None,
        };
        let scored = ScoredBatch {
            shape: provence_infer::InputShape::List,
            documents: vec![[0.2, 0.7, 0.2, 0.9, 0.7].into_iter().map(doc).collect()],
            timing: provence_infer::Timing::default(),
        };
        let view = RankView {
            raw_scores: false,
            return_pruned: false,
            texts: None,
        };
        let order: Vec<usize> = ranks(view, &scored, 0.1, &ProcessOptions::default())
            .iter()
            .map(|r| r.index)
            .collect();
        assert_eq!(order, [3, 4, 1, 2, 0]);
    }
}
