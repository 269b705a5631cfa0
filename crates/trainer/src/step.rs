//! One optimizer step of HF `Trainer._inner_training_loop` (as hotchpotch/open_provence's
//! `open_provence/trainer.py::train` configures it): the forward and loss of a batch, one
//! micro-batch's backward with its loss divided by the window length, one clipped optimizer step
//! with the scheduled learning rate, the accumulation windows, and the evaluation pass over the
//! eval rows.

use crate::error::TrainError;
use crate::logs::{LogRecord, python_round};
use crate::optim::{Optimizer, clip_grad_norm};
use crate::schedule::LrSchedule;
use burn::optim::{GradientsAccumulator, GradientsParams};
use burn::prelude::*;
use burn::tensor::backend::AutodiffBackend;
use provence_datasets::{Batch, Collator, Row};
use provence_losses::{LossWeights, provence_loss};
use provence_model::{ModelBackend, OpenProvenceModel};
use std::time::Instant;

/// Batch tensors on a device.
struct BatchTensors<B: Backend> {
    input_ids: Tensor<B, 2, Int>,
    attention_mask: Tensor<B, 2, Int>,
    pruning_labels: Tensor<B, 2, Int>,
    targets: Tensor<B, 1>,
}

fn to_device<B: Backend>(batch: &Batch, device: &B::Device) -> BatchTensors<B> {
    let shape = [batch.pairs, batch.seq_len];
    let int = |values: &Vec<i64>| Tensor::<B, 2, Int>::from_data(TensorData::new(values.clone(), shape), device);
    BatchTensors {
        input_ids: int(&batch.input_ids),
        attention_mask: int(&batch.attention_mask),
        pruning_labels: int(&batch.pruning_labels),
        targets: Tensor::from_data(TensorData::new(batch.ranking_targets.clone(), [batch.pairs]), device),
    }
}

/// Forward + loss of one batch: (total, ranking, pruning) tensors.
fn batch_loss<B: ModelBackend>(
    model: &OpenProvenceModel<B>,
    batch: &Batch,
    weights: LossWeights,
    device: &B::Device,
) -> Result<provence_losses::ProvenceLoss<B>, TrainError> {
    let t = to_device::<B>(batch, device);
    let out = model.forward(t.input_ids, t.attention_mask);
    Ok(provence_loss(
        out.ranking_logits,
        out.pruning_logits,
        t.targets,
        t.pruning_labels,
        weights,
    )?)
}

/// Forward, loss and backward of one micro-batch in an accumulation window of `window`
/// micro-batches (as HF `Trainer.training_step` does it): the loss is divided by `window` before
/// `backward` and the gradients are added to `accumulator`. Returns the undivided (total, ranking,
/// pruning) losses.
pub fn accumulate_micro_batch<B: AutodiffBackend + ModelBackend>(
    model: &OpenProvenceModel<B>,
    batch: &Batch,
    weights: LossWeights,
    window: usize,
    accumulator: &mut GradientsAccumulator<OpenProvenceModel<B>>,
    device: &B::Device,
) -> Result<(f64, f64, f64), TrainError> {
    let loss = batch_loss(model, batch, weights, device)?;
    let losses = (
        scalar(loss.loss.clone()),
        scalar(loss.ranking_loss.clone()),
        scalar(loss.pruning_loss.clone()),
    );
    let grads = loss.loss.div_scalar(window as f64).backward();
    accumulator.accumulate(model, GradientsParams::from_grads(grads, model));
    Ok(losses)
}

/// The update closing a window (as in HF `Trainer._inner_training_loop`): global-norm clipping of
/// the accumulated gradients to `max_grad_norm`, then one optimizer step with the scheduled lr of
/// the update with 0-based index `global_step`. Returns the updated model, the pre-clip grad norm
/// and the lr used.
pub fn optimizer_step<B: AutodiffBackend>(
    model: OpenProvenceModel<B>,
    optimizer: &mut Optimizer<B::InnerBackend>,
    mut grads: GradientsParams,
    schedule: &LrSchedule,
    learning_rate: f64,
    max_grad_norm: f64,
    global_step: usize,
) -> (OpenProvenceModel<B>, f64, f64) {
    let grad_norm = clip_grad_norm::<B, _>(&model, &mut grads, max_grad_norm);
    let lr = schedule.lr(learning_rate, global_step);
    (optimizer.step::<B, _>(lr, model, grads), grad_norm, lr)
}

fn scalar<B: Backend>(t: Tensor<B, 1>) -> f64 {
    t.into_scalar().elem::<f64>()
}

/// One pass over the eval rows (upstream's `OpenProvenceTrainer.evaluation_loop` and
/// `prediction_step`): unweighted means over batches.
pub(crate) fn evaluate<B: ModelBackend>(
    model: &OpenProvenceModel<B>,
    rows: &[Row],
    collator: &Collator,
    batch_size: usize,
    weights: LossWeights,
    device: &B::Device,
) -> Result<LogRecord, TrainError> {
    let started = Instant::now();
    let (mut loss, mut ranking, mut pruning, mut batches) = (0.0, 0.0, 0.0, 0usize);
    for chunk in rows.chunks(batch_size.max(1)) {
        let batch = collator.collate(chunk)?;
        let out = batch_loss(model, &batch, weights, device)?;
        loss += scalar(out.loss);
        ranking += scalar(out.ranking_loss);
        pruning += scalar(out.pruning_loss);
        batches += 1;
    }
    let runtime = started.elapsed().as_secs_f64().max(1e-9);
    let n = batches.max(1) as f64;
    Ok(LogRecord::new()
        .float("eval_loss", loss / n)
        .float("eval_ranking_loss", ranking / n)
        .float("eval_pruning_loss", pruning / n)
        .float("eval_runtime", python_round(runtime, 4))
        .float("eval_samples_per_second", python_round(rows.len() as f64 / runtime, 3))
        .float("eval_steps_per_second", python_round(batches as f64 / runtime, 3)))
}

/// The micro-batch indices of the accumulation window holding micro-batch `index`: windows of
/// `ga` micro-batches, the last of an epoch of `micro_batches` possibly shorter. Each loss is
/// divided by its window's length, as HF's Trainer does.
pub fn accumulation_window(index: usize, ga: usize, micro_batches: usize) -> std::ops::Range<usize> {
    let start = index / ga.max(1) * ga.max(1);
    start..(start + ga.max(1)).min(micro_batches.max(start + 1))
}

#[cfg(test)]
mod tests {
    use super::accumulation_window;

    /// HF's windows, computed independently: `ga` micro-batches each, the epoch's last window
    /// holding what is left.
    #[test]
    fn accumulation_windows_cover_the_epoch() {
        let (ga, n) = (4, 10);
        let windows: Vec<_> = (0..n).map(|i| accumulation_window(i, ga, n)).collect();
        assert_eq!(windows[0], 0..4);
        assert_eq!(windows[3], 0..4);
        assert_eq!(windows[4], 4..8);
        assert_eq!(windows[9], 8..10);
        assert_eq!(accumulation_window(0, 1, 1), 0..1);
        assert_eq!(accumulation_window(2, 3, 3), 0..3);
    }
}
