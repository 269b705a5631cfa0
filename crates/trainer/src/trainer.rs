//! A whole training job in phases that read top to bottom: [`run_training`] sets up (data,
//! tokenizer, model, optimizer, resume), runs the optimizer-step loop epoch by epoch, reacts to
//! each step (log, evaluate, save), and finishes (best model, summary, `final_model/`, reload
//! check, dataset evaluation). The model flows through the phases by value, as Burn's optimizers
//! take and return it.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use burn::module::AutodiffModule;
use burn::optim::GradientsAccumulator;
use burn::tensor::backend::{AutodiffBackend, Backend};
use provence_config::{RunSetup, StepInputs, StepPlan, TrainConfig, layout};
use provence_datasets::{
    Batch, Collator, CollatorConfig, HubOptions, PretrainedTokenizer, Row, SourceResolver, prepare_datasets,
    resolve_model_dir,
};
use provence_losses::LossWeights;
use provence_model::{DEFAULT_HUB_REPO, Execution, ModelBackend, OpenProvenceModel};

use crate::backend::Precision;
use crate::checkpoint_dir::{RunLock, keep_only_best, rotate_checkpoints, sweep_deletions, write_dir_atomically};
use crate::distributed::{Collective, GroupError, Solo, StepSums, broadcast_params, check_agreement, sync_step};
use crate::logs::{LogRecord, LogValue, python_round};
use crate::optim::{Optimizer, OptimizerKind, ParamTable};
use crate::prefetch::Prefetcher;
use crate::schedule::LrSchedule;
use crate::state::{TrainerControlArgs, TrainerState};
use crate::tally::LossTally;
use crate::train::{
    LogSinks, ShapeTally, TrainError, TrainOutcome, accumulate_micro_batch, build_model, check_finite,
    copy_tokenizer_files, data_options, dataset_specs, epoch_micro_batches, evaluate, io_at, log_plan, optimizer_step,
    row_ids, run_eval_datasets,
};

/// Observes a training run from the caller's code (see [`run_training_with`]); every method
/// has an empty default.
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
    let run_dir = setup.naming.output_dir.clone();
    let main = group.rank() == 0;
    let _lock = main
        .then(|| RunLock::acquire(&run_dir, setup.resume.is_some()))
        .transpose()?;
    if main {
        tracing::info!("Output directory: {}", run_dir.display());
    }
    let data = TrainData::prepare(&setup.config, group.world_size(), main)?;
    let (mut trainer, mut model) = {
        let _turn = SETUP_TURN.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        B::seed(device, setup.config.training_args.seed);
        Trainer::<B>::setup(setup, data, run_dir, device, precision, listener, group)?
    };
    model = trainer.join_group(model)?;
    if setup.config.training_args.do_train {
        model = trainer.train(model)?;
    }
    if !main {
        return Ok(None);
    }
    trainer.finish(model).map(Some)
}

/// The prepared rows and the step arithmetic over them.
struct TrainData {
    train_rows: Arc<Vec<Row>>,
    eval_rows: Vec<Row>,
    plan: StepPlan,
}

impl TrainData {
    /// Reads, samples and mixes the recipe's datasets and plans the steps of a group of
    /// `world` workers (only the `main` one reports them).
    fn prepare(config: &TrainConfig, world: usize, main: bool) -> Result<Self, TrainError> {
        let t = &config.training_args;
        let resolver = SourceResolver::from_env()?;
        let prepared = prepare_datasets(&dataset_specs(config), &data_options(config), t.seed as i64, &resolver)?;
        let (train_rows, eval_rows) = (prepared.train, prepared.eval.unwrap_or_default());
        if train_rows.is_empty() && t.do_train {
            return Err(TrainError::NoTrainingRows);
        }
        let plan = StepPlan::compute(&StepInputs {
            train_rows: train_rows.len(),
            batch_size: t.per_device_train_batch_size,
            gradient_accumulation_steps: t.gradient_accumulation_steps,
            n_gpu: world,
            num_train_epochs: t.num_train_epochs,
            yaml_save_steps: t.save_steps,
            max_steps: t.max_steps,
            warmup_ratio: t.warmup_ratio,
            warmup_steps: t.warmup_steps,
        });
        if main {
            tracing::info!("Final dataset sizes:");
            tracing::info!("  Train samples: {}", train_rows.len());
            tracing::info!("  Validation samples: {}", eval_rows.len());
            log_plan(&plan, train_rows.len(), config);
        }
        Ok(Self {
            train_rows: Arc::new(train_rows),
            eval_rows,
            plan,
        })
    }
}

