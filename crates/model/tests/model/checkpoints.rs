//! Checkpoint layouts in and out: backbone repo (sharded, bf16), upstream final_model/ and
//! checkpoint-N/, save → reload round trips and the one-error report of a broken checkpoint.

use crate::common;

use std::collections::{BTreeSet, HashMap};
use std::path::Path;

use burn::prelude::*;
use common::*;
use provence_model::{
    AttentionLayout, CheckpointLayout, DEFAULT_HUB_REPO, Execution, LoadError, OpenProvenceModel, TensorProblem,
};
use safetensors::SafeTensors;

fn inputs(name: &str) -> (Tensor<Cpu, 2, Int>, Tensor<Cpu, 2, Int>) {
    let exp = read_tensors(&fixture(name).join("expected.safetensors"));
    let device = Default::default();
    (
        int2::<Cpu>(&exp["input_ids"], &device),
        int2::<Cpu>(&exp["attention_mask"], &device),
    )
}

/// The model in `dir` with the padded attention layout.
fn load_padded(dir: &Path) -> OpenProvenceModel<Cpu> {
    OpenProvenceModel::<Cpu>::load(dir, &Default::default())
        .unwrap()
        .with_execution(Execution::for_backend::<Cpu>().with_layout(AttentionLayout::Padded))
}

fn keys(path: &Path) -> BTreeSet<String> {
    let bytes = std::fs::read(path).unwrap();
    SafeTensors::deserialize(&bytes)
        .unwrap()
        .names()
        .into_iter()
        .map(str::to_owned)
        .collect()
}

fn assert_identical(a: Tensor<Cpu, 2>, b: Tensor<Cpu, 2>) {
    assert_eq!(values(a), values(b));
}

#[test]
fn upstream_final_model_loads_every_key() {
    // Loading succeeds only with no missing/unexpected/mis-shaped tensor; also the key set
    // written by the fixture script (upstream naming) equals our parameter names.
    let dir = fixture("tiny_mean_bias").join("final_model");
    let model = OpenProvenceModel::<Cpu>::load(&dir, &Default::default()).unwrap();
    let ours: BTreeSet<String> = model.named_param_ids().into_iter().map(|(_, n)| n).collect();
    assert_eq!(ours, keys(&dir.join("model.safetensors")));
    assert!(ours.contains("ranking_model.model.layers.1.attn_norm.bias"));
    assert!(!ours.iter().any(|n| n.contains("layers.0.attn_norm")));
    assert_eq!(model.config.num_labels, 2);
    assert_eq!(model.config.max_length(), 512);
}

#[test]
fn sharded_backbone_repo_loads_with_fresh_pruning_head() {
    // A backbone repo's missing heads are drawn from the shared RNG.
    let _rng = common::rng_lock();
    let name = "tiny_global";
    let exp = read_tensors(&fixture(name).join("expected.safetensors"));
    let model = load_padded(&fixture(name).join("backbone"));
    let (ids, mask) = inputs(name);
    let out = model.forward(ids, mask);
    assert!(max_abs_diff(out.ranking_logits, &exp["ranking_logits"]) <= 1e-4);
    assert!(max_abs_diff(out.hidden_state, &exp["hidden_last"]) <= 1e-4);
    // The pruning head is new (N(0, 0.02), bias 0), so its logits are small but not the fixture's.
    let (_, w) = values(model.pruning_head.classifier.weight.val());
    assert!(w.iter().all(|v| v.abs() < 0.2) && w.iter().any(|v| *v != 0.0));
}

#[test]
fn bf16_backbone_is_cast_to_f32() {
    // A backbone repo's missing heads are drawn from the shared RNG.
    let _rng = common::rng_lock();
    let name = "tiny_global";
    let exp = read_tensors(&fixture(name).join("expected_bf16.safetensors"));
    let model = load_padded(&fixture(name).join("backbone_bf16"));
    let (ids, mask) = inputs(name);
    let out = model.forward(ids, mask);
    assert!(max_abs_diff(out.ranking_logits, &exp["ranking_logits"]) <= 1e-4);
    assert!(max_abs_diff(out.hidden_state, &exp["hidden_last"]) <= 1e-4);
}

