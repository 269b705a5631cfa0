//! Resume resolution (upstream's four cases and our edge cases), step arithmetic, run naming and
//! override precedence.

use provence_config::{
    Origin, ResumeError, RunBasis, StepInputs, StepPlan, TrainConfig, prepare_run, resolve_resume_checkpoint_path,
    run_naming, select_resume_request,
};
use std::fs;
use std::path::Path;

fn checkpoint(run: &Path, name: &str, with_state: bool) -> std::path::PathBuf {
    let dir = run.join(name);
    fs::create_dir_all(&dir).unwrap();
    if with_state {
        fs::write(dir.join("trainer_state.json"), "{}").unwrap();
        fs::write(dir.join("model.safetensors"), "").unwrap();
    }
    dir
}

#[test]
fn explicit_checkpoint_resolves_to_itself_with_parent_run_dir() {
    let tmp = tempfile::tempdir().unwrap();
    let ckpt = checkpoint(tmp.path(), "checkpoint-0500", true);
    let r = resolve_resume_checkpoint_path(ckpt.to_str().unwrap()).unwrap();
    assert_eq!(r.checkpoint_dir, ckpt.canonicalize().unwrap());
    assert_eq!(r.run_dir, tmp.path().canonicalize().unwrap());
    assert_eq!(r.steps, Some(500));
}

#[test]
fn run_dir_picks_numerically_latest_checkpoint() {
    let tmp = tempfile::tempdir().unwrap();
    checkpoint(tmp.path(), "checkpoint-0100", true);
    checkpoint(tmp.path(), "checkpoint-0500", true);
    checkpoint(tmp.path(), "checkpoint-99", true);
    let r = resolve_resume_checkpoint_path(tmp.path().to_str().unwrap()).unwrap();
    assert_eq!(r.checkpoint_dir.file_name().unwrap(), "checkpoint-0500");
    assert_eq!(r.run_dir, tmp.path().canonicalize().unwrap());
    assert_eq!(r.steps, Some(500));
}

/// A run killed before its first checkpoint: resuming says so and names the way out that works.
#[test]
fn run_dir_without_checkpoints_says_none_was_saved_yet() {
    let tmp = tempfile::tempdir().unwrap();
    fs::write(tmp.path().join("log_history.jsonl"), "").unwrap();
    fs::write(tmp.path().join(".lock"), "").unwrap();
    let err = resolve_resume_checkpoint_path(tmp.path().to_str().unwrap()).unwrap_err();
    assert!(matches!(err, ResumeError::NoCheckpoints(_)));
    let message = err.to_string();
    assert!(message.contains("no checkpoint saved yet"), "{message}");
    assert!(message.contains("--overwrite_output_dir"), "{message}");
}

/// A checkpoint whose weights were deleted: the error names that checkpoint and the missing file.
#[test]
fn checkpoint_without_weights_is_named_with_the_missing_file() {
    let tmp = tempfile::tempdir().unwrap();
    let broken = checkpoint(tmp.path(), "checkpoint-40", true);
    fs::remove_file(broken.join("model.safetensors")).unwrap();
    for request in [tmp.path(), broken.as_path()] {
        let err = resolve_resume_checkpoint_path(request.to_str().unwrap()).unwrap_err();
        let message = err.to_string();
        assert!(matches!(err, ResumeError::Incomplete { .. }), "{message}");
        assert!(
            message.contains("checkpoint-40") && message.contains("model.safetensors"),
            "{message}"
        );
    }
}

#[test]
fn missing_path_and_file_are_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let missing = tmp.path().join("nope");
    let err = resolve_resume_checkpoint_path(missing.to_str().unwrap()).unwrap_err();
    assert!(matches!(err, ResumeError::NotFound(_)));
    assert!(err.to_string().ends_with("does not exist"));
    let file = tmp.path().join("file.txt");
    fs::write(&file, "x").unwrap();
    let err = resolve_resume_checkpoint_path(file.to_str().unwrap()).unwrap_err();
    assert!(matches!(err, ResumeError::IsFile(_)));
    assert!(err.to_string().contains("Please point to a checkpoint directory."));
}

/// A checkpoint a killed run was deleting (its weights gone, its state file left) is skipped.
#[test]
fn half_deleted_checkpoints_are_never_picked() {
    let tmp = tempfile::tempdir().unwrap();
    checkpoint(tmp.path(), "checkpoint-300", true);
    let half = checkpoint(tmp.path(), "checkpoint-600", true);
    fs::remove_file(half.join("model.safetensors")).unwrap();
    let r = resolve_resume_checkpoint_path(tmp.path().to_str().unwrap()).unwrap();
    assert_eq!(r.checkpoint_dir.file_name().unwrap(), "checkpoint-300");
}

