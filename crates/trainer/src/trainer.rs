//! A whole training job in phases that read top to bottom: [`run_training`] sets up (data,
//! tokenizer, model, optimizer, resume), runs the optimizer-step loop epoch by epoch, reacts to
//! each step (log, evaluate, save), and finishes (best model, summary, `final_model/`, reload
//! check, dataset evaluation). The model flows through the phases by value, as Burn's optimizers
//! take and return it; the [`Trainer`] that runs them is made of components, each in its own
//! module: the data [`Feed`], the [`Learner`] (optimizer and data-parallel group), the
//! [`Progress`] (step, trainer state, cadence, tallies), the [`Journal`] (log sinks, listener) and
//! the [`RunDir`] (checkpoints, `final_model/`).

use burn::module::AutodiffModule;
use burn::optim::GradientsAccumulator;
use burn::tensor::backend::AutodiffBackend;
use provence_config::{RunSetup, TrainConfig, layout};
use provence_datasets::{Batch, DatasetError};
use provence_hub::{HubOptions, resolve_model_dir};
use provence_model::{ModelBackend, OpenProvenceModel};
use std::path::PathBuf;
use std::time::Instant;

use crate::backend::Precision;
use crate::checkpoint_dir::{DirUse, RunLock, keep_only_best};
use crate::data::{Feed, TrainData, collator, epoch_micro_batches};
use crate::distributed::{Collective, GroupError, Solo};
use crate::error::{TrainError, check_finite, io_at, row_ids};
use crate::logs::{LogRecord, python_round};
use crate::model_setup::{model_to_train, with_max_length};
use crate::post_eval::run_eval_datasets;
use crate::progress::{Progress, fresh_state};
use crate::publish::HubPush;
use crate::run_dir::{RunDir, check_data_position, restored_state};
use crate::sinks::{Journal, StepEvent, TrainListener};
use crate::state::TrainerControlArgs;
use crate::step::{Learner, accumulation_window, evaluate};

/// What a finished run produced.
#[derive(Debug, Clone)]
pub struct TrainOutcome {
    /// The run directory.
    pub run_dir: PathBuf,
    /// `<run_dir>/final_model`.
    pub final_model: PathBuf,
    /// Optimizer steps done in total.
    pub global_step: u64,
    /// Every log record of the run (train, eval, summary).
    pub log_history: Vec<LogRecord>,
    /// The Markdown report of the post-training dataset evaluation, when it ran.
    pub eval_markdown: Option<String>,
}

/// Runs a whole training job as set up by [`provence_config::prepare_run`] on `device`, in
/// `precision` (see [`Precision::for_recipe`]).
pub fn run_training<B: AutodiffBackend<InnerBackend: ModelBackend> + ModelBackend>(
    setup: &RunSetup,
    device: &B::Device,
    precision: Precision,
) -> Result<TrainOutcome, TrainError> {
    run_training_with::<B>(setup, device, precision, &mut ())
}

/// [`run_training`], telling `listener` about every step and log record.
pub fn run_training_with<B: AutodiffBackend<InnerBackend: ModelBackend> + ModelBackend>(
    setup: &RunSetup,
    device: &B::Device,
    precision: Precision,
    listener: &mut dyn TrainListener,
) -> Result<TrainOutcome, TrainError> {
    run_training_in_group::<B>(setup, device, precision, listener, &mut Solo)?
        .ok_or_else(|| GroupError::Setup("a group of one returned no outcome".into()).into())
}

