//! Loss-curve parity with a PyTorch reference of upstream's training loop
//! (tests/fixtures/train_loop/, made by scripts/fixtures/train_loop_fixture.py): the same tiny
//! ModernBERT reranker-pruner initial weights (upstream `final_model/` layout), the same collated
//! micro-batches in the same order, f32, HF Adafactor with the no-decay group by name, gradient
//! accumulation 2 with a short last window, global-norm clipping 1.0 and cosine warmup. The
//! replay goes through the training loop's own pieces (`accumulate_micro_batch`,
//! `optimizer_step`) and must match the loss of every optimizer step within 1e-3, padded (eager
//! semantics) and packed (flash-attention semantics: zero hidden states at pad positions).

use std::collections::HashMap;
use std::path::PathBuf;

use burn::backend::{Autodiff, Flex};
use burn::optim::GradientsAccumulator;
use provence_datasets::Batch;
use provence_losses::LossWeights;
use provence_model::{AttentionLayout, Execution, OpenProvenceModel};
use provence_trainer::SchedulerType;
use provence_trainer::accumulation_window;
use provence_trainer::{LrSchedule, warmup_steps};
use provence_trainer::{Optimizer, OptimizerKind, ParamTable};
use provence_trainer::{accumulate_micro_batch, optimizer_step};
use serde::Deserialize;

type B = Autodiff<Flex>;

/// One collated micro-batch as `collator_common.collate` writes it (rows of `[P, L]`).
#[derive(Deserialize)]
struct FixtureBatch {
    seq_len: usize,
    input_ids: Vec<Vec<i64>>,
    attention_mask: Vec<Vec<i64>>,
    pruning_labels: Vec<Vec<i64>>,
    ranking_targets: Vec<f32>,
    batch_indices: Vec<usize>,
    doc_indices: Vec<usize>,
    docs_per_query: Vec<usize>,
}

impl FixtureBatch {
    fn to_batch(&self) -> Batch {
        Batch {
            pairs: self.input_ids.len(),
            seq_len: self.seq_len,
            input_ids: self.input_ids.concat(),
            attention_mask: self.attention_mask.concat(),
            pruning_labels: self.pruning_labels.concat(),
            ranking_targets: self.ranking_targets.clone(),
            batch_indices: self.batch_indices.clone(),
            doc_indices: self.doc_indices.clone(),
            docs_per_query: self.docs_per_query.clone(),
        }
    }
}

/// What PyTorch logged for one optimizer step.
#[derive(Deserialize)]
struct Step {
    loss: f64,
    grad_norm: f64,
    learning_rate: f64,
}

/// One reference run: the feeding order of the batches and what each optimizer step logged.
#[derive(Deserialize)]
struct Run {
    order: Vec<usize>,
    steps: Vec<Step>,
}

#[derive(Deserialize)]
struct Curve {
    gradient_accumulation_steps: usize,
    learning_rate: f64,
    weight_decay: f64,
    max_grad_norm: f64,
    warmup_ratio: f64,
    max_steps: usize,
    warmup_steps: usize,
    ranking_weight: f64,
    pruning_weight: f64,
    batches: Vec<FixtureBatch>,
    runs: HashMap<String, Run>,
}

fn fixture_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/train_loop")
}

/// Replays run `name` of the fixture from its initial weights through the training loop's
/// pieces with the encoder in `layout` and checks every optimizer step against PyTorch; returns
/// the largest loss difference.
fn replay_and_compare(name: &str, layout: AttentionLayout) -> f64 {
    let dir = fixture_dir();
    let curve: Curve = serde_json::from_str(&std::fs::read_to_string(dir.join("curve.json")).unwrap()).unwrap();
    let run = &curve.runs[name];
    assert!(
        run.steps.len() >= 20,
        "the fixture must cover at least 20 optimizer steps"
    );
    let got = replay(&curve, run, layout);
    compare(name, layout, &got, run)
}

