//! Step arithmetic: the dynamic eval/log/save cadence computed with a floor formula
//! (hotchpotch/open_provence's `open_provence/trainer.py::calculate_dynamic_steps`), and HF's
//! optimizer-step budget computed with a ceil formula. Both are kept because upstream uses both
//! (187 vs 188 in the toy run).

/// Inputs of the step arithmetic.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepInputs {
    /// Training rows `N` after sampling.
    pub train_rows: usize,
    /// Rows per micro-batch `B`.
    pub batch_size: usize,
    /// Micro-batches per optimizer step `GA`.
    pub gradient_accumulation_steps: usize,
    /// Data-parallel workers (0 counts as 1): each optimizer step consumes `GA · n_gpu`
    /// micro-batches of the epoch.
    pub n_gpu: usize,
    /// Epochs (fractions allowed).
    pub num_train_epochs: f64,
    /// The recipe's `save_steps` (null or 0 = use the eval cadence).
    pub yaml_save_steps: Option<usize>,
    /// The `max_steps` argument (-1 or 0 = from epochs).
    pub max_steps: i64,
    /// The warmup ratio in [0, 1].
    pub warmup_ratio: f64,
    /// Explicit warmup steps (> 0 wins over the ratio).
    pub warmup_steps: usize,
}

/// The computed cadence and budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StepPlan {
    /// `int((N // (B·GA·n_gpu)) · epochs)`: the dynamic total the cadence derives from.
    pub total_dynamic: usize,
    /// Evaluate every this many optimizer steps (`max(1, total_dynamic // 20)`).
    pub eval_steps: usize,
    /// Log every this many optimizer steps (`max(1, total_dynamic // 100)`).
    pub logging_steps: usize,
    /// Checkpoint every this many optimizer steps (recipe value if set, else `eval_steps`).
    pub save_steps: usize,
    /// Micro-batches per epoch (`ceil(N / B)`, the last may be short).
    pub micro_batches_per_epoch: usize,
    /// Micro-batches each optimizer step consumes: `GA · n_gpu` (every worker's accumulation
    /// window together).
    pub micro_batches_per_step: usize,
    /// Optimizer steps per epoch, each `micro_batches_per_step` micro-batches (the last may be
    /// short).
    pub updates_per_epoch: usize,
    /// The optimizer-step budget that drives the scheduler and the stop condition.
    pub max_steps: usize,
    /// Epochs the loop iterates (`ceil(num_train_epochs)`).
    pub epochs: usize,
    /// Warmup steps of the LR schedule.
    pub warmup_steps: usize,
}

impl StepPlan {
    /// Computes the plan exactly as upstream does.
    pub fn compute(inputs: &StepInputs) -> StepPlan {
        let b = inputs.batch_size.max(1);
        let ga = inputs.gradient_accumulation_steps.max(1);
        // Saturating: validation bounds these, and a plan must never divide by zero.
        let effective = b.saturating_mul(ga).saturating_mul(inputs.n_gpu.max(1));
        let total_dynamic = ((inputs.train_rows / effective) as f64 * inputs.num_train_epochs) as usize;
        let eval_steps = (total_dynamic / 20).max(1);
        let mut logging_steps = (total_dynamic / 100).max(1);
        if logging_steps > eval_steps {
            logging_steps = (eval_steps / 2).max(1);
        }
        let save_steps = inputs.yaml_save_steps.filter(|&s| s > 0).unwrap_or(eval_steps);

        let micro_batches_per_epoch = inputs.train_rows.div_ceil(b);
        let micro_batches_per_step = ga.saturating_mul(inputs.n_gpu.max(1));
        let updates_per_epoch = micro_batches_per_epoch.div_ceil(micro_batches_per_step).max(1);
        let max_steps = if inputs.max_steps > 0 {
            inputs.max_steps as usize
        } else {
            (inputs.num_train_epochs * updates_per_epoch as f64).ceil() as usize
        };
        let epochs = if inputs.max_steps > 0 {
            max_steps.div_ceil(updates_per_epoch)
        } else {
            inputs.num_train_epochs.ceil() as usize
        };
        let warmup_steps = if inputs.warmup_steps > 0 {
            inputs.warmup_steps
        } else {
            (max_steps as f64 * inputs.warmup_ratio).ceil() as usize
        };
        StepPlan {
            total_dynamic,
            eval_steps,
            logging_steps,
            save_steps,
            micro_batches_per_epoch,
            micro_batches_per_step,
            updates_per_epoch,
            max_steps,
            epochs,
            warmup_steps,
        }
    }
}