/// Serialises the set-up of the workers of one process: they share the backend's RNG, and each
/// must draw the initial weights a single-process run draws.
static SETUP_TURN: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// [`run_training_with`] as one worker of a data-parallel `group`: every worker trains on its
/// share of each step's micro-batches; rank 0 alone writes the run directory, logs and evaluates,
/// and alone returns an outcome.
pub(crate) fn run_training_in_group<B: AutodiffBackend<InnerBackend: ModelBackend> + ModelBackend>(
    setup: &RunSetup,
    device: &B::Device,
    precision: Precision,
    listener: &mut dyn TrainListener,
    group: &mut dyn Collective<B::InnerBackend>,
) -> Result<Option<TrainOutcome>, TrainError> {
    precision.check::<B>(device)?;
    let run_dir = setup.naming.output_dir.clone();
    let main = group.rank() == 0;
    let usage = match (&setup.resume, setup.config.overwrite_requested()) {
        (Some(_), _) => DirUse::Resume,
        (None, true) => DirUse::Overwrite,
        (None, false) => DirUse::Fresh,
    };
    // Before anything is written: a push without a token fails now, not after training.
    let push = if main {
        HubPush::prepare(&setup.config.training_args, &run_dir)?
    } else {
        None
    };
    let _lock = main.then(|| RunLock::acquire(&run_dir, usage)).transpose()?;
    if main {
        tracing::info!("Output directory: {}", run_dir.display());
    }
    let data = TrainData::prepare(&setup.config, group.world_size(), main)?;
    let (mut trainer, mut model) = {
        let _turn = SETUP_TURN.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        provence_model::seed::<B>(device, setup.config.training_args.seed);
        Trainer::<B>::setup(setup, data, run_dir, device, precision, listener, group)?
    };
    model = trainer.join_group(model)?;
    if setup.config.training_args.do_train {
        model = trainer.train(model)?;
    }
    if !main {
        return Ok(None);
    }
    let outcome = trainer.finish(model)?;
    if let Some(push) = push {
        push.push(&outcome.final_model)?;
    }
    Ok(Some(outcome))
}

/// Everything the loop needs but the model: the recipe, the device and the components.
struct Trainer<'a, B: AutodiffBackend> {
    /// The recipe.
    config: &'a TrainConfig,
    /// This worker's device.
    device: B::Device,
    /// The rows, the step plan over them and their collation ahead of the model.
    feed: Feed,
    /// The optimizer, the learning-rate schedule and the group the gradients are summed over.
    learner: Learner<'a, B>,
    /// The step count, trainer state, cadence, tallies and clock.
    progress: Progress,
    /// Where log records go.
    journal: Journal<'a>,
    /// Where checkpoints and `final_model/` go.
    run_dir: RunDir<'a>,
}

impl<'a, B: AutodiffBackend<InnerBackend: ModelBackend> + ModelBackend> Trainer<'a, B> {
    /// Setup: tokenizer and collator, the model (fresh or from the checkpoint), optimizer,
    /// schedule, trainer state and logs (restored on resume; rank 0 only).
    fn setup(
        setup: &'a RunSetup,
        data: TrainData,
        run_dir: PathBuf,
        device: &B::Device,
        precision: Precision,
        listener: &'a mut dyn TrainListener,
        group: &'a mut dyn Collective<B::InnerBackend>,
    ) -> Result<(Self, OpenProvenceModel<B>), TrainError> {
        let config = &setup.config;
        let (m, t) = (&config.model_args, &config.training_args);
        // A local directory, or a Hub model id fetched into (or read from) the shared HF cache.
        let model_dir = resolve_model_dir(&m.model_name_or_path, HubOptions::from_env()).map_err(DatasetError::from)?;
        let collator = collator(config, &model_dir)?;
        let resume = setup.resume.as_ref().map(|(_, r)| r.checkpoint_dir.clone());
        let model = model_to_train(config, &model_dir, resume.as_deref(), device, precision)?;
        let plan = &data.plan;
        let mut learner = Learner::new(config, &model, plan, group);
        let state = match &resume {
            Some(dir) => {
                learner
                    .optimizer
                    .load_state(&dir.join(layout::OPTIMIZER_STATE), device)?;
                check_data_position(dir, plan.micro_batches_per_step)?;
                restored_state(dir, plan)?
            }
            None => fresh_state(plan, t.per_device_train_batch_size),
        };
        // A resumed run's JSONL log restarts from the checkpoint's history, so that the steps
        // re-run after it are not logged twice.
        let history_so_far = resume.as_ref().map(|_| state.log_history.as_slice());
        let journal = Journal::open(
            learner.rank() == 0,
            &run_dir,
            &t.report_to,
            history_so_far,
            state.global_step,
            plan.max_steps,
            listener,
        )?;
        let trainer = Self {
            config,
            device: device.clone(),
            run_dir: RunDir::new(run_dir, model_dir, config, plan),
            progress: Progress::new(state, plan, resume.as_deref()),
            feed: Feed::new(data, collator, config),
            learner,
            journal,
        };
        Ok((trainer, model))
    }

