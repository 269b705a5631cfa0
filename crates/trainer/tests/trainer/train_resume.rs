//! End-to-end training on a slice of the embedded demo data: the loop runs, writes checkpoints
//! and an upstream-layout final_model, and resuming from a checkpoint reproduces the
//! uninterrupted run's final weights bit for bit.

use provence_config::prepare_run;
use provence_test_support::recipe::DemoRecipe;
use provence_test_support::{demo, json};
use provence_trainer::{LogRecord, LogValue};
use provence_trainer::{
    Precision, StepEvent, TrainBackend, TrainListener, TrainOutcome, run_training, run_training_with,
};
use std::path::{Path, PathBuf};

fn recipe(dir: &Path, output: &Path) -> PathBuf {
    DemoRecipe {
        model: &demo("model"),
        output,
        model_args: "  classifier_dropout: 0.1\n  max_length: 96\n",
        data_args: "  max_train_samples: 40\n  max_eval_samples: 8\n",
        training_args: r#"  learning_rate: 1.0e-3
  per_device_train_batch_size: 4
  gradient_accumulation_steps: 2
  per_device_eval_batch_size: 4
  max_steps: 4
  save_steps: 2
  eval_steps: 2
  save_total_limit: 3
  bf16: false
  dataloader_num_workers: 2
  report_to: ["tensorboard"]
"#,
    }
    .write(dir.join("recipe.yaml"))
}

/// What a [`TrainListener`] is told.
#[derive(Default)]
struct Recorder {
    steps: Vec<StepEvent>,
    logs: Vec<(LogRecord, String)>,
}

impl TrainListener for Recorder {
    fn on_step(&mut self, step: &StepEvent) {
        self.steps.push(*step);
    }
    fn on_log(&mut self, record: &LogRecord, split: &str) {
        self.logs.push((record.clone(), split.to_owned()));
    }
}

#[test]
fn resume_from_a_checkpoint_reproduces_the_uninterrupted_run() {
    let _turn = provence_test_support::serial();
    let tmp = tempfile::tempdir().unwrap();
    let device = Default::default();

    // Uninterrupted run: 4 steps, checkpoints at 2 and 4, observed by a listener.
    let run_a = tmp.path().join("run_a");
    let setup = prepare_run(&recipe(tmp.path(), &run_a), &[], None, "20260101_000000").unwrap();
    let mut recorder = Recorder::default();
    let outcome = run_training_with::<TrainBackend>(&setup, &device, Precision::F32, &mut recorder).unwrap();
    assert_eq!(outcome.global_step, 4);
    check_run_layout(&run_a, &outcome);
    check_listener(&recorder, &outcome);

    // Interrupted after step 2: a fresh run dir holding only checkpoint-2, resumed to the end.
    let run_b = tmp.path().join("run_b");
    std::fs::create_dir_all(&run_b).unwrap();
    copy_dir(&run_a.join("checkpoint-2"), &run_b.join("checkpoint-2"));
    let setup = prepare_run(
        &recipe(tmp.path(), &run_a),
        &[],
        Some(run_b.to_str().unwrap()),
        "20260101_000001",
    )
    .unwrap();
    assert_eq!(setup.naming.output_dir, run_b.canonicalize().unwrap());
    let resumed = run_training::<TrainBackend>(&setup, &device, Precision::F32).unwrap();
    assert_eq!(resumed.global_step, 4);

    let final_a = std::fs::read(run_a.join("final_model/model.safetensors")).unwrap();
    let final_b = std::fs::read(run_b.join("final_model/model.safetensors")).unwrap();
    assert!(final_a == final_b, "resumed weights differ from the uninterrupted run");
    assert_same_optimizer_state(
        &run_a.join("checkpoint-4/optimizer.safetensors"),
        &run_b.join("checkpoint-4/optimizer.safetensors"),
    );
}

/// Checkpoints, `final_model/`, one train log per step, TensorBoard events and the JSONL log.
fn check_run_layout(run: &Path, outcome: &TrainOutcome) {
    for name in ["checkpoint-2", "checkpoint-4", "final_model"] {
        assert!(run.join(name).is_dir(), "{name} missing");
    }
    for file in [
        "model.safetensors",
        "config.json",
        "tokenizer.json",
        "optimizer.safetensors",
        "trainer_state.json",
    ] {
        assert!(
            run.join("checkpoint-2").join(file).exists(),
            "checkpoint-2/{file} missing"
        );
    }
    for file in [
        "model.safetensors",
        "config.json",
        "tokenizer.json",
        "training_args.json",
    ] {
        assert!(
            run.join("final_model").join(file).exists(),
            "final_model/{file} missing"
        );
    }
    assert_eq!(train_losses(&outcome.log_history).len(), 4, "one train log per step");
    assert!(
        std::fs::read_dir(run.join("runs")).unwrap().next().is_some(),
        "TensorBoard events"
    );
    let jsonl = std::fs::read_to_string(run.join("log_history.jsonl")).unwrap();
    assert_eq!(jsonl.lines().count(), outcome.log_history.len());
}

