//! What the trainer writes into its run directory besides the weights, and reads back from a
//! checkpoint to resume: the trainer state and the data position.

use crate::error::{TrainError, io_at};
use crate::state::TrainerState;
use provence_config::{StepPlan, layout};
use std::path::Path;

pub(crate) fn copy_tokenizer_files(from: &Path, to: &Path) -> Result<(), TrainError> {
    for name in layout::TOKENIZER_FILES {
        let source = from.join(name);
        if source.exists() {
            std::fs::copy(&source, to.join(name)).map_err(io_at(&source))?;
        }
    }
    Ok(())
}

/// Fails unless checkpoint `dir` was written by a run whose optimizer steps consumed
/// `micro_batches_per_step` micro-batches each (accumulation × workers; checkpoints without the
/// record come from a single worker and are not checked): otherwise the resumed run would
/// continue at another place in the data.
pub(crate) fn check_data_position(dir: &Path, micro_batches_per_step: usize) -> Result<(), TrainError> {
    let Ok(text) = std::fs::read_to_string(dir.join(layout::DATA_PARALLEL)) else {
        return Ok(());
    };
    let saved = serde_json::from_str::<serde_json::Value>(&text)
        .ok()
        .and_then(|v| v.get("micro_batches_per_step")?.as_u64());
    match saved {
        Some(saved) if saved as usize == micro_batches_per_step => Ok(()),
        Some(saved) => Err(TrainError::Resume {
            path: dir.to_owned(),
            message: format!(
                "its run consumed {saved} micro-batches per optimizer step (gradient_accumulation_steps × workers), \
                 this one would consume {micro_batches_per_step}; resume with a gradient_accumulation_steps and \
                 --devices/--nnodes whose product is {saved}"
            ),
        }),
        None => Err(TrainError::Resume {
            path: dir.to_owned(),
            message: format!("{} is not valid", layout::DATA_PARALLEL),
        }),
    }
}

/// The trainer state saved in checkpoint `dir`, with this run's step budget; its cadence wins
/// over the freshly computed one, as in HF's Trainer (they differ only if the data or the recipe
/// changed between the runs).
pub(crate) fn restored_state(dir: &Path, plan: &StepPlan) -> Result<TrainerState, TrainError> {
    let text = std::fs::read_to_string(dir.join(layout::TRAINER_STATE)).map_err(io_at(dir))?;
    let mut state: TrainerState = serde_json::from_str(&text).map_err(|e| TrainError::Resume {
        path: dir.to_owned(),
        message: format!("trainer_state.json: {e}"),
    })?;
    state.max_steps = plan.max_steps as u64;
    let fresh = [plan.logging_steps, plan.eval_steps, plan.save_steps].map(|v| v as u64);
    let stored = [state.logging_steps, state.eval_steps, state.save_steps];
    if fresh != stored {
        tracing::warn!(
            "checkpoint cadence (logging/eval/save every {stored:?} steps) differs from this run's {fresh:?}: keeping the checkpoint's"
        );
    }
    Ok(state)
}
