//! The value rules and defaults every part of the recipe (and the CLIs, the library) shares:
//! limits, `max_length`'s and the threshold's checks and defaults. A leaf: the section schema
//! and the recipe validation both import it.

/// Rows one optimizer step may cover (`per_device_train_batch_size × gradient_accumulation_steps`):
/// far above any recipe, and small enough that the step arithmetic cannot overflow.
pub const MAX_ROWS_PER_STEP: usize = 1 << 24;

/// Collation threads a run may ask for (`dataloader_num_workers`).
pub const MAX_DATALOADER_WORKERS: usize = 256;

/// Token length of a (query, passage) pair when neither the recipe nor the model's config names
/// one (upstream's `max_length`).
pub const DEFAULT_MAX_LENGTH: usize = 512;

/// The one rule for `max_length` (recipes, model configs, the inference path): room for the
/// special tokens, a query and some passage.
pub fn check_max_length(value: usize) -> Result<usize, String> {
    if value >= 8 {
        Ok(value)
    } else {
        Err(format!("must be at least 8 tokens, got {value}"))
    }
}

/// The pruning threshold when neither the caller nor the model's config names one (upstream's
/// default in `process()`, `eval_datasets.py` and recipes' `eval_datasets.threshold`).
pub const DEFAULT_THRESHOLD: f64 = 0.1;

/// The one rule for a pruning threshold (recipes, the CLIs, the library): sentences are kept
/// when their keep probability exceeds it, so it must be a finite number in [0, 1].
pub fn check_threshold(value: f64) -> Result<f64, String> {
    if value.is_finite() && (0.0..=1.0).contains(&value) {
        Ok(value)
    } else {
        Err(format!("a threshold must be a number in [0, 1], got {value}"))
    }
}
