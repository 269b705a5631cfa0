//! One dataset row: a query with its candidate passages, in the context-relevance schema.

use serde::{Deserialize, Serialize};

/// One row of a context-relevance dataset (one query, `N` candidate passages).
///
/// Every per-passage list (`texts`, `context_spans`, `labels`, `context_spans_relevance`,
/// `teacher_score`) is aligned on the passage index when the data is well formed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Row {
    /// Row id (`"msmarco:95508"`); informational only.
    pub id: Option<String>,
    /// Query text.
    pub query: String,
    /// Candidate passages.
    pub texts: Vec<String>,
    /// Per passage, sentence spans `[start, end)` in Unicode code points of that passage.
    pub context_spans: Vec<Vec<[i64; 2]>>,
    /// Per passage 1 = positive, 0 = negative (optional when teacher scores exist).
    pub labels: Option<Vec<i64>>,
    /// Per passage, 0/1 keep flags per span (or, upstream quirk, span indices).
    pub context_spans_relevance: Vec<Vec<i64>>,
    /// Per passage teacher score (the recipe's `teacher_column`, renamed `teacher_score`).
    pub teacher_score: Option<Vec<f64>>,
}

impl Row {
    /// Number of candidate passages (`texts.len()`).
    pub fn num_passages(&self) -> usize {
        self.texts.len()
    }

    /// Keeps only the passages at `keep` (ascending indices into the current passages) in every
    /// per-passage list whose length equals the current passage count, as upstream's samplers trim
    /// "every list column of length N".
    pub fn select_passages(&mut self, keep: &[usize]) {
        let n = self.texts.len();
        fn pick<T: Clone>(list: &mut Vec<T>, keep: &[usize], n: usize) {
            if list.len() == n {
                *list = keep.iter().filter_map(|&i| list.get(i).cloned()).collect();
            }
        }
        pick(&mut self.texts, keep, n);
        pick(&mut self.context_spans, keep, n);
        pick(&mut self.context_spans_relevance, keep, n);
        if let Some(labels) = self.labels.as_mut() {
            pick(labels, keep, n);
        }
        if let Some(scores) = self.teacher_score.as_mut() {
            pick(scores, keep, n);
        }
    }
}
