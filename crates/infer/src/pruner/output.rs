//! Post-model stages of `process()` (upstream's `OpenProvenceModel._postprocess_contexts` and
//! `_apply_reordering`): keep decisions, pruned text, compression,
//! reranking score, reordering, and the upstream-shaped JSON.

use super::inputs::InputShape;
use super::offsets::SentenceSpan;
use super::options::{ProcessOptions, Timing};
use crate::split::pytext::is_blank;
use serde_json::{Value, json};

/// Model scores of one document, before a threshold is applied.
#[derive(Debug, Clone, PartialEq)]
pub struct ScoredDocument {
    /// Prefix (title) sentences followed by content sentences.
    pub sentences: Vec<String>,
    /// Number of prefix sentences.
    pub n_prefix: usize,
    /// Keep probability per sentence, clamped to [0, 1].
    pub sentence_probabilities: Vec<f64>,
    /// Sigmoid ranking score (max over blocks, or the first block); `None` without blocks.
    pub block_score: Option<f64>,
    /// The ranking logit `block_score` is the sigmoid of; `None` without blocks.
    pub block_logit: Option<f64>,
    /// Code points of the compression base text.
    pub base_chars: usize,
    /// Sentence forced into the output by `always_select_title`.
    pub title_index: Option<usize>,
    /// Where each content sentence (those after the `n_prefix` title sentences) lies in the
    /// document's source text (with `return_offsets`).
    pub content_spans: Option<Vec<SentenceSpan>>,
}

/// Every document of a `process()` call scored by the model; [`ScoredBatch::finish`] applies a
/// threshold (many thresholds can share one model run).
#[derive(Debug, Clone, PartialEq)]
pub struct ScoredBatch {
    /// Shape of the input, which decides the shape of the JSON output.
    pub shape: InputShape,
    /// Per query, per document.
    pub documents: Vec<Vec<ScoredDocument>>,
    /// Stage timings of the scoring.
    pub timing: Timing,
}

/// `process()`'s result for one document.
#[derive(Debug, Clone, PartialEq)]
pub struct DocumentResult {
    /// Kept content sentences, concatenated.
    pub pruned_context: String,
    /// Sigmoid ranking score; 0.0 when nothing non-blank was kept (`zero_score_when_empty`);
    /// `None` when the document produced no block.
    pub reranking_score: Option<f64>,
    /// `(len(base) - len(pruned)) / max(len(base), 1) * 100`, in code points.
    pub compression_rate: f64,
    /// Prefix (title) sentences.
    pub title: Vec<String>,
    /// Keep probability per sentence (with `return_sentence_metrics`).
    pub sentence_probabilities: Option<Vec<f64>>,
    /// Kept sentences incl. titles (with `return_sentence_texts`).
    pub kept_sentences: Option<Vec<String>>,
    /// Removed sentences incl. titles (with `return_sentence_texts`).
    pub removed_sentences: Option<Vec<String>>,
    /// Where the kept content sentences lie in the document's source text, in order: their
    /// slices joined are `pruned_context` (with `return_offsets`). Titles are never in the
    /// pruned text, so neither is the line `first_line_as_title` took from the text.
    pub kept_spans: Option<Vec<SentenceSpan>>,
}

/// What `process()` returns: per query, per document results.
#[derive(Debug, Clone, PartialEq)]
pub struct ProcessOutput {
    /// Shape of the input.
    pub shape: InputShape,
    /// Per query, per document (after reordering / `top_k`).
    pub results: Vec<Vec<DocumentResult>>,
    /// Stage timings.
    pub timing: Timing,
}

impl ScoredDocument {
    /// Applies `threshold` (strict `>`) and builds the document's result.
    pub fn finish(&self, threshold: f64, options: &ProcessOptions) -> DocumentResult {
        let probs = &self.sentence_probabilities;
        let mut keep: Vec<bool> = probs.iter().map(|&p| p > threshold).collect();
        if options.always_select_title
            && let Some(t) = self.title_index
            && t < keep.len()
            && keep.iter().any(|&k| k)
        {
            keep[t] = true;
        }
        let pruned: String = self
            .sentences
            .iter()
            .zip(&keep)
            .skip(self.n_prefix)
            .filter(|(_, k)| **k)
            .map(|(s, _)| s.as_str())
            .collect();
        let pruned_chars = pruned.chars().count();
        let compression_rate = (self.base_chars as f64 - pruned_chars as f64) / self.base_chars.max(1) as f64 * 100.0;
        let reranking_score = match self.block_score {
            Some(_) if options.zero_score_when_empty && is_blank(&pruned) => Some(0.0),
            score => score,
        };
        let kept_spans = if options.return_offsets {
            self.kept_spans(&keep)
        } else {
            None
        };
        let (kept, removed) = if options.return_sentence_texts {
            let (k, r): (Vec<_>, Vec<_>) = self.sentences.iter().zip(&keep).partition(|(_, k)| **k);
            (
                Some(k.into_iter().map(|(s, _)| s.clone()).collect()),
                Some(r.into_iter().map(|(s, _)| s.clone()).collect()),
            )
        } else {
            (None, None)
        };
        DocumentResult {
            pruned_context: pruned,
            reranking_score,
            compression_rate,
            title: self.sentences[..self.n_prefix].to_vec(),
            sentence_probabilities: options.return_sentence_metrics.then(|| probs.clone()),
            kept_sentences: kept,
            removed_sentences: removed,
            kept_spans,
        }
    }

