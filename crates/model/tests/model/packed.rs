//! Packed execution (only real tokens through the encoder) against padded execution: outputs at
//! every real position, gradients of every parameter, bf16 mixed precision, with both packed
//! attention kernels, on the golden fixtures (mixed lengths, windows 4 and 6, all-global layers)
//! and on longer sequences whose windows and query chunks cut through several sequences of the
//! stream.

use crate::common;
use crate::common::rng_lock;

use burn::module::{AutodiffModule, Module};
use burn::prelude::*;
use burn::tensor::FloatDType;
use common::*;
use proptest::prelude::{Just, Strategy, any, prop_oneof};
use provence_model::{
    AttentionLayout, Execution, ModelBackend, ModernBertConfig, OpenProvenceConfig, OpenProvenceModel,
    OpenProvenceOutput, PackedAttention,
};

const KERNELS: [PackedAttention; 2] = [PackedAttention::PerSequence, PackedAttention::Repadded];
const FIXTURES: [&str; 3] = common::parity::MODERNBERT;

/// A batch: ids and mask `[P, L]` (mask 1 on real tokens).
struct Inputs {
    ids: Vec<i64>,
    mask: Vec<i64>,
    shape: [usize; 2],
}

impl Inputs {
    fn of_fixture(name: &str) -> Self {
        let exp = read_tensors(&fixture(name).join("expected.safetensors"));
        let shape = [exp["input_ids"].shape[0], exp["input_ids"].shape[1]];
        Self {
            ids: exp["input_ids"].i64.clone(),
            mask: exp["attention_mask"].i64.clone(),
            shape,
        }
    }

    /// Rows of `lengths` real tokens (ids from a fixed pattern) padded with id 0.
    fn rows(lengths: &[usize], vocab: usize) -> Self {
        let l = lengths.iter().copied().max().unwrap();
        let mut ids = vec![0i64; lengths.len() * l];
        let mut mask = vec![0i64; lengths.len() * l];
        for (r, &n) in lengths.iter().enumerate() {
            for c in 0..n {
                ids[r * l + c] = 1 + ((r * 7 + c * 13) % (vocab - 1)) as i64;
                mask[r * l + c] = 1;
            }
        }
        Self {
            ids,
            mask,
            shape: [lengths.len(), l],
        }
    }

    fn tensors<B: Backend>(&self, device: &B::Device) -> (Tensor<B, 2, Int>, Tensor<B, 2, Int>) {
        let int = |v: &Vec<i64>| Tensor::from_data(TensorData::new(v.clone(), self.shape), device);
        (int(&self.ids), int(&self.mask))
    }

    /// The mask as floats `[P, L, 1]`, to zero pad positions.
    fn keep<B: Backend>(&self, device: &B::Device) -> Tensor<B, 3> {
        self.tensors::<B>(device).1.float().unsqueeze_dim(2)
    }
}

/// A model with longer windows than the fixtures: 4 layers, half window 8 (query chunks of 64
/// rows), global every 3rd layer, mean pooling, all biases.
fn long_model<B: ModelBackend>(device: &B::Device) -> OpenProvenceModel<B> {
    long_model_with(device, 0.0)
}

/// [`long_model`] with dropout `attention_dropout` on the attention probabilities.
fn long_model_with<B: ModelBackend>(device: &B::Device, attention_dropout: f64) -> OpenProvenceModel<B> {
    let json = serde_json::json!({
        "attention_dropout": attention_dropout,
        "model_type": "modernbert", "vocab_size": 50, "hidden_size": 32, "intermediate_size": 48,
        "num_hidden_layers": 4, "num_attention_heads": 4, "local_attention": 16,
        "global_attn_every_n_layers": 3, "classifier_pooling": "mean", "num_labels": 1,
        "pad_token_id": 0, "norm_bias": true, "attention_bias": true, "mlp_bias": true,
        "classifier_bias": true
    });
    let backbone: ModernBertConfig = serde_json::from_value(json).unwrap();
    B::seed(device, 7);
    OpenProvenceModel::from_scratch(OpenProvenceConfig::new(backbone, 0.0), device).unwrap()
}

/// Lengths for [`long_model`]: several query chunks per sequence, a sequence shorter than the
/// window, a one-token sequence, and a stream that ends in a filler bucket.
const LONG_ROWS: [usize; 5] = [150, 37, 90, 1, 129];

fn forward<B: ModelBackend>(model: &OpenProvenceModel<B>, inputs: &Inputs) -> OpenProvenceOutput<B> {
    let (ids, mask) = inputs.tensors::<B>(&Default::default());
    model.forward(ids, mask)
}

