//! Data-parallel training across processes on localhost, through the multi-machine path
//! (`--nnodes 2 --node-rank R --master-addr 127.0.0.1:PORT`): two processes with accumulation 1
//! match one process with accumulation 2 (dropout included: each micro-batch draws from its own
//! stream); a SIGKILLed worker stops the other with a clear error well within the timeout; and a
//! two-process run killed and resumed ends bit-identical to an uninterrupted one.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::kill_resume::{records, trainer, write_recipe};

/// A port that was free a moment ago, with the next two (the nodes' data ports) also free.
fn free_port() -> u16 {
    loop {
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        if port < 65000 && (1..3).all(|i| TcpListener::bind(("0.0.0.0", port + i)).is_ok()) {
            return port;
        }
    }
}

/// Node `rank` of a two-node group on `port`, with recipe overrides `extra`.
fn node(recipe: &Path, resume: Option<&Path>, port: u16, rank: usize, extra: &[&str]) -> Command {
    let mut command = trainer(recipe, resume);
    command
        .args(["--nnodes", "2", "--node-rank", &rank.to_string()])
        .args(["--master-addr", &format!("127.0.0.1:{port}"), "--dist-timeout", "60"])
        .args(extra);
    command
}

fn pair(recipe: &Path, resume: Option<&Path>, extra: &[&str]) -> [Child; 2] {
    let port = free_port();
    [0, 1].map(|rank| node(recipe, resume, port, rank, extra).spawn().unwrap())
}

fn wait_ok(children: [Child; 2]) {
    for mut child in children {
        assert!(child.wait().unwrap().success(), "a worker failed");
    }
}

/// (name, values) of every tensor of a safetensors file.
fn tensors(path: &Path) -> Vec<(String, Vec<f32>)> {
    let bytes = std::fs::read(path).unwrap();
    let file = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let mut out: Vec<_> = file
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

/// Per logged training step: grad norm, ranking and pruning loss.
fn curve(run: &Path) -> Vec<[f64; 3]> {
    std::fs::read_to_string(run.join("log_history.jsonl"))
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str::<serde_json::Value>(line).unwrap())
        .filter(|r| r.get("grad_norm").is_some())
        .map(|r| ["grad_norm", "ranking_loss", "pruning_loss"].map(|k| r[k].as_f64().unwrap()))
        .collect()
}

#[test]
fn two_processes_match_one_process_with_twice_the_accumulation() {
    let tmp = tempfile::tempdir().unwrap();
    let steps = ["--max_steps", "20", "--save_steps", "20", "--eval_steps", "20"];
    let one = tmp.path().join("one");
    let status = trainer(&write_recipe(tmp.path(), &one), None)
        .args(steps)
        .status()
        .unwrap();
    assert!(status.success());

    let two = tmp.path().join("two");
    let recipe = write_recipe(tmp.path(), &two);
    wait_ok(pair(
        &recipe,
        None,
        &[&steps[..], &["--gradient_accumulation_steps", "1"]].concat(),
    ));

    let (a, b) = (curve(&one), curve(&two));
    assert_eq!(a.len(), 20);
    assert_eq!(a.len(), b.len());
    for (step, (x, y)) in a.iter().zip(&b).enumerate() {
        for k in 0..3 {
            assert!(
                (x[k] - y[k]).abs() <= 1e-6 * x[k].abs().max(1.0),
                "step {}: {x:?} vs {y:?}",
                step + 1
            );
        }
    }
    let weights = |run: &Path| tensors(&run.join("checkpoint-20/model.safetensors"));
    for ((name, x), (_, y)) in weights(&one).iter().zip(&weights(&two)) {
        let diff = x.iter().zip(y).map(|(p, q)| (p - q).abs()).fold(0f32, f32::max);
        assert!(diff <= 1e-6, "{name}: max |Δ| {diff}");
    }
}

#[test]
fn a_killed_worker_stops_the_other_with_a_clear_error() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("run");
    let recipe = write_recipe(tmp.path(), &run);
    let port = free_port();
    let long = ["--max_steps", "100000", "--save_steps", "1000"];
    let mut rank0 = node(&recipe, None, port, 0, &long)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut rank1 = node(&recipe, None, port, 1, &long).spawn().unwrap();
    // Let them train a few steps (rank 0 logs every step into log_history.jsonl).
    let started = Instant::now();
    while std::fs::read_to_string(run.join("log_history.jsonl")).map_or(0, |t| t.lines().count()) < 3 {
        assert!(started.elapsed() < Duration::from_secs(120), "the pair never trained");
        std::thread::sleep(Duration::from_millis(50));
    }
    rank1.kill().unwrap(); // SIGKILL
    rank1.wait().unwrap();
    let killed = Instant::now();
    let status = loop {
        if let Some(status) = rank0.try_wait().unwrap() {
            break status;
        }
        assert!(
            killed.elapsed() < Duration::from_secs(60),
            "rank 0 still runs after the timeout"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(rank0.stderr.as_mut().unwrap(), &mut stderr).unwrap();
    assert_eq!(status.code(), Some(2), "{stderr}");
    let error = stderr.lines().rfind(|l| l.starts_with("error:")).unwrap_or_default();
    assert!(
        error.contains("gradients") && error.contains("rank 0 of 2, master 127.0.0.1:"),
        "{error}"
    );
    eprintln!(
        "rank 0 stopped {:.1} s after the kill: {error}",
        killed.elapsed().as_secs_f64()
    );
}

#[test]
fn a_killed_and_resumed_pair_matches_the_uninterrupted_pair() {
    let tmp = tempfile::tempdir().unwrap();
    let steps = ["--max_steps", "8", "--save_steps", "2", "--save_total_limit", "5"];
    let straight = tmp.path().join("straight");
    wait_ok(pair(&write_recipe(tmp.path(), &straight), None, &steps));

    let killed = tmp.path().join("killed");
    let recipe = write_recipe(tmp.path(), &killed);
    let checkpoint = killed.join("checkpoint-4");
    let mut children = pair(&recipe, None, &steps);
    let started = Instant::now();
    while !checkpoint.join("trainer_state.json").exists() {
        assert!(started.elapsed() < Duration::from_secs(120), "no checkpoint-4");
        std::thread::sleep(Duration::from_millis(5));
    }
    for child in &mut children {
        child.kill().unwrap(); // SIGKILL, wherever each one is
        child.wait().unwrap();
    }
    wait_ok(pair(&recipe, Some(&checkpoint), &steps));

    let model = |run: &Path| std::fs::read(run.join("final_model/model.safetensors")).unwrap();
    assert!(
        model(&straight) == model(&killed),
        "final weights differ after kill and resume"
    );
    let log = |run: &Path| records(&std::fs::read_to_string(run.join("log_history.jsonl")).unwrap());
    assert_eq!(log(&straight), log(&killed));
}

#[test]
fn the_native_engine_is_refused_on_the_cpu_build_before_anything_is_written() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("run");
    let recipe = write_recipe(tmp.path(), &run);
    let output = trainer(&recipe, None)
        .args(["--devices", "0,1", "--dist-engine", "native"])
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("native engine needs") && stderr.contains("CUDA build"),
        "{stderr}"
    );
    assert!(!run.exists(), "the run directory was created");
}
