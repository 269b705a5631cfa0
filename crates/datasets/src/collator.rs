//! Collation of dataset rows into a tokenized [`Batch`], as upstream's
//! `OpenProvenceDataCollator` does (hotchpotch/open_provence's
//! `open_provence/data_collator.py::OpenProvenceDataCollator`).
//!
//! Each row (one query, `N` passages) becomes `N` (query, passage) pairs, encoded as tokenizer
//! *pairs* (query first) with longest-first truncation to `max_length` special tokens included,
//! and right-padded to the longest pair of the batch with the pad id. Token pruning labels come
//! from the sentence spans and their relevance flags; ranking targets from the teacher scores
//! (or the 0/1 labels when a row has none).

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};

use provence_hub::PretrainedTokenizer;
use tokenizers::{Encoding, PostProcessor, Tokenizer, TruncationDirection, TruncationParams, TruncationStrategy};

use crate::batch::Batch;
use crate::row::Row;

/// Label value ignored by the pruning loss (query, specials, padding, unlabelled tokens); the
/// loss owns it.
pub use provence_losses::IGNORE_INDEX;

/// Fill value of upstream's ranking-target matrix; the loss reads it back as 0.0.
const RANKING_TARGET_PAD: f32 = IGNORE_INDEX as f32;

pub use provence_config::LabelAlignment;

/// Collator settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CollatorConfig {
    /// Maximum pair length in tokens, special tokens included (`model_args.max_length`).
    pub max_length: usize,
    /// Label derivation (default: upstream's v2).
    pub label_alignment: LabelAlignment,
}

impl Default for CollatorConfig {
    fn default() -> Self {
        Self {
            max_length: provence_config::DEFAULT_MAX_LENGTH,
            label_alignment: LabelAlignment::V2,
        }
    }
}

/// Errors while collating a micro-batch.
#[derive(Debug, thiserror::Error)]
pub enum CollateError {
    /// The tokenizer has no `pad_token`, so batches cannot be padded.
    #[error("the tokenizer has no pad_token; cannot pad a batch")]
    NoPadToken,
    /// The truncation settings were rejected by the tokenizer.
    #[error("invalid truncation settings (max_length {max_length}): {message}")]
    Truncation {
        /// The configured maximum length.
        max_length: usize,
        /// What the tokenizers crate reported.
        message: String,
    },
    /// Encoding a text failed.
    #[error("tokenization failed: {0}")]
    Tokenize(String),
    /// `collate` was called with no rows, or the rows have no passages.
    #[error("cannot collate a batch without (query, passage) pairs ({rows} rows)")]
    NoPairs {
        /// Number of rows given.
        rows: usize,
    },
    /// A row has neither teacher scores nor labels.
    #[error("row {row} (id {id:?}) has neither teacher scores nor labels for ranking targets")]
    NoRankingTargets {
        /// Row position in the micro-batch.
        row: usize,
        /// Row id.
        id: Option<String>,
    },
    /// A row's ranking-target list does not fit its passages.
    #[error("row {row} (id {id:?}): {found} ranking targets for {expected} passages (teacher_score or labels)")]
    RankingTargetLength {
        /// Row position in the micro-batch.
        row: usize,
        /// Row id.
        id: Option<String>,
        /// Number of passages.
        expected: usize,
        /// Number of targets.
        found: usize,
    },
    /// A passage has relevance flags but no span list.
    #[error("row {row} (id {id:?}) passage {passage}: context_spans_relevance without context_spans")]
    MissingSpans {
        /// Row position in the micro-batch.
        row: usize,
        /// Row id.
        id: Option<String>,
        /// Passage index.
        passage: usize,
    },
    /// A relevance list read as span indices contains a negative index.
    #[error("row {row} (id {id:?}) passage {passage}: negative span index {index} in context_spans_relevance")]
    NegativeSpanIndex {
        /// Row position in the micro-batch.
        row: usize,
        /// Row id.
        id: Option<String>,
        /// Passage index.
        passage: usize,
        /// The offending value.
        index: i64,
    },
}

