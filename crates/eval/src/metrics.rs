//! Span-level pruning metrics per dataset and threshold, exactly as upstream's
//! `scripts/eval_datasets.py` computes them (hotchpotch/open_provence; `evaluate_dataset` with
//! `_extract_sentences`, `_normalize_relevance` and `_infer_predictions`).
//!
//! Unit = one gold span (sentence). Positive = gold label 1 (relevant); predicted positive =
//! the sentence survived pruning. Counts are micro-aggregated over every span of every passage;
//! compression is a macro mean over passages. Pure functions, no model involved:
//!
//! 1. [`provence_infer::extract_sentences`] turns a passage and its `context_spans` into the
//!    pre-split sentences given to `process()`;
//! 2. [`normalize_relevance`] turns `context_spans_relevance` into a 0/1 mask;
//! 3. [`infer_predictions`] reads the keep decisions back from the returned `pruned_context`;
//! 4. a [`MetricsAccumulator`] sums [`PassageOutcome`]s and yields [`DatasetMetrics`].

use serde::Serialize;

/// Gold 0/1 mask of `span_count` spans from `context_spans_relevance`. A list of exactly
/// `span_count` values is a mask (non-zero → 1); any other length is a list of relevant span
/// indices (out-of-range ones ignored); `None` means no relevant span. Upstream's
/// `_normalize_relevance`.
pub fn normalize_relevance(values: Option<&[i64]>, span_count: usize) -> Vec<u8> {
    if span_count == 0 {
        return Vec::new();
    }
    let Some(values) = values else {
        return vec![0; span_count];
    };
    if values.len() == span_count {
        return values.iter().map(|&v| u8::from(v != 0)).collect();
    }
    let mut mask = vec![0; span_count];
    for &index in values {
        if let Ok(i) = usize::try_from(index)
            && i < span_count
        {
            mask[i] = 1;
        }
    }
    mask
}

/// Predicted keep (1) / drop (0) of the first `span_count` sentences, read greedily from
/// `pruned_text`: a cursor starts at 0; a non-empty sentence found verbatim at the cursor is
/// kept and moves the cursor past it. Lengths are code points. Upstream's `_infer_predictions`.
pub fn infer_predictions<S: AsRef<str>>(sentences: &[S], pruned_text: &str, span_count: usize) -> Vec<u8> {
    if span_count == 0 {
        return Vec::new();
    }
    let pruned: Vec<char> = pruned_text.chars().collect();
    let mut cursor = 0;
    sentences
        .iter()
        .take(span_count)
        .map(|sentence| {
            let candidate: Vec<char> = sentence.as_ref().chars().collect();
            let end = cursor + candidate.len();
            if !candidate.is_empty() && end <= pruned.len() && pruned[cursor..end] == candidate[..] {
                cursor = end;
                1
            } else {
                0
            }
        })
        .collect()
}

/// What one passage contributes to a dataset's metrics.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PassageOutcome {
    /// Number of gold spans of the passage (0: contributes only to compression).
    pub span_count: usize,
    /// Gold 0/1 labels, one per span ([`normalize_relevance`]).
    pub gold: Vec<u8>,
    /// Predicted 0/1 labels, one per span ([`infer_predictions`]).
    pub predicted: Vec<u8>,
    /// `process()`'s per-sentence keep probabilities (`sentence_probabilities`), possibly empty.
    pub sentence_probabilities: Vec<f64>,
    /// `process()`'s compression rate of the passage in percent; `None` when it returned none
    /// (the passage then still counts as a context).
    pub compression_rate: Option<f64>,
}

