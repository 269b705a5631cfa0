//! Ranking and token-pruning losses for open-provence-rs.
//!
//! Pure tensor functions, generic over the backend, that reproduce upstream OpenProvence's
//! training loss (hotchpotch/open_provence's `open_provence/losses.py::OpenProvenceLoss`):
//!
//! * [`ranking_loss`]: MSE between the raw ranking logit (column 0) and the per-pair teacher
//!   target, mean over all pairs;
//! * [`pruning_loss`]: token cross-entropy with ignore index [`IGNORE_INDEX`], mean over the valid
//!   tokens of the whole micro-batch, exactly 0 when there is none;
//! * [`provence_loss`]: `ranking_weight · ranking + pruning_weight · pruning`, with the
//!   unweighted components returned for logging.
//!
//! Every loss is computed in f32, whatever float type the forward pass used.

use burn::tensor::activation::log_softmax;
use burn::tensor::backend::Backend;
use burn::tensor::{DType, FloatDType, Int, Tensor};

/// Label value that marks a token (or a ranking target) as "ignore".
pub const IGNORE_INDEX: i64 = -100;

/// A loss input with an unexpected shape.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum LossError {
    /// The ranking logits and the per-pair targets disagree on the number of pairs.
    #[error("ranking logits have {logits} pairs (shape [P, C]) but {targets} ranking targets were given")]
    PairCountMismatch {
        /// Rows of the ranking logits.
        logits: usize,
        /// Length of the target vector.
        targets: usize,
    },
    /// The ranking logits have no column to read the score from.
    #[error("ranking logits must have at least one column, got shape [{pairs}, 0]")]
    NoRankingColumn {
        /// Rows of the ranking logits.
        pairs: usize,
    },
    /// The flattened ranking-target matrix is not `rows × cols`.
    #[error("ranking target matrix has {len} values, which is not a multiple of {cols} columns")]
    TargetMatrixShape {
        /// Number of values given.
        len: usize,
        /// Declared column count (`max docs per query`).
        cols: usize,
    },
    /// `batch_indices` and `doc_indices` have different lengths.
    #[error("batch_indices has {batch} entries but doc_indices has {doc}")]
    IndexLengthMismatch {
        /// Length of `batch_indices`.
        batch: usize,
        /// Length of `doc_indices`.
        doc: usize,
    },
}

/// Weights of the two loss components (upstream: 0.05 and 1.0).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LossWeights {
    /// Weight of the ranking MSE.
    pub ranking_weight: f64,
    /// Weight of the token cross-entropy.
    pub pruning_weight: f64,
}

impl Default for LossWeights {
    fn default() -> Self {
        Self {
            ranking_weight: 0.05,
            pruning_weight: 1.0,
        }
    }
}

/// The weighted total loss and its unweighted components, each of shape `[1]`.
#[derive(Debug, Clone)]
pub struct ProvenceLoss<B: Backend> {
    /// `ranking_weight · ranking_loss + pruning_weight · pruning_loss` (the tensor to backpropagate).
    pub loss: Tensor<B, 1>,
    /// Unweighted ranking MSE.
    pub ranking_loss: Tensor<B, 1>,
    /// Unweighted token cross-entropy.
    pub pruning_loss: Tensor<B, 1>,
}

/// Casts a float tensor to f32 unless it already is (losses are always computed in f32).
pub fn to_f32<B: Backend, const D: usize>(tensor: Tensor<B, D>) -> Tensor<B, D> {
    if tensor.dtype() == DType::F32 {
        tensor
    } else {
        tensor.cast(FloatDType::F32)
    }
}

/// Upstream's target rule: a target equal to -100 counts as 0.0.
fn sanitize_target(value: f32) -> f32 {
    if value == IGNORE_INDEX as f32 { 0.0 } else { value }
}

