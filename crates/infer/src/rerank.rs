//! text-embeddings-inference's `/rerank` answer, without HTTP: one query's passages ranked by
//! the reranker score, with TEI's fields and tie order, plus our pruning fields. The HTTP service
//! and the language bindings build their answers here.

use crate::pruner::{Document, ProcessInput, ProcessOptions, PruneError, ScoredDocument, SentenceSpan};
use std::cmp::Ordering;

/// TEI's message when a rerank request has no passages.
pub const EMPTY_TEXTS: &str = "`texts` cannot be empty";

/// What a rerank answer shows besides each passage's index and score.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RankFields {
    /// Report the ranking logit instead of its sigmoid (TEI's `raw_scores`).
    pub raw_scores: bool,
    /// Echo each passage as `text` (TEI's `return_text`).
    pub return_text: bool,
    /// Also give each passage pruned (`pruned_text`, `compression_rate`; ours).
    pub return_pruned: bool,
}

/// One item of a rerank answer: TEI's `Rank` (`index`, `text`, `score`) and our pruning fields.
#[derive(Debug, Clone, PartialEq)]
pub struct Rank {
    /// Position of the passage in the request's texts.
    pub index: usize,
    /// The passage (with [`RankFields::return_text`]).
    pub text: Option<String>,
    /// Sigmoid of the ranking logit, or the logit with [`RankFields::raw_scores`]; 0.0 for a
    /// passage that produced no block.
    pub score: f64,
    /// The kept sentences (with [`RankFields::return_pruned`]).
    pub pruned_text: Option<String>,
    /// Percent of characters removed (with [`RankFields::return_pruned`]).
    pub compression_rate: Option<f64>,
    /// Where the kept sentences are in the passage (with [`RankFields::return_pruned`] and
    /// [`ProcessOptions::return_offsets`]).
    pub kept_spans: Option<Vec<SentenceSpan>>,
}

/// The `process()` input of a rerank request: `query` with each text as one document; an error
/// (TEI's message) when there is no text.
pub fn rerank_input(query: String, texts: Vec<String>) -> Result<ProcessInput, PruneError> {
    if texts.is_empty() {
        return Err(PruneError::Shape(EMPTY_TEXTS.to_string()));
    }
    Ok(ProcessInput::Documents {
        question: query,
        documents: texts.into_iter().map(Document::Text).collect(),
    })
}

/// The ranking of one query's scored passages (`documents`, in request order; `texts` are the
/// passages, echoed with `return_text`), best first. Ties come in TEI's order: TEI sorts
/// ascending (stable) and reverses, so of two equal scores the later passage comes first.
/// Pruned texts use `threshold` and `options`. A NaN or infinite score is an error (TEI cannot
/// order or serialise it either).
pub fn rank(
    documents: &[ScoredDocument],
    texts: &[String],
    fields: RankFields,
    threshold: f64,
    options: &ProcessOptions,
) -> Result<Vec<Rank>, PruneError> {
    let mut ranks = Vec::with_capacity(documents.len());
    for (index, doc) in documents.iter().enumerate() {
        let score = if fields.raw_scores {
            doc.block_logit
        } else {
            doc.block_score
        }
        .unwrap_or(0.0);
        if !score.is_finite() {
            return Err(PruneError::NonFiniteScore { index, score });
        }
        let pruned = fields.return_pruned.then(|| doc.finish(threshold, options));
        ranks.push(Rank {
            index,
            text: fields.return_text.then(|| texts.get(index).cloned()).flatten(),
            score,
            compression_rate: pruned.as_ref().map(|p| p.compression_rate),
            kept_spans: pruned.as_ref().and_then(|p| p.kept_spans.clone()),
            pruned_text: pruned.map(|p| p.pruned_context),
        });
    }
    ranks.sort_by(|a, b| a.score.partial_cmp(&b.score).unwrap_or(Ordering::Equal));
    ranks.reverse();
    Ok(ranks)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(score: Option<f64>) -> ScoredDocument {
        ScoredDocument {
            sentences: vec!["Kept. ".into(), "Dropped.".into()],
            n_prefix: 0,
            sentence_probabilities: vec![0.9, 0.0],
            block_score: score,
            block_logit: score.map(|s| (s / (1.0 - s)).ln()),
            base_chars: 14,
            title_index: None,
            content_spans: Some(vec![
                SentenceSpan {
                    bytes: 0..6,
                    chars: 0..6,
                },
                SentenceSpan {
                    bytes: 6..14,
                    chars: 6..14,
                },
            ]),
        }
    }

    #[test]
    fn best_first_and_ties_later_passage_first_as_in_tei() {
        let docs = [doc(Some(0.5)), doc(Some(0.9)), doc(Some(0.5)), doc(None)];
        let texts: Vec<String> = ["a", "b", "c", "d"].map(String::from).to_vec();
        let options = ProcessOptions::default();
        let ranks = rank(&docs, &texts, RankFields::default(), 0.1, &options).unwrap();
        let order: Vec<usize> = ranks.iter().map(|r| r.index).collect();
        assert_eq!(order, vec![1, 2, 0, 3]);
        assert!(ranks.iter().all(|r| r.text.is_none() && r.pruned_text.is_none()));
        let fields = RankFields {
            raw_scores: true,
            return_text: true,
            return_pruned: true,
        };
        let ranks = rank(&docs, &texts, fields, 0.1, &options).unwrap();
        assert_eq!(ranks[0].text.as_deref(), Some("b"));
        assert!((ranks[0].score - 9f64.ln()).abs() < 1e-12, "the logit with raw_scores");
        assert_eq!(ranks[0].pruned_text.as_deref(), Some("Kept. "));
        assert!((ranks[0].compression_rate.unwrap() - 800.0 / 14.0).abs() < 1e-9);
        assert_eq!(ranks[0].kept_spans, None, "offsets only when asked for");
        let offsets = ProcessOptions {
            return_offsets: true,
            ..ProcessOptions::default()
        };
        let ranks = rank(&docs, &texts, fields, 0.1, &offsets).unwrap();
        let spans: Vec<[usize; 2]> = ranks[0]
            .kept_spans
            .iter()
            .flatten()
            .map(SentenceSpan::char_pair)
            .collect();
        assert_eq!(spans, vec![[0, 6]]);
    }

    #[test]
    fn non_finite_scores_and_empty_requests_are_errors() {
        let docs = [doc(Some(0.5)), doc(Some(f64::NAN))];
        let err = rank(&docs, &[], RankFields::default(), 0.1, &ProcessOptions::default()).unwrap_err();
        assert!(matches!(err, PruneError::NonFiniteScore { index: 1, .. }), "{err}");
        let err = rerank_input("q".into(), Vec::new()).unwrap_err();
        assert_eq!(err.to_string(), EMPTY_TEXTS);
    }
}
