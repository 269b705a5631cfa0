//! Data-parallel training with in-process CPU workers: two workers with accumulation 1 take the
//! same optimizer steps as one worker with accumulation 2 (the same micro-batches, dealt
//! round-robin), so their loss curves and final weights agree; a checkpoint records the data
//! position and is refused by a run that would read the data at another pace.

use std::path::{Path, PathBuf};
use std::time::Duration;

use provence_config::prepare_run;
use provence_test_support::demo;
use provence_test_support::recipe::DemoRecipe;
use provence_trainer::{
    Engine, GroupError, GroupSpec, LogRecord, LogValue, Precision, TrainBackend, TrainError, run_training,
    train_data_parallel,
};

fn recipe(dir: &Path, output: &Path, accumulation: usize, max_steps: usize) -> PathBuf {
    let training_args = format!(
        r#"  learning_rate: 5.0e-4
  per_device_train_batch_size: 3
  gradient_accumulation_steps: {accumulation}
  per_device_eval_batch_size: 4
  max_steps: {max_steps}
  save_steps: 10
  eval_steps: 10
  bf16: false
  dataloader_num_workers: 1
  report_to: ["none"]
"#
    );
    DemoRecipe {
        model: &demo("model"),
        output,
        // Workers of one process share the CPU backend's RNG: only without dropout are their draws
        // independent of thread timing (separate processes match with dropout too, see the CLI test).
        model_args: "  classifier_dropout: 0.0\n  max_length: 96\n",
        data_args: "  max_train_samples: 60\n  max_eval_samples: 8\n",
        training_args: &training_args,
    }
    .write(dir.join(format!("{}.yaml", output.file_name().unwrap().to_str().unwrap())))
}

