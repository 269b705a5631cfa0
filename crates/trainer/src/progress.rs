//! Where a run stands between optimizer steps ([`Progress`]): the step count, the trainer state
//! (fresh, or a checkpoint's), the cadence of logging, evaluation and saving, the loss and shape
//! tallies and the clock.

use crate::distributed::StepSums;
use crate::logs::{LogRecord, LogValue};
use crate::state::TrainerState;
use crate::tally::{LossTally, ShapeTally};
use provence_config::StepPlan;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Where a run stands: what the loop counts and `checkpoint-N/` saves.
pub(crate) struct Progress {
    /// Optimizer steps done.
    pub(crate) global_step: usize,
    /// The `trainer_state.json` of the run: epoch, best evaluation, log history, cadence.
    pub(crate) state: TrainerState,
    /// Every `N` optimizer steps: log, evaluate, save.
    pub(crate) cadence: Cadence,
    /// The loss sums behind the log lines.
    pub(crate) tally: LossTally,
    /// The encoder input shapes and tokens this worker trained on.
    pub(crate) shapes: ShapeTally,
    /// When the run's training started.
    pub(crate) started: Instant,
}

impl Progress {
    /// The progress of a run starting from `state` (fresh, or restored from checkpoint `resume`,
    /// whose loss tally it also restores) over `plan`.
    pub(crate) fn new(state: TrainerState, plan: &StepPlan, resume: Option<&Path>) -> Self {
        let global_step = state.global_step as usize;
        let tally = match resume {
            Some(dir) => LossTally::resume(dir, global_step),
            None => LossTally::starting_at(global_step),
        };
        Self {
            global_step,
            cadence: cadence(&state, plan),
            state,
            tally,
            shapes: ShapeTally::default(),
            started: Instant::now(),
        }
    }

    /// Closes an optimizer step whose losses, summed over the group, are `sums`.
    pub(crate) fn add_step(&mut self, sums: &StepSums) {
        self.tally.add_step(
            sums.window_share,
            sums.ranking,
            sums.pruning,
            sums.micro_batches as usize,
        );
        self.global_step += 1;
    }

    /// Marks the current step as the best so far when `record`'s `eval_loss` is the lowest yet.
    pub(crate) fn note_eval(&mut self, record: &LogRecord) {
        if let Some(LogValue::Float(eval_loss)) = record.get("eval_loss")
            && self.state.best_metric.is_none_or(|best| eval_loss < best)
        {
            self.state.best_metric = Some(eval_loss);
            self.state.best_global_step = Some(self.global_step as u64);
        }
    }

    /// The best checkpoint, when there was an eval set (`evaluated`) and it still exists.
    pub(crate) fn best_checkpoint(&self, evaluated: bool) -> Option<PathBuf> {
        if !evaluated {
            return None;
        }
        let best = PathBuf::from(self.state.best_model_checkpoint.as_ref()?);
        best.exists().then_some(best)
    }
}

/// Every `N` optimizer steps: log, evaluate, save (the checkpoint's values on resume).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Cadence {
    /// Steps between training log lines.
    pub(crate) logging: usize,
    /// Steps between evaluations.
    pub(crate) eval: usize,
    /// Steps between checkpoints.
    pub(crate) save: usize,
}

/// The trainer state of a fresh run: the plan's cadence and budget, no history.
pub(crate) fn fresh_state(plan: &StepPlan, batch_size: usize) -> TrainerState {
    TrainerState::new(
        plan.eval_steps as u64,
        plan.logging_steps as u64,
        plan.save_steps as u64,
        plan.max_steps as u64,
        plan.epochs as u64,
        batch_size as u64,
    )
}

/// The cadence of `state`, each value falling back to the plan's when it is zero (a
/// hand-edited state would otherwise never fire).
pub(crate) fn cadence(state: &TrainerState, plan: &StepPlan) -> Cadence {
    let pick = |stored: u64, fresh: usize| usize::try_from(stored).ok().filter(|&v| v > 0).unwrap_or(fresh);
    Cadence {
        logging: pick(state.logging_steps, plan.logging_steps),
        eval: pick(state.eval_steps, plan.eval_steps),
        save: pick(state.save_steps, plan.save_steps),
    }
}