/// Max |a − b| over real positions (pads zeroed on both sides).
fn real_diff<B: Backend>(a: Tensor<B, 3>, b: Tensor<B, 3>, keep: &Tensor<B, 3>) -> f32 {
    ((a - b) * keep.clone()).abs().max().into_scalar().elem::<f32>()
}

/// Asserts packed (each kernel) = padded within `tol` at every real position.
fn check_outputs(model: OpenProvenceModel<Cpu>, inputs: &Inputs, tol: f32, what: &str) {
    let keep = inputs.keep::<Cpu>(&Default::default());
    let padded = forward(
        &model
            .clone()
            .with_execution(Execution::for_backend::<Cpu>().with_layout(AttentionLayout::Padded)),
        inputs,
    );
    for kernel in KERNELS {
        let packed = forward(
            &model.clone().with_execution(
                Execution::for_backend::<Cpu>()
                    .with_layout(AttentionLayout::Packed)
                    .with_packed_kernel(kernel),
            ),
            inputs,
        );
        // The two layouts did run: they differ at pad positions (zeros vs ordinary values).
        if inputs.mask.contains(&0) {
            let at_pads = max_diff(packed.hidden_state.clone(), padded.hidden_state.clone());
            assert!(at_pads > 0.1, "{what} {kernel:?}: pad positions agree ({at_pads})");
        }
        let diffs = [
            (
                "ranking_logits",
                max_diff(packed.ranking_logits, padded.ranking_logits.clone()),
            ),
            (
                "hidden_state",
                real_diff(packed.hidden_state, padded.hidden_state.clone(), &keep),
            ),
            (
                "last_hidden_state",
                real_diff(packed.last_hidden_state, padded.last_hidden_state.clone(), &keep),
            ),
            (
                "pruning_logits",
                real_diff(packed.pruning_logits, padded.pruning_logits.clone(), &keep),
            ),
        ];
        for (key, diff) in diffs {
            eprintln!("{what} {kernel:?} {key}: {diff:.2e}");
            assert!(diff <= tol, "{what} {kernel:?}: {key} differs by {diff}");
        }
    }
}

#[test]
fn packed_equals_padded_on_the_fixtures() {
    for name in FIXTURES {
        let model = OpenProvenceModel::<Cpu>::load(&fixture(name).join("final_model"), &Default::default()).unwrap();
        check_outputs(model, &Inputs::of_fixture(name), 1e-5, name);
    }
}

#[test]
fn packed_equals_padded_on_long_sequences() {
    let _rng = rng_lock();
    let model = long_model::<Cpu>(&Default::default());
    check_outputs(model, &Inputs::rows(&LONG_ROWS, 50), 1e-5, "long");
}

/// Gradient of every parameter under a loss that reads real positions only:
/// `Σ ranking·w_r + Σ pruning·w_p·mask`.
fn gradients(model: &OpenProvenceModel<CpuAd>, inputs: &Inputs) -> Vec<(String, Tensor<Cpu, 1>)> {
    let device = Default::default();
    let out = forward(model, inputs);
    let [p, l] = inputs.shape;
    let w_ranking = seeded_normal::<CpuAd, 2>(out.ranking_logits.dims(), 11, 1.0, &device);
    let w_pruning = seeded_normal::<CpuAd, 3>([p, l, 2], 12, 1.0, &device) * inputs.keep::<CpuAd>(&device);
    let loss = (out.ranking_logits * w_ranking).sum() + (out.pruning_logits * w_pruning).sum();
    let grads = loss.backward();
    let names = model.named_param_ids().into_iter().collect();
    let mut collector = GradCollector {
        grads,
        names,
        found: Vec::new(),
    };
    model.visit(&mut collector);
    collector.found.sort_by(|a, b| a.0.cmp(&b.0));
    collector.found
}

/// Every parameter's gradient, flattened, with its name.
struct GradCollector {
    grads: <CpuAd as burn::tensor::backend::AutodiffBackend>::Gradients,
    names: std::collections::HashMap<burn::module::ParamId, String>,
    found: Vec<(String, Tensor<Cpu, 1>)>,
}

impl burn::module::ModuleVisitor<CpuAd> for GradCollector {
    fn visit_float<const D: usize>(&mut self, param: &burn::module::Param<Tensor<CpuAd, D>>) {
        if let (Some(name), Some(grad)) = (self.names.get(&param.id), param.val().grad(&self.grads)) {
            let n = grad.shape().num_elements();
            self.found.push((name.clone(), grad.reshape([n])));
        }
    }
}

