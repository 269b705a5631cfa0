//! What a run trains on: the recipe's `data_args` as the datasets crate's specs and options,
//! the prepared rows and the step plan over them, the seeded order of each epoch's micro-batches,
//! the collator of the recipe, and the [`Feed`] that collates micro-batches ahead of the model.

use crate::error::TrainError;
use crate::prefetch::Prefetcher;
use provence_config::{StepInputs, StepPlan, TrainConfig};
use provence_datasets::{
    Batch, CollateError, Collator, CollatorConfig, DataOptions, DatasetSpec, PyRandom, Row, SourceResolver,
    prepare_datasets,
};
use provence_hub::PretrainedTokenizer;
use std::path::Path;
use std::sync::Arc;

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

/// Logs the step plan as upstream does, warning where it overrides the recipe's
/// `logging_steps` or `eval_steps`.
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

/// The prepared rows and the step arithmetic over them.
pub(crate) struct TrainData {
    /// The training rows (shared with the data-loader threads).
    pub(crate) train_rows: Arc<Vec<Row>>,
    /// The eval rows (none: no evaluation).
    pub(crate) eval_rows: Vec<Row>,
    /// Steps, epochs, windows and cadence over the training rows.
    pub(crate) plan: StepPlan,
}

impl TrainData {
    /// Reads, samples and mixes the recipe's datasets and plans the steps of a group of
    /// `world` workers (only the `main` one reports them).
    pub(crate) fn prepare(config: &TrainConfig, world: usize, main: bool) -> Result<Self, TrainError> {
        let t = &config.training_args;
        let resolver = SourceResolver::from_env()?;
        let prepared = prepare_datasets(&dataset_specs(config), &data_options(config), t.seed as i64, &resolver)?;
        let (train_rows, eval_rows) = (prepared.train, prepared.eval.unwrap_or_default());
        if train_rows.is_empty() && t.do_train {
            return Err(TrainError::NoTrainingRows);
        }
        let plan = StepPlan::compute(&StepInputs {
            train_rows: train_rows.len(),
            batch_size: t.per_device_train_batch_size,
            gradient_accumulation_steps: t.gradient_accumulation_steps,
            n_gpu: world,
            num_train_epochs: t.num_train_epochs,
            yaml_save_steps: t.save_steps,
            max_steps: t.max_steps,
            warmup_ratio: t.warmup_ratio,
            warmup_steps: t.warmup_steps,
        });
        if main {
            tracing::info!("Final dataset sizes:");
            tracing::info!("  Train samples: {}", train_rows.len());
            tracing::info!("  Validation samples: {}", eval_rows.len());
            log_plan(&plan, train_rows.len(), config);
        }
        Ok(Self {
            train_rows: Arc::new(train_rows),
            eval_rows,
            plan,
        })
    }
}

/// The collator of the recipe, with the tokenizer of `model_dir`.
pub(crate) fn collator(config: &TrainConfig, model_dir: &Path) -> Result<Arc<Collator>, TrainError> {
    let tokenizer = PretrainedTokenizer::from_pretrained(model_dir)?;
    let collator = Collator::new(
        &tokenizer,
        CollatorConfig {
            max_length: config.model_args.max_length,
            label_alignment: config.data_args.label_alignment,
        },
    )?;
    Ok(Arc::new(collator))
}

/// The data stream of a run: the prepared rows and their plan, the collator, and the
/// data-loader threads that collate micro-batches ahead of the model.
pub(crate) struct Feed {
    /// The rows and the step plan.
    pub(crate) data: TrainData,
    /// The recipe's collator.
    pub(crate) collator: Arc<Collator>,
    /// Data-loader threads (`dataloader_num_workers`; 0 collates on the training thread).
    loader_workers: usize,
}

impl Feed {
    /// The feed of `data` through `collator` on the recipe's data-loader threads.
    pub(crate) fn new(data: TrainData, collator: Arc<Collator>, config: &TrainConfig) -> Self {
        Self {
            data,
            collator,
            loader_workers: config.training_args.dataloader_num_workers,
        }
    }

    /// Collates `jobs` (micro-batch index, row ids) ahead on the recipe's data-loader threads.
    pub(crate) fn prefetch(&self, jobs: Vec<(usize, Vec<usize>)>) -> Prefetcher<(usize, Result<Batch, CollateError>)> {
        let (rows, collator) = (self.data.train_rows.clone(), self.collator.clone());
        let workers = self.loader_workers;
        Prefetcher::new(
            jobs,
            workers,
            workers * 2 + 2,
            move |(index, ids): (usize, Vec<usize>)| {
                let batch_rows: Vec<Row> = ids.iter().map(|&i| rows[i].clone()).collect();
                (index, collator.collate(&batch_rows))
            },
        )
    }
}
