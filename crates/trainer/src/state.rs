//! `trainer_state.json` with upstream's (Hugging Face `TrainerState`) fields: the file whose
//! presence makes a directory a checkpoint, written with sorted keys and indent 2.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The `TrainerControl` flags stored under `stateful_callbacks`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TrainerControlArgs {
    /// Stop the current epoch.
    pub should_epoch_stop: bool,
    /// Evaluate at this step.
    pub should_evaluate: bool,
    /// Log at this step.
    pub should_log: bool,
    /// Save at this step.
    pub should_save: bool,
    /// Stop training.
    pub should_training_stop: bool,
}

/// Training progress as Hugging Face's `trainer_state.json` stores it. Field order is
/// alphabetical so the JSON matches upstream's `sort_keys=True` output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainerState {
    /// Step of the best evaluation so far.
    pub best_global_step: Option<u64>,
    /// Best (lowest) `eval_loss` so far.
    pub best_metric: Option<f64>,
    /// The checkpoint holding the best weights, when one was saved at that step.
    pub best_model_checkpoint: Option<String>,
    /// Fractional epoch reached.
    pub epoch: f64,
    /// Evaluation cadence in optimizer steps.
    pub eval_steps: u64,
    /// Optimizer steps done.
    pub global_step: u64,
    /// Always false.
    pub is_hyper_param_search: bool,
    /// Always true (single process).
    pub is_local_process_zero: bool,
    /// Always true (single process).
    pub is_world_process_zero: bool,
    /// Every train/eval log record so far.
    pub log_history: Vec<Map<String, Value>>,
    /// Logging cadence in optimizer steps.
    pub logging_steps: u64,
    /// Optimizer-step budget.
    pub max_steps: u64,
    /// Tokens seen (not tracked: 0).
    pub num_input_tokens_seen: u64,
    /// Epochs of the run.
    pub num_train_epochs: u64,
    /// Checkpoint cadence in optimizer steps.
    pub save_steps: u64,
    /// Callback state (`TrainerControl` flags).
    pub stateful_callbacks: Value,
    /// Floating-point operations (not tracked: 0).
    pub total_flos: f64,
    /// Rows per micro-batch.
    pub train_batch_size: u64,
    /// Always null.
    pub trial_name: Option<String>,
    /// Always null.
    pub trial_params: Option<Value>,
}

impl TrainerState {
    /// A fresh state for a run with this cadence and budget.
    pub fn new(eval_steps: u64, logging_steps: u64, save_steps: u64, max_steps: u64, epochs: u64, batch: u64) -> Self {
        Self {
            best_global_step: None,
            best_metric: None,
            best_model_checkpoint: None,
            epoch: 0.0,
            eval_steps,
            global_step: 0,
            is_hyper_param_search: false,
            is_local_process_zero: true,
            is_world_process_zero: true,
            log_history: Vec::new(),
            logging_steps,
            max_steps,
            num_input_tokens_seen: 0,
            num_train_epochs: epochs,
            save_steps,
            stateful_callbacks: control_json(&TrainerControlArgs::default()),
            total_flos: 0.0,
            train_batch_size: batch,
            trial_name: None,
            trial_params: None,
        }
    }

    /// Records the control flags of the step being saved.
    pub fn set_control(&mut self, control: &TrainerControlArgs) {
        self.stateful_callbacks = control_json(control);
    }

    /// Pretty JSON with sorted keys and a 2-space indent, like upstream.
    pub fn to_json_pretty(&self) -> String {
        // Round-trip through Value so nested maps are sorted too (serde_json's Map is a BTreeMap).
        let value = serde_json::to_value(self).unwrap_or(Value::Null);
        serde_json::to_string_pretty(&value).unwrap_or_default()
    }
}

fn control_json(control: &TrainerControlArgs) -> Value {
    serde_json::json!({ "TrainerControl": { "args": control, "attributes": {} } })
}