#[test]
fn upstream_checkpoint_layout_loads() {
    let name = "tiny_global";
    let exp = read_tensors(&fixture(name).join("expected.safetensors"));
    let model = load_padded(&fixture(name).join("checkpoint-2"));
    let (ids, mask) = inputs(name);
    let out = model.forward(ids, mask);
    assert!(max_abs_diff(out.ranking_logits, &exp["ranking_logits"]) <= 1e-4);
    assert!(max_abs_diff(out.pruning_logits, &exp["pruning_logits"]) <= 1e-4);
}

#[test]
fn save_final_model_and_checkpoint_round_trip() {
    let name = "tiny_cls_window";
    let src = fixture(name).join("final_model");
    let model = OpenProvenceModel::<Cpu>::load(&src, &Default::default()).unwrap();
    let (ids, mask) = inputs(name);
    let before = model.forward(ids.clone(), mask.clone());
    let tmp = tempfile::tempdir().unwrap();

    let fm = tmp.path().join("final_model");
    model.save_final_model(&fm, DEFAULT_HUB_REPO).unwrap();
    assert_eq!(
        keys(&fm.join("model.safetensors")),
        keys(&src.join("model.safetensors"))
    );
    let cfg: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fm.join("config.json")).unwrap()).unwrap();
    assert_eq!(cfg["model_type"], "open_provence");
    assert_eq!(cfg["num_labels"], 1);
    assert_eq!(cfg["id2label"], serde_json::json!({"0": "LABEL_0"}));
    assert_eq!(cfg["max_length"], 512);
    assert_eq!(cfg["base_model_config"]["model_type"], "modernbert");
    assert_eq!(cfg["base_model_config"]["dtype"], "float32");
    assert_eq!(cfg["pruning_config"]["hidden_size"], 24);
    assert_eq!(
        cfg["auto_map"]["AutoConfig"],
        "hotchpotch/open-provence-reranker-v1--modeling_open_provence_standalone.OpenProvenceConfig"
    );

    let ck = tmp.path().join("checkpoint-7");
    model.save_checkpoint(&ck, DEFAULT_HUB_REPO).unwrap();
    let ck_keys = keys(&ck.join("model.safetensors"));
    assert!(ck_keys.contains("model.layers.1.attn.Wqkv.weight"));
    assert!(ck_keys.contains("pruning_head.classifier.bias"));
    assert!(!ck_keys.iter().any(|k| k.starts_with("ranking_model.")));

    for dir in [fm, ck] {
        let reloaded = OpenProvenceModel::<Cpu>::load(&dir, &Default::default()).unwrap();
        let after = reloaded.forward(ids.clone(), mask.clone());
        assert_identical(before.ranking_logits.clone(), after.ranking_logits);
        assert_eq!(values(before.pruning_logits.clone()), values(after.pruning_logits));
    }
}

