//! Training loop, optimizers, checkpoints and logging for open-provence-rs.

pub mod backend;
pub mod checkpoint_dir;
pub mod logs;
pub mod optim;
pub mod prefetch;
pub mod schedule;
pub mod state;
pub mod tally;
mod tensorboard;
pub mod train;
mod trainer;

pub use backend::{EvalBackend, HAS_GPU, Precision, TrainBackend};
pub use optim::{
    AdafactorConfig, AdamWConfig, Optimizer, OptimizerKind, OptimizerStateError, ParamEntry, ParamTable,
    clip_grad_norm, is_no_decay,
};
pub use provence_model::init_cpu_threads;
pub use schedule::{LrSchedule, SchedulerKind, UnknownScheduler, warmup_steps};
pub use train::{TrainError, TrainOutcome, run_eval_datasets};
pub use trainer::{StepEvent, TrainListener, accumulation_window, run_training, run_training_with};
