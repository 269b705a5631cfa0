//! Where a run stands between optimizer steps: the trainer state of a fresh run and the cadence
//! of logging, evaluation and saving.

use crate::state::TrainerState;
use provence_config::StepPlan;

/// Every `N` optimizer steps: log, evaluate, save (the checkpoint's values on resume).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Cadence {
    pub(crate) logging: usize,
    pub(crate) eval: usize,
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
