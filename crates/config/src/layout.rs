//! The files of a model directory and of a run directory (`checkpoint-N/`, `final_model/`), as
//! Hugging Face's Trainer and upstream's `OpenProvenceTrainer._save` lay them out: every crate that
//! reads or writes them takes the names from here.

use std::io;
use std::path::{Path, PathBuf};

/// Model weights (single file).
pub const WEIGHTS: &str = "model.safetensors";
/// The index of sharded model weights.
pub const WEIGHTS_INDEX: &str = "model.safetensors.index.json";
/// The model configuration.
pub const MODEL_CONFIG: &str = "config.json";
/// The tokenizer files a model directory carries next to its weights.
pub const TOKENIZER_FILES: &[&str] = &["tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"];
/// The trainer state whose presence makes a directory a checkpoint.
pub const TRAINER_STATE: &str = "trainer_state.json";
/// The optimizer state of a checkpoint.
pub const OPTIMIZER_STATE: &str = "optimizer.safetensors";
/// How many micro-batches each optimizer step of a checkpoint's run consumed (accumulation ×
/// data-parallel workers), which fixes where a resumed run continues in the data.
pub const DATA_PARALLEL: &str = "data_parallel.json";
/// The recipe saved with `final_model/`.
pub const TRAINING_ARGS: &str = "training_args.json";
/// The exported model of a run.
pub const FINAL_MODEL: &str = "final_model";
/// The run's log records, one JSON object a line (Hugging Face's `log_history` key names).
pub const LOG_HISTORY: &str = "log_history.jsonl";
/// The folder of `final_model/` holding the recipe's post-training dataset evaluation.
pub const EVAL_DATASETS_DIR: &str = "eval_datasets";
/// The Markdown report of that evaluation (beside `results.json`).
pub const EVAL_DATASETS_REPORT: &str = "results.md";
/// The model card of a published model repository.
pub const MODEL_CARD: &str = "README.md";
/// The TensorBoard event directory of a run directory.
pub const TENSORBOARD_DIR: &str = "runs";
/// The prefix of checkpoint directories: `checkpoint-<step>`.
pub const CHECKPOINT_PREFIX: &str = "checkpoint-";

/// The model directory `dir` names: `dir` itself, or its `final_model/` when `dir` is a run
/// directory (no `config.json` of its own, a `final_model/` holding one).
pub fn model_dir(dir: &Path) -> PathBuf {
    let exported = dir.join(FINAL_MODEL);
    if !dir.join(MODEL_CONFIG).is_file() && exported.join(MODEL_CONFIG).is_file() {
        exported
    } else {
        dir.to_path_buf()
    }
}

/// The directory name of the checkpoint at optimizer step `step`.
pub fn checkpoint_name(step: u64) -> String {
    format!("{CHECKPOINT_PREFIX}{step}")
}

/// The step of a directory named exactly `checkpoint-<digits>` (leading zeros allowed; absurdly
/// long numbers saturate).
pub fn checkpoint_step(name: &str) -> Option<u64> {
    parse_digits(name.strip_prefix(CHECKPOINT_PREFIX)?)
}

/// The step of a name ending in `checkpoint-<digits>` (anchored at the end, as upstream's
/// `re.search(r"checkpoint-(\d+)$", ...)`).
pub fn trailing_checkpoint_step(name: &str) -> Option<u64> {
    let digits_start = name.trim_end_matches(|c: char| c.is_ascii_digit()).len();
    let (head, digits) = name.split_at(digits_start);
    if head.ends_with(CHECKPOINT_PREFIX) {
        parse_digits(digits)
    } else {
        None
    }
}

fn parse_digits(digits: &str) -> Option<u64> {
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(digits.parse::<u64>().unwrap_or(u64::MAX))
}

/// The `checkpoint-<digits>` directories of a run, in step order (none when it does not exist).
pub fn list_checkpoints(run_dir: &Path) -> io::Result<Vec<(u64, PathBuf)>> {
    let mut found = Vec::new();
    if !run_dir.exists() {
        return Ok(found);
    }
    for entry in std::fs::read_dir(run_dir)? {
        let path = entry?.path();
        let step = path.file_name().and_then(|n| n.to_str()).and_then(checkpoint_step);
        if let Some(step) = step
            && path.is_dir()
        {
            found.push((step, path));
        }
    }
    found.sort();
    Ok(found)
}

/// The files checkpoint directory `dir` lacks to be resumed from: its trainer state and weights
/// (a checkpoint a killed run was deleting lacks its weights). Empty when it is complete.
pub fn missing_checkpoint_files(dir: &Path) -> Vec<&'static str> {
    [TRAINER_STATE, WEIGHTS]
        .into_iter()
        .filter(|name| !dir.join(name).exists())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checkpoint_names_round_trip() {
        assert_eq!(checkpoint_step(&checkpoint_name(42)), Some(42));
        assert_eq!(checkpoint_step("checkpoint-0500"), Some(500));
        assert_eq!(checkpoint_step("checkpoint-final"), None);
        assert_eq!(checkpoint_step("checkpoint-"), None);
        assert_eq!(checkpoint_step("my-checkpoint-3"), None);
        assert_eq!(trailing_checkpoint_step("my-checkpoint-3"), Some(3));
        assert_eq!(trailing_checkpoint_step("checkpoint-3x"), None);
    }

    #[test]
    fn a_run_directory_names_its_final_model() {
        let tmp = tempfile::tempdir().unwrap();
        let run = tmp.path().to_path_buf();
        let exported = run.join(FINAL_MODEL);
        std::fs::create_dir_all(&exported).unwrap();
        assert_eq!(model_dir(&run), run, "no config.json anywhere: the directory itself");
        std::fs::write(exported.join(MODEL_CONFIG), "{}").unwrap();
        assert_eq!(model_dir(&run), exported);
        assert_eq!(model_dir(&exported), exported);
        std::fs::write(run.join(MODEL_CONFIG), "{}").unwrap();
        assert_eq!(model_dir(&run), run, "a model directory of its own wins");
    }
}