/// The listener saw every optimizer step in order, with the logged loss, and every log record.
fn check_listener(recorder: &Recorder, outcome: &TrainOutcome) {
    let steps: Vec<usize> = recorder.steps.iter().map(|s| s.step).collect();
    assert_eq!(steps, [1, 2, 3, 4]);
    assert!(recorder.steps.iter().all(|s| s.max_steps == 4 && s.grad_norm > 0.0));
    assert!(recorder.steps.iter().any(|s| s.learning_rate > 0.0));
    // The recipe logs every step: the logged loss is the step's, rounded to 4 digits.
    for (event, logged) in recorder.steps.iter().zip(train_losses(&outcome.log_history)) {
        assert!(
            (event.loss - logged).abs() <= 5e-5,
            "step {}: {} vs {logged}",
            event.step,
            event.loss
        );
    }
    let records: Vec<&LogRecord> = recorder.logs.iter().map(|(r, _)| r).collect();
    assert_eq!(records, outcome.log_history.iter().collect::<Vec<_>>());
    assert!(
        recorder.logs.iter().any(|(_, split)| split == "eval")
            == outcome.log_history.iter().any(|r| r.get("eval_loss").is_some())
    );
}

/// The `loss` values of the train log lines.
fn train_losses(history: &[LogRecord]) -> Vec<f64> {
    history
        .iter()
        .filter_map(|r| match r.get("loss") {
            Some(LogValue::Float(l)) => Some(l),
            _ => None,
        })
        .collect()
}

/// Two optimizer state files hold the same tensors and metadata (safetensors writes its metadata
/// map in hash order, so the decoded contents are compared, not the bytes).
fn assert_same_optimizer_state(path_a: &Path, path_b: &Path) {
    let (state_a, state_b) = (std::fs::read(path_a).unwrap(), std::fs::read(path_b).unwrap());
    let (a, b) = (
        safetensors::SafeTensors::deserialize(&state_a).unwrap(),
        safetensors::SafeTensors::deserialize(&state_b).unwrap(),
    );
    let mut names = a.names();
    names.sort();
    assert!(!names.is_empty());
    let mut names_b = b.names();
    names_b.sort();
    assert_eq!(names, names_b);
    for name in names {
        assert!(
            a.tensor(name).unwrap().data() == b.tensor(name).unwrap().data(),
            "optimizer state {name} differs"
        );
    }
    let meta = |bytes: &[u8]| {
        safetensors::SafeTensors::read_metadata(bytes)
            .unwrap()
            .1
            .metadata()
            .clone()
    };
    assert_eq!(meta(&state_a), meta(&state_b));
}

/// Trains the recipe for 2 of its steps into `<dir>/run` (a `checkpoint-2/` and a `final_model/`);
/// returns the run directory.
fn train_two_steps(dir: &Path) -> PathBuf {
    let run = dir.join("run");
    let overrides = [("max_steps".to_owned(), Some("2".to_owned()))];
    let setup = prepare_run(&recipe(dir, &run), &overrides, None, "20260101_000000").unwrap();
    run_training::<TrainBackend>(&setup, &Default::default(), Precision::F32).unwrap();
    run
}

/// HF semantics: on resume the cadence stored in trainer_state.json wins over the fresh one.
#[test]
fn resume_keeps_the_checkpoints_cadence() {
    let _turn = provence_test_support::serial();
    let tmp = tempfile::tempdir().unwrap();
    let device = Default::default();
    let run = train_two_steps(tmp.path());

    // The checkpoint says: log every 2 steps, save every 3 (the fresh plan logs every step).
    let state_path = run.join("checkpoint-2/trainer_state.json");
    let mut state = json::load(&state_path);
    state["logging_steps"] = 2.into();
    state["save_steps"] = 3.into();
    std::fs::write(&state_path, serde_json::to_string_pretty(&state).unwrap()).unwrap();
    std::fs::remove_dir_all(run.join("final_model")).unwrap();

    let setup = prepare_run(
        &recipe(tmp.path(), &run),
        &[],
        Some(run.join("checkpoint-2").to_str().unwrap()),
        "20260101_000001",
    )
    .unwrap();
    let resumed = run_training::<TrainBackend>(&setup, &device, Precision::F32).unwrap();
    assert_eq!(resumed.global_step, 4);
    let logged_steps: Vec<u64> = resumed
        .log_history
        .iter()
        .filter(|r| r.get("loss").is_some())
        .filter_map(|r| match r.get("step") {
            Some(provence_trainer::LogValue::Int(s)) => Some(s as u64),
            _ => None,
        })
        .collect();
    assert_eq!(
        logged_steps,
        [4],
        "step 3 must not be logged with the stored cadence of 2"
    );
    assert!(run.join("checkpoint-3").is_dir(), "stored save cadence 3 not used");
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
    }
}

/// A recipe whose max_length differs from the checkpoint's wins for the rest of the run, and the
/// exported config says so (rather than the checkpoint's value silently staying in it).
#[test]
fn resume_with_another_max_length_exports_the_recipes() {
    let _turn = provence_test_support::serial();
    let tmp = tempfile::tempdir().unwrap();
    let device = Default::default();
    let run = train_two_steps(tmp.path());
    let saved_max_length = |dir: &Path| json::load(&dir.join("config.json"))["max_length"].as_u64();
    assert_eq!(saved_max_length(&run.join("checkpoint-2")), Some(96));

    std::fs::remove_dir_all(run.join("final_model")).unwrap();
    let overrides = [
        ("max_steps".to_owned(), Some("3".to_owned())),
        ("max_length".to_owned(), Some("64".to_owned())),
    ];
    let setup = prepare_run(
        &recipe(tmp.path(), &run),
        &overrides,
        Some(run.to_str().unwrap()),
        "20260101_000001",
    )
    .unwrap();
    run_training::<TrainBackend>(&setup, &device, Precision::F32).unwrap();
    assert_eq!(saved_max_length(&run.join("final_model")), Some(64));
}
