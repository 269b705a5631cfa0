//! Global-norm clipping against `torch.nn.utils.clip_grad_norm_`
//! (tests/fixtures/optim/clip_grad_norm.json) and HF Trainer's no-decay grouping.

use std::collections::HashMap;

use burn::backend::{Autodiff, Flex};
use burn::module::{Module, Param};
use burn::nn::{LayerNorm, LayerNormConfig, Linear, LinearConfig};
use burn::optim::GradientsParams;
use burn::tensor::backend::Backend;
use burn::tensor::{Tensor, TensorData};
use provence_test_support::fixture;
use provence_test_support::json::{self, floats};
use provence_trainer::{ParamTable, clip_grad_norm, is_no_decay};
use serde_json::Value;

type B = Autodiff<Flex>;

#[derive(Module, Debug)]
struct Three<B: Backend> {
    a: Param<Tensor<B, 1>>,
    b: Param<Tensor<B, 2>>,
    c: Param<Tensor<B, 3>>,
}

#[derive(Module, Debug)]
struct Block<B: Backend> {
    ln: LayerNorm<B>,
    proj: Linear<B>,
    attn_norm: Param<Tensor<B, 1>>,
}

fn three() -> Three<B> {
    let device = Default::default();
    Three {
        a: Param::from_tensor(Tensor::zeros([5], &device)),
        b: Param::from_tensor(Tensor::zeros([4, 3], &device)),
        c: Param::from_tensor(Tensor::zeros([2, 3, 4], &device)),
    }
}

fn fixture_grads(model: &Three<B>, case: &Value) -> GradientsParams {
    let g = |i: usize| {
        let v = floats(&case["grads"][i]);
        let n = v.len();
        Tensor::<Flex, 1>::from_data(TensorData::new(v, [n]), &Default::default())
    };
    let mut grads = GradientsParams::new();
    grads.register(model.a.id, g(0));
    grads.register(model.b.id, g(1).reshape([4, 3]));
    grads.register(model.c.id, g(2).reshape([2, 3, 4]));
    grads
}

fn flat_grads(model: &Three<B>, grads: &GradientsParams) -> [Vec<f32>; 3] {
    let v = |t: Option<Tensor<Flex, 1>>| t.unwrap().into_data().to_vec::<f32>().unwrap();
    [
        v(grads.get::<Flex, 1>(model.a.id)),
        v(grads.get::<Flex, 2>(model.b.id).map(|t| t.flatten(0, 1))),
        v(grads.get::<Flex, 3>(model.c.id).map(|t| t.flatten(0, 2))),
    ]
}

#[test]
fn clip_grad_norm_matches_pytorch() {
    let doc = json::load(&fixture("optim/clip_grad_norm.json"));
    let cases = doc["cases"].as_array().unwrap();
    let norms: Vec<f64> = cases.iter().map(|c| c["total_norm"].as_f64().unwrap()).collect();
    assert!(
        norms[0] > 1.0 && norms[1] < 1.0,
        "one case clips, the other does not: {norms:?}"
    );
    for case in cases {
        let model = three();
        let mut grads = fixture_grads(&model, case);
        let norm = clip_grad_norm(&model, &mut grads, case["max_norm"].as_f64().unwrap());
        let want = case["total_norm"].as_f64().unwrap();
        assert!(
            (norm - want).abs() <= 1e-6 * want.max(1.0),
            "norm {norm} vs PyTorch {want}"
        );
        for (i, got) in flat_grads(&model, &grads).iter().enumerate() {
            for (g, w) in got.iter().zip(floats(&case["clipped"][i])) {
                assert!((g - w).abs() <= 1e-6, "grad {i}: {g} vs PyTorch {w}");
            }
        }
    }
}

#[test]
fn non_positive_max_norm_only_measures() {
    let doc = json::load(&fixture("optim/clip_grad_norm.json"));
    let case = &doc["cases"][0];
    let model = three();
    let mut grads = fixture_grads(&model, case);
    let norm = clip_grad_norm(&model, &mut grads, 0.0);
    assert!((norm - case["total_norm"].as_f64().unwrap()).abs() < 1e-5);
    let got = flat_grads(&model, &grads);
    for (i, g) in got.iter().enumerate() {
        assert_eq!(g, &floats(&case["grads"][i]), "grad {i} unchanged");
    }
    let mut empty = GradientsParams::new();
    assert_eq!(clip_grad_norm(&model, &mut empty, 1.0), 0.0);
}

#[test]
fn no_decay_names() {
    for name in [
        "ranking_model.model.layers.3.mlp_norm.weight",
        "ranking_model.model.layers.0.attn_norm.weight",
        "ranking_model.model.embeddings.norm.weight",
        "ranking_model.model.final_norm.weight",
        "ranking_model.head.norm.weight",
        "pruning_head.classifier.bias",
        "bert.encoder.layer.0.output.LayerNorm.weight",
        "model.layers.0.input_RMSNorm.weight",
        "norm",
    ] {
        assert!(is_no_decay(name), "{name} must not decay");
    }
    for name in [
        "ranking_model.model.embeddings.tok_embeddings.weight",
        "ranking_model.model.layers.0.attn.Wqkv.weight",
        "ranking_model.classifier.weight",
        "pruning_head.classifier.weight",
        "encoder.normalizer.weight",
        "layers.0.norm_x.weight",
    ] {
        assert!(!is_no_decay(name), "{name} must decay");
    }
}

#[test]
fn table_uses_hf_names_paths_and_layer_norm_membership() {
    let device = Default::default();
    let block = Block::<B> {
        ln: LayerNormConfig::new(4).init(&device),
        proj: LinearConfig::new(4, 3).init(&device),
        attn_norm: Param::from_tensor(Tensor::ones([4], &device)),
    };
    let proj_bias = block.proj.bias.as_ref().unwrap().id;
    let hf = HashMap::from([(block.proj.weight.id, "layers.0.mlp.Wo.weight".to_owned())]);
    let table = ParamTable::from_module(&block, &hf);
    assert_eq!(table.len(), 5);
    // The LayerNorm's own fields (gamma/beta) carry no "norm" in their path: membership decides.
    assert!(table.is_no_decay(&block.ln.gamma.id));
    assert_eq!(table.get(&block.ln.gamma.id).unwrap().name, "ln.gamma");
    let weight = table.get(&block.proj.weight.id).unwrap();
    assert_eq!(weight.name, "layers.0.mlp.Wo.weight");
    assert_eq!(weight.shape, vec![4, 3]);
    assert!(!weight.no_decay);
    assert!(table.is_no_decay(&proj_bias), "proj.bias");
    assert!(table.is_no_decay(&block.attn_norm.id), "attn_norm");
    assert_eq!(table.no_decay_ids().len(), 4);
}
