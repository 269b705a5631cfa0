//! Gradients of `0.05·MSE(ranking_logits[:,0], targets) + token CE (ignore -100)` match PyTorch.

use crate::common;

use burn::prelude::*;
use common::*;
use provence_model::OpenProvenceModel;

/// max |g − g_ref| / max |g_ref|.
fn rel_diff(grad: Tensor<Cpu, 2>, reference: &Stored) -> f32 {
    let scale = reference.f32.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    assert!(scale > 0.0, "reference gradient is all zeros");
    max_abs_diff(grad, reference) / scale
}

#[test]
fn gradients_match_pytorch() {
    let device = Default::default();
    let dir = fixture("tiny_cls_window");
    let model = OpenProvenceModel::<CpuAd>::load(&dir.join("final_model"), &device).unwrap();
    let exp = read_tensors(&dir.join("expected.safetensors"));
    let ids = int2::<CpuAd>(&exp["input_ids"], &device);
    let mask = int2::<CpuAd>(&exp["attention_mask"], &device);
    let labels = int2::<CpuAd>(&exp["pruning_labels"], &device);
    let targets = float::<CpuAd, 1>(&exp["targets"], &device);

    let out = model.forward(ids, mask);
    let loss = reference_loss(out.ranking_logits, out.pruning_logits, targets, labels);

    let (_, loss_v) = values(loss.clone());
    let loss_ref = exp["loss"].f32[0];
    assert!((loss_v[0] - loss_ref).abs() <= 1e-5, "loss {} vs {loss_ref}", loss_v[0]);

    let grads = loss.backward();
    let emb = &model
        .ranking_model
        .as_modernbert()
        .unwrap()
        .model
        .embeddings
        .tok_embeddings
        .weight;
    let wqkv = &model.ranking_model.as_modernbert().unwrap().model.layers[1]
        .attn
        .Wqkv
        .weight;
    let pruning_w = &model.pruning_head.classifier.weight;
    let checks = [
        (
            "model.embeddings.tok_embeddings.weight",
            emb.val().grad(&grads).unwrap(),
        ),
        // Burn Linear weights are [in, out]; PyTorch's are [out, in].
        (
            "model.layers.1.attn.Wqkv.weight",
            wqkv.val().grad(&grads).unwrap().transpose(),
        ),
        (
            "pruning_head.classifier.weight",
            pruning_w.val().grad(&grads).unwrap().transpose(),
        ),
    ];
    // PyTorch zeroes the pad row (id 0) through padding_idx; here it is zero because pad tokens
    // only sit at masked positions whose outputs no loss term reads.
    let (_, emb_grad) = values(checks[0].1.clone().narrow(0, 0, 1));
    assert!(emb_grad.iter().all(|g| *g == 0.0), "pad row gradient {emb_grad:?}");
    for (name, grad) in checks {
        let d = rel_diff(grad, &exp[&format!("grad.{name}")]);
        assert!(d <= 1e-4, "gradient of {name}: relative diff {d} > 1e-4");
    }
}