/// Trains from the fixture's initial weights on `run`'s micro-batch order; (window loss,
/// gradient norm, learning rate) of every optimizer step.
fn replay(curve: &Curve, run: &Run, layout: AttentionLayout) -> Vec<(f64, f64, f64)> {
    let device = Default::default();
    let mut model = OpenProvenceModel::<B>::load(&fixture_dir().join("final_model"), &device)
        .unwrap()
        .with_execution(Execution::for_backend::<B>().with_layout(layout));

    // Built exactly as `run_training` builds them.
    let names: HashMap<_, _> = model.named_param_ids().into_iter().collect();
    let mut optimizer = Optimizer::<Flex>::new(
        OptimizerKind::from(provence_config::Optimizer::Adafactor),
        curve.weight_decay,
        ParamTable::from_module(&model, &names),
    );
    let schedule = LrSchedule {
        kind: SchedulerType::Cosine,
        max_steps: curve.max_steps,
        warmup_steps: warmup_steps(curve.max_steps, curve.warmup_ratio),
    };
    assert_eq!(schedule.warmup_steps, curve.warmup_steps);
    let weights = LossWeights {
        ranking_weight: curve.ranking_weight,
        pruning_weight: curve.pruning_weight,
    };
    let batches: Vec<Batch> = curve.batches.iter().map(FixtureBatch::to_batch).collect();

    let ga = curve.gradient_accumulation_steps;
    let total = run.order.len();
    let mut accumulator = GradientsAccumulator::<OpenProvenceModel<B>>::new();
    let mut window_loss = 0.0;
    let mut got: Vec<(f64, f64, f64)> = Vec::new();
    for (index, &batch_id) in run.order.iter().enumerate() {
        let window = accumulation_window(index, ga, total);
        let (loss, _, _) = accumulate_micro_batch(
            &model,
            &batches[batch_id],
            weights,
            window.len(),
            &mut accumulator,
            &device,
        )
        .unwrap();
        window_loss += loss / window.len() as f64;
        if index + 1 != window.end {
            continue;
        }
        let (grad_norm, lr);
        (model, grad_norm, lr) = optimizer_step(
            model,
            &mut optimizer,
            accumulator.grads(),
            &schedule,
            curve.learning_rate,
            curve.max_grad_norm,
            got.len(),
        );
        got.push((window_loss, grad_norm, lr));
        window_loss = 0.0;
    }

    got
}

/// Every step of `got` against the reference within the tolerances; the largest loss difference.
fn compare(name: &str, layout: AttentionLayout, got: &[(f64, f64, f64)], run: &Run) -> f64 {
    assert_eq!(got.len(), run.steps.len(), "number of optimizer steps");
    let (mut max_loss, mut max_norm_rel) = (0.0f64, 0.0f64);
    for (i, ((loss, grad_norm, lr), want)) in got.iter().zip(&run.steps).enumerate() {
        let d_loss = (loss - want.loss).abs();
        let d_norm = (grad_norm - want.grad_norm).abs() / want.grad_norm.max(1e-12);
        max_loss = max_loss.max(d_loss);
        max_norm_rel = max_norm_rel.max(d_norm);
        assert!(
            d_loss <= 1e-3,
            "{name} step {}: loss {loss} vs PyTorch {} (diff {d_loss:e})",
            i + 1,
            want.loss
        );
        assert!(
            d_norm <= 1e-3,
            "{name} step {}: grad_norm {grad_norm} vs PyTorch {} (relative diff {d_norm:e})",
            i + 1,
            want.grad_norm
        );
        assert!(
            (lr - want.learning_rate).abs() <= 1e-12,
            "{name} step {}: lr {lr} vs PyTorch {}",
            i + 1,
            want.learning_rate
        );
    }
    // The run must actually train, or the comparison would only check the initial forward pass.
    let (first, last) = (run.steps[0].loss, run.steps[run.steps.len() - 1].loss);
    assert!(last < first - 0.1, "the reference loss should fall ({first} -> {last})");
    eprintln!(
        "{name} ({layout}): loss-curve parity over {} steps: max |Δloss| = {max_loss:.3e}, max relative |Δgrad_norm| = {max_norm_rel:.3e}",
        got.len()
    );
    max_loss
}

#[test]
fn loss_curve_matches_pytorch_reference_loop() {
    replay_and_compare("clean", AttentionLayout::Padded);
}

/// No label reaches a pad position in these batches, so packing changes nothing.
#[test]
fn packed_loss_curve_matches_pytorch_reference_loop() {
    replay_and_compare("clean", AttentionLayout::Packed);
}

/// Batches whose pruning labels fall on padded positions (an upstream collation quirk) make the
/// loss read the `[PAD]` embedding; PyTorch's `padding_idx` keeps that row's gradient at zero,
/// and so does `ModernBertEmbeddings`.
#[test]
fn loss_curve_matches_with_labels_on_padding() {
    replay_and_compare("pad_labels", AttentionLayout::Padded);
}

/// The same batches packed: the labels on padded positions meet zero hidden states (the head's
/// bias), as with upstream's flash-attention path; the reference zeroes them the same way.
#[test]
fn packed_loss_curve_matches_with_labels_on_padding() {
    replay_and_compare("pad_labels_packed", AttentionLayout::Packed);
}

/// The two reference runs with labels on padding do differ, so the packed test above checks the
/// zero pad semantics and not only the real positions.
#[test]
fn packing_changes_the_reference_curve() {
    let curve: Curve =
        serde_json::from_str(&std::fs::read_to_string(fixture_dir().join("curve.json")).unwrap()).unwrap();
    let (eager, packed) = (&curve.runs["pad_labels"], &curve.runs["pad_labels_packed"]);
    assert_eq!(eager.order, packed.order);
    let apart = eager
        .steps
        .iter()
        .zip(&packed.steps)
        .map(|(a, b)| (a.loss - b.loss).abs())
        .fold(0.0, f64::max);
    assert!(
        apart > 5e-3,
        "the eager and packed reference curves differ by only {apart}"
    );
}