/// Turns rows into tokenized [`Batch`]es. Cheap to share across worker threads (`Send + Sync`).
#[derive(Debug)]
pub struct Collator {
    /// No padding, no truncation: helper encodings of v2 (query length, span counts).
    plain: Tokenizer,
    /// Longest-first truncation to `max_length`: the pair encodings.
    truncating: Tokenizer,
    pad_id: u32,
    /// `encode("test", add_special_tokens=False)`, used to find where passages start.
    test_ids: Vec<u32>,
    config: CollatorConfig,
    warned_label_fallback: AtomicBool,
}

/// One flattened (query, passage) pair.
struct Pair<'a> {
    row: usize,
    doc: usize,
    query: &'a str,
    passage: &'a str,
    spans: &'a [[i64; 2]],
    relevant: Vec<usize>,
}

impl Collator {
    /// A collator using `tokenizer` (its pair template, its pad token) and `config`.
    pub fn new(tokenizer: &PretrainedTokenizer, config: CollatorConfig) -> Result<Self, CollateError> {
        let pad_id = tokenizer.pad_token_id().ok_or(CollateError::NoPadToken)?;
        let plain = tokenizer.tokenizer().clone();
        // The pair template's special tokens must leave room for text (the tokenizers crate
        // would underflow computing the budget otherwise).
        let added = plain.get_post_processor().map_or(0, |pp| pp.added_tokens(true));
        if config.max_length <= added {
            return Err(CollateError::Truncation {
                max_length: config.max_length,
                message: format!("the pair template alone adds {added} special tokens"),
            });
        }
        let mut truncating = plain.clone();
        truncating
            .with_truncation(Some(TruncationParams {
                max_length: config.max_length,
                strategy: TruncationStrategy::LongestFirst,
                stride: 0,
                direction: TruncationDirection::Right,
            }))
            .map_err(|e| CollateError::Truncation {
                max_length: config.max_length,
                message: e.to_string(),
            })?;
        let test_ids = plain
            .encode_fast("test", false)
            .map_err(tokenize_error)?
            .get_ids()
            .to_vec();
        Ok(Self {
            plain,
            truncating,
            pad_id,
            test_ids,
            config,
            warned_label_fallback: AtomicBool::new(false),
        })
    }

    /// The collator's settings.
    pub fn config(&self) -> &CollatorConfig {
        &self.config
    }

    /// Collates `rows` (one micro-batch) into a [`Batch`].
    pub fn collate(&self, rows: &[Row]) -> Result<Batch, CollateError> {
        let pairs = self.flatten(rows)?;
        if pairs.is_empty() {
            return Err(CollateError::NoPairs { rows: rows.len() });
        }
        let targets = self.ranking_targets(rows, &pairs)?;
        // Sequential on purpose: batches are small and the collator itself runs on worker
        // threads, so the tokenizers crate's rayon fan-out only adds synchronisation.
        let encodings = pairs
            .iter()
            .map(|p| match self.config.label_alignment {
                LabelAlignment::V2 => self.truncating.encode_fast((p.query, p.passage), true),
                LabelAlignment::Offsets => self.truncating.encode_char_offsets((p.query, p.passage), true),
            })
            .collect::<tokenizers::Result<Vec<Encoding>>>()
            .map_err(tokenize_error)?;
        let seq_len = encodings.iter().map(Encoding::len).max().unwrap_or(0);
        let n = pairs.len();
        let mut batch = Batch {
            pairs: n,
            seq_len,
            input_ids: vec![i64::from(self.pad_id); n * seq_len],
            attention_mask: vec![0; n * seq_len],
            pruning_labels: vec![IGNORE_INDEX; n * seq_len],
            ranking_targets: targets,
            batch_indices: pairs.iter().map(|p| p.row).collect(),
            doc_indices: pairs.iter().map(|p| p.doc).collect(),
            docs_per_query: rows.iter().map(|r| r.texts.len()).collect(),
        };
        for (i, enc) in encodings.iter().enumerate() {
            let base = i * seq_len;
            for (j, &id) in enc.get_ids().iter().enumerate() {
                batch.input_ids[base + j] = i64::from(id);
                batch.attention_mask[base + j] = 1;
            }
        }
        match self.config.label_alignment {
            LabelAlignment::V2 => self.v2_labels(&pairs, &mut batch)?,
            LabelAlignment::Offsets => offset_labels(&pairs, &encodings, &mut batch),
        }
        Ok(batch)
    }