fn weights(dir: &Path) -> Vec<(String, Vec<f32>)> {
    let bytes = std::fs::read(dir.join("model.safetensors")).unwrap();
    let tensors = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let mut out: Vec<_> = tensors
        .tensors()
        .into_iter()
        .map(|(name, view)| {
            let values = view
                .data()
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
                .collect();
            (name, values)
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// Per logged step: step, grad norm, ranking and pruning loss (unrounded values).
fn curve(history: &[LogRecord]) -> Vec<[f64; 4]> {
    let get = |r: &LogRecord, key: &str| match r.get(key) {
        Some(LogValue::Float(v)) => v,
        Some(LogValue::Int(v)) => v as f64,
        _ => f64::NAN,
    };
    history
        .iter()
        .filter(|r| r.get("grad_norm").is_some())
        .map(|r| {
            [
                get(r, "step"),
                get(r, "grad_norm"),
                get(r, "ranking_loss"),
                get(r, "pruning_loss"),
            ]
        })
        .collect()
}

#[test]
fn two_workers_match_one_worker_with_twice_the_accumulation() {
    let _turn = provence_test_support::serial();
    let tmp = tempfile::tempdir().unwrap();
    let device = Default::default();
    let steps = 24;

    let one = tmp.path().join("one");
    let setup = prepare_run(&recipe(tmp.path(), &one, 2, steps), &[], None, "20260101_000000").unwrap();
    let single = run_training::<TrainBackend>(&setup, &device, Precision::F32).unwrap();

    let two = tmp.path().join("two");
    let setup = prepare_run(&recipe(tmp.path(), &two, 1, steps), &[], None, "20260101_000000").unwrap();
    let spec = GroupSpec {
        timeout: Duration::from_secs(120),
        ..GroupSpec::default()
    };
    let pair = train_data_parallel::<TrainBackend>(&setup, &[device, device], &spec, Precision::F32)
        .unwrap()
        .expect("rank 0 returns the outcome");
    assert_eq!(pair.global_step, steps as u64);

    let (a, b) = (curve(&single.log_history), curve(&pair.log_history));
    assert!(a.len() >= 20, "only {} logged steps", a.len());
    assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(&b) {
        assert_eq!(x[0], y[0]);
        for k in 1..4 {
            assert!(
                (x[k] - y[k]).abs() <= 1e-6 * x[k].abs().max(1.0),
                "step {}: {x:?} vs {y:?}",
                x[0]
            );
        }
    }
    // The last step's weights (final_model/ holds the best evaluated checkpoint's).
    let last = format!("checkpoint-{steps}");
    let (wa, wb) = (weights(&one.join(&last)), weights(&two.join(&last)));
    assert_eq!(wa.len(), wb.len());
    let mut worst = 0f32;
    for ((name, x), (_, y)) in wa.iter().zip(&wb) {
        let diff = x.iter().zip(y).map(|(p, q)| (p - q).abs()).fold(0f32, f32::max);
        assert!(diff <= 1e-6, "{name}: max |Δ| {diff}");
        worst = worst.max(diff);
    }
    eprintln!("max |Δ| of the weights after {steps} steps: {worst:e}");
    // Not trivially equal either: training moved the weights.
    assert!(
        weights(&two.join("checkpoint-10")) != wb,
        "the run did not train after step 10 (worst Δ {worst})"
    );
}

#[test]
fn a_checkpoint_is_resumed_only_at_the_same_data_pace() {
    let _turn = provence_test_support::serial();
    let tmp = tempfile::tempdir().unwrap();
    let device = Default::default();
    let run = tmp.path().join("run");
    let setup = prepare_run(&recipe(tmp.path(), &run, 1, 10), &[], None, "20260101_000000").unwrap();
    train_data_parallel::<TrainBackend>(&setup, &[device, device], &GroupSpec::default(), Precision::F32).unwrap();
    let checkpoint = run.join("checkpoint-10");

    // One worker with accumulation 1 would read 1 micro-batch per step instead of 2: refused.
    let setup = prepare_run(
        &recipe(tmp.path(), &run, 1, 12),
        &[],
        Some(checkpoint.to_str().unwrap()),
        "20260101_000001",
    )
    .unwrap();
    let err = run_training::<TrainBackend>(&setup, &device, Precision::F32).unwrap_err();
    assert!(matches!(err, TrainError::Resume { .. }), "{err}");
    assert!(
        err.to_string().contains("consumed 2 micro-batches per optimizer step"),
        "{err}"
    );

    // One worker with accumulation 2 reads the same micro-batches per step: resumes.
    let setup = prepare_run(
        &recipe(tmp.path(), &run, 2, 12),
        &[],
        Some(checkpoint.to_str().unwrap()),
        "20260101_000002",
    )
    .unwrap();
    let outcome = run_training::<TrainBackend>(&setup, &device, Precision::F32).unwrap();
    assert_eq!(outcome.global_step, 12);
}

#[test]
fn inconsistent_group_options_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let setup = prepare_run(
        &recipe(tmp.path(), &tmp.path().join("run"), 1, 2),
        &[],
        None,
        "20260101_000000",
    )
    .unwrap();
    let device = Default::default();
    let cases = [
        (
            GroupSpec {
                nnodes: 2,
                ..GroupSpec::default()
            },
            "needs --master-addr",
        ),
        (
            GroupSpec {
                nnodes: 2,
                node_rank: 2,
                master_addr: Some("127.0.0.1:1".into()),
                ..GroupSpec::default()
            },
            "--node-rank 2 is outside 0..2",
        ),
        (
            GroupSpec {
                nnodes: 2,
                master_addr: Some("localhost".into()),
                ..GroupSpec::default()
            },
            "expected HOST:PORT",
        ),
    ];
    let mut cases = cases.to_vec();
    if <provence_trainer::EvalBackend as provence_trainer::GroupBackend>::native_engine().is_none() {
        let native = GroupSpec {
            engine: Engine::Native,
            ..GroupSpec::default()
        };
        cases.push((native, "the native engine needs a backend that has one"));
    }
    for (spec, message) in cases {
        let err = train_data_parallel::<TrainBackend>(&setup, &[device], &spec, Precision::F32).unwrap_err();
        assert!(matches!(err, TrainError::Group(GroupError::Setup(_))), "{err}");
        assert!(err.to_string().contains(message), "{err}");
    }
}