    /// The optimizer-step loop, epoch by epoch, until the step budget is spent.
    fn train(&mut self, mut model: OpenProvenceModel<B>) -> Result<OpenProvenceModel<B>, TrainError> {
        let plan = self.feed.data.plan;
        let started = Instant::now();
        for epoch in self.progress.global_step / plan.updates_per_epoch.max(1)..plan.epochs {
            if self.progress.global_step >= plan.max_steps {
                break;
            }
            let stop;
            (model, stop) = self.run_epoch(model, epoch)?;
            if stop {
                break;
            }
        }
        let seconds = started.elapsed().as_secs_f64().max(1e-9);
        self.learner.log_throughput(self.progress.shapes.tokens, seconds);
        Ok(model)
    }

    /// A data-parallel worker's entry into the group: every worker checks that the others start
    /// from the same step and data, then takes rank 0's weights.
    fn join_group(&mut self, model: OpenProvenceModel<B>) -> Result<OpenProvenceModel<B>, TrainError> {
        let plan = self.feed.data.plan;
        let values = [
            ("the step to start from", self.progress.global_step as f64),
            ("the number of training rows", self.feed.data.train_rows.len() as f64),
            ("the optimizer-step budget", plan.max_steps as f64),
        ];
        self.learner.join(model, &values, &self.device)
    }

    /// One epoch's micro-batches (collated ahead on worker threads), from where a resumed run
    /// left off. Each optimizer step consumes a window of `accumulation × workers` micro-batches
    /// of the epoch's order, dealt round-robin to the workers; the workers' gradients are summed
    /// and every worker applies the same update. Returns whether the step budget is spent.
    fn run_epoch(
        &mut self,
        mut model: OpenProvenceModel<B>,
        epoch: usize,
    ) -> Result<(OpenProvenceModel<B>, bool), TrainError> {
        let t = &self.config.training_args;
        let (plan, global_step) = (self.feed.data.plan, self.progress.global_step);
        let (rank, world) = (self.learner.rank(), self.learner.world_size());
        let per_step = plan.micro_batches_per_step;
        let rows = self.feed.data.train_rows.len();
        let batches = epoch_micro_batches(rows, t.per_device_train_batch_size, t.seed, epoch);
        let first = if epoch == global_step / plan.updates_per_epoch {
            global_step % plan.updates_per_epoch
        } else {
            0
        };
        let windows: Vec<_> = (first..plan.updates_per_epoch)
            .map(|w| accumulation_window(w * per_step, per_step, batches.len()))
            .collect();
        let mine = move |w: &std::ops::Range<usize>| w.clone().skip(rank).step_by(world);
        let jobs: Vec<(usize, Vec<usize>)> = windows.iter().flat_map(mine).map(|i| (i, batches[i].clone())).collect();
        let mut prefetch = self.feed.prefetch(jobs);
        for window in windows {
            let mut accumulator = GradientsAccumulator::<OpenProvenceModel<B>>::new();
            // The jobs are this worker's micro-batches of the windows, in order.
            for (index, batch) in prefetch.by_ref().take(mine(&window).count()) {
                self.micro_batch(&model, &batch?, index, &window, &batches, &mut accumulator)?;
            }
            let (grad_norm, lr, loss);
            (model, grad_norm, lr, loss) = self.step(model, accumulator.grads())?;
            let window_rows = || row_ids(&self.feed.data.train_rows, &batches[window.clone()].concat());
            check_finite(grad_norm, "gradient norm", self.progress.global_step, window_rows)?;
            let epoch_f = epoch as f64 + window.end as f64 / plan.micro_batches_per_epoch as f64;
            if self.after_step(&model, loss, grad_norm, lr, epoch_f)? {
                return Ok((model, true));
            }
        }
        Ok((model, false))
    }

