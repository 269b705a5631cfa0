//! Forward parity with transformers 4.57.6 (golden fixtures, f32 CPU, max abs diff ≤ 1e-4): the
//! padded encoder against the eager path, the packed encoder (both kernels) against the
//! flash-attention path's semantics (zeros at pad positions).

use crate::common;

use common::parity::{MODERNBERT, check_outputs, expected, fixture_dir, fixture_forward, fixture_model};
use common::*;
use provence_model::{AttentionLayout, Execution, OpenProvenceModel, OpenProvenceOutput, PackedAttention};

fn check_forward(name: &str) {
    let device = Default::default();
    check_outputs::<Cpu>(name, &device);
    for kernel in [PackedAttention::PerSequence, PackedAttention::Repadded] {
        let execution = Execution::for_backend::<Cpu>()
            .with_layout(AttentionLayout::Packed)
            .with_packed_kernel(kernel);
        let out = fixture_forward(
            &fixture_model::<Cpu>(name, execution, &device),
            &expected(name),
            &device,
        );
        check_exact_pads(name, &out);
    }
}

/// Packed outputs at pad positions: hidden states exactly 0, pruning logits exactly the head's bias.
fn check_exact_pads(name: &str, out: &OpenProvenceOutput<Cpu>) {
    let device = Default::default();
    let exp = expected(name);
    let mask = &exp["attention_mask"].i64;
    let model = OpenProvenceModel::<Cpu>::load(&fixture_dir(name).join("final_model"), &device).unwrap();
    let (_, bias) = values(model.pruning_head.classifier.bias.unwrap().val());
    let (_, hidden) = values(out.hidden_state.clone());
    let (_, last) = values(out.last_hidden_state.clone());
    let (_, logits) = values(out.pruning_logits.clone());
    let h = hidden.len() / mask.len();
    for (pos, _) in mask.iter().enumerate().filter(|(_, m)| **m == 0) {
        assert!(
            hidden[pos * h..(pos + 1) * h].iter().all(|v| *v == 0.0),
            "{name}: pad {pos}"
        );
        assert!(
            last[pos * h..(pos + 1) * h].iter().all(|v| *v == 0.0),
            "{name}: pad {pos}"
        );
        assert_eq!(&logits[pos * 2..pos * 2 + 2], bias.as_slice(), "{name}: pad {pos}");
    }
}

/// Window 4 < sequence 12, two thetas, cls pooling, 1 label, H = 24, padded rows of 12/7/9 tokens.
#[test]
fn tiny_cls_window_matches_transformers() {
    check_forward(MODERNBERT[0]);
}

/// Mean pooling, 2 labels, all biases, silu head activation, odd window, global every 2nd layer.
#[test]
fn tiny_mean_bias_matches_transformers() {
    check_forward(MODERNBERT[1]);
}

/// All layers global with a null local theta, cls pooling, 2 labels.
#[test]
fn tiny_global_matches_transformers() {
    check_forward(MODERNBERT[2]);
}