fn check_gradients(model: OpenProvenceModel<CpuAd>, inputs: &Inputs, what: &str) {
    let reference = gradients(
        &model
            .clone()
            .with_execution(Execution::for_backend::<CpuAd>().with_layout(AttentionLayout::Padded)),
        inputs,
    );
    assert!(
        reference.len() > 10,
        "{what}: only {} parameters have gradients",
        reference.len()
    );
    for kernel in KERNELS {
        let model = model.clone().with_execution(
            Execution::for_backend::<CpuAd>()
                .with_layout(AttentionLayout::Packed)
                .with_packed_kernel(kernel),
        );
        let packed = gradients(&model, inputs);
        assert_eq!(
            packed.len(),
            reference.len(),
            "{what} {kernel:?}: parameters with gradients"
        );
        for ((name, g), (ref_name, r)) in packed.into_iter().zip(&reference) {
            assert_eq!(&name, ref_name);
            let scale = r.clone().abs().max().into_scalar().elem::<f32>();
            let diff = max_diff(g, r.clone());
            // Parameters the loss does not reach (the pad embedding row only) have zero gradients.
            let rel = if scale == 0.0 { diff } else { diff / scale };
            assert!(
                rel <= 1e-5,
                "{what} {kernel:?}: gradient of {name} differs by {rel} (relative)"
            );
        }
    }
}

/// A random ModernBERT or BERT geometry: layers, heads, sliding window, global layers, pooling.
fn geometry() -> impl Strategy<Value = serde_json::Value> {
    let modernbert = (1usize..4, 1usize..9, 1usize..4, any::<bool>(), any::<bool>()).prop_map(
        |(layers, half_window, global_every, mean, bias)| {
            serde_json::json!({
                "model_type": "modernbert", "vocab_size": 50, "hidden_size": 16, "intermediate_size": 24,
                "num_hidden_layers": layers, "num_attention_heads": 2, "local_attention": 2 * half_window,
                "global_attn_every_n_layers": global_every,
                "classifier_pooling": if mean { "mean" } else { "cls" }, "num_labels": 1, "pad_token_id": 0,
                "norm_bias": bias, "attention_bias": bias, "mlp_bias": bias, "classifier_bias": bias
            })
        },
    );
    let bert = (1usize..3, prop_oneof![Just("bert"), Just("xlm-roberta")]).prop_map(|(layers, model_type)| {
        serde_json::json!({
            "model_type": model_type, "vocab_size": 50, "hidden_size": 16, "intermediate_size": 24,
            "num_hidden_layers": layers, "num_attention_heads": 4, "max_position_embeddings": 160,
            "type_vocab_size": 1, "num_labels": 1, "pad_token_id": 1
        })
    });
    prop_oneof![2 => modernbert, 1 => bert]
}

/// Found by the property below: a RoBERTa-style model (positions skip pad ids, as transformers
/// counts them) given the pad id among the real tokens (XLM-R's tokenizer turns a literal `<pad>`
/// in the text into it) put that token and all after it at other positions packed than padded.
#[test]
fn packed_equals_padded_with_the_pad_id_among_real_tokens() {
    let _rng = rng_lock();
    let device = Default::default();
    Cpu::seed(&device, 344);
    let config = serde_json::json!({
        "model_type": "xlm-roberta", "vocab_size": 50, "hidden_size": 16, "intermediate_size": 24,
        "num_hidden_layers": 1, "num_attention_heads": 4, "max_position_embeddings": 160,
        "type_vocab_size": 1, "num_labels": 1, "pad_token_id": 1
    });
    let backbone = provence_model::BackboneConfig::from_json(config).unwrap();
    let model = OpenProvenceModel::<Cpu>::from_scratch(OpenProvenceConfig::new(backbone, 0.0), &device).unwrap();
    // Row 0 starts with id 1, the pad id, inside its mask.
    let inputs = Inputs::rows(&[4, 2], 50);
    assert_eq!(inputs.ids[0], 1);
    check_outputs(model, &inputs, 1e-5, "pad id among real tokens");
}

proptest::proptest! {
    #![proptest_config(proptest::test_runner::Config::with_cases(16))]

    /// Any mix of lengths (one-token rows, rows shorter and longer than the window, equal
    /// lengths without padding) on any geometry: packed (both kernels) equals padded at every
    /// real position.
    #[test]
    fn packed_equals_padded_for_any_length_mix(
        lengths in proptest::collection::vec(1usize..140, 1..6),
        config in geometry(),
        seed in any::<u64>(),
    ) {
        let _rng = rng_lock();
        let device = Default::default();
        Cpu::seed(&device, seed);
        let backbone = provence_model::BackboneConfig::from_json(config).unwrap();
        let model = OpenProvenceModel::<Cpu>::from_scratch(OpenProvenceConfig::new(backbone, 0.0), &device).unwrap();
        check_outputs(model, &Inputs::rows(&lengths, 50), 1e-5, "random lengths");
    }
}