    /// The spans of the kept content sentences; `None` when the document was scored without
    /// `return_offsets`.
    fn kept_spans(&self, keep: &[bool]) -> Option<Vec<SentenceSpan>> {
        let spans = self.content_spans.as_ref()?;
        let content_keep = keep.get(self.n_prefix..).unwrap_or_default();
        Some(
            spans
                .iter()
                .zip(content_keep)
                .filter(|(_, k)| **k)
                .map(|(span, _)| span.clone())
                .collect(),
        )
    }
}

impl ScoredBatch {
    /// Applies `threshold` to every document, then `reorder` / `top_k`.
    pub fn finish(&self, threshold: f64, options: &ProcessOptions) -> ProcessOutput {
        let results = self
            .documents
            .iter()
            .map(|docs| {
                let mut results: Vec<DocumentResult> = docs.iter().map(|d| d.finish(threshold, options)).collect();
                if options.reorder {
                    reorder(&mut results, options.top_k);
                }
                results
            })
            .collect();
        ProcessOutput {
            shape: self.shape,
            results,
            timing: self.timing.clone(),
        }
    }
}

/// Stable sort by score, descending (`None` last), then keep the first `top_k`.
pub fn reorder(results: &mut Vec<DocumentResult>, top_k: Option<usize>) {
    results.sort_by(|a, b| {
        let key = |r: &DocumentResult| r.reranking_score.unwrap_or(f64::NEG_INFINITY);
        key(b).total_cmp(&key(a))
    });
    if let Some(k) = top_k {
        results.truncate(k);
    }
}

impl DocumentResult {
    fn field(&self, name: &str) -> Value {
        match name {
            "pruned_context" => json!(self.pruned_context),
            "reranking_score" => json!(self.reranking_score),
            "compression_rate" => json!(self.compression_rate),
            "title" => match self.title.len() {
                0 => Value::Null,
                1 => json!(self.title[0]),
                _ => json!(self.title),
            },
            "sentence_probabilities" => json!(self.sentence_probabilities),
            "kept_sentences" => json!(self.kept_sentences),
            "removed_sentences" => json!(self.removed_sentences),
            "kept_spans" => json!(
                self.kept_spans
                    .as_ref()
                    .map(|spans| spans.iter().map(SentenceSpan::char_pair).collect::<Vec<_>>())
            ),
            _ => Value::Null,
        }
    }
}