#[test]
fn checkpoint_final_and_stateless_dirs_are_never_picked() {
    let tmp = tempfile::tempdir().unwrap();
    checkpoint(tmp.path(), "checkpoint-final", true);
    checkpoint(tmp.path(), "checkpoint-900", false); // a crash while saving left no state file
    checkpoint(tmp.path(), "checkpoint-300", true);
    let r = resolve_resume_checkpoint_path(tmp.path().to_str().unwrap()).unwrap();
    assert_eq!(r.checkpoint_dir.file_name().unwrap(), "checkpoint-300");

    let only_bad = tempfile::tempdir().unwrap();
    checkpoint(only_bad.path(), "checkpoint-final", true);
    checkpoint(only_bad.path(), "checkpoint-7", false);
    // Only an incomplete one: it is named with what it lacks.
    let err = resolve_resume_checkpoint_path(only_bad.path().to_str().unwrap()).unwrap_err();
    let message = err.to_string();
    assert!(
        matches!(&err, ResumeError::Incomplete { missing, .. } if missing == &["trainer_state.json", "model.safetensors"]),
        "{message}"
    );
    assert!(message.contains("checkpoint-7"), "{message}");
}

#[test]
fn explicit_dir_with_state_but_other_name_has_unknown_step() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = checkpoint(tmp.path(), "my-snapshot", true);
    let r = resolve_resume_checkpoint_path(dir.to_str().unwrap()).unwrap();
    assert_eq!(r.steps, None);
    let dir = checkpoint(tmp.path(), "run-checkpoint-42", true);
    assert_eq!(
        resolve_resume_checkpoint_path(dir.to_str().unwrap()).unwrap().steps,
        Some(42)
    );
}

#[test]
fn resume_request_precedence() {
    let yaml = "training_args:\n  resume_from_checkpoint: from_yaml\n  checkpoint: alias_yaml\n";
    let config = TrainConfig::parse(yaml, None).unwrap();
    assert_eq!(
        select_resume_request(Some("flag"), &config.training_args).as_deref(),
        Some("flag")
    );
    assert_eq!(
        select_resume_request(None, &config.training_args).as_deref(),
        Some("from_yaml")
    );
    let mut overridden = config.clone();
    overridden
        .apply_override("resume_from_checkpoint", Some("from_cli"))
        .unwrap();
    assert_eq!(
        select_resume_request(None, &overridden.training_args).as_deref(),
        Some("from_cli")
    );
    let alias_only = TrainConfig::parse("training_args:\n  checkpoint: alias_yaml\n", None).unwrap();
    assert_eq!(
        select_resume_request(None, &alias_only.training_args).as_deref(),
        Some("alias_yaml")
    );
    assert_eq!(select_resume_request(None, &TrainConfig::default().training_args), None);
}

fn toy_inputs() -> StepInputs {
    StepInputs {
        train_rows: 12_000,
        batch_size: 4,
        gradient_accumulation_steps: 16,
        n_gpu: 0,
        num_train_epochs: 1.0,
        yaml_save_steps: Some(500),
        max_steps: -1,
        warmup_ratio: 0.1,
        warmup_steps: 0,
    }
}

#[test]
fn toy_step_arithmetic_matches_upstream() {
    let plan = StepPlan::compute(&toy_inputs());
    assert_eq!(
        (plan.total_dynamic, plan.eval_steps, plan.logging_steps, plan.save_steps),
        (187, 9, 1, 500)
    );
    assert_eq!(
        (plan.micro_batches_per_epoch, plan.updates_per_epoch, plan.max_steps),
        (3000, 188, 188)
    );
    assert_eq!(plan.warmup_steps, 19);
    assert_eq!(plan.epochs, 1);
}