proptest::proptest! {
    #![proptest_config(proptest::test_runner::Config::with_cases(8))]

    /// Any geometry and weights: a model saved in either layout loads back to the same model,
    /// which saves the very same bytes (weights and config) again.
    #[test]
    fn save_then_load_is_identical_for_any_model(
        layers in 1usize..3,
        bert in proptest::bool::ANY,
        heads_log2 in 0u32..3,
        seed in proptest::num::u64::ANY,
    ) {
        let _rng = common::rng_lock();
        let device = Default::default();
        Cpu::seed(&device, seed);
        let heads = 1usize << heads_log2;
        let config = if bert {
            serde_json::json!({"model_type": "bert", "vocab_size": 40, "hidden_size": 8 * heads,
                "intermediate_size": 12, "num_hidden_layers": layers, "num_attention_heads": heads,
                "max_position_embeddings": 32, "num_labels": 1})
        } else {
            serde_json::json!({"model_type": "modernbert", "vocab_size": 40, "hidden_size": 8 * heads,
                "intermediate_size": 12, "num_hidden_layers": layers, "num_attention_heads": heads,
                "num_labels": 1, "pad_token_id": 0})
        };
        let backbone = provence_model::BackboneConfig::from_json(config).unwrap();
        let model = OpenProvenceModel::<Cpu>::from_scratch(provence_model::OpenProvenceConfig::new(backbone, 0.0), &device)
            .unwrap();
        let tmp = tempfile::tempdir().unwrap();
        let files = |dir: &Path| ["model.safetensors", "config.json"].map(|f| std::fs::read(dir.join(f)).unwrap());
        for checkpoint in [false, true] {
            let save = |model: &OpenProvenceModel<Cpu>, dir: &Path| {
                if checkpoint {
                    model.save_checkpoint(dir, DEFAULT_HUB_REPO).unwrap();
                } else {
                    model.save_final_model(dir, DEFAULT_HUB_REPO).unwrap();
                }
            };
            let (first, second) = (tmp.path().join(format!("a{checkpoint}")), tmp.path().join(format!("b{checkpoint}")));
            save(&model, &first);
            let reloaded = OpenProvenceModel::<Cpu>::load(&first, &device).unwrap();
            save(&reloaded, &second);
            proptest::prop_assert!(files(&first) == files(&second), "checkpoint layout: {}", checkpoint);
        }
    }
}

#[test]
fn broken_checkpoint_lists_every_problem() {
    let src = fixture("tiny_global").join("final_model");
    let tmp = tempfile::tempdir().unwrap();
    std::fs::copy(src.join("config.json"), tmp.path().join("config.json")).unwrap();
    let bytes = std::fs::read(src.join("model.safetensors")).unwrap();
    let st = SafeTensors::deserialize(&bytes).unwrap();
    let mut tensors: HashMap<String, (Vec<usize>, Vec<u8>)> = st
        .tensors()
        .into_iter()
        .map(|(k, v)| (k, (v.shape().to_vec(), v.data().to_vec())))
        .collect();
    tensors.remove("ranking_model.model.layers.1.mlp.Wi.weight").unwrap();
    tensors.insert(
        "ranking_model.model.layers.9.extra.weight".into(),
        (vec![2], vec![0; 8]),
    );
    tensors.insert(
        "pruning_head.classifier.weight".into(),
        (vec![3, 16], vec![0; 3 * 16 * 4]),
    );
    let views: Vec<(String, safetensors::tensor::TensorView<'_>)> = tensors
        .iter()
        .map(|(k, (s, d))| {
            let v = safetensors::tensor::TensorView::new(safetensors::Dtype::F32, s.clone(), d);
            (k.clone(), v.unwrap())
        })
        .collect();
    safetensors::serialize_to_file(views, None, &tmp.path().join("model.safetensors")).unwrap();

    let err = OpenProvenceModel::<Cpu>::load(tmp.path(), &Default::default()).unwrap_err();
    let LoadError::Tensors { layout, problems, .. } = &err else {
        panic!("expected LoadError::Tensors, got {err}");
    };
    assert_eq!(*layout, CheckpointLayout::FinalModel);
    let mut problems = problems.clone();
    problems.sort_by_key(|p| p.to_string());
    assert_eq!(
        problems,
        vec![
            TensorProblem::Missing("ranking_model.model.layers.1.mlp.Wi.weight".into()),
            TensorProblem::Shape {
                key: "pruning_head.classifier.weight".into(),
                expected: vec![2, 16],
                found: vec![3, 16],
            },
            TensorProblem::Unexpected("ranking_model.model.layers.9.extra.weight".into()),
        ]
    );
    let msg = err.to_string();
    assert!(msg.contains("3 tensor problem(s)"), "{msg}");
}

#[test]
fn directory_without_weights_is_an_error() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::copy(
        fixture("tiny_global").join("backbone/config.json"),
        tmp.path().join("config.json"),
    )
    .unwrap();
    let err = OpenProvenceModel::<Cpu>::load(tmp.path(), &Default::default()).unwrap_err();
    assert!(matches!(err, LoadError::NoWeights { .. }), "{err}");
}