impl ProcessOutput {
    /// Upstream's output dict: every field is a scalar (`Str`), a list over documents (`List`),
    /// a list over queries (`Aligned`) or a list of lists (`Nested`). Optional fields appear only
    /// when requested; `kept_spans` (ours) holds `[start, end]` pairs in code points.
    pub fn to_json(&self) -> Value {
        let mut fields = vec!["pruned_context", "reranking_score", "compression_rate", "title"];
        let first = self.results.iter().flatten().next();
        if first.is_some_and(|r| r.sentence_probabilities.is_some()) {
            fields.push("sentence_probabilities");
        }
        if first.is_some_and(|r| r.kept_sentences.is_some()) {
            fields.extend(["kept_sentences", "removed_sentences"]);
        }
        if first.is_some_and(|r| r.kept_spans.is_some()) {
            fields.push("kept_spans");
        }
        let mut out = serde_json::Map::new();
        for name in fields {
            let per_query = |docs: &Vec<DocumentResult>| Value::Array(docs.iter().map(|d| d.field(name)).collect());
            let value = match self.shape {
                InputShape::Str | InputShape::Aligned => {
                    let scalars: Vec<Value> = self
                        .results
                        .iter()
                        .map(|docs| docs.first().map_or(Value::Null, |d| d.field(name)))
                        .collect();
                    if self.shape == InputShape::Str {
                        scalars.into_iter().next().unwrap_or(Value::Null)
                    } else {
                        Value::Array(scalars)
                    }
                }
                InputShape::List => self.results.first().map_or(json!([]), per_query),
                InputShape::Nested => Value::Array(self.results.iter().map(per_query).collect()),
            };
            out.insert(name.to_string(), value);
        }
        out.insert("timing".into(), self.timing.to_json());
        Value::Object(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(probs: &[f64], n_prefix: usize, title_index: Option<usize>) -> ScoredDocument {
        let sentences: Vec<String> = (0..probs.len()).map(|i| format!("S{i}. ")).collect();
        let base_chars = sentences[n_prefix..].iter().map(|s| s.chars().count()).sum();
        ScoredDocument {
            sentences,
            n_prefix,
            sentence_probabilities: probs.to_vec(),
            block_score: Some(0.73),
            block_logit: Some(0.99),
            base_chars,
            title_index,
            content_spans: None,
        }
    }

    #[test]
    fn strict_threshold_and_zero_score_when_empty() {
        let options = ProcessOptions::default();
        let r = doc(&[0.5, 0.51, 0.0], 0, None).finish(0.5, &options);
        assert_eq!(r.pruned_context, "S1. ");
        assert!((r.compression_rate - 200.0 / 3.0).abs() < 1e-9);
        assert_eq!(r.reranking_score, Some(0.73));
        let r = doc(&[0.0], 0, None).finish(0.5, &options);
        assert_eq!(
            (r.pruned_context.as_str(), r.reranking_score, r.compression_rate),
            ("", Some(0.0), 100.0)
        );
        let keep_score = ProcessOptions {
            zero_score_when_empty: false,
            ..ProcessOptions::default()
        };
        assert_eq!(
            doc(&[0.0], 0, None).finish(0.5, &keep_score).reranking_score,
            Some(0.73)
        );
    }

    #[test]
    fn titles_are_never_in_the_pruned_text_and_can_be_forced() {
        let options = ProcessOptions {
            always_select_title: true,
            return_sentence_texts: true,
            ..ProcessOptions::default()
        };
        let r = doc(&[0.0, 0.9, 0.0], 1, Some(0)).finish(0.1, &options);
        assert_eq!(r.pruned_context, "S1. ");
        assert_eq!(r.kept_sentences.unwrap(), vec!["S0. ", "S1. "]);
        assert_eq!(r.title, vec!["S0. "]);
        let r = doc(&[0.0, 0.0, 0.0], 1, Some(0)).finish(0.1, &options);
        assert_eq!(
            r.kept_sentences.unwrap(),
            Vec::<String>::new(),
            "no sentence above: title not forced"
        );
    }

    #[test]
    fn kept_spans_follow_the_kept_content_sentences() {
        // "S0. " is a title prefix (not in the source text); the source is "S1. S2. S3. ".
        let mut scored = doc(&[0.9, 0.9, 0.0, 0.9], 1, Some(0));
        scored.content_spans = Some(
            (0..3)
                .map(|i| SentenceSpan {
                    bytes: 4 * i..4 * i + 4,
                    chars: 4 * i..4 * i + 4,
                })
                .collect(),
        );
        let on = ProcessOptions {
            return_offsets: true,
            ..ProcessOptions::default()
        };
        let r = scored.finish(0.5, &on);
        let pairs: Vec<[usize; 2]> = r.kept_spans.iter().flatten().map(SentenceSpan::char_pair).collect();
        assert_eq!((r.pruned_context.as_str(), pairs), ("S1. S3. ", vec![[0, 4], [8, 12]]));
        let out = ProcessOutput {
            shape: InputShape::Str,
            results: vec![vec![r]],
            timing: Timing::default(),
        };
        assert_eq!(out.to_json()["kept_spans"], json!([[0, 4], [8, 12]]));
        let off = scored.finish(0.5, &ProcessOptions::default());
        assert_eq!(off.kept_spans, None);
        let out = ProcessOutput {
            shape: InputShape::Str,
            results: vec![vec![off]],
            timing: Timing::default(),
        };
        assert!(out.to_json().get("kept_spans").is_none(), "off by default");
    }

    #[test]
    fn reorder_is_stable_with_none_last() {
        let mk = |s: Option<f64>, t: &str| DocumentResult {
            pruned_context: t.into(),
            reranking_score: s,
            compression_rate: 0.0,
            title: vec![],
            sentence_probabilities: None,
            kept_sentences: None,
            removed_sentences: None,
            kept_spans: None,
        };
        let mut r = vec![
            mk(None, "a"),
            mk(Some(0.2), "b"),
            mk(Some(0.9), "c"),
            mk(Some(0.2), "d"),
        ];
        reorder(&mut r, None);
        let order: String = r.iter().map(|r| r.pruned_context.as_str()).collect();
        assert_eq!(order, "cbda");
        reorder(&mut r, Some(0));
        assert!(r.is_empty());
    }
}
