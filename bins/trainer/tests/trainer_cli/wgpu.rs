//! The trainer on Burn's wgpu backend (Mesa's lavapipe in CI), through the binary built with
//! `--features wgpu`: the demo recipe's first 5 steps give the CPU's losses, and a run killed
//! with SIGKILL and resumed on the device ends as the uninterrupted one did (to rounding: some
//! reductions on lavapipe are not bit-deterministic, see the test).
//! Without an adapter every test returns after one line saying why. CI runs them with
//! `cargo test -p open_provence_trainer --features wgpu --test trainer_cli wgpu::` (`.ci/run`).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::kill_resume::{records, trainer, write_recipe};

/// A line on stderr even from a passing test (the harness captures `eprintln!`).
fn say(line: &str) {
    let _ = writeln!(std::io::stderr(), "{line}");
}

/// Whether wgpu has an adapter; the first call names it as wgpu reports it, or says why not.
fn adapter() -> bool {
    static FOUND: OnceLock<bool> = OnceLock::new();
    *FOUND.get_or_init(|| match provence_model::wgpu::device(None) {
        Ok(device) => {
            say(&format!("wgpu adapter: {}", provence_model::wgpu::describe(&device)));
            true
        }
        Err(error) => {
            say(&format!("wgpu trainer tests skipped: {error}"));
            false
        }
    })
}

/// `configs/demo.yaml` for 5 steps into `output` on `device`, every step logged, with dropout
/// before the pruning head (the demo has none) so the masks are compared too.
fn demo_run(output: &Path, device: &str) {
    let started = Instant::now();
    let run = Command::new(env!("CARGO_BIN_EXE_open_provence_trainer"))
        .current_dir(provence_test_support::repo(""))
        .args([
            "configs/demo.yaml",
            "--device",
            device,
            "--max_steps",
            "5",
            "--logging_steps",
            "1",
        ])
        .args(["--classifier_dropout", "0.1", "--report_to", "none", "--output_dir"])
        .arg(output)
        .env("RUST_LOG", "error")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "the demo run on {device} failed: {stderr}");
    say(&format!(
        "wgpu trainer: 5 demo steps on {device} in {:.1} s",
        started.elapsed().as_secs_f64()
    ));
}

/// The training records of a run's `log_history.jsonl`: `(step, loss, grad_norm)`.
fn losses(run: &Path) -> Vec<(u64, f64, f64)> {
    let text = std::fs::read_to_string(run.join("log_history.jsonl")).unwrap();
    records(&text)
        .into_iter()
        .filter(|r| r.get("loss").is_some())
        .map(|r| {
            (
                r["step"].as_u64().unwrap(),
                r["loss"].as_f64().unwrap(),
                r["grad_norm"].as_f64().unwrap(),
            )
        })
        .collect()
}

#[test]
fn wgpu_demo_losses_match_the_cpu() {
    if !adapter() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let (cpu, gpu) = (tmp.path().join("cpu"), tmp.path().join("wgpu"));
    demo_run(&cpu, "cpu");
    demo_run(&gpu, "wgpu");
    let (want, got) = (losses(&cpu), losses(&gpu));
    assert_eq!(want.len(), 5, "steps logged on the CPU: {want:?}");
    assert_eq!(got.len(), want.len(), "steps logged on wgpu: {got:?}");
    let mut largest = (0f64, 0f64);
    for ((step, loss, norm), (gpu_step, gpu_loss, gpu_norm)) in want.iter().zip(&got) {
        assert_eq!(step, gpu_step);
        // Losses are logged rounded to 4 decimals (upstream's format): one rounding step apart
        // at most; the gradient norm is logged unrounded.
        let (loss_diff, norm_diff) = ((gpu_loss - loss).abs(), (gpu_norm - norm).abs() / norm);
        assert!(
            loss_diff <= 1.0001e-4,
            "step {step}: loss {gpu_loss} on wgpu, {loss} on the CPU"
        );
        assert!(
            norm_diff <= 1e-4,
            "step {step}: grad_norm {gpu_norm} on wgpu, {norm} on the CPU"
        );
        largest = (largest.0.max(loss_diff), largest.1.max(norm_diff));
    }
    say(&format!(
        "wgpu trainer: demo losses {:?} (CPU {:?}); max |loss diff| {:.1e} (4-decimal logs), max grad_norm rel diff {:.1e}",
        got.iter().map(|r| r.1).collect::<Vec<_>>(),
        want.iter().map(|r| r.1).collect::<Vec<_>>(),
        largest.0,
        largest.1
    ));
}

/// Whether `run` holds a complete checkpoint at or after `step`.
fn has_checkpoint_from(run: &Path, step: usize) -> bool {
    (step..=6).any(|n| run.join(format!("checkpoint-{n}/trainer_state.json")).exists())
}