/// Copies `src/model.safetensors` (one file) to `dst/`, renaming keys with `rename` (None drops
/// the tensor) and adding `extra` tensors; copies `config.json`.
fn rewrite(src: &Path, dst: &Path, rename: impl Fn(&str) -> Option<String>, extra: &[(&str, Vec<usize>)]) {
    std::fs::copy(src.join("config.json"), dst.join("config.json")).unwrap();
    let bytes = std::fs::read(src.join("model.safetensors")).unwrap();
    let st = SafeTensors::deserialize(&bytes).unwrap();
    let mut tensors: Vec<(String, Vec<usize>, Vec<u8>)> = st
        .tensors()
        .into_iter()
        .filter_map(|(k, v)| rename(&k).map(|k| (k, v.shape().to_vec(), v.data().to_vec())))
        .collect();
    for (k, shape) in extra {
        let n: usize = shape.iter().product();
        tensors.push(((*k).to_owned(), shape.clone(), vec![0; 4 * n]));
    }
    let views: Vec<(String, safetensors::tensor::TensorView<'_>)> = tensors
        .iter()
        .map(|(k, s, d)| {
            let v = safetensors::tensor::TensorView::new(safetensors::Dtype::F32, s.clone(), d);
            (k.clone(), v.unwrap())
        })
        .collect();
    safetensors::serialize_to_file(views, None, &dst.join("model.safetensors")).unwrap();
}

#[test]
fn bare_encoder_and_masked_lm_backbones_load() {
    // A backbone repo's missing heads are drawn from the shared RNG.
    let _rng = common::rng_lock();
    let name = "tiny_global";
    let exp = read_tensors(&fixture(name).join("expected.safetensors"));
    let (ids, mask) = inputs(name);
    // The checkpoint-2 file holds the task-model keys unprefixed; derive the other layouts.
    let tmp_src = tempfile::tempdir().unwrap();
    let ck = fixture(name).join("checkpoint-2");
    std::fs::copy(
        fixture(name).join("backbone/config.json"),
        tmp_src.path().join("config.json"),
    )
    .unwrap();
    std::fs::copy(ck.join("model.safetensors"), tmp_src.path().join("model.safetensors")).unwrap();

    // Bare ModernBertModel: `embeddings.*`, `layers.*`, `final_norm.*`; head and classifier new.
    let bare = tempfile::tempdir().unwrap();
    rewrite(
        tmp_src.path(),
        bare.path(),
        |k| k.strip_prefix("model.").map(str::to_owned),
        &[],
    );
    let model = load_padded(bare.path());
    let out = model.forward(ids.clone(), mask.clone());
    assert!(max_abs_diff(out.hidden_state, &exp["hidden_last"]) <= 1e-4);
    assert!(max_abs_diff(out.ranking_logits, &exp["ranking_logits"]) > 1e-2);

    // Masked-LM: task keys plus `decoder.bias`, which is ignored.
    let mlm = tempfile::tempdir().unwrap();
    rewrite(
        tmp_src.path(),
        mlm.path(),
        |k| (!k.starts_with("pruning_head.")).then(|| k.to_owned()),
        &[("decoder.bias", vec![32])],
    );
    let model = load_padded(mlm.path());
    let out = model.forward(ids, mask);
    assert!(max_abs_diff(out.ranking_logits, &exp["ranking_logits"]) <= 1e-4);
}

/// The weights get the same mode as the other files the process writes (the umask's), not the
/// 0600 of a private temp file, so a service running as another user can read a model.
#[cfg(unix)]
#[test]
fn saved_weights_are_as_readable_as_the_config() {
    use std::os::unix::fs::PermissionsExt;
    let model =
        OpenProvenceModel::<Cpu>::load(&fixture("tiny_global").join("final_model"), &Default::default()).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("final_model");
    model.save_final_model(&dir, DEFAULT_HUB_REPO).unwrap();
    let mode = |name: &str| std::fs::metadata(dir.join(name)).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode("model.safetensors"), mode("config.json"));
    assert_ne!(
        mode("config.json") & 0o044,
        0,
        "the test needs a umask that lets others read"
    );
}
