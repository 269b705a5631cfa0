//! Training loop, optimizers, checkpoints and logging for open-provence-rs.

mod backend;
mod checkpoint_dir;
mod distributed;
mod logs;
mod optim;
mod prefetch;
mod schedule;
mod state;
mod tally;
mod tensorboard;
mod train;
mod trainer;

pub use backend::{EvalBackend, HAS_GPU, Precision, TrainBackend, train_devices};
pub use checkpoint_dir::RunDirError;
pub use distributed::{
    BurnCollective, Collective, Engine, GroupBackend, GroupError, GroupSpec, NativeCollective, NativeEngine, Solo,
    train_data_parallel,
};
pub use logs::{LogRecord, LogValue};
pub use optim::{
    AdafactorConfig, AdamWConfig, Optimizer, OptimizerKind, OptimizerStateError, ParamEntry, ParamTable, ParamUpdate,
    SlotSpec, UpdateRule, clip_grad_norm, is_no_decay,
};
pub use provence_config::SchedulerType;
pub use provence_model::init_cpu_threads;
pub use schedule::{LrSchedule, cosine_multiplier, warmup_steps};
pub use train::{TrainError, TrainOutcome, accumulate_micro_batch, optimizer_step, run_eval_datasets};
pub use trainer::{StepEvent, TrainListener, accumulation_window, run_training, run_training_with};