impl PassageOutcome {
    /// Scores one passage: `sentences` are the gold sentences given to `process()`
    /// ([`extract_sentences`]), `span_count` the number of gold spans, `relevance` the raw
    /// `context_spans_relevance` entry, and the rest `process()`'s outputs for the passage.
    pub fn score<S: AsRef<str>>(
        sentences: &[S],
        span_count: usize,
        relevance: Option<&[i64]>,
        pruned_text: &str,
        compression_rate: Option<f64>,
        sentence_probabilities: Vec<f64>,
    ) -> Self {
        PassageOutcome {
            span_count,
            gold: normalize_relevance(relevance, span_count),
            predicted: infer_predictions(sentences, pruned_text, span_count),
            sentence_probabilities,
            compression_rate,
        }
    }
}

/// Confusion counts over spans (JSON keys as upstream: `tp`, `fp`, `tn`, `fn`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct ConfusionMatrix {
    /// Gold 1, kept.
    pub tp: u64,
    /// Gold 0, kept.
    pub fp: u64,
    /// Gold 0, dropped.
    pub tn: u64,
    /// Gold 1, dropped.
    #[serde(rename = "fn")]
    pub fn_: u64,
}

/// Per-span (probability, gold, prediction) triples, as upstream's `roc_data` (never evaluated
/// upstream; kept for the JSON report).
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct RocData {
    /// Sentence keep probabilities.
    pub scores: Vec<f64>,
    /// Gold labels.
    pub labels: Vec<u8>,
    /// Predicted labels.
    pub predictions: Vec<u8>,
}

/// Metrics of one dataset at one threshold (upstream's per-dataset JSON object, without the
/// timing fields that the evaluation driver adds).
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct DatasetMetrics {
    /// Spans scored.
    pub span_total: u64,
    /// Spans whose prediction equals the gold label.
    pub span_correct: u64,
    /// `span_correct / span_total`; `None` without spans.
    pub span_accuracy: Option<f64>,
    /// Spans of passages whose label counts did not match their span count.
    pub span_skipped: u64,
    /// Passages seen (including those without spans).
    pub contexts: u64,
    /// Mean compression rate (%) over passages; `None` without passages.
    pub mean_compression: Option<f64>,
    /// `TP / (TP + FP)`; `None` when nothing was kept.
    pub precision: Option<f64>,
    /// `TP / (TP + FN)`; `None` without relevant spans.
    pub recall: Option<f64>,
    /// F-beta with beta = 2; `None` when precision or recall is `None` or both are 0.
    pub f2: Option<f64>,
    /// Confusion counts.
    pub confusion_matrix: ConfusionMatrix,
    /// Per-span payload of passages with enough sentence probabilities.
    pub roc_data: RocData,
}

/// Precision, recall and F2 (β = 2: `5PR / (4P + R)`) from confusion counts, each `None` when
/// undefined, exactly as upstream.
pub fn precision_recall_f2(tp: u64, fp: u64, fn_: u64) -> (Option<f64>, Option<f64>, Option<f64>) {
    let precision = (tp + fp > 0).then(|| tp as f64 / (tp + fp) as f64);
    let recall = (tp + fn_ > 0).then(|| tp as f64 / (tp + fn_) as f64);
    let f2 = match (precision, recall) {
        (Some(p), Some(r)) if 4.0 * p + r > 0.0 => Some(5.0 * p * r / (4.0 * p + r)),
        _ => None,
    };
    (precision, recall, f2)
}

/// Running sums over the passages of one dataset at one threshold.
#[derive(Debug, Clone, Default)]
pub struct MetricsAccumulator {
    span_total: u64,
    span_correct: u64,
    span_skipped: u64,
    compression_sum: f64,
    contexts: u64,
    confusion: ConfusionMatrix,
    roc: RocData,
}

