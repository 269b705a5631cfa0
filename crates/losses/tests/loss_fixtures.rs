//! The losses against PyTorch autograd (tests/fixtures/losses/loss_cases.json, made by
//! scripts/fixtures/loss_fixtures.py): values and gradients w.r.t. both logit tensors.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Test helpers unwrap fixture I/O.

use burn::backend::{Autodiff, Flex};
use burn::tensor::{Int, Tensor, TensorData};
use provence_losses::{LossError, LossWeights, pair_ranking_targets, provence_loss, pruning_loss, ranking_loss};
use provence_test_support::fixture;
use provence_test_support::json::{self, floats, i64s, usizes};
use serde_json::Value;

type B = Autodiff<Flex>;

const TOL: f32 = 1e-6;

fn cases() -> Vec<Value> {
    let doc = json::load(&fixture("losses/loss_cases.json"));
    doc["cases"].as_array().unwrap().clone()
}

fn assert_close(name: &str, got: &[f32], want: &[f32]) {
    assert_eq!(got.len(), want.len(), "{name}: length");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!((g - w).abs() <= TOL, "{name}[{i}]: got {g}, want {w}");
    }
}

fn tensor<const D: usize>(v: &Value) -> Tensor<B, D> {
    let shape = usizes(&v["shape"]);
    Tensor::from_data(TensorData::new(floats(&v["values"]), shape), &Default::default())
}

#[test]
fn losses_and_gradients_match_pytorch() {
    let weights = LossWeights::default();
    for case in cases() {
        let name = case["name"].as_str().unwrap();
        let matrix = &case["ranking_targets_matrix"];
        let cols = usizes(&matrix["shape"])[1];
        let targets = pair_ranking_targets(
            &floats(&matrix["values"]),
            cols,
            &usizes(&case["batch_indices"]),
            &usizes(&case["doc_indices"]),
        )
        .unwrap();
        assert_eq!(targets, floats(&case["pair_targets"]), "{name}: gathered targets");

        let ranking_logits = tensor::<2>(&case["ranking_logits"]).require_grad();
        let pruning_logits = tensor::<3>(&case["pruning_logits"]).require_grad();
        let [pairs, len, _] = pruning_logits.dims();
        let labels = i64s(&case["pruning_labels"]);
        let labels = Tensor::<B, 2, Int>::from_data(TensorData::new(labels, [pairs, len]), &Default::default());
        let targets = Tensor::<B, 1>::from_data(TensorData::new(targets, [pairs]), &Default::default());

        let out = provence_loss(ranking_logits.clone(), pruning_logits.clone(), targets, labels, weights).unwrap();
        let value = |t: &Tensor<B, 1>| t.clone().into_data().to_vec::<f32>().unwrap();
        assert_close(
            &format!("{name} ranking_loss"),
            &value(&out.ranking_loss),
            &[case["ranking_loss"].as_f64().unwrap() as f32],
        );
        assert_close(
            &format!("{name} pruning_loss"),
            &value(&out.pruning_loss),
            &[case["pruning_loss"].as_f64().unwrap() as f32],
        );
        assert_close(
            &format!("{name} loss"),
            &value(&out.loss),
            &[case["loss"].as_f64().unwrap() as f32],
        );

        let grads = out.loss.backward();
        let grad_rank = ranking_logits
            .grad(&grads)
            .unwrap()
            .into_data()
            .to_vec::<f32>()
            .unwrap();
        let grad_prune = pruning_logits
            .grad(&grads)
            .unwrap()
            .into_data()
            .to_vec::<f32>()
            .unwrap();
        assert_close(
            &format!("{name} d/d ranking_logits"),
            &grad_rank,
            &floats(&case["grad_ranking_logits"]),
        );
        assert_close(
            &format!("{name} d/d pruning_logits"),
            &grad_prune,
            &floats(&case["grad_pruning_logits"]),
        );
        if name == "no_valid_tokens" {
            assert_eq!(value(&out.pruning_loss), vec![0.0], "no valid token: exactly zero");
            assert!(grad_prune.iter().all(|g| *g == 0.0), "no valid token: zero gradient");
        }
    }
}

#[test]
fn minus_100_target_counts_as_zero() {
    let device = Default::default();
    let logits = Tensor::<Flex, 2>::from_data([[1.0], [2.0]], &device);
    let with_ignored = Tensor::<Flex, 1>::from_data([-100.0, 1.0], &device);
    let with_zero = Tensor::<Flex, 1>::from_data([0.0, 1.0], &device);
    let a = ranking_loss(logits.clone(), with_ignored).unwrap().into_scalar();
    let b = ranking_loss(logits, with_zero).unwrap().into_scalar();
    assert_eq!(a, b);
    assert_eq!(a, 1.0); // ((1-0)² + (2-1)²) / 2
}

#[test]
fn gather_rules_and_shape_errors() {
    // 2 rows × 2 cols; (0,1) holds -100, (1,5) is out of range.
    let matrix = [0.5, -100.0, 0.25, 0.75];
    let got = pair_ranking_targets(&matrix, 2, &[0, 0, 1, 1, 2], &[0, 1, 1, 5, 0]).unwrap();
    assert_eq!(got, vec![0.5, 0.0, 0.75, 0.0, 0.0]);
    assert_eq!(
        pair_ranking_targets(&matrix, 3, &[0], &[0]),
        Err(LossError::TargetMatrixShape { len: 4, cols: 3 })
    );
    assert_eq!(
        pair_ranking_targets(&matrix, 2, &[0, 1], &[0]),
        Err(LossError::IndexLengthMismatch { batch: 2, doc: 1 })
    );
    let device = Default::default();
    let logits = Tensor::<Flex, 2>::zeros([3, 1], &device);
    let targets = Tensor::<Flex, 1>::zeros([2], &device);
    assert_eq!(
        ranking_loss(logits, targets).unwrap_err(),
        LossError::PairCountMismatch { logits: 3, targets: 2 }
    );
}

#[test]
fn pruning_loss_crops_to_common_shape() {
    // Logits for 2 pairs × 3 tokens, labels for 2 pairs × 2 tokens: the third token is dropped.
    let device = Default::default();
    let logits = Tensor::<Flex, 3>::from_data(
        [
            [[0.0, 0.0], [0.0, 0.0], [50.0, -50.0]],
            [[0.0, 0.0], [0.0, 0.0], [50.0, -50.0]],
        ],
        &device,
    );
    let labels = Tensor::<Flex, 2, Int>::from_data([[1, -100], [0, 1]], &device);
    let loss = pruning_loss(logits, labels).into_scalar();
    assert!(
        (loss - std::f32::consts::LN_2).abs() < 1e-6,
        "mean CE of uniform logits is ln 2, got {loss}"
    );
}
