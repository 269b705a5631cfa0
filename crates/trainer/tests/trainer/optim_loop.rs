//! The pieces together, against a PyTorch miniature of upstream's update loop
//! (tests/fixtures/optim/optim_loop.json, made by scripts/fixtures/optim_fixtures.py): autodiff
//! gradients of the provence loss, accumulation over two micro-batches with loss / 2, global-norm
//! clipping, Adafactor with the no-decay groups, and the cosine schedule with warmup.

use std::collections::HashMap;

use burn::backend::{Autodiff, Flex};
use burn::module::{Module, Param, ParamId};
use burn::optim::{GradientsAccumulator, GradientsParams};
use burn::tensor::backend::Backend;
use burn::tensor::{Int, Tensor, TensorData};
use provence_losses::{LossWeights, provence_loss};
use provence_test_support::fixture;
use provence_test_support::json::{self, floats};
use provence_trainer::LrSchedule;
use provence_trainer::SchedulerType;
use provence_trainer::{AdafactorConfig, Optimizer, OptimizerKind, ParamTable, clip_grad_norm};

type B = Autodiff<Flex>;

/// A toy reranker-pruner head with upstream-like parameter names.
#[derive(Module, Debug)]
struct Head<B: Backend> {
    norm: Param<Tensor<B, 1>>,
    rank_weight: Param<Tensor<B, 2>>,
    rank_bias: Param<Tensor<B, 1>>,
    prune_weight: Param<Tensor<B, 2>>,
    prune_bias: Param<Tensor<B, 1>>,
}

impl<B: Backend> Head<B> {
    fn forward(&self, x: Tensor<B, 3>) -> (Tensor<B, 2>, Tensor<B, 3>) {
        let [pairs, len, hidden] = x.dims();
        let h = x * self.norm.val().reshape([1, 1, hidden]);
        let ranking = h
            .clone()
            .mean_dim(1)
            .reshape([pairs, hidden])
            .matmul(self.rank_weight.val().transpose())
            + self.rank_bias.val().reshape([1, 1]);
        let pruning = h
            .reshape([pairs * len, hidden])
            .matmul(self.prune_weight.val().transpose())
            + self.prune_bias.val().reshape([1, 2]);
        (ranking, pruning.reshape([pairs, len, 2]))
    }

    fn named(&self) -> [(ParamId, &'static str); 5] {
        [
            (self.norm.id, "norm.weight"),
            (self.rank_weight.id, "rank.weight"),
            (self.rank_bias.id, "rank.bias"),
            (self.prune_weight.id, "prune.weight"),
            (self.prune_bias.id, "prune.bias"),
        ]
    }
}

fn tensor<const D: usize>(values: Vec<f32>, shape: [usize; D]) -> Tensor<B, D> {
    Tensor::from_data(TensorData::new(values, shape), &Default::default())
}

fn values(model: &Head<B>) -> HashMap<&'static str, Vec<f32>> {
    let v = |t: Tensor<B, 1>| t.into_data().to_vec::<f32>().unwrap();
    HashMap::from([
        ("norm.weight", v(model.norm.val())),
        ("rank.weight", v(model.rank_weight.val().flatten(0, 1))),
        ("rank.bias", v(model.rank_bias.val())),
        ("prune.weight", v(model.prune_weight.val().flatten(0, 1))),
        ("prune.bias", v(model.prune_bias.val())),
    ])
}

#[test]
fn update_loop_matches_pytorch() {
    let fx = json::load(&fixture("optim/optim_loop.json"));
    let dim = |k: &str| fx["shape"][k].as_u64().unwrap() as usize;
    let (pairs, len, hidden) = (dim("pairs"), dim("seq_len"), dim("hidden"));
    let init = |name: &str| floats(&fx["initial"][name]);
    let mut model = Head {
        norm: Param::from_tensor(tensor(init("norm.weight"), [hidden])),
        rank_weight: Param::from_tensor(tensor(init("rank.weight"), [1, hidden])),
        rank_bias: Param::from_tensor(tensor(init("rank.bias"), [1])),
        prune_weight: Param::from_tensor(tensor(init("prune.weight"), [2, hidden])),
        prune_bias: Param::from_tensor(tensor(init("prune.bias"), [2])),
    };
    let hf_names = model.named().into_iter().map(|(id, n)| (id, n.to_owned())).collect();
    let table = ParamTable::from_module(&model, &hf_names);
    assert_eq!(table.no_decay_ids().len(), 3, "norm.weight, rank.bias, prune.bias");
    let weight_decay = fx["weight_decay"].as_f64().unwrap();
    let mut optimizer = Optimizer::new(
        OptimizerKind::Adafactor(AdafactorConfig::default()),
        weight_decay,
        table,
    );
    let schedule = LrSchedule {
        kind: SchedulerType::Cosine,
        max_steps: fx["max_steps"].as_u64().unwrap() as usize,
        warmup_steps: fx["warmup_steps"].as_u64().unwrap() as usize,
    };
    let accumulation = fx["accumulation"].as_u64().unwrap() as usize;
    let micro_batches = fx["micro_batches"].as_array().unwrap();

    for step in 0..schedule.max_steps {
        let mut accumulator = GradientsAccumulator::new();
        for micro in 0..accumulation {
            let index = step * accumulation + micro;
            let batch = &micro_batches[index];
            let labels = json::i64s(&batch["labels"]);
            let labels = Tensor::<B, 2, Int>::from_data(TensorData::new(labels, [pairs, len]), &Default::default());
            let (ranking_logits, pruning_logits) = model.forward(tensor(floats(&batch["x"]), [pairs, len, hidden]));
            let targets = tensor(floats(&batch["targets"]), [pairs]);
            let out = provence_loss(ranking_logits, pruning_logits, targets, labels, LossWeights::default()).unwrap();
            let loss = out.loss.clone().into_scalar();
            let want = fx["losses"][index].as_f64().unwrap() as f32;
            assert!(
                (loss - want).abs() <= 1e-6,
                "micro-batch {index}: loss {loss}, PyTorch {want}"
            );
            let grads = out.loss.div_scalar(accumulation as f64).backward();
            accumulator.accumulate(&model, GradientsParams::from_grads(grads, &model));
        }
        let mut grads = accumulator.grads();
        let grad_norm = clip_grad_norm(&model, &mut grads, fx["max_grad_norm"].as_f64().unwrap());
        let want = fx["grad_norms"][step].as_f64().unwrap();
        assert!(
            (grad_norm - want).abs() <= 1e-6 * want.max(1.0),
            "step {step}: grad_norm {grad_norm}, PyTorch {want}"
        );
        let lr = schedule.lr(fx["learning_rate"].as_f64().unwrap(), step);
        let want = fx["lrs"][step].as_f64().unwrap();
        assert!((lr - want).abs() <= 1e-15, "step {step}: lr {lr}, PyTorch {want}");
        model = optimizer.step(lr, model, grads);
        let got = values(&model);
        for (name, want) in fx["params_after"][step].as_object().unwrap() {
            for (i, (g, w)) in got[name.as_str()].iter().zip(floats(want)).enumerate() {
                assert!((g - w).abs() <= 1e-6, "step {} {name}[{i}]: {g}, PyTorch {w}", step + 1);
            }
        }
    }
}
