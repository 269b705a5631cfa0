//! Mixed precision (`Execution::with_compute_dtype(BF16)`: f32 parameters, residual stream, norms and
//! softmax; bf16 attention, MLP and head matmuls) against transformers under
//! `torch.autocast("cpu", bfloat16)`, which is how upstream's `bf16: true` recipes run.
//!
//! bf16 rounding is not bit-reproducible across implementations (accumulation order decides
//! rounding flips, and deeper random models amplify them), so the checks are statistical, on
//! mean absolute differences: on the 2-layer fixture we must round where autocast rounds (much
//! closer to autocast than f32 is), and everywhere our bf16 error against f32 must be of the
//! size of autocast's own. (The deeper windowed fixtures amplify single rounding flips, so there
//! ours and autocast's outputs are as far apart as either is from f32.)

use crate::common;

use burn::tensor::{DType, FloatDType};
use common::*;
use provence_model::{AttentionLayout, Execution, OpenProvenceModel};

/// Mean absolute difference.
fn mad(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).sum::<f32>() / a.len() as f32
}

/// Per output: `(name, ours vs autocast, f32 vs autocast, ours vs f32)`.
fn distances(name: &str) -> Vec<(&'static str, f32, f32, f32)> {
    let device = Default::default();
    let model = OpenProvenceModel::<Cpu>::load(&fixture(name).join("final_model"), &device)
        .unwrap()
        .with_execution(
            Execution::for_backend::<Cpu>()
                .with_layout(AttentionLayout::Padded)
                .with_compute_dtype(FloatDType::BF16),
        );
    let exp = read_tensors(&fixture(name).join("expected.safetensors"));
    let autocast = read_tensors(&fixture(name).join("expected_autocast_bf16.safetensors"));
    let out = model.forward(
        int2::<Cpu>(&exp["input_ids"], &device),
        int2::<Cpu>(&exp["attention_mask"], &device),
    );
    assert_eq!(out.ranking_logits.dtype(), DType::F32);
    [
        ("ranking_logits", values(out.ranking_logits).1),
        ("hidden_last", values(out.hidden_state).1),
        ("pruning_logits", values(out.pruning_logits).1),
    ]
    .into_iter()
    .map(|(key, ours)| {
        let (bf, full) = (&autocast[key].f32, &exp[key].f32);
        let row = (key, mad(&ours, bf), mad(full, bf), mad(&ours, full));
        eprintln!(
            "{name} {key}: ours-autocast {:.2e}, f32-autocast {:.2e}, ours-f32 {:.2e}",
            row.1, row.2, row.3
        );
        assert!(row.2 > 0.0, "{name}: the fixture's bf16 outputs equal the f32 ones");
        row
    })
    .collect()
}

/// On the f32 residual stream (the logits are bf16-rounded, so a handful of values differ by
/// whole bf16 steps and are too coarse for this check).
#[test]
fn rounds_where_autocast_rounds() {
    let rows = distances("tiny_global");
    let (_, ours, bf16_effect, _) = rows.iter().find(|r| r.0 == "hidden_last").unwrap();
    assert!(
        *ours <= 0.25 * bf16_effect,
        "{ours} from autocast, bf16 itself moves {bf16_effect}"
    );
}

#[test]
fn bf16_error_is_autocasts_size() {
    for name in ["tiny_cls_window", "tiny_mean_bias", "tiny_global"] {
        for (key, _, bf16_effect, ours_error) in distances(name) {
            assert!(
                ours_error <= 2.0 * bf16_effect,
                "{name} {key}: ours moves {ours_error} from f32, autocast {bf16_effect}"
            );
        }
    }
}

#[test]
fn gradients_stay_f32() {
    let device = Default::default();
    let dir = fixture("tiny_cls_window");
    let exp = read_tensors(&dir.join("expected.safetensors"));
    let run = |dtype| {
        let model = OpenProvenceModel::<CpuAd>::load(&dir.join("final_model"), &device)
            .unwrap()
            .with_execution(Execution::for_backend::<CpuAd>().with_compute_dtype(dtype));
        let out = model.forward(
            int2::<CpuAd>(&exp["input_ids"], &device),
            int2::<CpuAd>(&exp["attention_mask"], &device),
        );
        let grads = (out.ranking_logits.sum() + out.pruning_logits.powi_scalar(2).mean()).backward();
        let wqkv = &model.ranking_model.as_modernbert().unwrap().model.layers[1]
            .attn
            .Wqkv
            .weight;
        wqkv.val().grad(&grads).unwrap()
    };
    let (full, mixed) = (run(FloatDType::F32), run(FloatDType::BF16));
    assert_eq!(mixed.dtype(), DType::F32);
    let cosine = (full.clone() * mixed.clone()).sum().into_scalar()
        / (full.powi_scalar(2).sum().sqrt() * mixed.powi_scalar(2).sum().sqrt()).into_scalar();
    assert!(cosine > 0.999, "bf16 gradient direction differs: cosine {cosine}");
}