#[test]
fn step_arithmetic_edge_cases() {
    // N < B·GA: no full window, the dynamic total is 0, cadences clamp to 1, one short update.
    let small = StepPlan::compute(&StepInputs {
        train_rows: 10,
        yaml_save_steps: None,
        ..toy_inputs()
    });
    assert_eq!(
        (
            small.total_dynamic,
            small.eval_steps,
            small.logging_steps,
            small.save_steps
        ),
        (0, 1, 1, 1)
    );
    assert_eq!(
        (small.micro_batches_per_epoch, small.updates_per_epoch, small.max_steps),
        (3, 1, 1)
    );
    assert_eq!(small.warmup_steps, 1);
    // Fractional epochs and an explicit max_steps.
    let half = StepPlan::compute(&StepInputs {
        num_train_epochs: 0.5,
        ..toy_inputs()
    });
    assert_eq!((half.total_dynamic, half.max_steps, half.epochs), (93, 94, 1));
    let capped = StepPlan::compute(&StepInputs {
        max_steps: 50,
        ..toy_inputs()
    });
    assert_eq!(
        (capped.max_steps, capped.warmup_steps, capped.total_dynamic),
        (50, 5, 187)
    );
    let long = StepPlan::compute(&StepInputs {
        max_steps: 400,
        ..toy_inputs()
    });
    assert_eq!(long.epochs, 3);
    // Explicit warmup steps win over the ratio; zero rows still give one (empty) update.
    assert_eq!(
        StepPlan::compute(&StepInputs {
            warmup_steps: 7,
            ..toy_inputs()
        })
        .warmup_steps,
        7
    );
    let empty = StepPlan::compute(&StepInputs {
        train_rows: 0,
        ..toy_inputs()
    });
    assert_eq!((empty.updates_per_epoch, empty.max_steps), (1, 1));
}

#[test]
fn run_naming_follows_upstream() {
    let recipe = Path::new("configs/toy-open-provence-reranker-v1.yaml");
    let n = run_naming(RunBasis::Recipe(recipe), None, None, "20251030_101500");
    assert_eq!(
        n.output_dir,
        Path::new("./output/toy-open-provence-reranker-v1_20251030_101500")
    );
    assert_eq!(n.run_name, "toy-open-provence-reranker-v1-20251030_101500");
    let n = run_naming(
        RunBasis::Recipe(recipe),
        Some("trainer_output"),
        None,
        "20251030_101500",
    );
    assert_eq!(
        n.output_dir,
        Path::new("./output/toy-open-provence-reranker-v1_20251030_101500")
    );
    let n = run_naming(RunBasis::Recipe(recipe), Some("runs/mine"), None, "20251030_101500");
    assert_eq!(n.output_dir, Path::new("runs/mine"));
    let n = run_naming(
        RunBasis::Recipe(recipe),
        Some("runs/mine"),
        Some(Path::new("/abs/run")),
        "20251030_101500",
    );
    assert_eq!(n.output_dir, Path::new("/abs/run"));
    assert_eq!(n.run_name, "toy-open-provence-reranker-v1-20251030_101500");
    let n = run_naming(
        RunBasis::Model {
            model: "hotchpotch/japanese-reranker-xsmall-v2",
            subset: Some("freq2"),
        },
        None,
        None,
        "20251030_101500",
    );
    assert_eq!(
        n.output_dir,
        Path::new("./output/japanese-reranker-xsmall-v2_freq2_20251030_101500")
    );
    assert_eq!(n.run_name, "japanese-reranker-xsmall-v2-freq2-20251030_101500");
    let n = run_naming(
        RunBasis::Model {
            model: "m",
            subset: None,
        },
        None,
        None,
        "20251030_101500",
    );
    assert_eq!(n.output_dir, Path::new("./output/m_multi-dataset_20251030_101500"));
    assert_eq!(n.run_name, "m-multi-dataset-20251030_101500");
}

#[test]
fn explicit_overrides_win_even_when_equal_to_the_default() {
    let yaml = "model_args:\n  model_name_or_path: my/backbone\ntraining_args:\n  learning_rate: 1.0e-4\n  output_dir: runs/x\n";
    let mut config = TrainConfig::parse(yaml, None).unwrap();
    // Upstream drops a flag whose value equals the dataclass default (5e-5); we apply it.
    let line = config.apply_override("learning_rate", Some("5e-5")).unwrap();
    assert_eq!(config.training_args.learning_rate, 5e-5);
    assert_eq!(line.to_string(), "  training_args.learning_rate: 0.0001 → 5e-5");
    assert_eq!(config.origin("training_args.learning_rate"), Origin::Cli);
    // Any override flag leaves the unrelated YAML values alone (upstream resets the backbone).
    config.apply_override("seed", Some("7")).unwrap();
    assert_eq!(config.model_args.model_name_or_path, "my/backbone");
    assert_eq!(config.training_args.output_dir.as_deref(), Some("runs/x"));
    assert_eq!(
        config.origin("model_args.model_name_or_path"),
        Origin::Yaml { line: 2, column: 3 }
    );
    assert_eq!(config.origin("training_args.weight_decay"), Origin::Default);
    // Bare boolean flags mean true; dotted names work; unknown flags are errors.
    config.apply_override("fp16", None).unwrap();
    assert!(config.training_args.fp16);
    config.apply_override("training_args.bf16", Some("false")).unwrap();
    assert!(!config.training_args.bf16);
    assert!(config.apply_override("no_such_field", Some("1")).is_err());
    assert!(config.apply_override("learning_rate", None).is_err());
    let err = config
        .apply_override("per_device_train_batch_size", Some("lots"))
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "command line: --per_device_train_batch_size: expected a non-negative integer, got string \"lots\""
    );
}

