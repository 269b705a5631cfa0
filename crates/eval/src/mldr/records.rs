//! The process stage's rows (upstream's `build_records` and `build_original_records`): one row
//! per passage with the pruned text, score, compression and sentence lists, and the averages of
//! its `summary.json`.

use provence_infer::{Document, ProcessInput, ProcessOptions, Pruner, Title};
use provence_model::ModelBackend;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::data::{MldrQuery, Passage};
use super::error::MldrError;

/// One passage after the process stage (upstream's dataset columns, in order).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PassageRecord {
    /// The query's id.
    pub query_id: String,
    /// The question.
    pub query: String,
    /// The passage's id.
    pub docid: String,
    /// 1 for a positive passage, 0 for a negative one.
    pub label: i64,
    /// The passage's title, else the one `process()` used.
    pub title: Option<String>,
    /// The passage as given.
    pub original_text: String,
    /// What the LLM reads: the pruned text (or the original, with `--text-source original`).
    pub pruned_text: String,
    /// `process()`'s reranking score (`None` for original text).
    pub reranking_score: Option<f64>,
    /// Percentage of characters removed (upstream writes 100.0 for original text).
    pub compression_rate: f64,
    /// Kept sentences, titles included.
    pub kept_sentences: Vec<String>,
    /// Removed sentences, titles included.
    pub removed_sentences: Vec<String>,
}

/// Python's `normalize_title`: a stripped non-empty string, the stripped non-empty parts of a
/// list joined by spaces, else `None`.
pub(crate) fn normalize_title(value: Option<&Value>) -> Option<String> {
    let text = match value? {
        Value::Null => return None,
        Value::String(s) => s.trim().to_owned(),
        Value::Array(items) => items
            .iter()
            .filter(|v| !v.is_null())
            .map(|v| match v {
                Value::String(s) => s.trim().to_owned(),
                other => other.to_string().trim().to_owned(),
            })
            .filter(|p| !p.is_empty())
            .collect::<Vec<_>>()
            .join(" "),
        other => other.to_string().trim().to_owned(),
    };
    (!text.is_empty()).then_some(text)
}

/// A query's passages, positives first, with their labels.
fn passages(query: &MldrQuery) -> impl Iterator<Item = (&Passage, i64)> {
    let pos = query.positive_passages.iter().map(|p| (p, 1));
    pos.chain(query.negative_passages.iter().map(|p| (p, 0)))
}

/// The pruned rows of `queries` (queries without passages are dropped) and the number of
/// queries kept: one `process()` call over every query's passages, as upstream's
/// `build_records`. A passage without a title goes to `process()` with the title `"None"`, as
/// upstream's `str(None)` hands it over, and the content probabilities are read shifted by the
/// title's tokens (`legacy_prefix_offset`) as upstream's `process()` reads them, so the pruned
/// texts are the ones upstream's MLDR numbers come from; for the same reason a long question is
/// kept whole as upstream keeps it (`legacy_full_query`).
pub fn pruned_records<B: ModelBackend>(
    pruner: &Pruner<B>,
    queries: &[MldrQuery],
    options: &ProcessOptions,
) -> Result<(Vec<PassageRecord>, usize), MldrError> {
    let queries: Vec<&MldrQuery> = queries.iter().filter(|q| passages(q).next().is_some()).collect();
    if queries.is_empty() {
        return Ok((Vec::new(), 0));
    }
    let titles = queries
        .iter()
        .map(|q| {
            passages(q)
                .map(|(p, _)| normalize_title(p.title.as_ref()).unwrap_or_else(|| "None".to_owned()))
                .collect()
        })
        .collect();
    let input = ProcessInput::Nested {
        questions: queries.iter().map(|q| q.query.clone()).collect(),
        documents: queries
            .iter()
            .map(|q| passages(q).map(|(p, _)| Document::Text(p.text.clone())).collect())
            .collect(),
    };
    let options = ProcessOptions {
        title: Title::PerDocument(titles),
        return_sentence_texts: true,
        legacy_prefix_offset: true,
        legacy_full_query: true,
        ..options.clone()
    };
    let output = pruner.process(input, &options)?;
    let mut records = Vec::new();
    for (query, results) in queries.iter().zip(&output.results) {
        for ((passage, label), result) in passages(query).zip(results) {
            let model_title = Value::from(result.title.clone());
            records.push(PassageRecord {
                query_id: query.query_id.clone(),
                query: query.query.clone(),
                docid: passage.docid.clone(),
                label,
                title: normalize_title(passage.title.as_ref()).or_else(|| normalize_title(Some(&model_title))),
                original_text: passage.text.clone(),
                pruned_text: result.pruned_context.clone(),
                reranking_score: result.reranking_score,
                compression_rate: result.compression_rate,
                kept_sentences: result.kept_sentences.clone().unwrap_or_default(),
                removed_sentences: result.removed_sentences.clone().unwrap_or_default(),
            });
        }
    }
    Ok((records, queries.len()))
}

/// Rows that hand the original passages to the judge (`build_original_records`): no score,
/// compression 100.0 and empty sentence lists, as upstream writes them.
pub fn original_records(queries: &[MldrQuery]) -> (Vec<PassageRecord>, usize) {
    let mut records = Vec::new();
    let mut count = 0;
    for query in queries.iter().filter(|q| passages(q).next().is_some()) {
        for (passage, label) in passages(query) {
            records.push(PassageRecord {
                query_id: query.query_id.clone(),
                query: query.query.clone(),
                docid: passage.docid.clone(),
                label,
                title: normalize_title(passage.title.as_ref()),
                original_text: passage.text.clone(),
                pruned_text: passage.text.clone(),
                reranking_score: None,
                compression_rate: 100.0,
                kept_sentences: Vec::new(),
                removed_sentences: Vec::new(),
            });
        }
        count += 1;
    }
    (records, count)
}

/// Averages over the positive or negative rows: `(score, compression)`; a score average over
/// the rows with a score, `None` where there is nothing to average.
pub fn averages(records: &[PassageRecord], label: i64) -> (Option<f64>, Option<f64>) {
    let rows: Vec<&PassageRecord> = records.iter().filter(|r| r.label == label).collect();
    let scores: Vec<f64> = rows.iter().filter_map(|r| r.reranking_score).collect();
    let compressions: Vec<f64> = rows.iter().map(|r| r.compression_rate).collect();
    (mean(&scores), mean(&compressions))
}

/// The mean of `values` (`None` when empty), summed with Neumaier's compensation (Python's
/// `fmean` sums exactly).
pub(crate) fn mean(values: &[f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let (mut sum, mut carry) = (0.0f64, 0.0f64);
    for &v in values {
        let t = sum + v;
        carry += if sum.abs() >= v.abs() {
            (sum - t) + v
        } else {
            (v - t) + sum
        };
        sum = t;
    }
    Some((sum + carry) / values.len() as f64)
}
