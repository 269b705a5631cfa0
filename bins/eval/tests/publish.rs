//! `open_provence_eval push` and `export`: a model pushed to the loopback fake Hub loads back by
//! its repo id through HF_ENDPOINT and prunes exactly as the local directory does; no token →
//! exit 2 naming HF_TOKEN; `export --ranking-only` against upstream's `export_ranking_model`
//! golden (tests/fixtures/mldr/ranking_export, made by scripts/fixtures/ranking_export_fixture.py).
#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests unwrap known-good values.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use provence_test_support::{fake_hub, fixture};
use serde_json::Value;
use sha2::Digest;

fn tiny_model() -> PathBuf {
    fixture("process/model")
}

fn eval(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_open_provence_eval"));
    command.args(args).env("RUST_LOG", "off");
    for var in [
        "HF_TOKEN",
        "HUGGING_FACE_HUB_TOKEN",
        "HF_TOKEN_PATH",
        "HF_HUB_OFFLINE",
        "HF_HUB_CACHE",
    ] {
        command.env_remove(var);
    }
    command.envs(env.iter().copied()).output().unwrap()
}

fn ok(out: &Output) -> String {
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout.clone()).unwrap()
}

#[test]
fn pushed_model_loads_back_by_repo_id_through_hf_endpoint() {
    let (url, hub) = fake_hub::start();
    let home = tempfile::tempdir().unwrap();
    let home_str = home.path().to_str().unwrap();
    let model = tiny_model();
    let pushed = eval(
        &[
            "push",
            "--model",
            model.to_str().unwrap(),
            "--repo-id",
            "me/tiny-pruner",
        ],
        &[
            ("HF_ENDPOINT", &url),
            ("HF_TOKEN", fake_hub::TOKEN),
            ("HF_HOME", home_str),
        ],
    );
    assert!(ok(&pushed).contains("me/tiny-pruner"));
    {
        let hub = hub.lock().unwrap();
        assert_eq!(hub.commits.len(), 1);
        assert_eq!(hub.commits[0].message, "End of training");
        assert!(hub.repos["me/tiny-pruner"].contains_key("README.md"));
    }

    let question = ["--question", "What is the capital of France?"];
    let context = [
        "--context",
        "Paris is the capital of France. It rains a lot in autumn. Cats sleep.",
    ];
    let run = |model: &str, env: &[(&str, &str)]| {
        let mut args = vec!["process", "--model", model, "--json", "--threshold", "0.0"];
        args.extend(question);
        args.extend(context);
        let mut out: Value = serde_json::from_str(&ok(&eval(&args, env))).unwrap();
        out.as_object_mut().unwrap().remove("timing"); // wall-clock seconds
        out
    };
    let from_hub = run("me/tiny-pruner", &[("HF_ENDPOINT", &url), ("HF_HOME", home_str)]);
    let local = run(model.to_str().unwrap(), &[("HF_HOME", home_str)]);
    assert_eq!(from_hub, local);
    let snapshot = home
        .path()
        .join("hub/models--me--tiny-pruner/snapshots")
        .join(fake_hub::SHA);
    assert!(
        snapshot.join("model.safetensors").is_file(),
        "downloaded into HF_HOME's cache"
    );
}

#[test]
fn push_without_a_token_exits_2_naming_hf_token() {
    let (url, hub) = fake_hub::start();
    let home = tempfile::tempdir().unwrap();
    let model = tiny_model();
    let out = eval(
        &["push", "--model", model.to_str().unwrap(), "--repo-id", "me/x"],
        &[("HF_ENDPOINT", &url), ("HF_HOME", home.path().to_str().unwrap())],
    );
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr).trim().to_owned();
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("HF_TOKEN") && err.contains("me/x"), "{err}");
    assert!(hub.lock().unwrap().log.is_empty());
}

fn export_ranking_only(model: &Path, out: &Path) -> Output {
    let (model, out) = (model.to_str().unwrap(), out.to_str().unwrap());
    eval(&["export", "--model", model, "--output", out, "--ranking-only"], &[])
}

fn sha256(path: &Path) -> String {
    sha2::Sha256::digest(std::fs::read(path).unwrap())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The exported weights against upstream's header (names, dtypes, shapes, metadata), each
/// tensor's bytes equal to the source tensor upstream's equals.
fn check_weights(exported_path: &Path, source_path: &Path, manifest: &Value) {
    let bytes = std::fs::read(exported_path).unwrap();
    let (_, metadata) = safetensors::SafeTensors::read_metadata(&bytes).unwrap();
    assert_eq!(
        metadata
            .metadata()
            .as_ref()
            .and_then(|m| m.get("format"))
            .map(String::as_str),
        Some("pt")
    );
    let exported = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let source_bytes = std::fs::read(source_path).unwrap();
    let source = safetensors::SafeTensors::deserialize(&source_bytes).unwrap();
    let tensors = manifest["tensors"].as_array().unwrap();
    assert_eq!(exported.len(), tensors.len());
    for t in tensors {
        let name = t["name"].as_str().unwrap();
        let view = exported.tensor(name).unwrap();
        let shape: Vec<usize> = t["shape"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d.as_u64().unwrap() as usize)
            .collect();
        assert_eq!(view.shape(), shape.as_slice(), "{name}");
        assert_eq!(format!("{:?}", view.dtype()), t["dtype"].as_str().unwrap());
        let from = source.tensor(t["equals_source"].as_str().unwrap()).unwrap();
        assert_eq!(view.data(), from.data(), "{name}");
    }
}

#[test]
fn ranking_only_export_matches_upstreams_export_ranking_model() {
    let golden = fixture("mldr/ranking_export");
    let manifest: Value = serde_json::from_str(&std::fs::read_to_string(golden.join("files.json")).unwrap()).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("ranker");
    let model = tiny_model();
    ok(&export_ranking_only(&model, &out));

    let mut names: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    let expected: Vec<&str> = manifest["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["file"].as_str().unwrap())
        .collect();
    assert_eq!(names, expected);
    for name in ["config.json", "tokenizer_config.json", "special_tokens_map.json"] {
        assert_eq!(
            std::fs::read_to_string(out.join(name)).unwrap(),
            std::fs::read_to_string(golden.join(name)).unwrap(),
            "{name}"
        );
    }
    let json = |p: PathBuf| -> Value { serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap() };
    assert_eq!(json(out.join("tokenizer.json")), json(model.join("tokenizer.json")));

    check_weights(
        &out.join("model.safetensors"),
        &model.join("model.safetensors"),
        &manifest,
    );
    let weights = &manifest["files"].as_array().unwrap()[1];
    assert_eq!(weights["file"], "model.safetensors");
    assert_eq!(
        sha256(&out.join("model.safetensors")),
        weights["sha256"].as_str().unwrap()
    );

    // An existing --output is refused, untouched.
    let again = export_ranking_only(&model, &out);
    assert_eq!(again.status.code(), Some(2));
    assert_eq!(
        sha256(&out.join("model.safetensors")),
        weights["sha256"].as_str().unwrap()
    );
}
