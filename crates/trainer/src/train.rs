//! The pieces the training loop of [`crate::trainer`] is made of (HF
//! `Trainer._inner_training_loop` as hotchpotch/open_provence's `open_provence/trainer.py::train`
//! configures it): the run's error type, the recipe's dataset specs and the seeded epoch
//! permutation, one micro-batch's forward and backward with its loss divided by the window
//! length, one clipped optimizer step with the scheduled learning rate, evaluation, the
//! post-training dataset evaluation and the log sinks.

use crate::checkpoint_dir::RunDirError;
use crate::logs::{LogRecord, LogValue, python_round};
use crate::optim::{Optimizer, OptimizerStateError, clip_grad_norm};
use crate::schedule::LrSchedule;
use crate::tensorboard::EventWriter;
use burn::optim::{GradientsAccumulator, GradientsParams};
use burn::prelude::*;
use burn::tensor::backend::AutodiffBackend;
use provence_config::{StepPlan, TrainConfig, layout};
use provence_datasets::{
    Batch, CollateError, Collator, DataOptions, DatasetError, DatasetSpec, PyRandom, Row, TokenizerError,
};
use provence_losses::{LossError, LossWeights, provence_loss};
use provence_model::{BackboneConfig, LoadError, ModelBackend, OpenProvenceConfig, OpenProvenceModel, SaveError};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Why a training run stopped.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// Reading, sampling or checking the datasets failed.
    #[error(transparent)]
    Data(#[from] DatasetError),
    /// The tokenizer could not be loaded.
    #[error(transparent)]
    Tokenizer(#[from] TokenizerError),
    /// A micro-batch could not be collated.
    #[error("collating a batch failed: {0}")]
    Collate(#[from] CollateError),
    /// The model could not be built or loaded.
    #[error(transparent)]
    Load(#[from] LoadError),
    /// The model configuration is invalid.
    #[error(transparent)]
    ModelConfig(#[from] provence_model::ConfigError),
    /// Weights could not be written.
    #[error(transparent)]
    Save(#[from] SaveError),
    /// Optimizer state could not be written or read.
    #[error(transparent)]
    OptimizerState(#[from] OptimizerStateError),
    /// The loss could not be computed.
    #[error(transparent)]
    Loss(#[from] LossError),
    /// A file could not be written or read.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// Creating, renaming or rotating an output directory failed.
    #[error("writing the run directory: {0}")]
    RunDir(#[from] std::io::Error),
    /// A checkpoint to resume from is unusable.
    #[error("cannot resume from {}: {message}", path.display())]
    Resume {
        /// The checkpoint directory.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The data-parallel group failed to form or stopped.
    #[error(transparent)]
    Group(#[from] crate::distributed::GroupError),
    /// The datasets produced no training rows.
    #[error("the datasets produced no training rows")]
    NoTrainingRows,
    /// The run directory is another trainer's, or an earlier run's.
    #[error(transparent)]
    RunDirTaken(#[from] RunDirError),
    /// The loss or the gradient norm stopped being a finite number; nothing was saved after it.
    #[error(
        "optimizer step {step}: the {what} is {value} (rows {rows}); stopping without saving. The last \
         checkpoint, if any, is intact; check the data (e.g. teacher scores far outside [0, 1]) or lower the learning rate"
    )]
    NonFinite {
        /// The 1-based optimizer step.
        step: usize,
        /// `loss` or `gradient norm`.
        what: &'static str,
        /// The value.
        value: f64,
        /// Ids of the rows of the micro-batch (or window) concerned.
        rows: String,
    },
    /// The post-training dataset evaluation failed (the model was saved before it ran).
    #[error("post-training evaluation: {0}")]
    Eval(#[from] provence_eval::DatasetEvalError),
    /// The saved model could not be loaded for evaluation.
    #[error("post-training evaluation: {0}")]
    Prune(#[from] provence_eval::PruneError),
}

pub(crate) fn io_at(path: &Path) -> impl FnOnce(std::io::Error) -> TrainError + '_ {
    move |source| TrainError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// What a finished run produced.
#[derive(Debug, Clone)]
pub struct TrainOutcome {
    /// The run directory.
    pub run_dir: PathBuf,
    /// `<run_dir>/final_model`.
    pub final_model: PathBuf,
    /// Optimizer steps done in total.
    pub global_step: u64,
    /// Every log record of the run (train, eval, summary).
    pub log_history: Vec<LogRecord>,
    /// The Markdown report of the post-training dataset evaluation, when it ran.
    pub eval_markdown: Option<String>,
}

/// Maps the recipe's `data_args` onto dataset specs (per-entry keys fall back to `data_args`
/// defaults unless the entry says `null`; single-dataset mode becomes one entry).
pub fn dataset_specs(config: &TrainConfig) -> Vec<DatasetSpec> {
    let d = &config.data_args;
    match &d.datasets {
        Some(entries) => entries
            .iter()
            .map(|e| DatasetSpec {
                dataset_name: e.dataset_name.clone(),
                subset: e.subset.clone(),
                teacher_column: e.teacher_column.clone(),
                items: e.items.unwrap_or(d.items).map(|v| v as i64),
                upsample_factor: e.upsample_factor.unwrap_or(d.upsample_factor),
                n_samples: e.n_samples,
            })
            .collect(),
        None => vec![DatasetSpec {
            dataset_name: d.dataset_name.clone(),
            subset: Some(d.subset.clone()),
            teacher_column: d.teacher_column.clone().unwrap_or_else(|| "teacher_score".to_string()),
            items: d.items.map(|v| v as i64),
            upsample_factor: d.upsample_factor,
            n_samples: None,
        }],
    }
}

/// Maps the recipe's global data options.
pub fn data_options(config: &TrainConfig) -> DataOptions {
    let d = &config.data_args;
    DataOptions {
        validation_split: d.validation_split,
        validation_split_samples: d.validation_split_samples,
        validation_split_name: Some(d.validation_split_name.clone()),
        max_train_samples: d.max_train_samples.filter(|&n| n > 0),
        max_eval_samples: d.max_eval_samples.filter(|&n| n > 0),
        filter_zero_relevance_max_items: d.filter_zero_relevance_max_items,
        filter_zero_relevance_max_items_reverse: d.filter_zero_relevance_max_items_reverse,
        filter_keep_first_item: d.filter_keep_first_item,
        bad_rows: d.bad_rows,
    }
}

/// The rows of each micro-batch of `epoch`: a permutation of `0..n` from CPython's
/// `random.Random(seed + epoch)`, cut into chunks of `batch_size` (the last may be short).
pub fn epoch_micro_batches(n: usize, batch_size: usize, seed: u64, epoch: usize) -> Vec<Vec<usize>> {
    let mut order: Vec<usize> = (0..n).collect();
    PyRandom::new(i128::from(seed) + epoch as i128).shuffle(&mut order);
    order.chunks(batch_size.max(1)).map(<[usize]>::to_vec).collect()
}

/// `Err(NonFinite)` unless `value` is a finite number.
pub(crate) fn check_finite(
    value: f64,
    what: &'static str,
    step: usize,
    rows: impl FnOnce() -> String,
) -> Result<(), TrainError> {
    if value.is_finite() {
        return Ok(());
    }
    Err(TrainError::NonFinite {
        step,
        what,
        value,
        rows: rows(),
    })
}

/// The ids of `rows[indices]` (`#<index>` for rows without one), comma-separated.
pub(crate) fn row_ids(rows: &[Row], indices: &[usize]) -> String {
    let ids: Vec<String> = indices
        .iter()
        .map(|&i| {
            rows.get(i)
                .and_then(|r| r.id.clone())
                .unwrap_or_else(|| format!("#{i}"))
        })
        .collect();
    ids.join(", ")
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

/// The recipe's `eval_datasets` block on `model_dir` (upstream's
/// `open_provence/trainer.py::run_eval_datasets_for_model`): evaluates at
/// `threshold` with `batch_size`, the encoder in `attention`, writes
/// `<model_dir>/eval_datasets/results.{json,md}` and returns the Markdown; `None` (with a
/// warning) when the block names no `config`.
pub fn run_eval_datasets<B: ModelBackend>(
    model_dir: &Path,
    eval: &provence_config::EvalDatasetsArgs,
    attention: provence_config::AttentionLayout,
    device: &B::Device,
) -> Result<Option<String>, TrainError> {
    let Some(config) = &eval.config else {
        tracing::warn!("eval_datasets has no `config`; skipping dataset evaluation.");
        return Ok(None);
    };
    let config_path = Path::new(config);
    let datasets = provence_eval::EvalDatasetsConfig::from_file(config_path)?;
    tracing::info!(
        "Running eval_datasets: {} on {}",
        config_path.display(),
        model_dir.display()
    );
    let execution = provence_eval::Execution::for_backend::<B>().with_layout(attention);
    let pruner = provence_eval::Pruner::<B>::load(model_dir, device.clone())?.with_execution(execution);
    let settings = provence_eval::EvalSettings {
        thresholds: vec![eval.threshold],
        batch_size: eval.batch_size.max(1),
        max_batch_tokens: provence_eval::DEFAULT_MAX_BATCH_TOKENS,
        split: None,
        limit: None,
        targets: Vec::new(),
        progress: true,
    };
    let report = provence_eval::evaluate_and_report(
        &pruner,
        &model_dir.display().to_string(),
        &datasets,
        config_path,
        &settings,
        eval.timing_details,
        Some(eval.threshold),
    )?;
    let out = model_dir.join("eval_datasets");
    std::fs::create_dir_all(&out).map_err(io_at(&out))?;
    let json = out.join("results.json");
    std::fs::write(&json, format!("{:#}\n", report.json)).map_err(io_at(&json))?;
    let md = out.join("results.md");
    std::fs::write(&md, format!("{}\n", report.markdown.trim_end())).map_err(io_at(&md))?;
    Ok(Some(report.markdown))
}

/// A fresh model: random backbone from `config.json` (`from_scratch`) or pretrained weights.
pub(crate) fn build_model<B: ModelBackend>(
    config: &TrainConfig,
    dir: &Path,
    device: &B::Device,
) -> Result<OpenProvenceModel<B>, TrainError> {
    let m = &config.model_args;
    let mut model = if m.from_scratch {
        let mut backbone = BackboneConfig::from_file(&dir.join(layout::MODEL_CONFIG))?;
        if let Some(n) = m.num_labels {
            backbone.set_num_labels(n);
        }
        let mut provence = OpenProvenceConfig::new(backbone, m.classifier_dropout);
        provence.base_model_name_or_path = Some(m.model_name_or_path.clone());
        OpenProvenceModel::from_scratch(provence, device)?
    } else {
        let model = OpenProvenceModel::load(dir, device)?.with_pruning_dropout(m.classifier_dropout)?;
        if let Some(n) = m.num_labels
            && n != model.config.num_labels
        {
            tracing::warn!(
                "model_args.num_labels = {n} but {} has {}; keeping the checkpoint's",
                dir.display(),
                model.config.num_labels
            );
        }
        model
    };
    model.config.set_max_length(m.max_length)?;
    if model.config.base_model_name_or_path.is_none() {
        model.config.base_model_name_or_path = Some(m.model_name_or_path.clone());
    }
    Ok(model)
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

pub(crate) fn copy_tokenizer_files(from: &Path, to: &Path) -> Result<(), TrainError> {
    for name in layout::TOKENIZER_FILES {
        let source = from.join(name);
        if source.exists() {
            std::fs::copy(&source, to.join(name)).map_err(io_at(&source))?;
        }
    }
    Ok(())
}

pub(crate) fn log_plan(plan: &StepPlan, rows: usize, config: &TrainConfig) {
    let t = &config.training_args;
    tracing::info!("Dynamic step calculation:");
    tracing::info!("  Dataset size: {rows}");
    tracing::info!("  Total steps: {}", plan.total_dynamic);
    tracing::info!("  Eval steps: {} (20 evaluations)", plan.eval_steps);
    tracing::info!("  Logging steps: {} (100 logs)", plan.logging_steps);
    tracing::info!("  Save steps: {}", plan.save_steps);
    tracing::info!("  Optimizer steps: {} (warmup {})", plan.max_steps, plan.warmup_steps);
    if let Some(v) = t.logging_steps {
        tracing::warn!(
            "Overriding logging_steps from config ({v}) with dynamic value ({})",
            plan.logging_steps
        );
    }
    if let Some(v) = t.eval_steps {
        tracing::warn!(
            "Overriding eval_steps from config ({v}) with dynamic value ({})",
            plan.eval_steps
        );
    }
}

/// Where log records go: the console (upstream's dict lines), `log_history.jsonl`, TensorBoard,
/// and a progress bar with the last loss and the ETA (hidden when stderr is not a terminal).
pub(crate) struct LogSinks {
    pub(crate) progress: indicatif::ProgressBar,
    jsonl: std::fs::File,
    jsonl_path: PathBuf,
    events: Option<EventWriter>,
}

impl LogSinks {
    /// Opens the sinks of `run_dir`; `history` (a resumed run's records up to its checkpoint)
    /// replaces what `log_history.jsonl` held, else the file is appended to.
    pub(crate) fn open(
        run_dir: &Path,
        report_to: &[String],
        history: Option<&[serde_json::Map<String, serde_json::Value>]>,
    ) -> Result<Self, TrainError> {
        use std::io::Write;
        std::fs::create_dir_all(run_dir).map_err(io_at(run_dir))?;
        let jsonl_path = run_dir.join("log_history.jsonl");
        let mut jsonl = std::fs::OpenOptions::new()
            .create(true)
            .append(history.is_none())
            .write(true)
            .truncate(history.is_some())
            .open(&jsonl_path)
            .map_err(io_at(&jsonl_path))?;
        for record in history.unwrap_or_default() {
            let line = serde_json::to_string(record).unwrap_or_default();
            writeln!(jsonl, "{line}").map_err(io_at(&jsonl_path))?;
        }
        let wants = |name: &str| report_to.iter().any(|r| r == name || r == "all");
        if wants("wandb") {
            tracing::warn!(
                "report_to wandb: this trainer writes TensorBoard event files instead; sync them with \
                 `wandb sync --sync-tensorboard {}/runs`",
                run_dir.display()
            );
        }
        let events = if wants("tensorboard") || wants("wandb") {
            let dir = run_dir.join("runs");
            Some(EventWriter::create(&dir, now()).map_err(io_at(&dir))?)
        } else {
            None
        };
        let progress = indicatif::ProgressBar::with_draw_target(None, indicatif::ProgressDrawTarget::stderr());
        progress.set_style(
            indicatif::ProgressStyle::with_template(
                "{bar:40} {pos}/{len} steps [{elapsed_precise}<{eta_precise}] {msg}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        Ok(Self {
            progress,
            jsonl,
            jsonl_path,
            events,
        })
    }

    pub(crate) fn emit(&mut self, record: &LogRecord, step: usize, split: &str) -> Result<(), TrainError> {
        use std::io::Write;
        self.progress.suspend(|| tracing::info!("{}", record.to_python_repr()));
        let line = serde_json::to_string(&record.to_json()).unwrap_or_default();
        writeln!(self.jsonl, "{line}").map_err(io_at(&self.jsonl_path))?;
        if let Some(events) = &mut self.events {
            for (key, value) in record.entries() {
                if key == "step" || key == "epoch" {
                    continue;
                }
                let value = match value {
                    LogValue::Float(f) => *f as f32,
                    LogValue::Int(i) => *i as f32,
                };
                let tag = match key.strip_prefix("eval_") {
                    Some(rest) => format!("eval/{rest}"),
                    None => format!("{split}/{key}"),
                };
                events
                    .add_scalar(&tag, value, step as i64, now())
                    .map_err(io_at(events.path()))?;
            }
        }
        Ok(())
    }
}

fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}