    /// Closes an optimizer step: sums the workers' gradients and losses over the group, adds the
    /// losses to the tally, clips and updates. Returns the model, the grad norm, the lr and the
    /// step's mean loss.
    fn step(
        &mut self,
        model: OpenProvenceModel<B>,
        grads: burn::optim::GradientsParams,
    ) -> Result<(OpenProvenceModel<B>, f64, f64, f64), TrainError> {
        let (model, grad_norm, lr, sums) = self
            .learner
            .step(model, grads, self.progress.global_step, &self.device)?;
        self.progress.add_step(&sums);
        Ok((model, grad_norm, lr, sums.window_share))
    }

    /// Forward, loss and backward of micro-batch `index` (rows `batches[index]`) of `window`
    /// into `accumulator`. Each micro-batch draws dropout from a stream that depends only on the
    /// step and its place in the window, so a resumed run, or one dealt to another number of
    /// workers, draws exactly what the uninterrupted single-process run did.
    fn micro_batch(
        &mut self,
        model: &OpenProvenceModel<B>,
        batch: &Batch,
        index: usize,
        window: &std::ops::Range<usize>,
        batches: &[Vec<usize>],
        accumulator: &mut GradientsAccumulator<OpenProvenceModel<B>>,
    ) -> Result<(), TrainError> {
        let global_step = self.progress.global_step;
        self.progress.shapes.add(batch);
        let place = ((index - window.start) as u64) << 32;
        let seed = self.config.training_args.seed.wrapping_add(global_step as u64 + 1);
        provence_model::seed::<B>(&self.device, seed.wrapping_add(place));
        let total = self
            .learner
            .micro_batch(model, batch, window.len(), accumulator, &self.device)?;
        let rows = || row_ids(&self.feed.data.train_rows, &batches[index]);
        check_finite(total, "loss", global_step + 1, rows)
    }

    /// What follows optimizer step `global_step`: log, evaluate and save on their cadence.
    /// `loss` is the step's mean loss over the group. Returns whether it was the last step.
    fn after_step(
        &mut self,
        model: &OpenProvenceModel<B>,
        loss: f64,
        grad_norm: f64,
        lr: f64,
        epoch_f: f64,
    ) -> Result<bool, TrainError> {
        let (step, max_steps) = (self.progress.global_step, self.feed.data.plan.max_steps);
        self.progress.state.global_step = step as u64;
        self.progress.state.epoch = epoch_f;
        self.journal.on_step(&StepEvent {
            step,
            max_steps,
            epoch: epoch_f,
            loss,
            grad_norm,
            learning_rate: lr,
        });
        let last = step >= max_steps;
        if self.learner.rank() != 0 {
            return Ok(last);
        }
        let cadence = self.progress.cadence;
        let mut control = TrainerControlArgs::default();
        if step.is_multiple_of(cadence.logging) {
            self.log_train(grad_norm, lr, epoch_f)?;
            control.should_log = true;
        }
        if !self.feed.data.eval_rows.is_empty() && step.is_multiple_of(cadence.eval) {
            self.log_eval(model, epoch_f)?;
            control.should_evaluate = true;
        }
        if step.is_multiple_of(cadence.save) || last {
            control.should_save = true;
            control.should_training_stop = last;
            self.progress.state.set_control(&control);
            self.run_dir
                .save_checkpoint(model, &self.learner.optimizer, &mut self.progress)?;
        }
        Ok(last)
    }

    /// The training log line of the window closing at this step.
    fn log_train(&mut self, grad_norm: f64, lr: f64, epoch_f: f64) -> Result<(), TrainError> {
        let step = self.progress.global_step;
        let window = self.progress.tally.close_window(step);
        let record = LogRecord::new()
            .float("loss", python_round(window.loss, 4))
            .float("grad_norm", grad_norm)
            .float("learning_rate", lr)
            .int("step", step as i64)
            .float("epoch", python_round(epoch_f, 2))
            .float("ranking_loss", window.ranking)
            .float("pruning_loss", window.pruning);
        self.emit(record, "train")
    }

