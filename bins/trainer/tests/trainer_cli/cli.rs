//! The trainer binary: `--dry-run` on every recipe, exit code 2 with one error line for bad
//! recipes, explicit-only overrides, and `--help` listing every recipe field.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn trainer(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_open_provence_trainer"))
        .args(args)
        .current_dir(provence_test_support::repo_root())
        .env("RUST_LOG", "warn")
        .output()
        .unwrap()
}

fn yaml_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    files
}

#[test]
fn dry_run_prints_every_recipe_value_and_the_run_dir() {
    for recipe in yaml_files(&provence_test_support::repo("configs")) {
        let out = trainer(&[recipe.to_str().unwrap(), "--dry-run"]);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{}: {}",
            recipe.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(stdout.contains("Using configuration file settings."));
        let stem = recipe.file_stem().unwrap().to_str().unwrap();
        assert!(stdout.contains(&format!("Run directory: ./output/{stem}_")), "{stdout}");
        assert!(stdout.contains(&format!("Run name: {stem}-")), "{stdout}");
        // Every `key: value` scalar of the recipe shows up with its value and a yaml origin.
        let text = std::fs::read_to_string(&recipe).unwrap();
        for line in text
            .lines()
            .map(str::trim)
            .filter(|l| !l.starts_with('#') && !l.starts_with('-'))
        {
            let Some((key, value)) = line.split_once(':') else {
                continue;
            };
            let value = value.split('#').next().unwrap().trim().trim_matches('"');
            if value.is_empty() || key.contains(' ') {
                continue;
            }
            let as_number = value.parse::<f64>().map(|f| format!("{f:?}")).unwrap_or_default();
            assert!(
                stdout.contains(value) || (!as_number.is_empty() && stdout.contains(&as_number)),
                "{}: value {value:?} of {key} not printed",
                recipe.display()
            );
        }
        assert!(stdout.contains("[yaml:"), "{stdout}");
    }
}

#[test]
fn bad_recipes_exit_2_with_one_error_line_and_no_panic() {
    let corpus = provence_test_support::repo("crates/config/tests/bad_configs");
    let mut files = yaml_files(&corpus);
    files.push(corpus.join("does-not-exist.yaml"));
    for recipe in files {
        let out = trainer(&[recipe.to_str().unwrap(), "--dry-run"]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{}: {stderr}", recipe.display());
        assert!(!stderr.contains("panicked"), "{}: {stderr}", recipe.display());
        let errors: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error:")).collect();
        assert_eq!(errors.len(), 1, "{}: {stderr}", recipe.display());
    }
}

#[test]
fn overrides_apply_only_when_given_and_are_printed() {
    let out = trainer(&[
        "configs/toy-open-provence-reranker-v1.yaml",
        "--dry-run",
        "--learning_rate",
        "5e-5",
        "--max_steps",
        "50",
        "--bf16",
        "false",
        "--fp16",
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("Command line overrides:\n  training_args.learning_rate: 5e-5 → 5e-5\n  training_args.max_steps: -1 → 50\n  training_args.bf16: true → false\n  training_args.fp16: false → true\n"), "{stdout}");
    assert!(
        stdout.contains("hotchpotch/japanese-reranker-base-v2"),
        "the backbone must not be reset"
    );
    let bad = trainer(&["configs/demo.yaml", "--dry-run", "--per_device_train_batch_size", "-1"]);
    assert_eq!(bad.status.code(), Some(2));
    let unknown = trainer(&["configs/demo.yaml", "--dry-run", "--no_such_flag", "1"]);
    assert_eq!(unknown.status.code(), Some(2));
}

#[test]
fn help_documents_every_recipe_field() {
    let out = trainer(&["--help"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    for flag in [
        "--dry-run",
        "--checkpoint",
        "--resume-checkpoint",
        "--eval-datasets-model",
        "--learning_rate",
        "--model_name_or_path",
        "--n_samples",
    ] {
        if flag == "--n_samples" {
            assert!(!stdout.contains(flag), "n_samples is per dataset entry only");
        } else {
            assert!(stdout.contains(flag), "{flag} missing from --help");
        }
    }
    for field in provence_config::cli_fields() {
        assert!(
            stdout.contains(&format!("--{} ", field.name)) || stdout.contains(&format!("--{} [", field.name)),
            "--{} missing",
            field.name
        );
    }
}

#[test]
fn resume_flag_is_resolved_in_dry_run() {
    let tmp = tempfile::tempdir().unwrap();
    let ckpt = tmp.path().join("checkpoint-0012");
    std::fs::create_dir_all(&ckpt).unwrap();
    std::fs::write(ckpt.join("trainer_state.json"), "{}").unwrap();
    std::fs::write(ckpt.join("model.safetensors"), "").unwrap();
    let out = trainer(&[
        "configs/demo.yaml",
        "--dry-run",
        "--checkpoint",
        tmp.path().to_str().unwrap(),
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("[checkpoint] resume requested: "), "{stdout}");
    assert!(stdout.contains("checkpoint-0012  (step 12)"), "{stdout}");
    let run_dir = tmp.path().canonicalize().unwrap();
    assert!(
        stdout.contains(&format!("Run directory: {}", run_dir.display())),
        "{stdout}"
    );
}

#[test]
fn eval_only_mode_without_an_eval_block_does_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let recipe = tmp.path().join("no_eval.yaml");
    std::fs::write(&recipe, "training_args:\n  bf16: false\n").unwrap();
    let out = trainer(&[
        recipe.to_str().unwrap(),
        "--eval-datasets-model",
        tmp.path().to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("No eval_datasets configuration found; nothing to evaluate.")
    );
    // With a block but no model there, the error names the directory and exits 2.
    let out = trainer(&[
        "configs/demo.yaml",
        "--eval-datasets-model",
        tmp.path().join("missing").to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("missing"));
}

/// Negative numbers are values, not flags: `--max_steps -1` is the documented "use epochs".
#[test]
fn negative_numbers_are_flag_values() {
    let out = trainer(&["configs/demo.yaml", "--dry-run", "--max_steps", "-1", "--seed", "7"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let line = stdout
        .lines()
        .find(|l| l.contains("max_steps") && l.contains('='))
        .unwrap_or_default();
    assert!(line.contains("= -1") && line.contains("[cli]"), "{line}");
}

/// `push_to_hub` without a token fails before anything is trained or written, naming HF_TOKEN.
#[test]
fn push_to_hub_without_a_token_fails_before_training() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("run");
    let out = Command::new(env!("CARGO_BIN_EXE_open_provence_trainer"))
        .args(["configs/demo.yaml", "--push_to_hub", "--hub_model_id", "me/demo"])
        .args(["--output_dir", run.to_str().unwrap()])
        .current_dir(provence_test_support::repo_root())
        .env("RUST_LOG", "off")
        .env("HF_HOME", tmp.path())
        .env_remove("HF_TOKEN")
        .env_remove("HUGGING_FACE_HUB_TOKEN")
        .env_remove("HF_TOKEN_PATH")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("HF_TOKEN") && err.contains("me/demo"), "{err}");
    assert!(!run.exists(), "nothing written");
}
