//! Our recipes under `configs/` (the six upstream recipes with their values unchanged, and the
//! demos) load and validate with no unknown key, and carry upstream's values.

use provence_config::{Optimizer, Origin, SchedulerType, TrainConfig};
use std::path::PathBuf;

fn configs_dir() -> PathBuf {
    provence_test_support::repo("configs")
}

fn load(name: &str) -> TrainConfig {
    let config = TrainConfig::load(&configs_dir().join(name)).unwrap();
    config.validate().unwrap();
    assert!(config.unknown_keys.is_empty(), "{name}: {:?}", config.unknown_keys);
    config
}

#[test]
fn every_recipe_loads_and_validates() {
    let mut names: Vec<String> = std::fs::read_dir(configs_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".yaml"))
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "demo-bert.yaml",
            "demo.yaml",
            "open-provence-reranker-large-v1.yaml",
            "open-provence-reranker-v1-gte-modernbert-base.yaml",
            "open-provence-reranker-v1.yaml",
            "open-provence-reranker-xsmall-v1.yaml",
            "toy-open-provence-reranker-v1-gte-modernbert-base.yaml",
            "toy-open-provence-reranker-v1.yaml",
        ]
    );
    for name in &names {
        let config = load(name);
        let eval = config.training_args.eval_datasets.as_ref().unwrap();
        let eval_config = configs_dir().join("..").join(eval.config.as_ref().unwrap());
        assert!(eval_config.exists(), "{name}: {} is missing", eval_config.display());
    }
}

#[test]
fn shared_training_values_of_upstream_recipes() {
    for name in [
        "open-provence-reranker-large-v1.yaml",
        "open-provence-reranker-v1-gte-modernbert-base.yaml",
        "open-provence-reranker-v1.yaml",
        "open-provence-reranker-xsmall-v1.yaml",
        "toy-open-provence-reranker-v1-gte-modernbert-base.yaml",
        "toy-open-provence-reranker-v1.yaml",
    ] {
        let c = load(name);
        let t = &c.training_args;
        assert_eq!(t.optimizer, Optimizer::Adafactor, "{name}");
        assert_eq!(
            (t.learning_rate, t.weight_decay, t.max_grad_norm, t.warmup_ratio),
            (5e-5, 0.01, 1.0, 0.1)
        );
        assert_eq!(t.lr_scheduler_type, SchedulerType::Cosine);
        assert_eq!(
            (t.logging_steps, t.save_steps, t.eval_steps, t.save_total_limit),
            (Some(100), Some(500), Some(500), Some(5))
        );
        assert!(t.bf16 && !t.fp16 && t.load_best_model_at_end && t.overwrite_output_dir);
        assert_eq!(
            (
                t.dataloader_num_workers,
                t.per_device_eval_batch_size,
                t.num_train_epochs
            ),
            (8, 16, 1.0)
        );
        assert_eq!(t.report_to, ["wandb"]);
        assert_eq!(c.model_args.classifier_dropout, 0.0);
        assert_eq!(
            c.origin("model_args.classifier_dropout"),
            Origin::Yaml { line: 3, column: 3 }
        );
        assert_eq!(t.eval_datasets.as_ref().unwrap().threshold, 0.1);
    }
}

#[test]
fn recipe_specific_values() {
    let toy = load("toy-open-provence-reranker-v1.yaml");
    assert_eq!(
        toy.model_args.model_name_or_path,
        "hotchpotch/japanese-reranker-base-v2"
    );
    let datasets = toy.data_args.datasets.as_ref().unwrap();
    assert_eq!(datasets.len(), 3);
    assert!(datasets.iter().all(|d| d.n_samples == Some(4000.0)));
    assert_eq!(datasets[2].subset.as_deref(), Some("auto-wiki-qa-nemotron"));
    assert_eq!(datasets[0].teacher_column, "teacher_scores.japanese-reranker-base-v2");
    let t = &toy.training_args;
    assert_eq!((t.per_device_train_batch_size, t.gradient_accumulation_steps), (4, 16));
    let eval = t.eval_datasets.as_ref().unwrap();
    assert_eq!(
        (eval.config.as_deref(), eval.batch_size),
        (Some("configs/eval_datasets/ja_nano.yaml"), 32)
    );

    let gte = load("toy-open-provence-reranker-v1-gte-modernbert-base.yaml");
    assert_eq!(
        gte.model_args.model_name_or_path,
        "Alibaba-NLP/gte-reranker-modernbert-base"
    );
    let items: Vec<_> = gte
        .data_args
        .datasets
        .as_ref()
        .unwrap()
        .iter()
        .map(|d| d.items)
        .collect();
    assert_eq!(items, [None, Some(Some(6)), Some(Some(6))]);

    let v1 = load("open-provence-reranker-v1.yaml");
    let datasets = v1.data_args.datasets.as_ref().unwrap();
    assert_eq!(datasets.len(), 14);
    let upsample: Vec<_> = datasets.iter().filter_map(|d| d.upsample_factor.flatten()).collect();
    assert_eq!(upsample, [4.0, 2.0, 2.0, 2.0]);
    assert_eq!(v1.training_args.gradient_accumulation_steps, 64);

    let large = load("open-provence-reranker-large-v1.yaml");
    assert_eq!(large.model_args.model_name_or_path, "cl-nagoya/ruri-v3-reranker-310m");
    assert_eq!(
        (
            large.training_args.per_device_train_batch_size,
            large.training_args.gradient_accumulation_steps
        ),
        (2, 128)
    );
    assert_eq!(large.training_args.eval_datasets.as_ref().unwrap().batch_size, 16);

    let xsmall = load("open-provence-reranker-xsmall-v1.yaml");
    assert_eq!(
        xsmall.model_args.model_name_or_path,
        "hotchpotch/japanese-reranker-xsmall-v2"
    );
    assert_eq!(xsmall.training_args.eval_datasets.as_ref().unwrap().batch_size, 64);

    let demo = load("demo.yaml");
    assert!(demo.model_args.from_scratch && !demo.training_args.bf16);
}

/// HF Trainer's Hub keys are read from recipes (upstream's YAML loader drops them; docs/parity.md).
#[test]
fn hub_keys_are_read_as_hf_trainer_reads_them() {
    use provence_config::HubStrategy;
    let text = "training_args:\n  push_to_hub: true\n  hub_model_id: me/pruner\n  hub_private_repo: true\n  hub_strategy: end\n";
    let t = TrainConfig::parse(text, None).unwrap().training_args;
    assert!(t.push_to_hub);
    assert_eq!(t.hub_model_id.as_deref(), Some("me/pruner"));
    assert_eq!(t.hub_private_repo, Some(true));
    assert_eq!(t.hub_strategy, HubStrategy::End);
    let defaults = TrainConfig::parse("training_args: {}\n", None).unwrap().training_args;
    assert!(!defaults.push_to_hub);
    assert_eq!((defaults.hub_model_id, defaults.hub_private_repo), (None, None));
    assert_eq!(defaults.hub_strategy, HubStrategy::EverySave, "HF Trainer's default");
}
