//! The running loss sums behind the `loss`, `ranking_loss`, `pruning_loss` and `train_loss` log
//! values, saved with every checkpoint so that a resumed run logs exactly what an uninterrupted
//! one does; and the tally of the encoder input shapes a run produced.

use std::path::Path;

use provence_datasets::Batch;
use serde::{Deserialize, Serialize};

/// Loss sums of the current logging window and of the whole run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LossTally {
    /// Σ of the closed windows' `tr_loss`, for `train_loss`.
    pub total_loss_sum: f64,
    /// The optimizer step the run's sums start at (0, or a resume step when the checkpoint had no
    /// tally).
    pub counted_from: usize,
    /// Σ over this window's micro-batches of their total loss divided by their accumulation window.
    pub tr_loss: f64,
    /// Σ of this window's micro-batch ranking losses.
    pub rank_sum: f64,
    /// Σ of this window's micro-batch pruning losses.
    pub prune_sum: f64,
    /// Micro-batches in this window.
    pub comp_count: usize,
    /// The optimizer step of the last log line.
    pub last_logged: usize,
}

/// The averages of a closed logging window.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WindowLosses {
    /// Mean total loss per optimizer step.
    pub loss: f64,
    /// Mean ranking loss per micro-batch.
    pub ranking: f64,
    /// Mean pruning loss per micro-batch.
    pub pruning: f64,
}

impl LossTally {
    /// The file in a checkpoint directory.
    pub const FILE: &'static str = "loss_tally.json";

    /// Empty sums for a run starting (or, without a saved tally, resuming) at `step`.
    pub fn starting_at(step: usize) -> Self {
        Self {
            counted_from: step,
            last_logged: step,
            ..Self::default()
        }
    }

    /// The tally saved in checkpoint `dir`, or empty sums from `step` for checkpoints without one.
    pub fn resume(dir: &Path, step: usize) -> Self {
        match std::fs::read_to_string(dir.join(Self::FILE)).map(|text| serde_json::from_str(&text)) {
            Ok(Ok(tally)) => tally,
            _ => {
                tracing::warn!(
                    "{} has no {}: train_loss and the first log line cover only the steps run from here",
                    dir.display(),
                    Self::FILE
                );
                Self::starting_at(step)
            }
        }
    }

    /// Adds one optimizer step: Σ over its `micro_batches` of their total loss divided by the
    /// step's micro-batch count, and Σ of their raw ranking and pruning losses.
    pub fn add_step(&mut self, window_share: f64, ranking: f64, pruning: f64, micro_batches: usize) {
        self.tr_loss += window_share;
        self.rank_sum += ranking;
        self.prune_sum += pruning;
        self.comp_count += micro_batches;
    }

    /// Closes the logging window at optimizer step `step`: its averages.
    pub fn close_window(&mut self, step: usize) -> WindowLosses {
        let steps = step.saturating_sub(self.last_logged).max(1) as f64;
        let batches = self.comp_count.max(1) as f64;
        let window = WindowLosses {
            loss: self.tr_loss / steps,
            ranking: self.rank_sum / batches,
            pruning: self.prune_sum / batches,
        };
        self.total_loss_sum += self.tr_loss;
        (self.tr_loss, self.rank_sum, self.prune_sum, self.comp_count) = (0.0, 0.0, 0.0, 0);
        self.last_logged = step;
        window
    }

    /// HF's `train_loss` at the end of training at `step`: the mean total loss per optimizer
    /// step over the run (the open window included).
    pub fn train_loss(&self, step: usize) -> f64 {
        (self.total_loss_sum + self.tr_loss) / step.saturating_sub(self.counted_from).max(1) as f64
    }

    /// Writes the tally into checkpoint `dir`.
    pub fn save(&self, dir: &Path) -> std::io::Result<()> {
        std::fs::write(dir.join(Self::FILE), serde_json::to_string(self).unwrap_or_default())
    }
}

/// The distinct encoder input shapes a run produced: padded `[pairs, seq_len]` batches and packed
/// stream lengths (multiples of [`provence_model::PACK_BUCKET`]). Each new shape is a new set of
/// kernels to compile and autotune on a GPU.
#[derive(Default)]
pub(crate) struct ShapeTally {
    padded: std::collections::BTreeSet<(usize, usize)>,
    packed: std::collections::BTreeSet<usize>,
    /// Real (unpadded) tokens trained on.
    pub(crate) tokens: usize,
}

impl ShapeTally {
    pub(crate) fn add(&mut self, batch: &Batch) {
        self.padded.insert((batch.pairs, batch.seq_len));
        let packing = provence_model::Packing::from_mask(&batch.attention_mask, batch.pairs, batch.seq_len);
        self.packed.insert(packing.len());
        self.tokens += batch.attention_mask.iter().filter(|&&m| m != 0).count();
    }

    pub(crate) fn log(&self, layout: provence_config::AttentionLayout) {
        if self.padded.is_empty() {
            return;
        }
        tracing::info!(
            "Encoder input shapes this run ({layout}): {} distinct packed stream lengths, {} distinct padded batch shapes",
            self.packed.len(),
            self.padded.len()
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_average_per_step_and_per_micro_batch() {
        let mut tally = LossTally::starting_at(0);
        tally.add_step(0.75, 6.0, 4.0, 2);
        let w = tally.close_window(1);
        assert_eq!((w.loss, w.ranking, w.pruning), (0.75, 3.0, 2.0));
        tally.add_step(1.0, 0.0, 0.0, 1);
        tally.add_step(1.0, 0.0, 0.0, 1);
        assert_eq!(tally.close_window(3).loss, 1.0);
        tally.add_step(0.5, 0.0, 0.0, 1);
        assert_eq!(tally.train_loss(4), (0.75 + 2.0 + 0.5) / 4.0);
    }
}