impl MetricsAccumulator {
    /// An empty accumulator.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds one passage (upstream's per-context loop body).
    pub fn add(&mut self, passage: &PassageOutcome) {
        let n = passage.span_count;
        if n > 0 {
            if passage.gold.len() != n || passage.predicted.len() != n {
                self.span_skipped += n as u64;
            } else {
                let with_probs = passage.sentence_probabilities.len() >= n;
                self.span_total += n as u64;
                for (i, (&gold, &pred)) in passage.gold.iter().zip(&passage.predicted).enumerate() {
                    if gold == pred {
                        self.span_correct += 1;
                    }
                    match (gold == 1, pred == 1) {
                        (true, true) => self.confusion.tp += 1,
                        (true, false) => self.confusion.fn_ += 1,
                        (false, true) => self.confusion.fp += 1,
                        (false, false) => self.confusion.tn += 1,
                    }
                    if with_probs {
                        self.roc.scores.push(passage.sentence_probabilities[i]);
                        self.roc.labels.push(gold);
                        self.roc.predictions.push(pred);
                    }
                }
            }
        }
        if let Some(rate) = passage.compression_rate {
            self.compression_sum += rate;
        }
        self.contexts += 1;
    }

    /// The dataset's metrics over the passages added so far.
    pub fn finish(&self) -> DatasetMetrics {
        let c = self.confusion;
        let (precision, recall, f2) = precision_recall_f2(c.tp, c.fp, c.fn_);
        DatasetMetrics {
            span_total: self.span_total,
            span_correct: self.span_correct,
            span_accuracy: (self.span_total > 0).then(|| self.span_correct as f64 / self.span_total as f64),
            span_skipped: self.span_skipped,
            contexts: self.contexts,
            mean_compression: (self.contexts > 0).then(|| self.compression_sum / self.contexts as f64),
            precision,
            recall,
            f2,
            confusion_matrix: c,
            roc_data: self.roc.clone(),
        }
    }
}

impl<'a> FromIterator<&'a PassageOutcome> for MetricsAccumulator {
    fn from_iter<I: IntoIterator<Item = &'a PassageOutcome>>(iter: I) -> Self {
        let mut acc = MetricsAccumulator::new();
        for passage in iter {
            acc.add(passage);
        }
        acc
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn f2_formula_and_none_cases() {
        let (p, r, f2) = precision_recall_f2(3, 1, 2);
        assert_eq!((p, r), (Some(0.75), Some(0.6)));
        assert!((f2.unwrap() - 5.0 * 0.75 * 0.6 / (3.0 + 0.6)).abs() < 1e-15);
        assert_eq!(precision_recall_f2(0, 0, 4), (None, Some(0.0), None));
        assert_eq!(precision_recall_f2(0, 2, 0), (Some(0.0), None, None));
        assert_eq!(precision_recall_f2(0, 2, 3), (Some(0.0), Some(0.0), None));
    }

    #[test]
    fn mismatched_label_counts_are_skipped() {
        let passage = PassageOutcome {
            span_count: 3,
            gold: vec![1, 0],
            predicted: vec![1, 0, 0],
            sentence_probabilities: vec![0.9, 0.1, 0.2],
            compression_rate: Some(40.0),
        };
        let metrics = [passage].iter().collect::<MetricsAccumulator>().finish();
        assert_eq!(metrics.span_skipped, 3);
        assert_eq!(metrics.span_total, 0);
        assert_eq!(metrics.span_accuracy, None);
        assert_eq!(metrics.contexts, 1);
        assert_eq!(metrics.mean_compression, Some(40.0));
    }

    #[test]
    fn empty_dataset_is_all_none() {
        let metrics = MetricsAccumulator::new().finish();
        assert_eq!(metrics.mean_compression, None);
        assert_eq!(metrics.f2, None);
        let json = serde_json::to_value(&metrics).unwrap();
        assert!(json["confusion_matrix"]["fn"].is_number());
        assert!(json["f2"].is_null());
    }

    #[test]
    fn greedy_matcher_stops_advancing_after_a_miss() {
        let sentences = ["A b.", " C d.", " E."];
        assert_eq!(infer_predictions(&sentences, "A b. E.", 3), [1, 0, 1]);
        assert_eq!(infer_predictions(&sentences, " C d.A b.", 3), [0, 1, 0]);
        assert_eq!(infer_predictions(&["", "x"], "x", 2), [0, 1]);
    }
}