    /// Evaluation on the eval rows; the lowest `eval_loss` so far marks the best checkpoint.
    fn log_eval(&mut self, model: &OpenProvenceModel<B>, epoch_f: f64) -> Result<(), TrainError> {
        let step = self.progress.global_step;
        let t = &self.config.training_args;
        let record = evaluate(
            &model.valid(),
            &self.feed.data.eval_rows,
            &self.feed.collator,
            t.per_device_eval_batch_size,
            self.learner.weights,
            &self.device,
        )?
        .int("step", step as i64)
        .float("epoch", python_round(epoch_f, 2));
        self.progress.note_eval(&record);
        self.emit(record, "eval")
    }

    /// A record to the journal and the trainer state's history.
    fn emit(&mut self, record: LogRecord, split: &str) -> Result<(), TrainError> {
        let json = record.to_json();
        self.journal.emit(record, self.progress.global_step, split)?;
        self.progress.state.log_history.push(json);
        Ok(())
    }

    /// The end of training: the best checkpoint's weights when there was an eval set, the
    /// summary record, `final_model/` (checked by reloading it), the recipe's dataset evaluation.
    fn finish(mut self, model: OpenProvenceModel<B>) -> Result<TrainOutcome, TrainError> {
        let runtime = self.progress.started.elapsed().as_secs_f64();
        let (m, t) = (&self.config.model_args, &self.config.training_args);
        self.progress.shapes.log(m.attention);
        let model = self.best_model(model)?;
        let summary = self.summary(runtime);
        self.journal.finish(summary, self.progress.global_step)?;
        let final_model = self.run_dir.save_final_model(&model, &self.device)?;
        let eval_markdown = match &t.eval_datasets {
            Some(eval) => run_eval_datasets::<B::InnerBackend>(&final_model, eval, m.attention, &self.device)?,
            None => {
                tracing::info!("No eval_datasets configuration; skipping dataset evaluation.");
                None
            }
        };
        Ok(TrainOutcome {
            run_dir: self.run_dir.path,
            final_model,
            global_step: self.progress.global_step as u64,
            log_history: self.journal.into_history(),
            eval_markdown,
        })
    }

    /// The best checkpoint's weights instead of `model` when there was an eval set and that
    /// checkpoint still exists (the only one kept with `save_total_limit: 1`).
    fn best_model(&self, model: OpenProvenceModel<B>) -> Result<OpenProvenceModel<B>, TrainError> {
        let (m, t) = (&self.config.model_args, &self.config.training_args);
        let Some(best) = self.progress.best_checkpoint(!self.feed.data.eval_rows.is_empty()) else {
            return Ok(model);
        };
        tracing::info!(
            "Loading best model from {} (score: {:?}).",
            best.display(),
            self.progress.state.best_metric
        );
        let best_model = OpenProvenceModel::load(&best, &self.device)?;
        let model = with_max_length(best_model, m.max_length)?;
        if t.save_total_limit == Some(1) {
            let run_dir = &self.run_dir.path;
            keep_only_best(run_dir, &best).map_err(io_at(run_dir))?;
        }
        Ok(model)
    }

    /// The run's closing summary record (HF's `train_runtime`, throughput and `train_loss`).
    fn summary(&self, runtime: f64) -> LogRecord {
        let t = &self.config.training_args;
        let rows = self.feed.data.train_rows.len() as f64;
        let progress = &self.progress;
        LogRecord::new()
            .float("train_runtime", runtime)
            .float(
                "train_samples_per_second",
                rows * t.num_train_epochs / runtime.max(1e-9),
            )
            .float(
                "train_steps_per_second",
                self.feed.data.plan.max_steps as f64 / runtime.max(1e-9),
            )
            .float("total_flos", 0.0)
            .float("train_loss", progress.tally.train_loss(progress.global_step))
            .int("step", progress.global_step as i64)
            .float("epoch", python_round(progress.state.epoch, 2))
    }
}
