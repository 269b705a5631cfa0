//! Runs the driver on the CPU (default build) with the tiny shape: one warm-up and one timed
//! step of training and of inference, and the smoke test (device = CPU here, so it checks the
//! plumbing: save/load, optimizer step, report format).
#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests unwrap known-good values.

use std::process::Command;

fn run(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_gpu-bench"))
        .args(args)
        .env_remove("PEAK_TFLOPS")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn tiny_train_and_infer_print_one_json_report_each() {
    for mode in ["train", "infer"] {
        let stdout = run(&[
            mode,
            "--shape",
            "tiny",
            "--pairs",
            "2",
            "--max-len",
            "48",
            "--warmup",
            "1",
            "--steps",
            "1",
            "--peak-tflops",
            "1",
        ]);
        let report: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
        assert_eq!(report["mode"], mode);
        assert_eq!(report["shape"], "tiny");
        assert!(report["step_ms"].as_f64().unwrap() > 0.0);
        assert!(report["mfu"].as_f64().unwrap() > 0.0);
        assert!(report["last_value"].as_f64().unwrap().is_finite());
        // tiny: 2 layers of H=64, I=96 plus the 50368×64 embedding matrix.
        assert!(report["params"].as_u64().unwrap() > 50368 * 64);
    }
}

#[test]
fn smoke_passes_on_the_cpu() {
    let stdout = run(&["smoke"]);
    assert!(stdout.lines().last().unwrap().contains("\"smoke\": \"ok\""), "{stdout}");
}

#[test]
fn unknown_shape_is_an_error() {
    let out = Command::new(env!("CARGO_BIN_EXE_gpu-bench"))
        .args(["train", "--shape", "huge"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown shape"));
}
