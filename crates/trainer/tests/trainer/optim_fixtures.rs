//! Adafactor and AdamW against PyTorch (tests/fixtures/optim/optim_steps.json, made by
//! scripts/fixtures/optim_fixtures.py): four consecutive steps with a changing lr on 1-D, 2-D and
//! 3-D parameters, with and without weight decay, HF's no-decay groups, a parameter without a
//! gradient at step 3, the final optimizer state, and an exact save/restore mid-way.

use std::collections::HashMap;

use burn::backend::{Autodiff, Flex};
use burn::module::{Module, Param, ParamId};
use burn::optim::GradientsParams;
use burn::tensor::backend::AutodiffBackend;
use burn::tensor::{Tensor, TensorData};
use provence_test_support::fixture;
use provence_test_support::json::{self, floats};
use provence_trainer::{AdafactorConfig, AdamWConfig, Optimizer, OptimizerKind, ParamTable};
use serde_json::Value;

/// The CPU test backend.
type CpuB = Autodiff<Flex>;

/// Absolute tolerance on parameters and state on the CPU (values are O(1)).
const TOL: f32 = 1e-6;

#[derive(Module, Debug)]
struct Toy<B: burn::tensor::backend::Backend> {
    bias: Param<Tensor<B, 1>>,
    scale: Param<Tensor<B, 1>>,
    dense: Param<Tensor<B, 2>>,
    experts: Param<Tensor<B, 3>>,
    norm: Param<Tensor<B, 1>>,
}

/// Fixture names in field order.
const NAMES: [&str; 5] = [
    "dense.bias",
    "scale.weight",
    "dense.weight",
    "experts.weight",
    "mlp_norm.weight",
];

fn param<B: AutodiffBackend, const D: usize>(values: Vec<f32>, shape: [usize; D]) -> Param<Tensor<B, D>> {
    Param::from_tensor(Tensor::from_data(TensorData::new(values, shape), &Default::default()))
}

fn shape_of<const D: usize>(case: &Value, index: usize) -> [usize; D] {
    let dims: Vec<usize> = case["params"][index]["shape"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_u64().unwrap() as usize)
        .collect();
    dims.try_into().unwrap()
}

fn build<B: AutodiffBackend>(case: &Value, values: &HashMap<String, Vec<f32>>) -> Toy<B> {
    Toy {
        bias: param(values[NAMES[0]].clone(), shape_of(case, 0)),
        scale: param(values[NAMES[1]].clone(), shape_of(case, 1)),
        dense: param(values[NAMES[2]].clone(), shape_of(case, 2)),
        experts: param(values[NAMES[3]].clone(), shape_of(case, 3)),
        norm: param(values[NAMES[4]].clone(), shape_of(case, 4)),
    }
}

fn ids<B: AutodiffBackend>(model: &Toy<B>) -> [ParamId; 5] {
    [
        model.bias.id,
        model.scale.id,
        model.dense.id,
        model.experts.id,
        model.norm.id,
    ]
}

fn values<B: AutodiffBackend>(model: &Toy<B>) -> HashMap<String, Vec<f32>> {
    let get = |t: Tensor<B, 1>| t.into_data().to_vec::<f32>().unwrap();
    HashMap::from([
        (NAMES[0].to_owned(), get(model.bias.val())),
        (NAMES[1].to_owned(), get(model.scale.val())),
        (NAMES[2].to_owned(), get(model.dense.val().flatten(0, 1))),
        (NAMES[3].to_owned(), get(model.experts.val().flatten(0, 2))),
        (NAMES[4].to_owned(), get(model.norm.val())),
    ])
}

fn initial(case: &Value) -> HashMap<String, Vec<f32>> {
    NAMES
        .iter()
        .map(|n| (n.to_string(), floats(&case["initial"][*n])))
        .collect()
}

fn optimizer<B: AutodiffBackend>(case: &Value, model: &Toy<B>) -> Optimizer<B::InnerBackend> {
    let hf_names: HashMap<ParamId, String> = ids(model).into_iter().zip(NAMES.map(str::to_owned)).collect();
    let table = ParamTable::from_module(model, &hf_names);
    let kind = match case["optimizer"].as_str().unwrap() {
        "adafactor" => OptimizerKind::Adafactor(AdafactorConfig::default()),
        "adamw" => OptimizerKind::AdamW(AdamWConfig::default()),
        other => panic!("unknown optimizer {other}"),
    };
    Optimizer::new(kind, case["weight_decay"].as_f64().unwrap(), table)
}

fn grads<B: AutodiffBackend>(case: &Value, model: &Toy<B>, step: usize) -> GradientsParams {
    let step = &case["steps"][step];
    let mut grads = GradientsParams::new();
    let ids = ids(model);
    let tensor = |name: &str| {
        Tensor::<B::InnerBackend, 1>::from_data(
            TensorData::new(
                floats(&step["grads"][name]),
                [step["grads"][name].as_array().unwrap().len()],
            ),
            &Default::default(),
        )
    };
    let has = |name: &str| step["grads"].get(name).is_some();
    if has(NAMES[0]) {
        grads.register(ids[0], tensor(NAMES[0]));
    }
    if has(NAMES[1]) {
        grads.register(ids[1], tensor(NAMES[1]));
    }
    if has(NAMES[2]) {
        grads.register(ids[2], tensor(NAMES[2]).reshape(shape_of::<2>(case, 2)));
    }
    if has(NAMES[3]) {
        grads.register(ids[3], tensor(NAMES[3]).reshape(shape_of::<3>(case, 3)));
    }
    if has(NAMES[4]) {
        grads.register(ids[4], tensor(NAMES[4]));
    }
    grads
}