/// A wgpu run of the kill-and-resume recipe into `output`, resumed from `resume` when given.
fn wgpu_run(recipe: &Path, resume: Option<&Path>) -> Command {
    let mut command = trainer(recipe, resume);
    command.args(["--device", "wgpu"]);
    command
}

#[test]
fn wgpu_kill_and_resume_ends_as_the_uninterrupted_run() {
    if !adapter() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let straight = tmp.path().join("straight");
    let started = Instant::now();
    assert!(
        wgpu_run(&write_recipe(tmp.path(), &straight), None)
            .status()
            .unwrap()
            .success()
    );
    let straight_s = started.elapsed().as_secs_f64();

    // Killed once it has saved checkpoint-2 (of 6), then resumed from its run directory.
    let killed: PathBuf = tmp.path().join("killed");
    let recipe = write_recipe(tmp.path(), &killed);
    let mut child = wgpu_run(&recipe, None).spawn().unwrap();
    let started = Instant::now();
    while !has_checkpoint_from(&killed, 2) {
        assert!(
            child.try_wait().unwrap().is_none(),
            "the run ended before it was killed"
        );
        assert!(
            started.elapsed() < Duration::from_secs(600),
            "no checkpoint-2 after 10 min"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let steps_done = (2..=6)
        .filter(|n| killed.join(format!("checkpoint-{n}/trainer_state.json")).exists())
        .max()
        .unwrap();
    assert!(steps_done < 6, "the run finished before the kill");
    assert!(wgpu_run(&recipe, Some(&killed)).status().unwrap().success());

    // Not bit-identical on lavapipe: reductions over large tensors (the eval loss, the global
    // gradient norm) differed in their last bits between two fresh processes (8e-8 relative at
    // step 1, before any kill), so every logged number must agree within 1e-6 relative (the
    // 4-decimal `loss` within one rounding step) and the rest exactly.
    let log = |run: &Path| records(&std::fs::read_to_string(run.join("log_history.jsonl")).unwrap());
    let (want, got) = (log(&straight), log(&killed));
    assert_eq!(want.len(), got.len(), "log records after the kill at step {steps_done}");
    let mut largest = 0f64;
    for (a, b) in want.iter().zip(&got) {
        let (a, b) = (a.as_object().unwrap(), b.as_object().unwrap());
        assert_eq!(a.keys().collect::<Vec<_>>(), b.keys().collect::<Vec<_>>(), "log keys");
        for (key, x) in a {
            let (Some(x), Some(y)) = (x.as_f64(), b[key].as_f64()) else {
                assert_eq!(x, &b[key], "{key} after the kill at step {steps_done}");
                continue;
            };
            let diff = (x - y).abs() / x.abs().max(f64::MIN_POSITIVE);
            let rounded = key == "loss" && (x - y).abs() <= 1.0001e-4;
            assert!(
                diff <= 1e-6 || rounded,
                "{key}: {y} after the kill at step {steps_done}, {x} without"
            );
            largest = largest.max(if rounded { 0.0 } else { diff });
        }
    }
    let weights = |run: &Path| std::fs::read(run.join("final_model/model.safetensors")).unwrap();
    let (a, b) = (weights(&straight), weights(&killed));
    let weight_diff = max_rel_diff(&a, &b);
    assert!(
        weight_diff <= 1e-5,
        "final weights differ by {weight_diff:e} after the kill"
    );
    say(&format!(
        "wgpu trainer: killed after checkpoint-{steps_done} of 6, resumed: logged values within \
         {largest:.1e} of the uninterrupted run's, final weights {} ({straight_s:.1} s on the device)",
        if a == b {
            "bit-identical".to_owned()
        } else {
            format!("within {weight_diff:.1e}")
        }
    ));
}

/// The largest relative difference (per tensor, to its largest value) between two safetensors
/// files with the same f32 tensors.
fn max_rel_diff(a: &[u8], b: &[u8]) -> f64 {
    let (a, b) = (
        safetensors::SafeTensors::deserialize(a).unwrap(),
        safetensors::SafeTensors::deserialize(b).unwrap(),
    );
    let floats = |bytes: &[u8]| -> Vec<f32> {
        bytes
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect()
    };
    let mut largest = 0f64;
    for (name, x) in a.tensors() {
        let (x, y) = (floats(x.data()), floats(b.tensor(&name).unwrap().data()));
        let scale = x.iter().fold(0f32, |m, v| m.max(v.abs())).max(f32::MIN_POSITIVE);
        let diff = x.iter().zip(&y).fold(0f32, |m, (p, q)| m.max((p - q).abs()));
        largest = largest.max(f64::from(diff / scale));
    }
    largest
}