#[test]
fn yaml_extensions_and_aliases() {
    let yaml = "model_args:\n  num_labels: 2\n  from_scratch: true\ntraining_args:\n  optim: adamw_torch\n  seed: 3\n  max_steps: 20\n  ranking_weight: 0.1\n  pruning_weight: 0.5\n  learning_rate: 1e-5\n  eval_datasets:\n    config: x.yaml\n    threadshold: 0.2\n";
    let c = TrainConfig::parse(yaml, None).unwrap();
    assert_eq!(c.model_args.num_labels, Some(2));
    assert!(c.model_args.from_scratch);
    assert_eq!(c.training_args.optimizer, provence_config::Optimizer::AdamW);
    assert_eq!((c.training_args.seed, c.training_args.max_steps), (3, 20));
    assert_eq!(
        (c.training_args.ranking_weight, c.training_args.pruning_weight),
        (0.1, 0.5)
    );
    assert_eq!(c.training_args.learning_rate, 1e-5);
    let eval = c.training_args.eval_datasets.as_ref().unwrap();
    assert_eq!((eval.threshold, eval.batch_size), (0.2, 256));
    // `optimizer` wins over the `optim` alias; a quoted YAML 1.1 number still parses.
    let c = TrainConfig::parse(
        "training_args:\n  optim: adamw_torch\n  optimizer: adafactor\n  learning_rate: \"1e-5\"\n",
        None,
    )
    .unwrap();
    assert_eq!(c.training_args.optimizer, provence_config::Optimizer::Adafactor);
    assert_eq!(c.training_args.learning_rate, 1e-5);
}

#[test]
fn unknown_keys_are_collected_and_hf_keys_accepted() {
    let yaml = "training_args:\n  learning_rte: 1e-4\n  adam_beta1: 0.9\n  logging_dir: logs\nextra_section: 1\n";
    let c = TrainConfig::parse(yaml, None).unwrap();
    assert_eq!(
        c.unknown_keys,
        vec!["training_args.learning_rte (line 2)", "extra_section (line 5)"]
    );
}

#[test]
fn dataset_entry_null_does_not_fall_back() {
    let yaml = "data_args:\n  items: 4\n  datasets:\n    - dataset_name: a\n    - dataset_name: b\n      items: null\n    - dataset_name: c\n      items: 2\n";
    let c = TrainConfig::parse(yaml, None).unwrap();
    let d = c.data_args.datasets.as_ref().unwrap();
    assert_eq!((d[0].items, d[1].items, d[2].items), (None, Some(None), Some(Some(2))));
    assert_eq!(d[0].teacher_column, "teacher_score");
}

#[test]
fn prepare_run_resolves_resume_and_output_dir() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("output/demo_20250101_000000");
    checkpoint(&run, "checkpoint-20", true);
    checkpoint(&run, "checkpoint-40", true);
    let recipe = tmp.path().join("demo.yaml");
    fs::write(&recipe, "training_args:\n  output_dir: elsewhere\n").unwrap();
    let setup = prepare_run(&recipe, &[], Some(run.to_str().unwrap()), "20260101_000000").unwrap();
    let (request, resolved) = setup.resume.unwrap();
    assert_eq!(request, run.to_str().unwrap());
    assert_eq!(resolved.steps, Some(40));
    assert_eq!(setup.naming.output_dir, run.canonicalize().unwrap());
    assert_eq!(setup.naming.run_name, "demo-20260101_000000");
    let err = prepare_run(&recipe, &[], Some("/does/not/exist"), "t").unwrap_err();
    assert_eq!(
        err.to_string(),
        "Could not resolve checkpoint '/does/not/exist': Checkpoint path '/does/not/exist' does not exist"
    );
}
