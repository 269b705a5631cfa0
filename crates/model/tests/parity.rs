//! Forward parity with transformers 4.57.6 (golden fixtures, f32 CPU, max abs diff ≤ 1e-4).
#![allow(clippy::unwrap_used)] // tests may unwrap

mod common;

use common::*;
use provence_model::OpenProvenceModel;

const TOL: f32 = 1e-4;

fn check_forward(name: &str) {
    let device = Default::default();
    let model = OpenProvenceModel::<Cpu>::load(&fixture(name).join("final_model"), &device).unwrap();
    let exp = read_tensors(&fixture(name).join("expected.safetensors"));
    let ids = int2::<Cpu>(&exp["input_ids"], &device);
    let mask = int2::<Cpu>(&exp["attention_mask"], &device);
    let out = model.forward(ids, mask);
    for (key, diff) in [
        (
            "ranking_logits",
            max_abs_diff(out.ranking_logits, &exp["ranking_logits"]),
        ),
        ("hidden_last", max_abs_diff(out.hidden_state, &exp["hidden_last"])),
        (
            "last_hidden_state",
            max_abs_diff(out.last_hidden_state, &exp["last_hidden_state"]),
        ),
        (
            "pruning_logits",
            max_abs_diff(out.pruning_logits, &exp["pruning_logits"]),
        ),
    ] {
        assert!(diff <= TOL, "{name}: {key} max abs diff {diff} > {TOL}");
    }
}

/// Window 4 < sequence 12, two thetas, cls pooling, 1 label, H = 24, padded rows of 12/7/9 tokens.
#[test]
fn tiny_cls_window_matches_transformers() {
    check_forward("tiny_cls_window");
}

/// Mean pooling, 2 labels, all biases, silu head activation, odd window, global every 2nd layer.
#[test]
fn tiny_mean_bias_matches_transformers() {
    check_forward("tiny_mean_bias");
}

/// All layers global with a null local theta, cls pooling, 2 labels.
#[test]
fn tiny_global_matches_transformers() {
    check_forward("tiny_global");
}
