//! Training loop, optimizers, checkpoints and logging for open-provence-rs.

mod backend;
mod checkpoint_dir;
mod data;
mod distributed;
mod error;
mod launch;
mod logs;
mod model_setup;
mod optim;
mod post_eval;
mod prefetch;
mod progress;
mod publish;
mod run_dir;
mod schedule;
mod sinks;
mod state;
mod step;
mod tally;
mod tensorboard;
mod trainer;

pub use backend::{EvalBackend, Precision, TrainBackend};
pub use checkpoint_dir::RunDirError;
pub use distributed::{
    BurnCollective, Collective, Engine, GroupBackend, GroupError, GroupSpec, NativeCollective, NativeEngine, Solo,
};
pub use error::TrainError;
pub use launch::{train_data_parallel, train_on};
pub use logs::{LogRecord, LogValue};
pub use optim::{
    AdafactorConfig, AdamWConfig, Optimizer, OptimizerKind, OptimizerStateError, ParamEntry, ParamTable, ParamUpdate,
    SlotSpec, UpdateRule, clip_grad_norm, is_no_decay,
};
pub use post_eval::{run_eval_datasets, run_eval_datasets_on};
pub use provence_config::SchedulerType;
pub use provence_model::{DeviceChoice, init_cpu_threads};
pub use schedule::{LrSchedule, cosine_multiplier, warmup_steps};
pub use sinks::{StepEvent, TrainListener};
pub use state::TrainerState;
pub use step::{accumulate_micro_batch, accumulation_window, optimizer_step};
pub use trainer::{TrainOutcome, run_training, run_training_with};
