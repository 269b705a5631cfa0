//! Gradients of `0.05·MSE(ranking_logits[:,0], targets) + token CE (ignore -100)` match PyTorch.

use crate::common;

use common::parity::{expected, fixture_forward, fixture_model, gradient_diffs};
use common::*;
use provence_model::Execution;

#[test]
fn gradients_match_pytorch() {
    let device = Default::default();
    let (loss, grads) = gradient_diffs::<CpuAd>("tiny_cls_window", Execution::for_backend::<CpuAd>(), &device);
    assert!(loss <= 1e-5, "loss differs by {loss}");
    assert_eq!(grads.len(), 3, "gradients checked: {grads:?}");
    for (name, d) in grads {
        assert!(d <= 1e-4, "gradient of {name}: relative diff {d} > 1e-4");
    }
}

/// PyTorch zeroes the pad row (id 0) through padding_idx; here it is zero because pad tokens only
/// sit at masked positions whose outputs no loss term reads.
#[test]
fn the_pad_row_gets_no_gradient() {
    let device = Default::default();
    let exp = expected("tiny_cls_window");
    let model = fixture_model::<CpuAd>("tiny_cls_window", Execution::for_backend::<CpuAd>(), &device);
    let out = fixture_forward(&model, &exp, &device);
    let labels = int2::<CpuAd>(&exp["pruning_labels"], &device);
    let targets = float::<CpuAd, 1>(&exp["targets"], &device);
    let grads = reference_loss(out.ranking_logits, out.pruning_logits, targets, labels).backward();
    let emb = &model
        .ranking_model
        .as_modernbert()
        .unwrap()
        .model
        .embeddings
        .tok_embeddings
        .weight;
    let (_, pad_row) = values(emb.val().grad(&grads).unwrap().narrow(0, 0, 1));
    assert!(pad_row.iter().all(|g| *g == 0.0), "pad row gradient {pad_row:?}");
}
