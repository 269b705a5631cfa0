//! Forward parity with transformers 4.57.6 (golden fixtures, f32 CPU, max abs diff ≤ 1e-4): the
//! padded encoder against the eager path, the packed encoder against the flash-attention path's
//! semantics (zeros at pad positions).

use crate::common;

use common::*;
use provence_model::{AttentionLayout, Execution, OpenProvenceModel, OpenProvenceOutput, PackedAttention};

const TOL: f32 = 1e-4;

/// The model of fixture `name` run on its inputs, with `configure` applied.
fn run(
    name: &str,
    configure: impl FnOnce(OpenProvenceModel<Cpu>) -> OpenProvenceModel<Cpu>,
) -> OpenProvenceOutput<Cpu> {
    let device = Default::default();
    let model = configure(OpenProvenceModel::<Cpu>::load(&fixture(name).join("final_model"), &device).unwrap());
    let exp = read_tensors(&fixture(name).join("expected.safetensors"));
    model.forward(
        int2::<Cpu>(&exp["input_ids"], &device),
        int2::<Cpu>(&exp["attention_mask"], &device),
    )
}

fn check_forward(name: &str) {
    let out = run(name, |m| {
        m.with_execution(Execution::for_backend::<Cpu>().with_layout(AttentionLayout::Padded))
    });
    compare(name, out, "expected.safetensors");
    for kernel in [PackedAttention::PerSequence, PackedAttention::Repadded] {
        let out = run(name, |m| {
            m.with_execution(
                Execution::for_backend::<Cpu>()
                    .with_layout(AttentionLayout::Packed)
                    .with_packed_kernel(kernel),
            )
        });
        check_exact_pads(name, &out);
        compare(name, out, "expected_packed.safetensors");
    }
}

/// Packed outputs at pad positions: hidden states exactly 0, pruning logits exactly the head's bias.
fn check_exact_pads(name: &str, out: &OpenProvenceOutput<Cpu>) {
    let device = Default::default();
    let exp = read_tensors(&fixture(name).join("expected.safetensors"));
    let mask = &exp["attention_mask"].i64;
    let model = OpenProvenceModel::<Cpu>::load(&fixture(name).join("final_model"), &device).unwrap();
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

fn compare(name: &str, out: OpenProvenceOutput<Cpu>, expected: &str) {
    let exp = read_tensors(&fixture(name).join(expected));
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
        assert!(diff <= TOL, "{name} ({expected}): {key} max abs diff {diff} > {TOL}");
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