    /// Flattens rows into pairs (query-major), zipping the per-passage lists to the shortest as
    /// upstream's `OpenProvenceDataCollator.__call__` does, and normalises relevance lists to span
    /// indices.
    fn flatten<'a>(&self, rows: &'a [Row]) -> Result<Vec<Pair<'a>>, CollateError> {
        let mut pairs = Vec::new();
        for (b, row) in rows.iter().enumerate() {
            let targets_len = match (&row.teacher_score, &row.labels) {
                (Some(t), _) => t.len(),
                (None, Some(l)) => l.len(),
                (None, None) => {
                    return Err(CollateError::NoRankingTargets {
                        row: b,
                        id: row.id.clone(),
                    });
                }
            };
            let labels_len = row.labels.as_ref().map_or(usize::MAX, Vec::len);
            let n = row
                .texts
                .len()
                .min(labels_len)
                .min(targets_len)
                .min(row.context_spans.len())
                .min(row.context_spans_relevance.len());
            for d in 0..n {
                let spans = row.context_spans[d].as_slice();
                let relevant =
                    relevant_span_indices(&row.context_spans_relevance[d], spans.len()).map_err(|index| {
                        CollateError::NegativeSpanIndex {
                            row: b,
                            id: row.id.clone(),
                            passage: d,
                            index,
                        }
                    })?;
                pairs.push(Pair {
                    row: b,
                    doc: d,
                    query: &row.query,
                    passage: &row.texts[d],
                    spans,
                    relevant,
                });
            }
            // Upstream normalises every relevance list before zipping; a non-empty list with no
            // span list at all raises there.
            if let Some(passage) = (n..row.context_spans_relevance.len())
                .find(|&d| !row.context_spans_relevance[d].is_empty() && d >= row.context_spans.len())
            {
                return Err(CollateError::MissingSpans {
                    row: b,
                    id: row.id.clone(),
                    passage,
                });
            }
        }
        Ok(pairs)
    }

    /// Per-pair ranking target as the loss reads it (upstream's
    /// `open_provence/losses.py::OpenProvenceLoss._compute_ranking_loss`): `matrix[row, doc]`,
    /// 0.0 for -100.
    fn ranking_targets(&self, rows: &[Row], pairs: &[Pair<'_>]) -> Result<Vec<f32>, CollateError> {
        let mut row_targets: Vec<Cow<'_, [f64]>> = Vec::with_capacity(rows.len());
        for (b, row) in rows.iter().enumerate() {
            let targets = match (&row.teacher_score, &row.labels) {
                (Some(t), _) => Cow::Borrowed(t.as_slice()),
                (None, Some(l)) => {
                    if !self.warned_label_fallback.swap(true, Ordering::Relaxed) {
                        tracing::warn!("rows without teacher_score: using labels as ranking targets");
                    }
                    Cow::Owned(l.iter().map(|&v| v as f64).collect())
                }
                (None, None) => {
                    return Err(CollateError::NoRankingTargets {
                        row: b,
                        id: row.id.clone(),
                    });
                }
            };
            // torch: `matrix[b, :N] = tensor(targets)` accepts N values or one (broadcast).
            if targets.len() != row.texts.len() && targets.len() != 1 {
                return Err(CollateError::RankingTargetLength {
                    row: b,
                    id: row.id.clone(),
                    expected: row.texts.len(),
                    found: targets.len(),
                });
            }
            row_targets.push(targets);
        }
        Ok(pairs
            .iter()
            .map(|p| {
                let t = &row_targets[p.row];
                // The matrix is f32: compare after the cast, as torch does.
                let v = (if t.len() == 1 { t[0] } else { t[p.doc] }) as f32;
                if v == RANKING_TARGET_PAD { 0.0 } else { v }
            })
            .collect())
    }

    /// Upstream's v2 labels (`OpenProvenceDataCollator._generate_chunk_based_labels_v2` with
    /// `compute_span_token_positions`).
    fn v2_labels(&self, pairs: &[Pair<'_>], batch: &mut Batch) -> Result<(), CollateError> {
        let seq_len = batch.seq_len;
        // Passage start per distinct query (most rows repeat one query over all passages).
        let mut doc_starts: HashMap<&str, usize> = HashMap::new();
        for p in pairs {
            if !doc_starts.contains_key(p.query) {
                let start = self.doc_start(p.query)?;
                doc_starts.insert(p.query, start);
            }
        }
        for (i, p) in pairs.iter().enumerate() {
            let count = |text: &str| -> Result<usize, CollateError> {
                Ok(self.plain.encode_fast(text, false).map_err(tokenize_error)?.len())
            };
            let positions = v2_span_positions(p.passage, p.spans, doc_starts[p.query], seq_len, count)?;
            let row = &mut batch.pruning_labels[i * seq_len..(i + 1) * seq_len];
            let mut fill = |(s, e): (usize, usize), value: i64| {
                let (s, e) = (s.min(seq_len), e.min(seq_len));
                if s < e {
                    row[s..e].fill(value);
                }
            };
            for &k in &p.relevant {
                if let Some(&pos) = positions.get(k) {
                    fill(pos, 1);
                }
            }
            for (k, &pos) in positions.iter().enumerate() {
                if !p.relevant.contains(&k) {
                    fill(pos, 0);
                }
            }
        }
        Ok(())
    }

    /// Where a passage starts in the pair encoding of `query` (v2's `doc_start`): the first
    /// occurrence of the tokens of `"test"` at or after the length of the single-sequence
    /// encoding of the query, in the encoding of the pair `(query, "test")`.
    fn doc_start(&self, query: &str) -> Result<usize, CollateError> {
        let q1 = self.plain.encode_fast(query, true).map_err(tokenize_error)?.len();
        let pair = self.plain.encode_fast((query, "test"), true).map_err(tokenize_error)?;
        let ids = pair.get_ids();
        let t = &self.test_ids;
        let last = (ids.len() + 1).saturating_sub(t.len());
        Ok((q1..last).find(|&i| ids[i..i + t.len()] == t[..]).unwrap_or(q1))
    }
}

fn tokenize_error(e: tokenizers::Error) -> CollateError {
    CollateError::Tokenize(e.to_string())
}

/// Normalises one passage's relevance list (as `OpenProvenceDataCollator.__call__` does): a
/// non-empty 0/1 list as long as the span list is a mask; anything else is a list of span indices
/// (`[]` = nothing relevant). Returns the offending value for a negative index.
fn relevant_span_indices(relevance: &[i64], n_spans: usize) -> Result<Vec<usize>, i64> {
    if !relevance.is_empty() && relevance.len() == n_spans && relevance.iter().all(|&v| v == 0 || v == 1) {
        return Ok(relevance
            .iter()
            .enumerate()
            .filter(|&(_, &v)| v == 1)
            .map(|(i, _)| i)
            .collect());
    }
    relevance.iter().map(|&v| usize::try_from(v).map_err(|_| v)).collect()
}

/// Byte offset of every char of `text`, plus `text.len()` at the end.
/// Upstream's v2 token positions `[start, end)` of a passage's spans: span `k` covers the tokens
/// between the token `count`s of spans `0..k` and `0..=k` joined by single spaces, shifted by
/// `doc_start`. Spans starting at or past `seq_len` would be clipped to nothing, so counting
/// stops there: the work is bounded by the sequence length, not by the passage (whose every
/// span used to be re-tokenised together with all the spans before it).
fn v2_span_positions<E>(
    passage: &str,
    spans: &[[i64; 2]],
    doc_start: usize,
    seq_len: usize,
    mut count: impl FnMut(&str) -> Result<usize, E>,
) -> Result<Vec<(usize, usize)>, E> {
    let chars = char_byte_offsets(passage);
    let mut positions = Vec::new();
    let mut joined = String::new();
    let mut prev = 0;
    for (k, span) in spans.iter().enumerate() {
        if doc_start + prev >= seq_len {
            break;
        }
        if k > 0 {
            joined.push(' ');
        }
        let (s, e) = py_slice(span[0], span[1], chars.len() - 1);
        joined.push_str(&passage[chars[s]..chars[e]]);
        let len = count(joined.as_str())?;
        positions.push((doc_start + prev, doc_start + len));
        prev = len;
    }
    Ok(positions)
}

fn char_byte_offsets(text: &str) -> Vec<usize> {
    text.char_indices()
        .map(|(b, _)| b)
        .chain(std::iter::once(text.len()))
        .collect()
}

/// Python's `s[start:end]` bounds for a sequence of `len` code points (negative = from the end,
/// clipped, empty when start >= end).
fn py_slice(start: i64, end: i64, len: usize) -> (usize, usize) {
    let n = len as i64;
    let norm = |v: i64| if v < 0 { (v + n).max(0) } else { v.min(n) } as usize;
    let (s, e) = (norm(start), norm(end));
    (s, e.max(s))
}

/// [`LabelAlignment::Offsets`] labels from the char offsets of sequence 1.
fn offset_labels(pairs: &[Pair<'_>], encodings: &[Encoding], batch: &mut Batch) {
    let seq_len = batch.seq_len;
    for (i, (p, enc)) in pairs.iter().zip(encodings).enumerate() {
        let n_chars = p.passage.chars().count();
        let spans: Vec<(usize, usize, bool)> = p
            .spans
            .iter()
            .enumerate()
            .map(|(k, sp)| {
                let (s, e) = py_slice(sp[0], sp[1], n_chars);
                (s, e, p.relevant.contains(&k))
            })
            .collect();
        let row = &mut batch.pruning_labels[i * seq_len..(i + 1) * seq_len];
        let special = enc.get_special_tokens_mask();
        for (j, (seq, &(s, e))) in enc.get_sequence_ids().into_iter().zip(enc.get_offsets()).enumerate() {
            if seq != Some(1) || special[j] != 0 || s >= e {
                continue;
            }
            let mut label = IGNORE_INDEX;
            for &(a, b, relevant) in &spans {
                if s < b && e > a {
                    if relevant {
                        label = 1;
                        break;
                    }
                    label = 0;
                }
            }
            row[j] = label;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relevance_mask_becomes_indices() {
        assert_eq!(relevant_span_indices(&[0, 1, 1], 3), Ok(vec![1, 2]));
        assert_eq!(relevant_span_indices(&[0, 0], 2), Ok(vec![]));
    }

    #[test]
    fn length_mismatched_relevance_is_read_as_indices() {
        // Upstream quirk: 3 spans, [1] → span 1; [0, 1] → spans 0 and 1.
        assert_eq!(relevant_span_indices(&[1], 3), Ok(vec![1]));
        assert_eq!(relevant_span_indices(&[0, 1], 3), Ok(vec![0, 1]));
        // Values outside {0, 1} are indices even when the length matches.
        assert_eq!(relevant_span_indices(&[2, 0], 2), Ok(vec![2, 0]));
        assert_eq!(relevant_span_indices(&[], 2), Ok(vec![]));
        assert_eq!(relevant_span_indices(&[1, -1], 3), Err(-1));
    }

    #[test]
    fn v2_positions_stop_at_the_sequence_end() {
        // 350,000 one-word spans of a ~1 MB passage, 64-token sequences: the work (tokenizer
        // calls, and the text they see) is bounded by the sequence, not by the passage.
        let passage = "ab ".repeat(350_000);
        let spans: Vec<[i64; 2]> = (0..350_000).map(|k| [3 * k, 3 * k + 2]).collect();
        let (mut calls, mut chars) = (0usize, 0usize);
        let words = |text: &str| -> Result<usize, ()> {
            calls += 1;
            chars += text.len();
            Ok(text.split_whitespace().count())
        };
        let positions = v2_span_positions(&passage, &spans, 5, 64, words).unwrap();
        assert_eq!(positions.len(), 59);
        assert_eq!(positions[..3], [(5, 6), (6, 7), (7, 8)]);
        assert_eq!(*positions.last().unwrap(), (63, 64));
        assert_eq!(calls, 59);
        assert!(chars < 64 * 64 * 3, "{chars} characters tokenised");
    }

    #[test]
    fn py_slice_matches_python() {
        assert_eq!(py_slice(0, 2, 4), (0, 2));
        assert_eq!(py_slice(2, 10, 4), (2, 4));
        assert_eq!(py_slice(3, 1, 4), (3, 3));
        assert_eq!(py_slice(-3, -1, 4), (1, 3));
        assert_eq!(py_slice(-10, 2, 4), (0, 2));
    }
}