/// Gathers the per-pair ranking targets `t[p] = matrix[batch_indices[p], doc_indices[p]]` from
/// the collator's padded `[rows, cols]` matrix (row-major, padded with -100).
///
/// A value equal to -100, or an index outside the matrix, gives 0.0 (upstream's rule).
pub fn pair_ranking_targets(
    matrix: &[f32],
    cols: usize,
    batch_indices: &[usize],
    doc_indices: &[usize],
) -> Result<Vec<f32>, LossError> {
    if cols == 0 || !matrix.len().is_multiple_of(cols) {
        return Err(LossError::TargetMatrixShape {
            len: matrix.len(),
            cols,
        });
    }
    if batch_indices.len() != doc_indices.len() {
        return Err(LossError::IndexLengthMismatch {
            batch: batch_indices.len(),
            doc: doc_indices.len(),
        });
    }
    let rows = matrix.len() / cols;
    Ok(batch_indices
        .iter()
        .zip(doc_indices)
        .map(|(&b, &d)| {
            if b < rows && d < cols {
                sanitize_target(matrix[b * cols + d])
            } else {
                0.0
            }
        })
        .collect())
}

/// Ranking loss: `mean_p (z[p] - t[p])²` with `z = ranking_logits[:, 0]` (raw, no sigmoid).
///
/// `ranking_logits` is `[P, C]`, `targets` the per-pair targets `[P]` (see
/// [`pair_ranking_targets`]); a target equal to -100 counts as 0.0 here as well.
pub fn ranking_loss<B: Backend>(
    ranking_logits: Tensor<B, 2>,
    targets: Tensor<B, 1>,
) -> Result<Tensor<B, 1>, LossError> {
    let [pairs, columns] = ranking_logits.dims();
    let [num_targets] = targets.dims();
    if columns == 0 {
        return Err(LossError::NoRankingColumn { pairs });
    }
    if pairs != num_targets {
        return Err(LossError::PairCountMismatch {
            logits: pairs,
            targets: num_targets,
        });
    }
    let scores = to_f32(ranking_logits).slice([0..pairs, 0..1]).reshape([pairs]);
    let targets = to_f32(targets);
    let ignored = targets.clone().equal_elem(IGNORE_INDEX as f32);
    let targets = targets.mask_fill(ignored, 0.0);
    Ok((scores - targets).square().mean())
}

/// Pruning loss: token cross-entropy over `[P, L, K]` logits and `[P, L]` labels, summed over the
/// tokens whose label is not -100 and divided by their count.
///
/// With no valid token the result is exactly 0.0 with a zero gradient (never NaN). If the
/// shapes disagree both are cropped to the common `[min P, min L]`, as upstream does.
pub fn pruning_loss<B: Backend>(pruning_logits: Tensor<B, 3>, labels: Tensor<B, 2, Int>) -> Tensor<B, 1> {
    let [logit_pairs, logit_len, classes] = pruning_logits.dims();
    let [label_pairs, label_len] = labels.dims();
    let (pairs, len) = (logit_pairs.min(label_pairs), logit_len.min(label_len));
    let logits = to_f32(pruning_logits).slice([0..pairs, 0..len, 0..classes]);
    let labels = labels.slice([0..pairs, 0..len]);

    let log_probs = log_softmax(logits, 2);
    let valid = labels.clone().not_equal_elem(IGNORE_INDEX);
    let picked = labels.clamp(0, classes.saturating_sub(1) as i64).unsqueeze_dim::<3>(2);
    let nll = log_probs
        .gather(2, picked)
        .reshape([pairs, len])
        .neg()
        .mask_fill(valid.clone().bool_not(), 0.0);
    let count = valid.float().sum().clamp_min(1.0);
    nll.sum().div(count)
}

/// The full training loss of one micro-batch: both components and their weighted sum.
pub fn provence_loss<B: Backend>(
    ranking_logits: Tensor<B, 2>,
    pruning_logits: Tensor<B, 3>,
    pair_targets: Tensor<B, 1>,
    pruning_labels: Tensor<B, 2, Int>,
    weights: LossWeights,
) -> Result<ProvenceLoss<B>, LossError> {
    let ranking = ranking_loss(ranking_logits, pair_targets)?;
    let pruning = pruning_loss(pruning_logits, pruning_labels);
    let loss = ranking.clone().mul_scalar(weights.ranking_weight) + pruning.clone().mul_scalar(weights.pruning_weight);
    Ok(ProvenceLoss {
        loss,
        ranking_loss: ranking,
        pruning_loss: pruning,
    })
}