fn step<B: AutodiffBackend>(
    case: &Value,
    optim: &mut Optimizer<B::InnerBackend>,
    model: Toy<B>,
    index: usize,
) -> Toy<B> {
    let lr = case["steps"][index]["lr"].as_f64().unwrap();
    let grads = grads(case, &model, index);
    optim.step(lr, model, grads)
}

fn assert_close(what: &str, got: &[f32], want: &[f32], tol: f32) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            (g - w).abs() <= tol,
            "{what}[{i}]: got {g}, PyTorch {w} (diff {})",
            (g - w).abs()
        );
    }
}

fn cases() -> Vec<Value> {
    let doc = json::load(&fixture("optim/optim_steps.json"));
    doc["cases"].as_array().unwrap().clone()
}

fn label(case: &Value) -> String {
    format!("{} wd={}", case["optimizer"].as_str().unwrap(), case["weight_decay"])
}

/// Runs every fixture case on backend `B` and compares parameters and state within `tol`.
fn check_every_step<B: AutodiffBackend>(tol: f32) {
    let cases = cases();
    assert_eq!(cases.len(), 4);
    for case in &cases {
        let mut model = build::<B>(case, &initial(case));
        let mut optim = optimizer(case, &model);
        let steps = case["steps"].as_array().unwrap();
        assert!(steps.len() >= 3);
        for (index, expected) in steps.iter().enumerate() {
            model = step(case, &mut optim, model, index);
            let got = values(&model);
            for name in NAMES {
                let want = floats(&expected["params_after"][name]);
                assert_close(
                    &format!("{} step {} {name}", label(case), index + 1),
                    &got[name],
                    &want,
                    tol,
                );
            }
        }
        // Per-parameter step counters (the one without a gradient at step 3 lags) and state tensors.
        let ids = ids(&model);
        for (id, name) in ids.iter().zip(NAMES) {
            let want = &case["final_state"][name];
            assert_eq!(
                optim.param_step(id),
                want["step"].as_u64(),
                "{} {name} step",
                label(case)
            );
            for (slot, tensor) in want.as_object().unwrap().iter().filter(|(k, _)| *k != "step") {
                let data = optim
                    .state_tensor(id, slot)
                    .unwrap_or_else(|| panic!("{name}.{slot} missing"));
                let shape: Vec<usize> = tensor["shape"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|d| d.as_u64().unwrap() as usize)
                    .collect();
                assert_eq!(data.shape.to_vec(), shape, "{name}.{slot} shape");
                let got = data.to_vec::<f32>().unwrap();
                let want = floats(&tensor["values"]);
                // Second moments are O(g²) with g ~ N(0,1), except where tiny gradients were used.
                for (i, (g, w)) in got.iter().zip(&want).enumerate() {
                    assert!(
                        (g - w).abs() <= tol * w.abs().max(1.0),
                        "{} {name}.{slot}[{i}]: got {g}, PyTorch {w}",
                        label(case)
                    );
                }
            }
        }
    }
}

#[test]
fn every_step_matches_pytorch() {
    check_every_step::<CpuB>(TOL);
}

#[test]
fn first_adafactor_step_at_lr_zero_changes_nothing() {
    let case = &cases()[0];
    assert_eq!(case["steps"][0]["lr"].as_f64(), Some(0.0));
    let model = build::<CpuB>(case, &initial(case));
    let mut optim = optimizer(case, &model);
    let model = step(case, &mut optim, model, 0);
    assert_eq!(values(&model), initial(case));
    assert_eq!(optim.param_step(&model.dense.id), Some(1));
}

#[test]
fn save_and_restore_midway_is_bit_exact() {
    for case in &cases() {
        let steps = case["steps"].as_array().unwrap().len();
        // Uninterrupted run.
        let mut model = build::<CpuB>(case, &initial(case));
        let mut optim = optimizer(case, &model);
        for index in 0..steps {
            model = step(case, &mut optim, model, index);
        }
        let uninterrupted = values(&model);

        // Two steps, then save weights + optimizer state and continue in a fresh model whose
        // parameters have new ids (as after loading a checkpoint).
        let mut model = build::<CpuB>(case, &initial(case));
        let mut optim = optimizer(case, &model);
        for index in 0..2 {
            model = step(case, &mut optim, model, index);
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("optimizer.safetensors");
        optim.save_state(&path).unwrap();
        let weights = values(&model);
        drop((model, optim));

        let mut model = build::<CpuB>(case, &weights);
        let mut optim = optimizer(case, &model);
        optim.load_state(&path, &Default::default()).unwrap();
        for index in 2..steps {
            model = step(case, &mut optim, model, index);
        }
        let resumed = values(&model);
        for name in NAMES {
            let bits = |v: &Vec<f32>| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(
                bits(&resumed[name]),
                bits(&uninterrupted[name]),
                "{} {name}",
                label(case)
            );
        }
    }
}

#[test]
fn state_from_another_optimizer_is_rejected() {
    let cases = cases();
    let (adafactor, adamw) = (&cases[0], &cases[2]);
    let model = build::<CpuB>(adafactor, &initial(adafactor));
    let mut optim = optimizer(adafactor, &model);
    let model = step(adafactor, &mut optim, model, 0);
    let bytes = optim.state_to_bytes().unwrap();
    let mut other = optimizer(adamw, &model);
    let err = other.load_state_bytes(&bytes, &Default::default()).unwrap_err();
    assert!(err.to_string().contains("adafactor"), "{err}");
    assert!(other.load_state_bytes(b"not safetensors", &Default::default()).is_err());
}

/// The same fixtures on the CUDA backend (f32; run with `--features cuda` on a GPU machine).
#[cfg(feature = "cuda")]
#[test]
fn every_step_matches_pytorch_on_cuda() {
    check_every_step::<Autodiff<burn::backend::Cuda>>(TOL);
}
