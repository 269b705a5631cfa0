//! The run directory ([`RunDir`]): what the trainer writes into it (`checkpoint-N/` and
//! `final_model/`, with the tokenizer files of the model it started from) and reads back from a
//! checkpoint to resume (the trainer state and the data position).

use crate::checkpoint_dir::{rotate_checkpoints, sweep_deletions, write_dir_atomically};
use crate::error::{TrainError, io_at};
use crate::optim::Optimizer;
use crate::progress::Progress;
use crate::state::TrainerState;
use burn::module::AutodiffModule;
use burn::tensor::backend::AutodiffBackend;
use provence_config::{StepPlan, TrainConfig, layout};
use provence_hub::PretrainedTokenizer;
use provence_model::{DEFAULT_HUB_REPO, ModelBackend, OpenProvenceModel};
use std::path::{Path, PathBuf};

/// The run directory (`output_dir`), written by rank 0 alone.
pub(crate) struct RunDir<'a> {
    /// Its path.
    pub(crate) path: PathBuf,
    /// The model directory the run started from; its tokenizer files go into every save.
    model_dir: PathBuf,
    /// The recipe: `training_args.json` of `final_model/`, the checkpoint rotation.
    config: &'a TrainConfig,
    /// Micro-batches each optimizer step consumes (accumulation × workers), recorded so that a
    /// resumed run continues at the same place in the data.
    micro_batches_per_step: usize,
}

impl<'a> RunDir<'a> {
    /// The run directory `path` of `config`'s run from `model_dir`, stepping by `plan`.
    pub(crate) fn new(path: PathBuf, model_dir: PathBuf, config: &'a TrainConfig, plan: &StepPlan) -> Self {
        Self {
            path,
            model_dir,
            config,
            micro_batches_per_step: plan.micro_batches_per_step,
        }
    }

    /// Writes `checkpoint-<step>/` of the step `progress` is at atomically (weights in upstream's
    /// checkpoint layout, tokenizer, optimizer state, scheduler position, loss tally,
    /// `trainer_state.json` last), then rotates.
    pub(crate) fn save_checkpoint<B: AutodiffBackend>(
        &self,
        model: &OpenProvenceModel<B>,
        optimizer: &Optimizer<B::InnerBackend>,
        progress: &mut Progress,
    ) -> Result<(), TrainError> {
        let position = serde_json::json!({ "micro_batches_per_step": self.micro_batches_per_step });
        let (run_dir, step) = (&self.path, progress.global_step);
        let state = &mut progress.state;
        if let Some(best) = state.best_global_step {
            let best_dir = run_dir.join(layout::checkpoint_name(best));
            if best as usize == step || best_dir.exists() {
                state.best_model_checkpoint = Some(best_dir.display().to_string());
            }
        }
        let name = layout::checkpoint_name(step as u64);
        write_dir_atomically::<TrainError>(run_dir, &name, |dir| {
            model.valid().save_checkpoint(dir, DEFAULT_HUB_REPO)?;
            copy_tokenizer_files(&self.model_dir, dir)?;
            optimizer.save_state(&dir.join(layout::OPTIMIZER_STATE))?;
            let scheduler = serde_json::json!({ "last_epoch": step });
            std::fs::write(dir.join("scheduler.json"), scheduler.to_string()).map_err(io_at(dir))?;
            std::fs::write(dir.join(layout::DATA_PARALLEL), position.to_string()).map_err(io_at(dir))?;
            progress.tally.save(dir).map_err(io_at(dir))?;
            std::fs::write(dir.join(layout::TRAINER_STATE), state.to_json_pretty()).map_err(io_at(dir))?;
            Ok(())
        })?;
        let best = state.best_model_checkpoint.as_deref().map(Path::new);
        sweep_deletions(run_dir).map_err(io_at(run_dir))?;
        rotate_checkpoints(run_dir, self.config.training_args.save_total_limit, best).map_err(io_at(run_dir))?;
        Ok(())
    }

    /// Writes `final_model/` atomically and checks it the way upstream does: reload it and
    /// tokenize a test string.
    pub(crate) fn save_final_model<B: AutodiffBackend<InnerBackend: ModelBackend>>(
        &self,
        model: &OpenProvenceModel<B>,
        device: &B::Device,
    ) -> Result<PathBuf, TrainError> {
        let final_model = self.path.join(layout::FINAL_MODEL);
        write_dir_atomically::<TrainError>(&self.path, layout::FINAL_MODEL, |dir| {
            model.valid().save_final_model(dir, DEFAULT_HUB_REPO)?;
            copy_tokenizer_files(&self.model_dir, dir)?;
            let args = serde_json::to_string_pretty(self.config).unwrap_or_default();
            std::fs::write(dir.join(layout::TRAINING_ARGS), args + "\n").map_err(io_at(dir))?;
            Ok(())
        })?;
        let reloaded = OpenProvenceModel::<B::InnerBackend>::load(&final_model, device)
            .map_err(TrainError::from)
            .and_then(|_| Ok(PretrainedTokenizer::from_pretrained(&final_model)?));
        match reloaded {
            Ok(tok) => {
                let tokens = tok
                    .tokenizer()
                    .encode("これはテストです。", true)
                    .map(|e| e.len())
                    .unwrap_or(0);
                let max_length = self.config.model_args.max_length;
                tracing::info!("✓ Model loaded successfully (max length {max_length}, {tokens} test tokens)");
            }
            Err(e) => tracing::error!("the saved final_model could not be reloaded: {e}"),
        }
        Ok(final_model)
    }
}

/// Copies the tokenizer files of model directory `from` that exist into `to`.
fn copy_tokenizer_files(from: &Path, to: &Path) -> Result<(), TrainError> {
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
