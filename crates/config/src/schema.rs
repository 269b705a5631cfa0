//! The recipe schema: `model_args`, `data_args` and `training_args` with upstream's YAML
//! defaults (hotchpotch/open_provence's `open_provence/trainer.py::parse_config_file`), plus our
//! documented extensions.

use crate::value::{FieldError, FieldValue, name_enum};
use crate::yaml::{Located, Node};
use serde::Serialize;

/// Static description of one recipe field, used for CLI flags, `--help` and listings.
#[derive(Debug, Clone, Copy)]
pub struct FieldInfo {
    /// Section name (`model_args`, `data_args`, `training_args`).
    pub section: &'static str,
    /// Field name, which is also the CLI flag (`--<name>`).
    pub name: &'static str,
    /// One-line description.
    pub doc: &'static str,
    /// What the value must look like.
    pub expected: &'static str,
    /// Whether a bare `--flag` means `true`.
    pub is_bool: bool,
}

/// One section of the recipe: typed fields settable by key.
pub trait Section: Default + Serialize {
    /// The YAML key of the section.
    const NAME: &'static str;
    /// The section's fields.
    const FIELDS: &'static [FieldInfo];
    /// Sets `key` from `node`; `None` if the section has no such field.
    fn set_field(&mut self, key: &str, node: &Located) -> Option<Result<(), FieldError>>;
    /// Every field with its rendered value, in declaration order.
    fn show_fields(&self) -> Vec<(&'static str, String)>;
}

macro_rules! section {
    (
        $(#[$meta:meta])*
        pub struct $name:ident = $section:ident {
            $( $(#[doc = $doc:literal])+ $field:ident : $ty:ty = $default:expr, )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Serialize)]
        pub struct $name {
            $( $(#[doc = $doc])+ pub $field: $ty, )*
        }

        impl Default for $name {
            fn default() -> Self {
                Self { $( $field: $default, )* }
            }
        }

        impl Section for $name {
            const NAME: &'static str = stringify!($section);
            const FIELDS: &'static [FieldInfo] = &[$(
                FieldInfo {
                    section: stringify!($section),
                    name: stringify!($field),
                    doc: concat!($($doc),+),
                    expected: <$ty as FieldValue>::EXPECTED,
                    is_bool: <$ty as FieldValue>::IS_BOOL,
                },
            )*];

            fn set_field(&mut self, key: &str, node: &Located) -> Option<Result<(), FieldError>> {
                match key {
                    $( stringify!($field) => Some(<$ty as FieldValue>::from_node(node).map(|v| self.$field = v)), )*
                    _ => None,
                }
            }

            fn show_fields(&self) -> Vec<(&'static str, String)> {
                vec![$( (stringify!($field), FieldValue::show(&self.$field)), )*]
            }
        }
    };
}

name_enum! {
    /// Optimizer (`training_args.optimizer`, alias `optim`).
    pub enum Optimizer {
        /// HF Adafactor as upstream configures it (the default).
        Adafactor = ["adafactor"],
        /// PyTorch AdamW.
        AdamW = ["adamw_torch", "adamw", "adamw_torch_fused", "adamw_hf"],
    }
}

name_enum! {
    /// When a run pushes to the Hub (`training_args.hub_strategy`, HF Trainer's values).
    pub enum HubStrategy {
        /// After each checkpoint save (HF's default; pushed once at the end here, see docs/training.md).
        EverySave = ["every_save"],
        /// Once, at the end of training.
        End = ["end"],
        /// HF: also the last checkpoint to `last-checkpoint/` (pushed once at the end here).
        Checkpoint = ["checkpoint"],
        /// HF: every checkpoint to `checkpoint-N/` (pushed once at the end here).
        AllCheckpoints = ["all_checkpoints"],
    }
}

name_enum! {
    /// Learning-rate schedule (`training_args.lr_scheduler_type`).
    pub enum SchedulerType {
        /// Linear warmup then half-cosine decay to 0 (the default).
        Cosine = ["cosine"],
        /// Linear warmup then linear decay to 0.
        Linear = ["linear"],
        /// Constant learning rate.
        Constant = ["constant"],
        /// Linear warmup then constant.
        ConstantWithWarmup = ["constant_with_warmup"],
    }
}

name_enum! {
    /// How token pruning labels are aligned with sentence spans (`data_args.label_alignment`).
    #[derive(Default)]
    pub enum LabelAlignment {
        /// Upstream's "v2" algorithm, quirks included (the default, for parity).
        ///
        /// Span token positions are *counted*, not aligned: span `k` covers the tokens between the
        /// token counts of the spans `0..k` and `0..=k` joined by single spaces (encoded without
        /// special tokens, without truncation), shifted by the position where a passage starts in the
        /// pair template (found by encoding the pair `(query, "test")`), then clipped to the padded
        /// length. Consequences: the space a span "absorbs" can make the last span spill onto the
        /// final separator and padding (always for passages whose sentences are not separated by
        /// exactly one space, e.g. Japanese or newline-separated text), truncated pairs label the
        /// final separator, and a truncated *query* shifts every position.
        #[default]
        V2 = ["v2"],
        /// Our fix (opt-in, see `docs/parity.md`): labels come from the character offsets of the
        /// passage's own tokens in the actual pair encoding (sequence 1). A passage token gets 1 when
        /// it overlaps a relevant span, 0 when it overlaps only non-relevant spans and -100 when it
        /// overlaps no span (inter-sentence whitespace) or has an empty offset. Query tokens, special
        /// tokens and padding are never labelled, and truncation is taken into account exactly.
        Offsets = ["offsets"],
    }
}

name_enum! {
    /// What to do with a malformed dataset row (`data_args.bad_rows`).
    #[derive(Default)]
    pub enum BadRowPolicy {
        /// Stop with an error naming the dataset, split and row (the default).
        #[default]
        Fail = ["fail"],
        /// Skip bad rows and report how many were skipped.
        Skip = ["skip"],
    }
}

name_enum! {
    /// How the encoder runs a padded batch (`model_args.attention`, `--attention`).
    #[derive(Default)]
    pub enum AttentionLayout {
        /// Only the real tokens go through the encoder, as one stream with attention inside each
        /// sequence (transformers' flash-attention path): hidden states at pad positions are exact
        /// zeros, so pruning logits there are the head's bias (the default).
        #[default]
        Packed = ["packed"],
        /// Every position of the padded batch goes through the encoder with pad keys masked
        /// (transformers' eager/sdpa path): pad positions carry ordinary values.
        Padded = ["padded"],
    }
}

section! {
    /// `model_args`: backbone and model-shape settings.
    pub struct ModelArgs = model_args {
        /// Backbone: a Hub model id or a local directory (reranker checkpoint + tokenizer).
        model_name_or_path: String = "hotchpotch/japanese-reranker-xsmall-v2".to_string(),
        /// Dropout of the pruning head only (the ranking classifier keeps the backbone's).
        classifier_dropout: f64 = 0.1,
        /// Tokenizer truncation length for (query, passage) pairs, special tokens included.
        max_length: usize = crate::rules::DEFAULT_MAX_LENGTH,
        /// Parsed for compatibility; unused.
        config_name: Option<String> = None,
        /// Parsed for compatibility; unused.
        tokenizer_name: Option<String> = None,
        /// Parsed for compatibility; unused.
        cache_dir: Option<String> = None,
        /// Ranking outputs; null = the backbone config's num_labels (extension: also from YAML).
        num_labels: Option<usize> = None,
        /// Initialise the backbone randomly from its config.json instead of loading weights (extension).
        from_scratch: bool = false,
        /// Encoder execution: packed (only real tokens, flash-attention semantics) or padded (eager/sdpa semantics) (extension).
        attention: AttentionLayout = AttentionLayout::default(),
    }
}

section! {
    /// `data_args`: which datasets to train on and how to sample them.
    pub struct DataArgs = data_args {
        /// Per-dataset entries; when set, the single-dataset keys below are only fallbacks.
        datasets: Option<Vec<DatasetEntry>> = None,
        /// Single-dataset mode: Hub dataset id or local directory.
        dataset_name: String = "hotchpotch/wip-msmarco-context-relevance".to_string(),
        /// Single-dataset mode: subset (Hub config name).
        subset: String = "msmarco-ja-minimal".to_string(),
        /// Single-dataset mode teacher column (null = `teacher_score`).
        teacher_column: Option<String> = None,
        /// Default `items` (passages kept per query) for entries without the key.
        items: Option<usize> = None,
        /// Default `upsample_factor` for entries without the key.
        upsample_factor: Option<f64> = None,
        /// Keep at most this many relevant passages per row (zero-relevance filter).
        filter_zero_relevance_max_items: Option<usize> = None,
        /// In the zero-relevance filter, keep the least relevant passages instead.
        filter_zero_relevance_max_items_reverse: bool = false,
        /// In the zero-relevance filter, always keep passage 0.
        filter_keep_first_item: bool = false,
        /// Keep only the first N training rows after mixing (null/0 = all).
        max_train_samples: Option<usize> = None,
        /// Keep only the first N evaluation rows after mixing (null/0 = all).
        max_eval_samples: Option<usize> = None,
        /// Eval ratio in (0,1) split off train when no dataset has an eval split.
        validation_split: Option<f64> = None,
        /// Eval row count split off train (takes precedence over validation_split).
        validation_split_samples: Option<usize> = None,
        /// Preferred eval split name (then `validation`, then `test`).
        validation_split_name: String = "validation".to_string(),
        /// Parsed for compatibility; no semantic effect.
        preprocessing_num_workers: Option<usize> = None,
        /// Pruning-label alignment: `v2` (upstream, default) or `offsets` (extension).
        label_alignment: LabelAlignment = LabelAlignment::V2,
        /// Malformed rows: `fail` (default) or `skip` with a count (extension).
        bad_rows: BadRowPolicy = BadRowPolicy::Fail,
    }
}

section! {
    /// `training_args`: optimisation, logging, checkpointing and evaluation.
    pub struct TrainingArgs = training_args {
        /// Run directory; null = `./output/<config_stem>_<timestamp>`.
        output_dir: Option<String> = None,
        /// `--overwrite_output_dir`: start over in a directory an earlier run wrote into (its files
        /// are removed first); the recipe's value has no effect.
        overwrite_output_dir: bool = true,
        /// false = skip training but still save the (untrained) final_model.
        do_train: bool = true,
        /// Parsed for compatibility; no effect.
        do_eval: bool = true,
        /// Epochs (fractions allowed).
        num_train_epochs: f64 = 1.0,
        /// Rows (queries) per training micro-batch.
        per_device_train_batch_size: usize = 32,
        /// Rows per evaluation batch.
        per_device_eval_batch_size: usize = 16,
        /// Micro-batches per optimizer step.
        gradient_accumulation_steps: usize = 2,
        /// Peak learning rate.
        learning_rate: f64 = 5e-5,
        /// Decoupled weight decay (not applied to norms and biases).
        weight_decay: f64 = 0.01,
        /// Global gradient-norm clip (<= 0 disables).
        max_grad_norm: f64 = 1.0,
        /// Learning-rate schedule.
        lr_scheduler_type: SchedulerType = SchedulerType::Cosine,
        /// Warmup as a fraction of the optimizer steps, in [0, 1].
        warmup_ratio: f64 = 0.1,
        /// Warmup steps; > 0 takes precedence over warmup_ratio (extension: also from YAML).
        warmup_steps: usize = 0,
        /// Ignored: the logging cadence is dynamic (total steps / 100).
        logging_steps: Option<usize> = None,
        /// Ignored: the evaluation cadence is dynamic (total steps / 20).
        eval_steps: Option<usize> = None,
        /// Checkpoint every N steps; null = the dynamic eval cadence.
        save_steps: Option<usize> = None,
        /// Checkpoints kept (plus the best one); null or <= 0 keeps all.
        save_total_limit: Option<i64> = Some(5),
        /// Reload the best checkpoint (lowest eval_loss) at the end, when an eval set exists.
        load_best_model_at_end: bool = true,
        /// fp16: not supported (no loss scaling); trains in f32 with a warning (use bf16).
        fp16: bool = false,
        /// bf16 mixed precision: f32 weights, bf16 matmuls (GPU builds; on the CPU we warn and train in f32 unless --precision bf16).
        bf16: bool = true,
        /// Collation worker threads.
        dataloader_num_workers: usize = 8,
        /// Optimizer (`adafactor` or `adamw_torch`; the YAML key `optim` is an alias).
        optimizer: Optimizer = Optimizer::Adafactor,
        /// Metric sinks; `wandb` is replaced by TensorBoard event files, `none` disables.
        report_to: Vec<String> = vec!["wandb".to_string()],
        /// Resume from a checkpoint dir or a run dir (its newest checkpoint).
        resume_from_checkpoint: Option<String> = None,
        /// Alias of resume_from_checkpoint (used only when that is absent).
        checkpoint: Option<String> = None,
        /// Push `final_model/` with a model card to the Hub at the end (token from HF_TOKEN).
        push_to_hub: bool = false,
        /// Hub repository (`owner/name`, or a bare name in the token's namespace); null = the run
        /// directory's name.
        hub_model_id: Option<String> = None,
        /// Create the repository private (true) or public (false); null = the Hub's default.
        hub_private_repo: Option<bool> = None,
        /// When to push: `end`, or HF's `every_save` (default), `checkpoint`, `all_checkpoints`,
        /// which push once at the end here too.
        hub_strategy: HubStrategy = HubStrategy::EverySave,
        /// Post-training dataset evaluation.
        eval_datasets: Option<EvalDatasetsArgs> = None,
        /// Seed for data sampling, shuffling and initialisation (extension: also from YAML).
        seed: u64 = 42,
        /// Optimizer-step budget; -1 = from epochs (extension: also from YAML).
        max_steps: i64 = -1,
        /// Weight of the ranking MSE loss (extension: also from YAML).
        ranking_weight: f64 = 0.05,
        /// Weight of the token pruning loss (extension: also from YAML).
        pruning_weight: f64 = 1.0,
    }
}

/// One entry of `data_args.datasets`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DatasetEntry {
    /// Hub dataset id or local directory.
    pub dataset_name: String,
    /// Subset (Hub config name); ignored for `save_to_disk` directories.
    pub subset: Option<String>,
    /// Teacher score column, renamed to `teacher_score` (default `teacher_score`).
    pub teacher_column: String,
    /// `items`: `None` = key absent (use `data_args.items`), `Some(None)` = explicit null.
    pub items: Option<Option<usize>>,
    /// `upsample_factor`: `None` = key absent (use `data_args.upsample_factor`), `Some(None)` = null.
    pub upsample_factor: Option<Option<f64>>,
    /// Rows to sample from train: a count if > 1, a fraction if <= 1 (`1` = everything).
    pub n_samples: Option<f64>,
    /// 1-based line of the entry in the recipe (0 if unknown).
    #[serde(skip)]
    pub line: u64,
}

impl FieldValue for DatasetEntry {
    const EXPECTED: &'static str =
        "a mapping with dataset_name, subset, teacher_column, items, upsample_factor, n_samples";

    fn from_node(node: &Located) -> Result<Self, FieldError> {
        let entries = node
            .as_map()
            .ok_or_else(|| FieldError::at(node, format!("expected {}, got {}", Self::EXPECTED, node.describe())))?;
        let mut out = DatasetEntry {
            dataset_name: String::new(),
            subset: None,
            teacher_column: "teacher_score".to_string(),
            items: None,
            upsample_factor: None,
            n_samples: None,
            line: node.line,
        };
        let mut has_name = false;
        for (key, value) in entries {
            let name = key.as_key().unwrap_or_default();
            let within = |e: FieldError| e.within(&format!(".{name}"));
            match name.as_str() {
                "dataset_name" => {
                    out.dataset_name = String::from_node(value).map_err(within)?;
                    has_name = true;
                }
                "subset" => out.subset = Option::<String>::from_node(value).map_err(within)?,
                "teacher_column" => {
                    if let Some(column) = Option::<String>::from_node(value).map_err(within)? {
                        out.teacher_column = column;
                    }
                }
                "items" => out.items = Some(Option::<usize>::from_node(value).map_err(within)?),
                "upsample_factor" => out.upsample_factor = Some(Option::<f64>::from_node(value).map_err(within)?),
                "n_samples" => out.n_samples = Option::<f64>::from_node(value).map_err(within)?,
                _ => tracing::warn!(
                    "line {}: unknown key `{name}` in a data_args.datasets entry is ignored \
                     (known: dataset_name, subset, teacher_column, items, upsample_factor, n_samples)",
                    key.line
                ),
            }
        }
        if !has_name || out.dataset_name.trim().is_empty() {
            return Err(FieldError::at(node, "dataset entry needs a non-empty `dataset_name`"));
        }
        Ok(out)
    }

    fn show(&self) -> String {
        let mut parts = vec![format!("dataset_name: {:?}", self.dataset_name)];
        if let Some(subset) = &self.subset {
            parts.push(format!("subset: {subset:?}"));
        }
        parts.push(format!("teacher_column: {:?}", self.teacher_column));
        if let Some(items) = self.items {
            parts.push(format!("items: {}", items.show()));
        }
        if let Some(factor) = self.upsample_factor {
            parts.push(format!("upsample_factor: {}", factor.show()));
        }
        if let Some(n) = self.n_samples {
            parts.push(format!("n_samples: {}", n.show()));
        }
        format!("{{{}}}", parts.join(", "))
    }
}

impl FieldValue for Vec<DatasetEntry> {
    const EXPECTED: &'static str = "a list of dataset entries";

    fn from_node(node: &Located) -> Result<Self, FieldError> {
        match &node.node {
            Node::Seq(items) => items
                .iter()
                .enumerate()
                .map(|(i, item)| DatasetEntry::from_node(item).map_err(|e| e.within(&format!("[{i}]"))))
                .collect(),
            _ => Err(FieldError::at(
                node,
                format!("expected {}, got {}", Self::EXPECTED, node.describe()),
            )),
        }
    }

    fn show(&self) -> String {
        if self.is_empty() {
            return "[]".to_string();
        }
        let lines: Vec<String> = self
            .iter()
            .enumerate()
            .map(|(i, e)| format!("\n    [{i}] {}", e.show()))
            .collect();
        lines.concat()
    }
}

/// `training_args.eval_datasets`: the post-training dataset evaluation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EvalDatasetsArgs {
    /// Path of an eval-datasets YAML (`configs/eval_datasets/*.yaml`); null skips with a warning.
    pub config: Option<String>,
    /// Pruning threshold (the misspelt key `threadshold` is accepted as a fallback).
    pub threshold: f64,
    /// Evaluation batch size.
    pub batch_size: usize,
    /// Report per-stage timings.
    pub timing_details: bool,
}

impl Default for EvalDatasetsArgs {
    fn default() -> Self {
        Self {
            config: None,
            threshold: crate::rules::DEFAULT_THRESHOLD,
            batch_size: 256,
            timing_details: true,
        }
    }
}

impl FieldValue for EvalDatasetsArgs {
    const EXPECTED: &'static str = "a mapping with config, threshold, batch_size, timing_details";

    fn from_node(node: &Located) -> Result<Self, FieldError> {
        let entries = node
            .as_map()
            .ok_or_else(|| FieldError::at(node, format!("expected {}, got {}", Self::EXPECTED, node.describe())))?;
        let mut out = EvalDatasetsArgs::default();
        let mut threshold_seen = false;
        for (key, value) in entries {
            let name = key.as_key().unwrap_or_default();
            let within = |e: FieldError| e.within(&format!(".{name}"));
            match name.as_str() {
                "config" => out.config = Option::<String>::from_node(value).map_err(within)?,
                "threshold" => {
                    out.threshold = f64::from_node(value).map_err(within)?;
                    threshold_seen = true;
                }
                "threadshold" if !threshold_seen => out.threshold = f64::from_node(value).map_err(within)?,
                "threadshold" => {}
                "batch_size" => out.batch_size = usize::from_node(value).map_err(within)?,
                "timing_details" => out.timing_details = bool::from_node(value).map_err(within)?,
                _ => tracing::warn!(
                    "line {}: unknown key `{name}` in training_args.eval_datasets is ignored \
                     (known: config, threshold, batch_size, timing_details)",
                    key.line
                ),
            }
        }
        Ok(out)
    }

    fn show(&self) -> String {
        format!(
            "{{config: {}, threshold: {}, batch_size: {}, timing_details: {}}}",
            self.config.show(),
            self.threshold.show(),
            self.batch_size,
            self.timing_details
        )
    }
}

/// Keys of Hugging Face `TrainingArguments` (transformers 4.57) and upstream's dataclasses
/// that a recipe may carry but this trainer does not use; they are accepted with a debug note.
pub const ACCEPTED_UNUSED_KEYS: &[&str] = &[
    "accelerator_config",
    "adafactor",
    "adam_beta1",
    "adam_beta2",
    "adam_epsilon",
    "auto_find_batch_size",
    "average_tokens_across_devices",
    "batch_eval_metrics",
    "bf16_full_eval",
    "data_seed",
    "dataloader_drop_last",
    "dataloader_persistent_workers",
    "dataloader_pin_memory",
    "dataloader_prefetch_factor",
    "ddp_backend",
    "ddp_broadcast_buffers",
    "ddp_bucket_cap_mb",
    "ddp_find_unused_parameters",
    "ddp_timeout",
    "debug",
    "deepspeed",
    "disable_tqdm",
    "do_predict",
    "eval_accumulation_steps",
    "eval_delay",
    "eval_do_concat_batches",
    "eval_on_start",
    "eval_strategy",
    "eval_use_gather_object",
    "evaluation_strategy",
    "fp16_backend",
    "fp16_full_eval",
    "fp16_opt_level",
    "fsdp",
    "fsdp_config",
    "fsdp_min_num_params",
    "fsdp_transformer_layer_cls_to_wrap",
    "full_determinism",
    "gradient_checkpointing",
    "gradient_checkpointing_kwargs",
    "greater_is_better",
    "group_by_length",
    "half_precision_backend",
    "hub_always_push",
    "hub_revision",
    "hub_token",
    "ignore_data_skip",
    "include_for_metrics",
    "include_inputs_for_metrics",
    "include_num_input_tokens_seen",
    "include_tokens_per_second",
    "jit_mode_eval",
    "label_names",
    "label_smoothing_factor",
    "length_column_name",
    "liger_kernel_config",
    "local_rank",
    "log_level",
    "log_level_replica",
    "log_on_each_node",
    "logging_dir",
    "logging_first_step",
    "logging_nan_inf_filter",
    "logging_strategy",
    "lr_scheduler_kwargs",
    "metric_for_best_model",
    "mp_parameters",
    "neftune_noise_alpha",
    "no_cuda",
    "optim_args",
    "optim_target_modules",
    "parallelism_config",
    "past_index",
    "per_gpu_eval_batch_size",
    "per_gpu_train_batch_size",
    "prediction_loss_only",
    "push_to_hub_model_id",
    "push_to_hub_organization",
    "push_to_hub_token",
    "ray_scope",
    "remove_unused_columns",
    "restore_callback_states_from_checkpoint",
    "run_name",
    "save_on_each_node",
    "save_only_model",
    "save_safetensors",
    "save_strategy",
    "sentence_level_pruning",
    "skip_memory_metrics",
    "tf32",
    "torch_compile",
    "torch_compile_backend",
    "torch_compile_mode",
    "torch_empty_cache_steps",
    "torchdynamo",
    "tpu_metrics_debug",
    "tpu_num_cores",
    "use_cpu",
    "use_ipex",
    "use_legacy_prediction_loop",
    "use_liger_kernel",
    "use_mps_device",
    "use_teacher_scores",
];