#[test]
fn packed_gradients_equal_padded_on_the_fixtures() {
    for name in FIXTURES {
        let model = OpenProvenceModel::<CpuAd>::load(&fixture(name).join("final_model"), &Default::default()).unwrap();
        check_gradients(model, &Inputs::of_fixture(name), name);
    }
}

#[test]
fn packed_gradients_equal_padded_on_long_sequences() {
    let _rng = rng_lock();
    check_gradients(
        long_model::<CpuAd>(&Default::default()),
        &Inputs::rows(&LONG_ROWS, 50),
        "long",
    );
}

/// Mean |a − b| over real positions.
fn real_mad(a: Tensor<Cpu, 3>, b: Tensor<Cpu, 3>, inputs: &Inputs) -> f32 {
    let keep = inputs.keep::<Cpu>(&Default::default());
    let count = inputs.mask.iter().filter(|m| **m != 0).count() * a.dims()[2];
    ((a - b) * keep).abs().sum().into_scalar().elem::<f32>() / count as f32
}

/// bf16 mixed precision: packed and padded round differently only where the matmul shapes
/// change the accumulation order; both stay within the bf16 tolerance of the mixed-precision
/// tests (twice the distance autocast itself moves from f32).
#[test]
fn bf16_packed_agrees_with_padded() {
    for name in FIXTURES {
        let device = Default::default();
        let model = OpenProvenceModel::<Cpu>::load(&fixture(name).join("final_model"), &device).unwrap();
        let inputs = Inputs::of_fixture(name);
        let exp = read_tensors(&fixture(name).join("expected.safetensors"));
        let autocast = read_tensors(&fixture(name).join("expected_autocast_bf16.safetensors"));
        let bf16_effect = real_mad(
            float(&exp["hidden_last"], &device),
            float(&autocast["hidden_last"], &device),
            &inputs,
        );
        let padded = forward(
            &model.clone().with_execution(
                Execution::for_backend::<Cpu>()
                    .with_layout(AttentionLayout::Padded)
                    .with_compute_dtype(FloatDType::BF16),
            ),
            &inputs,
        );
        for kernel in KERNELS {
            let packed = forward(
                &model.clone().with_execution(
                    Execution::for_backend::<Cpu>()
                        .with_packed_kernel(kernel)
                        .with_compute_dtype(FloatDType::BF16),
                ),
                &inputs,
            );
            let diff = real_mad(packed.hidden_state, padded.hidden_state.clone(), &inputs);
            eprintln!("{name} {kernel:?}: packed-padded {diff:.2e}, autocast-f32 {bf16_effect:.2e}");
            assert!(diff <= 2.0 * bf16_effect, "{name} {kernel:?}: {diff} vs {bf16_effect}");
        }
    }
}

#[test]
fn packed_is_the_default() {
    let _rng = rng_lock();
    let model = long_model::<Cpu>(&Default::default());
    assert_eq!(model.execution().layout, AttentionLayout::Packed);
}

/// Attention dropout while training runs packed streams through the padded formulation (the only
/// one with dropout on the probabilities); with the same seed it draws the same masks as the
/// padded path, so real positions agree. (`attention_dropout` also drives the dropout after
/// `Wo`, whose masks have the stream's shape when packed; it is switched off here so that both
/// paths draw the same random numbers.)
#[test]
fn attention_dropout_while_training_packed_equals_padded() {
    let _rng = rng_lock();
    let device = Default::default();
    let mut model = long_model_with::<CpuAd>(&device, 0.1);
    for layer in &mut model.ranking_model.as_modernbert_mut().unwrap().model.layers {
        layer.attn.out_drop = burn::nn::DropoutConfig::new(0.0).init();
    }
    let inputs = Inputs::rows(&LONG_ROWS, 50);
    let keep = inputs.keep::<CpuAd>(&device);
    let run = |layout, kernel| {
        CpuAd::seed(&device, 99);
        let model = model.clone().with_execution(
            Execution::for_backend::<CpuAd>()
                .with_layout(layout)
                .with_packed_kernel(kernel),
        );
        forward(&model, &inputs)
    };
    let padded = run(AttentionLayout::Padded, PackedAttention::PerSequence);
    let undropped = forward(
        &model
            .clone()
            .with_execution(Execution::for_backend::<CpuAd>().with_layout(AttentionLayout::Padded))
            .valid(),
        &inputs,
    );
    let dropout_effect = real_diff(
        padded.hidden_state.clone().inner(),
        undropped.hidden_state,
        &keep.clone().inner(),
    );
    assert!(dropout_effect > 1e-3, "dropout changed nothing ({dropout_effect})");
    for kernel in KERNELS {
        let packed = run(AttentionLayout::Packed, kernel);
        let diff = real_diff(packed.hidden_state, padded.hidden_state.clone(), &keep);
        assert!(diff <= 1e-5, "{kernel:?}: {diff}");
    }
}
