//! Validation of a loaded recipe (after overrides): ranges, combinations and HF's load-time checks
//! (the `TrainingArguments` checks that fire when hotchpotch/open_provence's
//! `open_provence/trainer.py::parse_config_file` builds its arguments), each error naming the key
//! and where its value came from.

use crate::TrainConfig;
use crate::error::ConfigError;
use crate::rules::{MAX_DATALOADER_WORKERS, MAX_ROWS_PER_STEP, check_max_length, check_threshold};

impl TrainConfig {
    /// Checks every value range and combination; the first problem is returned.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.validate_model_args()?;
        self.validate_data_args()?;
        self.validate_batch_sizes()?;
        self.validate_optimization()?;
        self.validate_evaluation()
    }

    /// The error for `key` (a dotted recipe path) at the place its value came from.
    fn invalid(&self, key: &str, message: String) -> ConfigError {
        ConfigError::Invalid {
            location: self.location_of(key),
            key: key.to_string(),
            message,
        }
    }

    /// `model_args`: a model to start from, dropout, length, labels.
    fn validate_model_args(&self) -> Result<(), ConfigError> {
        let m = &self.model_args;
        let fail = |key: &str, message: String| Err(self.invalid(key, message));
        if m.model_name_or_path.trim().is_empty() {
            return fail(
                "model_args.model_name_or_path",
                "must name a model id or directory".into(),
            );
        }
        if !(0.0..1.0).contains(&m.classifier_dropout) {
            return fail(
                "model_args.classifier_dropout",
                format!("must be in [0, 1), got {}", m.classifier_dropout),
            );
        }
        if let Err(message) = check_max_length(m.max_length) {
            return fail("model_args.max_length", message);
        }
        if m.num_labels == Some(0) {
            return fail("model_args.num_labels", "must be at least 1".into());
        }
        Ok(())
    }

    /// `data_args`: the dataset list (or the single dataset) and its sampling options.
    fn validate_data_args(&self) -> Result<(), ConfigError> {
        let d = &self.data_args;
        let fail = |key: &str, message: String| Err(self.invalid(key, message));
        if let Some(datasets) = &d.datasets {
            if datasets.is_empty() {
                return fail(
                    "data_args.datasets",
                    "the list of datasets is empty; add at least one entry".into(),
                );
            }
            for (i, entry) in datasets.iter().enumerate() {
                self.validate_dataset_entry(i, entry)?;
            }
        } else if d.dataset_name.trim().is_empty() {
            return fail("data_args.dataset_name", "must name a dataset id or directory".into());
        }
        if d.items == Some(0) {
            return fail("data_args.items", "items must be a positive integer".into());
        }
        if let Some(factor) = d.upsample_factor
            && factor < 1.0
        {
            return fail(
                "data_args.upsample_factor",
                format!("upsample_factor must be >= 1.0, got {factor}"),
            );
        }
        if d.filter_zero_relevance_max_items == Some(0) {
            return fail(
                "data_args.filter_zero_relevance_max_items",
                "must be a positive integer".into(),
            );
        }
        if let Some(ratio) = d.validation_split
            && !(ratio > 0.0 && ratio < 1.0)
        {
            return fail("data_args.validation_split", format!("must be in (0, 1), got {ratio}"));
        }
        if d.validation_split_samples == Some(0) {
            return fail("data_args.validation_split_samples", "must be at least 1".into());
        }
        Ok(())
    }

    /// One entry of `data_args.datasets`, located at its own line.
    fn validate_dataset_entry(&self, i: usize, entry: &crate::DatasetEntry) -> Result<(), ConfigError> {
        let key = |field: &str| format!("data_args.datasets[{i}].{field}");
        let location = || match &self.path {
            Some(path) => crate::Location::File {
                path: path.clone(),
                line: entry.line,
                column: 0,
            },
            None => crate::Location::Text {
                line: entry.line,
                column: 0,
            },
        };
        let bad = |field: &str, message: String| {
            Err(ConfigError::Invalid {
                location: location(),
                key: key(field),
                message,
            })
        };
        if let Some(Some(items)) = entry.items
            && items == 0
        {
            return bad("items", "items must be a positive integer".into());
        }
        if let Some(Some(factor)) = entry.upsample_factor
            && factor < 1.0
        {
            return bad(
                "upsample_factor",
                format!("upsample_factor must be >= 1.0, got {factor}"),
            );
        }
        if let Some(n) = entry.n_samples
            && n <= 0.0
        {
            return bad(
                "n_samples",
                format!("n_samples must be > 0 (a count > 1 or a fraction <= 1), got {n}"),
            );
        }
        Ok(())
    }

    /// Batch sizes, accumulation and collation threads, within what the step arithmetic supports.
    fn validate_batch_sizes(&self) -> Result<(), ConfigError> {
        let t = &self.training_args;
        let fail = |key: &str, message: String| Err(self.invalid(key, message));
        for (key, value) in [
            (
                "training_args.per_device_train_batch_size",
                t.per_device_train_batch_size,
            ),
            ("training_args.per_device_eval_batch_size", t.per_device_eval_batch_size),
            (
                "training_args.gradient_accumulation_steps",
                t.gradient_accumulation_steps,
            ),
        ] {
            if value == 0 {
                return fail(key, "must be a positive integer, got 0".into());
            }
        }
        if t.per_device_train_batch_size
            .checked_mul(t.gradient_accumulation_steps)
            .is_none_or(|rows| rows > MAX_ROWS_PER_STEP)
        {
            return fail(
                "training_args.gradient_accumulation_steps",
                format!(
                    "per_device_train_batch_size × gradient_accumulation_steps = {} × {} rows per optimizer step; \
                     at most {MAX_ROWS_PER_STEP} are supported",
                    t.per_device_train_batch_size, t.gradient_accumulation_steps
                ),
            );
        }
        if t.per_device_eval_batch_size > MAX_ROWS_PER_STEP {
            return fail(
                "training_args.per_device_eval_batch_size",
                format!("at most {MAX_ROWS_PER_STEP}, got {}", t.per_device_eval_batch_size),
            );
        }
        if t.dataloader_num_workers > MAX_DATALOADER_WORKERS {
            return fail(
                "training_args.dataloader_num_workers",
                format!(
                    "at most {MAX_DATALOADER_WORKERS} collation threads, got {}",
                    t.dataloader_num_workers
                ),
            );
        }
        Ok(())
    }

    /// Learning rate, step budget, weight decay, warmup, precision and loss weights.
    fn validate_optimization(&self) -> Result<(), ConfigError> {
        let t = &self.training_args;
        let fail = |key: &str, message: String| Err(self.invalid(key, message));
        if t.learning_rate <= 0.0 {
            return fail(
                "training_args.learning_rate",
                format!("must be > 0, got {}", t.learning_rate),
            );
        }
        if t.max_steps < 0 && t.max_steps != -1 {
            return fail(
                "training_args.max_steps",
                format!("must be -1 (use epochs) or positive, got {}", t.max_steps),
            );
        }
        if t.max_steps <= 0 && t.num_train_epochs <= 0.0 {
            return fail(
                "training_args.num_train_epochs",
                format!("must be > 0, got {}", t.num_train_epochs),
            );
        }
        if t.weight_decay < 0.0 {
            return fail(
                "training_args.weight_decay",
                format!("must be >= 0, got {}", t.weight_decay),
            );
        }
        if !(0.0..=1.0).contains(&t.warmup_ratio) {
            return fail(
                "training_args.warmup_ratio",
                format!("warmup_ratio must be in [0, 1], got {}", t.warmup_ratio),
            );
        }
        if t.fp16 && t.bf16 {
            return fail(
                "training_args.bf16",
                "At most one of fp16 and bf16 can be True, but not both".into(),
            );
        }
        if t.ranking_weight < 0.0 || t.pruning_weight < 0.0 {
            let key = if t.ranking_weight < 0.0 {
                "training_args.ranking_weight"
            } else {
                "training_args.pruning_weight"
            };
            return fail(key, "loss weights must be >= 0".into());
        }
        if t.ranking_weight == 0.0 && t.pruning_weight == 0.0 {
            return fail(
                "training_args.pruning_weight",
                "ranking_weight and pruning_weight cannot both be 0".into(),
            );
        }
        Ok(())
    }

    /// HF's load-time cadence check, the post-training evaluation and the log sinks.
    fn validate_evaluation(&self) -> Result<(), ConfigError> {
        let t = &self.training_args;
        let fail = |key: &str, message: String| Err(self.invalid(key, message));
        // HF's load-time check runs on the recipe's raw values (placeholder 500), never on the
        // dynamic cadence that actually drives training.
        if t.load_best_model_at_end {
            let save = t.save_steps.filter(|&s| s > 0).unwrap_or(500);
            let eval = t.eval_steps.filter(|&s| s > 0).unwrap_or(500);
            if !save.is_multiple_of(eval) {
                return fail(
                    "training_args.save_steps",
                    format!(
                        "--load_best_model_at_end requires the saving steps to be a round multiple of the \
                         evaluation steps, but found {save}, which is not a round multiple of {eval}"
                    ),
                );
            }
        }
        if let Some(eval) = &t.eval_datasets {
            if eval.batch_size == 0 {
                return fail(
                    "training_args.eval_datasets.batch_size",
                    "must be a positive integer".into(),
                );
            }
            if let Err(message) = check_threshold(eval.threshold) {
                return fail("training_args.eval_datasets.threshold", message);
            }
        }
        for sink in &t.report_to {
            if !["wandb", "tensorboard", "none", "all", "jsonl"].contains(&sink.as_str()) {
                tracing::warn!("training_args.report_to: unknown sink {sink:?} ignored");
            }
        }
        Ok(())
    }
}
