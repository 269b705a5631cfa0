//! Recipe configuration for open-provence-rs: the YAML schema of upstream's recipes with every
//! default, typed values, validation with messages that name the key and its line, explicit-only
//! command-line overrides, resume-path resolution, run naming and step arithmetic.
//!
//! ```
//! let config = provence_config::TrainConfig::parse("training_args:\n  learning_rate: 1e-4\n", None).unwrap();
//! assert_eq!(config.training_args.learning_rate, 1e-4);
//! config.validate().unwrap();
//! ```

mod error;
pub mod layout;
mod python;
mod recipe;
mod resume;
mod rules;
mod run;
mod schema;
mod setup;
mod steps;
mod validate;
mod value;
pub mod yaml;

pub use error::{ConfigError, Location, ResumeError, error_line};
pub use python::{python_dict_repr, python_float_repr, python_json_pretty, python_repr};
pub use recipe::{Origin, OverrideLine, TrainConfig, cli_fields};
pub use resume::{ResolvedCheckpoint, resolve_resume_checkpoint_path, select_resume_request};
pub use rules::{
    DEFAULT_MAX_LENGTH, DEFAULT_THRESHOLD, MAX_DATALOADER_WORKERS, MAX_ROWS_PER_STEP, check_max_length, check_threshold,
};
pub use run::{RunBasis, RunNaming, TIMESTAMP_FORMAT, run_naming, timestamp_now};
pub use schema::{
    ACCEPTED_UNUSED_KEYS, AttentionLayout, BadRowPolicy, DataArgs, DatasetEntry, EvalDatasetsArgs, FieldInfo,
    HubStrategy, LabelAlignment, ModelArgs, Optimizer, SchedulerType, Section, TrainingArgs,
};
pub use setup::{RunSetup, SetupError, prepare_run};
pub use steps::{StepInputs, StepPlan};
pub use value::{FieldError, FieldValue};