/// Every `N` optimizer steps: log, evaluate, save (the checkpoint's values on resume).
#[derive(Debug, Clone, Copy)]
struct Cadence {
    logging: usize,
    eval: usize,
    save: usize,
}

/// Everything the loop needs but the model.
struct Trainer<'a, B: AutodiffBackend> {
    config: &'a TrainConfig,
    listener: &'a mut dyn TrainListener,
    device: B::Device,
    run_dir: PathBuf,
    model_dir: PathBuf,
    data: TrainData,
    collator: Arc<Collator>,
    optimizer: Optimizer<B::InnerBackend>,
    schedule: LrSchedule,
    state: TrainerState,
    cadence: Cadence,
    weights: LossWeights,
    /// Rank 0's console, JSONL, TensorBoard and progress bar (none on the other ranks).
    sinks: Option<LogSinks>,
    history: Vec<LogRecord>,
    tally: LossTally,
    shapes: ShapeTally,
    global_step: usize,
    /// This worker's losses of the open optimizer step.
    sums: StepSums,
    started: Instant,
    /// The data-parallel group (a [`Solo`] one for a single-process run).
    group: &'a mut dyn Collective<B::InnerBackend>,
    /// Time spent in the group's exchanges of step gradients, and how many.
    sync_time: (std::time::Duration, usize),
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
        let model_dir = resolve_model_dir(&m.model_name_or_path, HubOptions::from_env())?;
        let collator = collator(config, &model_dir)?;
        let resume = setup.resume.as_ref().map(|(_, r)| r.checkpoint_dir.clone());
        let model = Self::model(config, &model_dir, resume.as_deref(), device, precision)?;
        let names: HashMap<_, _> = model.named_param_ids().into_iter().collect();
        let mut optimizer = Optimizer::<B::InnerBackend>::new(
            OptimizerKind::from(t.optimizer),
            t.weight_decay,
            ParamTable::from_module(&model, &names),
        );
        let plan = &data.plan;
        let state = match &resume {
            Some(dir) => {
                optimizer.load_state(&dir.join(layout::OPTIMIZER_STATE), device)?;
                check_data_position(dir, plan.micro_batches_per_step)?;
                restored_state(dir, plan)?
            }
            None => fresh_state(plan, t.per_device_train_batch_size),
        };
        // A resumed run's JSONL log restarts from the checkpoint's history, so that the steps
        // re-run after it are not logged twice.
        let history_so_far = resume.as_ref().map(|_| state.log_history.as_slice());
        let sinks = match group.rank() {
            0 => Some(LogSinks::open(&run_dir, &t.report_to, history_so_far)?),
            _ => None,
        };
        if let Some(sinks) = &sinks {
            sinks.progress.set_length(plan.max_steps as u64);
            sinks.progress.set_position(state.global_step);
        }
        let global_step = state.global_step as usize;
        let tally = match &resume {
            Some(dir) => LossTally::resume(dir, global_step),
            None => LossTally::starting_at(global_step),
        };
        let trainer = Self {
            config,
            listener,
            device: device.clone(),
            run_dir,
            model_dir,
            schedule: LrSchedule {
                kind: t.lr_scheduler_type,
                max_steps: plan.max_steps,
                warmup_steps: plan.warmup_steps,
            },
            cadence: cadence(&state, plan),
            data,
            collator,
            optimizer,
            state,
            weights: LossWeights {
                ranking_weight: t.ranking_weight,
                pruning_weight: t.pruning_weight,
            },
            sinks,
            history: Vec::new(),
            tally,
            shapes: ShapeTally::default(),
            global_step,
            sums: StepSums::default(),
            started: Instant::now(),
            group,
            sync_time: Default::default(),
        };
        Ok((trainer, model))
    }

    /// The model to train: the checkpoint's when resuming, else built from the recipe; in the
    /// run's precision and encoder layout.
    fn model(
        config: &TrainConfig,
        model_dir: &Path,
        resume: Option<&Path>,
        device: &B::Device,
        precision: Precision,
    ) -> Result<OpenProvenceModel<B>, TrainError> {
        let model = match resume {
            Some(dir) => {
                tracing::info!("Resuming from checkpoint: {}", dir.display());
                let model = OpenProvenceModel::load(dir, device)?;
                let (saved, recipe) = (model.config.max_length(), config.model_args.max_length);
                if saved != recipe {
                    tracing::warn!(
                        "the checkpoint was trained with max_length {saved}, the recipe says {recipe}: \
                         the rest of the run uses {recipe} (batches and the exported config)"
                    );
                }
                with_max_length(model, recipe)?
            }
            None => build_model(config, model_dir, device)?,
        };
        let attention = config.model_args.attention;
        let mut execution = Execution::for_backend::<B>().with_layout(attention);
        if precision == Precision::Bf16 {
            tracing::info!("bf16: attention, MLPs and heads in bfloat16; parameters, norms and softmax in f32");
            execution = execution.with_compute_dtype(burn::tensor::FloatDType::BF16);
        }
        tracing::info!("Encoder execution: {attention} (model_args.attention)");
        Ok(model.with_execution(execution))
    }

    /// The optimizer-step loop, epoch by epoch, until the step budget is spent.
    fn train(&mut self, mut model: OpenProvenceModel<B>) -> Result<OpenProvenceModel<B>, TrainError> {
        let plan = self.data.plan;
        let started = Instant::now();
        for epoch in self.global_step / plan.updates_per_epoch.max(1)..plan.epochs {
            if self.global_step >= plan.max_steps {
                break;
            }
            let stop;
            (model, stop) = self.run_epoch(model, epoch)?;
            if stop {
                break;
            }
        }
        let (spent, steps) = self.sync_time;
        let seconds = started.elapsed().as_secs_f64().max(1e-9);
        let tokens = self.shapes.tokens;
        tracing::info!(
            "worker {} of {}: {tokens} tokens in {seconds:.1} s ({:.0} tokens/s), gradient all-reduce {:.1} ms per step",
            self.group.rank(),
            self.group.world_size(),
            tokens as f64 / seconds,
            spent.as_secs_f64() * 1e3 / steps.max(1) as f64
        );
        Ok(model)
    }

    /// A data-parallel worker's entry into the group: every worker checks that the others start
    /// from the same step and data, then takes rank 0's weights.
    fn join_group(&mut self, model: OpenProvenceModel<B>) -> Result<OpenProvenceModel<B>, TrainError> {
        let plan = self.data.plan;
        let values = [
            ("the step to start from", self.global_step as f64),
            ("the number of training rows", self.data.train_rows.len() as f64),
            ("the optimizer-step budget", plan.max_steps as f64),
        ];
        check_agreement(&mut *self.group, &values, &self.device)?;
        Ok(broadcast_params(&mut *self.group, model, &self.device)?)
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
        let plan = self.data.plan;
        let (rank, world, per_step) = (self.group.rank(), self.group.world_size(), plan.micro_batches_per_step);
        let batches = epoch_micro_batches(self.data.train_rows.len(), t.per_device_train_batch_size, t.seed, epoch);
        let first = if epoch == self.global_step / plan.updates_per_epoch {
            self.global_step % plan.updates_per_epoch
        } else {
            0
        };
        let windows: Vec<_> = (first..plan.updates_per_epoch)
            .map(|w| accumulation_window(w * per_step, per_step, batches.len()))
            .collect();
        let mine = move |w: &std::ops::Range<usize>| w.clone().skip(rank).step_by(world);
        let jobs: Vec<(usize, Vec<usize>)> = windows.iter().flat_map(mine).map(|i| (i, batches[i].clone())).collect();
        let mut prefetch = self.prefetch(jobs);
        for window in windows {
            let mut accumulator = GradientsAccumulator::<OpenProvenceModel<B>>::new();
            // The jobs are this worker's micro-batches of the windows, in order.
            for (index, batch) in prefetch.by_ref().take(mine(&window).count()) {
                self.micro_batch(&model, &batch?, index, &window, &batches, &mut accumulator)?;
            }
            let (grad_norm, lr, loss);
            (model, grad_norm, lr, loss) = self.step(model, accumulator.grads())?;
            let window_rows = || row_ids(&self.data.train_rows, &batches[window.clone()].concat());
            check_finite(grad_norm, "gradient norm", self.global_step, window_rows)?;
            let epoch_f = epoch as f64 + window.end as f64 / plan.micro_batches_per_epoch as f64;
            if self.after_step(&model, loss, grad_norm, lr, epoch_f)? {
                return Ok((model, true));
            }
        }
        Ok((model, false))
    }

    /// Collates `jobs` (micro-batch index, row ids) ahead on the recipe's data-loader threads.
    fn prefetch(
        &self,
        jobs: Vec<(usize, Vec<usize>)>,
    ) -> Prefetcher<(usize, Result<Batch, provence_datasets::CollateError>)> {
        let (rows, collator) = (self.data.train_rows.clone(), self.collator.clone());
        let workers = self.config.training_args.dataloader_num_workers;
        Prefetcher::new(
            jobs,
            workers,
            workers * 2 + 2,
            move |(index, ids): (usize, Vec<usize>)| {
                let batch_rows: Vec<Row> = ids.iter().map(|&i| rows[i].clone()).collect();
                (index, collator.collate(&batch_rows))
            },
        )
    }

    /// Closes an optimizer step: sums the workers' gradients and losses over the group, adds the
    /// losses to the tally, clips and updates. Returns the model, the grad norm, the lr and the
    /// step's mean loss.
    fn step(
        &mut self,
        model: OpenProvenceModel<B>,
        grads: burn::optim::GradientsParams,
    ) -> Result<(OpenProvenceModel<B>, f64, f64, f64), TrainError> {
        let what = format!("step {}'s gradients", self.global_step + 1);
        let sums = std::mem::take(&mut self.sums);
        let started = Instant::now();
        let (grads, sums) = sync_step::<B, _>(&mut *self.group, &model, grads, sums, &what, &self.device)?;
        self.sync_time.0 += started.elapsed();
        self.sync_time.1 += 1;
        self.tally.add_step(
            sums.window_share,
            sums.ranking,
            sums.pruning,
            sums.micro_batches as usize,
        );
        let t = &self.config.training_args;
        let (model, grad_norm, lr) = optimizer_step(
            model,
            &mut self.optimizer,
            grads,
            &self.schedule,
            t.learning_rate,
            t.max_grad_norm,
            self.global_step,
        );
        self.global_step += 1;
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
        self.shapes.add(batch);
        let place = ((index - window.start) as u64) << 32;
        let seed = self.config.training_args.seed.wrapping_add(self.global_step as u64 + 1);
        B::seed(&self.device, seed.wrapping_add(place));
        let (total, ranking, pruning) =
            accumulate_micro_batch(model, batch, self.weights, window.len(), accumulator, &self.device)?;
        let rows = || row_ids(&self.data.train_rows, &batches[index]);
        check_finite(total, "loss", self.global_step + 1, rows)?;
        self.sums.add(total / window.len() as f64, ranking, pruning);
        Ok(())
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
        let step = self.global_step;
        self.state.global_step = step as u64;
        self.state.epoch = epoch_f;
        self.listener.on_step(&StepEvent {
            step,
            max_steps: self.data.plan.max_steps,
            epoch: epoch_f,
            loss,
            grad_norm,
            learning_rate: lr,
        });
        let last = step >= self.data.plan.max_steps;
        if self.group.rank() != 0 {
            return Ok(last);
        }
        let mut control = TrainerControlArgs::default();
        if step.is_multiple_of(self.cadence.logging) {
            self.log_train(grad_norm, lr, epoch_f)?;
            control.should_log = true;
        }
        if !self.data.eval_rows.is_empty() && step.is_multiple_of(self.cadence.eval) {
            self.log_eval(model, epoch_f)?;
            control.should_evaluate = true;
        }
        if step.is_multiple_of(self.cadence.save) || last {
            control.should_save = true;
            control.should_training_stop = last;
            self.state.set_control(&control);
            self.save_checkpoint(model)?;
        }
        Ok(last)
    }

    /// Writes `checkpoint-<step>/` atomically (weights in upstream's checkpoint layout,
    /// tokenizer, optimizer state, scheduler position, loss tally, `trainer_state.json` last),
    /// then rotates.
    fn save_checkpoint(&mut self, model: &OpenProvenceModel<B>) -> Result<(), TrainError> {
        let position = serde_json::json!({ "micro_batches_per_step": self.data.plan.micro_batches_per_step });
        let (run_dir, step) = (&self.run_dir, self.global_step);
        let state = &mut self.state;
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
            self.optimizer.save_state(&dir.join(layout::OPTIMIZER_STATE))?;
            let scheduler = serde_json::json!({ "last_epoch": step });
            std::fs::write(dir.join("scheduler.json"), scheduler.to_string()).map_err(io_at(dir))?;
            std::fs::write(dir.join(layout::DATA_PARALLEL), position.to_string()).map_err(io_at(dir))?;
            self.tally.save(dir).map_err(io_at(dir))?;
            std::fs::write(dir.join(layout::TRAINER_STATE), state.to_json_pretty()).map_err(io_at(dir))?;
            Ok(())
        })?;
        let best = state.best_model_checkpoint.as_deref().map(Path::new);
        sweep_deletions(run_dir).map_err(io_at(run_dir))?;
        rotate_checkpoints(run_dir, self.config.training_args.save_total_limit, best).map_err(io_at(run_dir))?;
        Ok(())
    }

    /// The training log line of the window closing at this step.
    fn log_train(&mut self, grad_norm: f64, lr: f64, epoch_f: f64) -> Result<(), TrainError> {
        let step = self.global_step;
        let window = self.tally.close_window(step);
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
        let step = self.global_step;
        let t = &self.config.training_args;
        let record = evaluate(
            &model.valid(),
            &self.data.eval_rows,
            &self.collator,
            t.per_device_eval_batch_size,
            self.weights,
            &self.device,
        )?
        .int("step", step as i64)
        .float("epoch", python_round(epoch_f, 2));
        if let Some(LogValue::Float(eval_loss)) = record.get("eval_loss")
            && self.state.best_metric.is_none_or(|best| eval_loss < best)
        {
            self.state.best_metric = Some(eval_loss);
            self.state.best_global_step = Some(step as u64);
        }
        self.emit(record, "eval")
    }

    /// A record to the sinks, the trainer state's history and the run's.
    fn emit(&mut self, record: LogRecord, split: &str) -> Result<(), TrainError> {
        if let Some(sinks) = &mut self.sinks {
            sinks.emit(&record, self.global_step, split)?;
        }
        self.listener.on_log(&record, split);
        self.state.log_history.push(record.to_json());
        self.history.push(record);
        Ok(())
    }

    /// The end of training: the best checkpoint's weights when there was an eval set, the
    /// summary record, `final_model/` (checked by reloading it), the recipe's dataset evaluation.
    fn finish(mut self, mut model: OpenProvenceModel<B>) -> Result<TrainOutcome, TrainError> {
        let runtime = self.started.elapsed().as_secs_f64();
        let (m, t) = (&self.config.model_args, &self.config.training_args);
        self.shapes.log(m.attention);
        if let Some(best) = self.best_checkpoint() {
            tracing::info!(
                "Loading best model from {} (score: {:?}).",
                best.display(),
                self.state.best_metric
            );
            let best_model = OpenProvenceModel::load(&best, &self.device)?;
            model = with_max_length(best_model, m.max_length)?;
            if t.save_total_limit == Some(1) {
                keep_only_best(&self.run_dir, &best).map_err(io_at(&self.run_dir))?;
            }
        }
        let rows = self.data.train_rows.len() as f64;
        let summary = LogRecord::new()
            .float("train_runtime", runtime)
            .float(
                "train_samples_per_second",
                rows * t.num_train_epochs / runtime.max(1e-9),
            )
            .float(
                "train_steps_per_second",
                self.data.plan.max_steps as f64 / runtime.max(1e-9),
            )
            .float("total_flos", 0.0)
            .float("train_loss", self.tally.train_loss(self.global_step))
            .int("step", self.global_step as i64)
            .float("epoch", python_round(self.state.epoch, 2));
        if let Some(sinks) = &mut self.sinks {
            sinks.progress.finish_and_clear();
            sinks.emit(&summary, self.global_step, "train")?;
        }
        self.listener.on_log(&summary, "train");
        self.history.push(summary);
        let final_model = self.save_final_model(&model)?;
        let eval_markdown = match &t.eval_datasets {
            Some(eval) => run_eval_datasets::<B::InnerBackend>(&final_model, eval, m.attention, &self.device)?,
            None => {
                tracing::info!("No eval_datasets configuration; skipping dataset evaluation.");
                None
            }
        };
        Ok(TrainOutcome {
            run_dir: self.run_dir,
            final_model,
            global_step: self.global_step as u64,
            log_history: self.history,
            eval_markdown,
        })
    }

    /// The best checkpoint, when there was an eval set and it still exists.
    fn best_checkpoint(&self) -> Option<PathBuf> {
        if self.data.eval_rows.is_empty() {
            return None;
        }
        let best = PathBuf::from(self.state.best_model_checkpoint.as_ref()?);
        best.exists().then_some(best)
    }

    /// Writes `final_model/` atomically and checks it the way upstream does: reload it and
    /// tokenize a test string.
    fn save_final_model(&self, model: &OpenProvenceModel<B>) -> Result<PathBuf, TrainError> {
        let final_model = self.run_dir.join(layout::FINAL_MODEL);
        write_dir_atomically::<TrainError>(&self.run_dir, layout::FINAL_MODEL, |dir| {
            model.valid().save_final_model(dir, DEFAULT_HUB_REPO)?;
            copy_tokenizer_files(&self.model_dir, dir)?;
            let args = serde_json::to_string_pretty(self.config).unwrap_or_default();
            std::fs::write(dir.join(layout::TRAINING_ARGS), args + "\n").map_err(io_at(dir))?;
            Ok(())
        })?;
        let reloaded = OpenProvenceModel::<B::InnerBackend>::load(&final_model, &self.device)
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

/// Fails unless checkpoint `dir` was written by a run whose optimizer steps consumed
/// `micro_batches_per_step` micro-batches each (accumulation × workers; checkpoints without the
/// record come from a single worker and are not checked): otherwise the resumed run would
/// continue at another place in the data.
fn check_data_position(dir: &Path, micro_batches_per_step: usize) -> Result<(), TrainError> {
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

/// The micro-batch indices of the accumulation window holding micro-batch `index`: windows of
/// `ga` micro-batches, the last of an epoch of `micro_batches` possibly shorter. Each loss is
/// divided by its window's length, as HF's Trainer does.
pub fn accumulation_window(index: usize, ga: usize, micro_batches: usize) -> std::ops::Range<usize> {
    let start = index / ga.max(1) * ga.max(1);
    start..(start + ga.max(1)).min(micro_batches.max(start + 1))
}

/// `model` with the recipe's `max_length` in its config (a checkpoint's may differ when a
/// resumed recipe changed it).
fn with_max_length<B: Backend>(
    mut model: OpenProvenceModel<B>,
    max_length: usize,
) -> Result<OpenProvenceModel<B>, TrainError> {
    model.config.set_max_length(max_length)?;
    Ok(model)
}

/// The collator of the recipe, with the tokenizer of `model_dir`.
fn collator(config: &TrainConfig, model_dir: &Path) -> Result<Arc<Collator>, TrainError> {
    let tokenizer = PretrainedTokenizer::from_pretrained(model_dir)?;
    let collator = Collator::new(
        &tokenizer,
        CollatorConfig {
            max_length: config.model_args.max_length,
            label_alignment: config.data_args.label_alignment,
        },
    )?;
    Ok(Arc::new(collator))
}

/// The trainer state of a fresh run: the plan's cadence and budget, no history.
fn fresh_state(plan: &StepPlan, batch_size: usize) -> TrainerState {
    TrainerState::new(
        plan.eval_steps as u64,
        plan.logging_steps as u64,
        plan.save_steps as u64,
        plan.max_steps as u64,
        plan.epochs as u64,
        batch_size as u64,
    )
}

/// The trainer state saved in checkpoint `dir`, with this run's step budget; its cadence wins
/// over the freshly computed one, as in HF's Trainer (they differ only if the data or the recipe
/// changed between the runs).
fn restored_state(dir: &Path, plan: &StepPlan) -> Result<TrainerState, TrainError> {
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

/// The cadence of `state`, each value falling back to the plan's when it is zero (a
/// hand-edited state would otherwise never fire).
fn cadence(state: &TrainerState, plan: &StepPlan) -> Cadence {
    let pick = |stored: u64, fresh: usize| usize::try_from(stored).ok().filter(|&v| v > 0).unwrap_or(fresh);
    Cadence {
        logging: pick(state.logging_steps, plan.logging_steps),
        eval: pick(state.eval_steps, plan.eval_steps),
        save: pick(state.save_steps, plan.save_steps),
    }
}

#[cfg(test)]
mod tests {
    use super::accumulation_window;

    /// HF's windows, computed independently: `ga` micro-batches each, the epoch's last window
    /// holding what is left.
    #[test]
    fn accumulation_windows_cover_the_epoch() {
        let (ga, n) = (4, 10);
        let windows: Vec<_> = (0..n).map(|i| accumulation_window(i, ga, n)).collect();
        assert_eq!(windows[0], 0..4);
        assert_eq!(windows[3], 0..4);
        assert_eq!(windows[4], 4..8);
        assert_eq!(windows[9], 8..10);
        assert_eq!(accumulation_window(0, 1, 1), 0..1);
        assert_eq!(accumulation_window(2, 3, 3), 0..3);
    }
}
