//! One optimizer step of HF `Trainer._inner_training_loop` (as hotchpotch/open_provence's
//! `open_provence/trainer.py::train` configures it): the forward and loss of a batch, one
//! micro-batch's backward with its loss divided by the window length, one clipped optimizer step
//! with the scheduled learning rate, the accumulation windows, and the evaluation pass over the
//! eval rows; and the [`Learner`] that holds the optimizer and the data-parallel group and runs
//! these steps for the training loop.

use crate::distributed::{Collective, StepSums, broadcast_params, check_agreement, sync_step};
use crate::error::TrainError;
use crate::logs::{LogRecord, python_round};
use crate::optim::{Optimizer, OptimizerKind, ParamTable, clip_grad_norm};
use crate::schedule::LrSchedule;
use burn::optim::{GradientsAccumulator, GradientsParams};
use burn::prelude::*;
use burn::tensor::backend::AutodiffBackend;
use provence_config::{StepPlan, TrainConfig};
use provence_datasets::{Batch, Collator, Row};
use provence_losses::{LossWeights, provence_loss};
use provence_model::{ModelBackend, OpenProvenceModel};
use std::collections::HashMap;
use std::time::{Duration, Instant};

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

/// The model-and-optimizer side of a run: turns each window of micro-batches into one update,
/// summing the gradients over the data-parallel group.
pub(crate) struct Learner<'a, B: AutodiffBackend> {
    /// The optimizer (its state restored on resume).
    pub(crate) optimizer: Optimizer<B::InnerBackend>,
    /// The learning-rate schedule over the plan's steps.
    schedule: LrSchedule,
    /// The weights of the ranking and pruning losses.
    pub(crate) weights: LossWeights,
    /// The recipe's base learning rate.
    learning_rate: f64,
    /// The global gradient norm clipped to.
    max_grad_norm: f64,
    /// The data-parallel group (a [`Solo`](crate::Solo) one for a single-process run).
    group: &'a mut dyn Collective<B::InnerBackend>,
    /// This worker's losses of the open optimizer step.
    sums: StepSums,
    /// Time spent in the group's exchanges of step gradients, and how many.
    sync_time: (Duration, usize),
}

impl<'a, B: AutodiffBackend<InnerBackend: ModelBackend> + ModelBackend> Learner<'a, B> {
    /// The learner of `config`'s run of `model` over `plan`, in `group`: a fresh optimizer over
    /// the model's named parameters.
    pub(crate) fn new(
        config: &TrainConfig,
        model: &OpenProvenceModel<B>,
        plan: &StepPlan,
        group: &'a mut dyn Collective<B::InnerBackend>,
    ) -> Self {
        let t = &config.training_args;
        let names: HashMap<_, _> = model.named_param_ids().into_iter().collect();
        let optimizer = Optimizer::<B::InnerBackend>::new(
            OptimizerKind::from(t.optimizer),
            t.weight_decay,
            ParamTable::from_module(model, &names),
        );
        Self {
            optimizer,
            schedule: LrSchedule {
                kind: t.lr_scheduler_type,
                max_steps: plan.max_steps,
                warmup_steps: plan.warmup_steps,
            },
            weights: LossWeights {
                ranking_weight: t.ranking_weight,
                pruning_weight: t.pruning_weight,
            },
            learning_rate: t.learning_rate,
            max_grad_norm: t.max_grad_norm,
            group,
            sums: StepSums::default(),
            sync_time: Default::default(),
        }
    }

    /// This worker's rank in the group; rank 0 logs, evaluates and saves.
    pub(crate) fn rank(&self) -> usize {
        self.group.rank()
    }

    /// Workers in the group.
    pub(crate) fn world_size(&self) -> usize {
        self.group.world_size()
    }

    /// Joins the group's training: every worker checks that the others agree on `values`, then
    /// takes rank 0's weights.
    pub(crate) fn join(
        &mut self,
        model: OpenProvenceModel<B>,
        values: &[(&'static str, f64)],
        device: &B::Device,
    ) -> Result<OpenProvenceModel<B>, TrainError> {
        check_agreement(&mut *self.group, values, device)?;
        Ok(broadcast_params(&mut *self.group, model, device)?)
    }

    /// Forward, loss and backward of one micro-batch of a window of `window` micro-batches into
    /// `accumulator`; its losses join the open step's. Returns its (undivided) total loss.
    pub(crate) fn micro_batch(
        &mut self,
        model: &OpenProvenceModel<B>,
        batch: &Batch,
        window: usize,
        accumulator: &mut GradientsAccumulator<OpenProvenceModel<B>>,
        device: &B::Device,
    ) -> Result<f64, TrainError> {
        let (total, ranking, pruning) =
            accumulate_micro_batch(model, batch, self.weights, window, accumulator, device)?;
        self.sums.add(total / window as f64, ranking, pruning);
        Ok(total)
    }

    /// Closes optimizer step `global_step` (0-based): sums the workers' gradients and losses over
    /// the group, clips and updates. Returns the model, the grad norm, the lr and the step's
    /// losses summed over the group.
    pub(crate) fn step(
        &mut self,
        model: OpenProvenceModel<B>,
        grads: GradientsParams,
        global_step: usize,
        device: &B::Device,
    ) -> Result<(OpenProvenceModel<B>, f64, f64, StepSums), TrainError> {
        let what = format!("step {}'s gradients", global_step + 1);
        let sums = std::mem::take(&mut self.sums);
        let started = Instant::now();
        let (grads, sums) = sync_step::<B, _>(&mut *self.group, &model, grads, sums, &what, device)?;
        self.sync_time.0 += started.elapsed();
        self.sync_time.1 += 1;
        let (model, grad_norm, lr) = optimizer_step(
            model,
            &mut self.optimizer,
            grads,
            &self.schedule,
            self.learning_rate,
            self.max_grad_norm,
            global_step,
        );
        Ok((model, grad_norm, lr, sums))
    }

    /// Logs this worker's throughput: `tokens` trained on in `seconds`, and the time its
    /// gradient exchanges took.
    pub(crate) fn log_throughput(&self, tokens: usize, seconds: f64) {
        let (spent, steps) = self.sync_time;
        tracing::info!(
            "worker {} of {}: {tokens} tokens in {seconds:.1} s ({:.0} tokens/s), gradient all-reduce {:.1} ms per step",
            self.group.rank(),
            self.group.world_size(),
            tokens as f64 / seconds,
            spent.as_secs_f64() * 1e3 / steps.max(1) as f64
        );
    }
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
