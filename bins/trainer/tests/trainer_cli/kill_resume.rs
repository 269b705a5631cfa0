//! Kill the trainer with SIGKILL at several points and resume each time from the run directory:
//! the final weights must equal those of an uninterrupted run bit for bit (CPU).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

pub(crate) fn write_recipe(dir: &Path, output: &Path) -> PathBuf {
    let demo = provence_test_support::repo("data/demo");
    let text = format!(
        "model_args:\n  model_name_or_path: \"{d}/model\"\n  from_scratch: true\n  classifier_dropout: 0.1\n  max_length: 96\n\
         data_args:\n  datasets:\n    - dataset_name: \"{d}/dataset\"\n      subset: \"ja\"\n      teacher_column: \"teacher_scores.demo-teacher\"\n  max_train_samples: 48\n  max_eval_samples: 8\n\
         training_args:\n  output_dir: \"{o}\"\n  learning_rate: 1.0e-3\n  per_device_train_batch_size: 4\n  gradient_accumulation_steps: 2\n  max_steps: 6\n  save_steps: 1\n  eval_steps: 1\n  save_total_limit: 2\n  bf16: false\n  dataloader_num_workers: 1\n  report_to: [\"none\"]\n",
        d = demo.display(),
        o = output.display()
    );
    let path = dir.join(format!("{}.yaml", output.file_name().unwrap().to_str().unwrap()));
    std::fs::write(&path, text).unwrap();
    path
}

pub(crate) fn trainer(recipe: &Path, resume: Option<&Path>) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_open_provence_trainer"));
    command
        .arg(recipe)
        .env("RUST_LOG", "error")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    if let Some(dir) = resume {
        command.arg("--checkpoint").arg(dir);
    }
    command
}

fn has_checkpoint(run: &Path) -> bool {
    std::fs::read_dir(run).is_ok_and(|entries| {
        entries.flatten().any(|e| {
            let name = e.file_name();
            let name = name.to_str().unwrap_or("");
            name.starts_with("checkpoint-") && e.path().join("trainer_state.json").exists()
        })
    })
}

#[test]
fn sigkill_and_resume_reproduces_the_uninterrupted_run() {
    let tmp = tempfile::tempdir().unwrap();
    let straight = tmp.path().join("straight");
    let status = trainer(&write_recipe(tmp.path(), &straight), None).status().unwrap();
    assert!(status.success());

    let killed = tmp.path().join("killed");
    let recipe = write_recipe(tmp.path(), &killed);
    // Kill after a growing delay each round (deterministic schedule); resume from the run dir
    // once it holds a checkpoint, otherwise start over in it with --overwrite_output_dir (a
    // plain fresh run refuses a directory an earlier run wrote into).
    let started = Instant::now();
    let mut kills = 0;
    let mut delay_ms = 120u64;
    loop {
        assert!(
            started.elapsed() < Duration::from_secs(300),
            "no progress after {kills} kills"
        );
        let resume = has_checkpoint(&killed).then_some(killed.as_path());
        let mut command = trainer(&recipe, resume);
        if resume.is_none() {
            command.arg("--overwrite_output_dir");
        }
        let mut child = command.spawn().unwrap();
        let deadline = Instant::now() + Duration::from_millis(delay_ms);
        let finished = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break Some(status);
            }
            if Instant::now() >= deadline {
                break None;
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        match finished {
            Some(status) => {
                assert!(status.success(), "the resumed run failed");
                break;
            }
            None => {
                child.kill().unwrap(); // SIGKILL
                child.wait().unwrap();
                kills += 1;
                delay_ms = delay_ms * 3 / 2;
            }
        }
    }
    assert!(
        kills >= 2,
        "the run was only killed {kills} times; the test did not exercise resuming"
    );
    let a = std::fs::read(straight.join("final_model/model.safetensors")).unwrap();
    let b = std::fs::read(killed.join("final_model/model.safetensors")).unwrap();
    assert!(a == b, "weights after {kills} kills differ from the uninterrupted run");
    // The logs too, but for wall-clock measurements: no step logged twice, no value re-rounded.
    assert_eq!(
        records(&std::fs::read_to_string(straight.join("log_history.jsonl")).unwrap()),
        records(&std::fs::read_to_string(killed.join("log_history.jsonl")).unwrap()),
        "log_history.jsonl after {kills} kills"
    );
    let state = |run: &Path| {
        let text = std::fs::read_to_string(run.join("checkpoint-6/trainer_state.json")).unwrap();
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        let lines: Vec<String> = value["log_history"]
            .as_array()
            .unwrap()
            .iter()
            .map(ToString::to_string)
            .collect();
        records(&lines.join("\n"))
    };
    assert_eq!(
        state(&straight),
        state(&killed),
        "trainer_state.json log history after {kills} kills"
    );
}

/// JSON records, one per line, without their wall-clock fields.
pub(crate) fn records(text: &str) -> Vec<serde_json::Value> {
    const TIMINGS: [&str; 6] = [
        "eval_runtime",
        "eval_samples_per_second",
        "eval_steps_per_second",
        "train_runtime",
        "train_samples_per_second",
        "train_steps_per_second",
    ];
    text.lines()
        .map(|line| {
            let mut record: serde_json::Value = serde_json::from_str(line).unwrap();
            if let Some(map) = record.as_object_mut() {
                map.retain(|key, _| !TIMINGS.contains(&key.as_str()));
            }
            record
        })
        .collect()
}

/// One trainer per run directory: a second one on the same directory is refused while the first
/// runs, and a fresh run into a directory an earlier run wrote into is refused too (both exit 2
/// and name the directory); resuming it is what works.
#[test]
fn a_run_directory_belongs_to_one_trainer() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("run");
    let recipe = write_recipe(tmp.path(), &run);
    let mut first = trainer(&recipe, None).spawn().unwrap();
    // Wait until the first trainer holds the lock and has started writing.
    let started = Instant::now();
    while !run.exists() || std::fs::read_dir(&run).unwrap().count() < 2 {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "the first trainer never started"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let second = trainer(&recipe, None).stderr(Stdio::piped()).output().unwrap();
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert_eq!(second.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("is in use by another trainer"), "{stderr}");
    first.kill().unwrap();
    first.wait().unwrap();

    let fresh = trainer(&recipe, None).stderr(Stdio::piped()).output().unwrap();
    let stderr = String::from_utf8_lossy(&fresh.stderr);
    assert_eq!(fresh.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("--overwrite_output_dir") && stderr.contains("another --output_dir"),
        "{stderr}"
    );
}
