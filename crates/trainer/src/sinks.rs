//! Where the run's log records go ([`Journal`]): the console, `log_history.jsonl`, TensorBoard and
//! the progress bar on rank 0 ([`LogSinks`]), a caller's [`TrainListener`], and the run's history.

use crate::error::{TrainError, io_at};
use crate::logs::{LogRecord, LogValue};
use crate::tensorboard::EventWriter;
use serde_json::{Map, Value};
use std::path::{Path, PathBuf};

/// Where the run's records go: rank 0's sinks, the caller's listener, and the run's history.
pub(crate) struct Journal<'a> {
    /// Rank 0's console, JSONL, TensorBoard and progress bar (none on the other ranks).
    sinks: Option<LogSinks>,
    /// The caller's observer.
    listener: &'a mut dyn TrainListener,
    /// Every record logged so far (train, eval, summary).
    history: Vec<LogRecord>,
}

impl<'a> Journal<'a> {
    /// The journal of a worker: with sinks in `run_dir` (for the recipe's `report_to`, starting
    /// from `history_so_far` when resuming, the progress bar at `position` of `max_steps`) on
    /// the `main` one.
    pub(crate) fn open(
        main: bool,
        run_dir: &Path,
        report_to: &[String],
        history_so_far: Option<&[Map<String, Value>]>,
        position: u64,
        max_steps: usize,
        listener: &'a mut dyn TrainListener,
    ) -> Result<Self, TrainError> {
        let sinks = main
            .then(|| LogSinks::open(run_dir, report_to, history_so_far))
            .transpose()?;
        if let Some(sinks) = &sinks {
            sinks.progress.set_length(max_steps as u64);
            sinks.progress.set_position(position);
        }
        Ok(Self {
            sinks,
            listener,
            history: Vec::new(),
        })
    }

    /// Tells the listener about an optimizer step.
    pub(crate) fn on_step(&mut self, event: &StepEvent) {
        self.listener.on_step(event);
    }

    /// `record` of optimizer step `step` to the sinks, the listener and the history.
    pub(crate) fn emit(&mut self, record: LogRecord, step: usize, split: &str) -> Result<(), TrainError> {
        if let Some(sinks) = &mut self.sinks {
            sinks.emit(&record, step, split)?;
        }
        self.listener.on_log(&record, split);
        self.history.push(record);
        Ok(())
    }

    /// The run's closing `summary` at step `step`: clears the progress bar and emits it.
    pub(crate) fn finish(&mut self, summary: LogRecord, step: usize) -> Result<(), TrainError> {
        if let Some(sinks) = &self.sinks {
            sinks.progress.finish_and_clear();
        }
        self.emit(summary, step, "train")
    }

    /// Every record logged, in order.
    pub(crate) fn into_history(self) -> Vec<LogRecord> {
        self.history
    }
}

/// Where log records go: the console (upstream's dict lines), `log_history.jsonl`, TensorBoard,
/// and a progress bar with the last loss and the ETA (hidden when stderr is not a terminal).
pub(crate) struct LogSinks {
    progress: indicatif::ProgressBar,
    jsonl: std::fs::File,
    jsonl_path: PathBuf,
    events: Option<EventWriter>,
}

impl LogSinks {
    /// Opens the sinks of `run_dir`; `history` (a resumed run's records up to its checkpoint)
    /// replaces what `log_history.jsonl` held, else the file is appended to.
    pub(crate) fn open(
        run_dir: &Path,
        report_to: &[String],
        history: Option<&[serde_json::Map<String, serde_json::Value>]>,
    ) -> Result<Self, TrainError> {
        use std::io::Write;
        std::fs::create_dir_all(run_dir).map_err(io_at(run_dir))?;
        let jsonl_path = run_dir.join(provence_config::layout::LOG_HISTORY);
        let mut jsonl = std::fs::OpenOptions::new()
            .create(true)
            .append(history.is_none())
            .write(true)
            .truncate(history.is_some())
            .open(&jsonl_path)
            .map_err(io_at(&jsonl_path))?;
        for record in history.unwrap_or_default() {
            let line = serde_json::to_string(record).unwrap_or_default();
            writeln!(jsonl, "{line}").map_err(io_at(&jsonl_path))?;
        }
        let wants = |name: &str| report_to.iter().any(|r| r == name || r == "all");
        if wants("wandb") {
            tracing::warn!(
                "report_to wandb: this trainer writes TensorBoard event files instead; sync them with \
                 `wandb sync --sync-tensorboard {}/runs`",
                run_dir.display()
            );
        }
        let events = if wants("tensorboard") || wants("wandb") {
            let dir = run_dir.join("runs");
            Some(EventWriter::create(&dir, now()).map_err(io_at(&dir))?)
        } else {
            None
        };
        let progress = indicatif::ProgressBar::with_draw_target(None, indicatif::ProgressDrawTarget::stderr());
        progress.set_style(
            indicatif::ProgressStyle::with_template(
                "{bar:40} {pos}/{len} steps [{elapsed_precise}<{eta_precise}] {msg}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        Ok(Self {
            progress,
            jsonl,
            jsonl_path,
            events,
        })
    }

    /// Writes `record` of optimizer step `step` to every sink; TensorBoard tags it `<split>/<key>`
    /// (`eval/<key>` for `eval_*` keys).
    pub(crate) fn emit(&mut self, record: &LogRecord, step: usize, split: &str) -> Result<(), TrainError> {
        use std::io::Write;
        self.progress.suspend(|| tracing::info!("{}", record.to_python_repr()));
        let line = serde_json::to_string(&record.to_json()).unwrap_or_default();
        writeln!(self.jsonl, "{line}").map_err(io_at(&self.jsonl_path))?;
        if let Some(events) = &mut self.events {
            for (key, value) in record.entries() {
                if key == "step" || key == "epoch" {
                    continue;
                }
                let value = match value {
                    LogValue::Float(f) => *f as f32,
                    LogValue::Int(i) => *i as f32,
                };
                let tag = match key.strip_prefix("eval_") {
                    Some(rest) => format!("eval/{rest}"),
                    None => format!("{split}/{key}"),
                };
                events
                    .add_scalar(&tag, value, step as i64, now())
                    .map_err(io_at(events.path()))?;
            }
        }
        Ok(())
    }
}

/// Seconds since the Unix epoch (TensorBoard's wall time).
fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// Observes a training run from the caller's code (see
/// [`run_training_with`](crate::run_training_with)); every method has an empty default.
pub trait TrainListener {
    /// After every optimizer step, before its log, evaluation and checkpoint.
    fn on_step(&mut self, _step: &StepEvent) {}
    /// Every record the run logs: `split` is `"train"` (loss lines and the final summary) or
    /// `"eval"`.
    fn on_log(&mut self, _record: &LogRecord, _split: &str) {}
}

/// No observer: what [`run_training`] uses.
impl TrainListener for () {}

/// One optimizer step, as a [`TrainListener`] sees it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepEvent {
    /// Optimizer steps done so far, this one included (1-based).
    pub step: usize,
    /// The run's step budget.
    pub max_steps: usize,
    /// Fractional epoch reached.
    pub epoch: f64,
    /// Mean loss of the step's accumulation window.
    pub loss: f64,
    /// Global gradient norm before clipping.
    pub grad_norm: f64,
    /// Learning rate the step used.
    pub learning_rate: f64,
}
