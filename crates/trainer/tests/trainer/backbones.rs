//! Training runs on every backbone family: a tiny BERT (`data/demo/model-bert`) and an XLM-R
//! built from it train end to end, and their `final_model/` reloads with the same architecture.

use provence_config::prepare_run;
use provence_model::{BackboneConfig, OpenProvenceModel};
use provence_test_support::demo;
use provence_test_support::model::copy_tokenizer;
use provence_test_support::recipe::DemoRecipe;
use provence_trainer::{EvalBackend, Precision, TrainBackend, run_training};
use std::path::{Path, PathBuf};

fn recipe(dir: &Path, model: &Path, output: &Path) -> PathBuf {
    DemoRecipe {
        model,
        output,
        model_args: "  max_length: 64\n",
        data_args: "  max_train_samples: 16\n  max_eval_samples: 4\n",
        training_args: r#"  learning_rate: 1.0e-3
  per_device_train_batch_size: 4
  max_steps: 3
  bf16: false
  dataloader_num_workers: 1
  report_to: []
"#,
    }
    .write(dir.join("recipe.yaml"))
}

/// `data/demo/model-bert` turned into an XLM-R config (positions after `pad_token_id`).
fn xlmr_model_dir(dir: &Path) -> PathBuf {
    let bert = demo("model-bert");
    let out = dir.join("model-xlmr");
    std::fs::create_dir_all(&out).unwrap();
    copy_tokenizer(&bert, &out);
    let mut config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(bert.join("config.json")).unwrap()).unwrap();
    config["model_type"] = "xlm-roberta".into();
    config["type_vocab_size"] = 1.into();
    config["max_position_embeddings"] = 80.into();
    std::fs::write(out.join("config.json"), config.to_string()).unwrap();
    out
}

#[test]
fn bert_and_xlm_roberta_train_end_to_end() {
    let _turn = provence_test_support::serial();
    let tmp = tempfile::tempdir().unwrap();
    for (model_dir, model_type) in [
        (demo("model-bert"), "bert"),
        (xlmr_model_dir(tmp.path()), "xlm-roberta"),
    ] {
        let run = tmp.path().join(model_type);
        let setup = prepare_run(&recipe(tmp.path(), &model_dir, &run), &[], None, "20260101_000000").unwrap();
        let outcome = run_training::<TrainBackend>(&setup, &Default::default(), Precision::F32).unwrap();
        assert_eq!(outcome.global_step, 3);
        let model = OpenProvenceModel::<EvalBackend>::load(&outcome.final_model, &Default::default()).unwrap();
        let BackboneConfig::Bert(config) = &model.config.base_model_config else {
            panic!("{model_type}: final_model reloaded as another architecture");
        };
        assert_eq!(config.model_type, model_type);
        let saved: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(outcome.final_model.join("config.json")).unwrap()).unwrap();
        assert_eq!(saved["encoder_architecture"], model_type);
    }
}
