//! The collated micro-batch: plain integer/float arrays, no Burn types, so it can be built on
//! worker threads ahead of the device.

/// A collated micro-batch of `rows` rows flattened into `pairs` (query, passage) pairs of
/// `seq_len` tokens each (row-major `[pairs, seq_len]` arrays).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Batch {
    /// Number of (query, passage) pairs `P`.
    pub pairs: usize,
    /// Padded sequence length `L` (longest pair of this micro-batch).
    pub seq_len: usize,
    /// Token ids, `[P, L]`.
    pub input_ids: Vec<i64>,
    /// 1 for real tokens, 0 for padding, `[P, L]`.
    pub attention_mask: Vec<i64>,
    /// Per-token pruning labels (1 keep, 0 drop, -100 ignored), `[P, L]`.
    pub pruning_labels: Vec<i64>,
    /// Ranking target per pair as the loss reads it, `[P]`: the row's teacher score (or its 0/1
    /// label when the row has no teacher scores) for that passage; 0.0 where upstream's padded
    /// target matrix holds -100.
    pub ranking_targets: Vec<f32>,
    /// Row of the micro-batch each pair comes from, `[P]`.
    pub batch_indices: Vec<usize>,
    /// Passage index within its row for each pair, `[P]`.
    pub doc_indices: Vec<usize>,
    /// Number of passages of each row, `[rows]`.
    pub docs_per_query: Vec<usize>,
}
