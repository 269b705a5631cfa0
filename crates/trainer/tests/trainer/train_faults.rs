//! Faults during training: a loss that stops being finite ends the run with an error naming the
//! step and the rows, and nothing is saved after it (no checkpoint or final_model/ with
//! non-finite weights).

use provence_config::prepare_run;
use provence_test_support::{fixture, repo};
use provence_trainer::{Precision, TrainBackend, TrainError, run_training};

#[test]
fn a_non_finite_loss_stops_the_run_without_saving_it() {
    let tmp = tempfile::tempdir().unwrap();
    let output = tmp.path().join("run");
    let recipe = tmp.path().join("recipe.yaml");
    let text = format!(
        r#"model_args:
  model_name_or_path: "{model}"
  from_scratch: true
  max_length: 64
data_args:
  datasets:
    - dataset_name: "{dataset}"
      teacher_column: "teacher_score"
training_args:
  output_dir: "{output}"
  per_device_train_batch_size: 1
  gradient_accumulation_steps: 1
  max_steps: 3
  save_steps: 1
  eval_steps: 1
  dataloader_num_workers: 0
  report_to: []
"#,
        model = repo("data/demo/model").display(),
        dataset = fixture("datasets/bad/huge_teacher").display(),
        output = output.display()
    );
    std::fs::write(&recipe, text).unwrap();
    let setup = prepare_run(&recipe, &[], None, "20260101_000000").unwrap();
    let _turn = provence_test_support::serial();
    let err = run_training::<TrainBackend>(&setup, &Default::default(), Precision::F32).unwrap_err();
    let TrainError::NonFinite {
        step, what, ref rows, ..
    } = err
    else {
        panic!("expected a non-finite loss, got {err}")
    };
    assert_eq!(what, "loss");
    // Row 1 of the fixture holds the teacher score 1e300.
    assert_eq!(rows, "g:train:1", "{err}");
    assert!(err.to_string().contains(&format!("optimizer step {step}")), "{err}");
    assert!(!output.join("final_model").exists());
    for entry in std::fs::read_dir(&output).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        if let Some(n) = name.strip_prefix("checkpoint-") {
            let saved: usize = n.parse().unwrap();
            assert!(
                saved < step,
                "checkpoint-{saved} written at or after the failing step {step}"
            );
        }
    }
}
