//! The whole pipeline on a small committed triplet file (`input/en_triplet`, 10 rows): convert →
//! filter-frequency → teacher-scores (a tiny fixture cross-encoder) → label-spans (a fake
//! endpoint on 127.0.0.1) → the trainer trains 5 steps on the result.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use provence_config::prepare_run;
use provence_data::{
    ConvertOptions, DEFAULT_CHUNK_ROWS, DEFAULT_MAX_MODEL_LEN, DEFAULT_MAX_TEXT_CHARS, FilterOptions, LabelOptions,
    OutputOptions, RELEVANCE_COLUMN, TeacherOptions, convert, default_label_sampling, filter_frequency, label_spans,
    teacher_scores,
};
use provence_datasets::SourceResolver;
use provence_hub::HubOptions;
use provence_llm::LlmConfig;
use provence_trainer::{Precision, TrainBackend, run_training};

use provence_test_support::{demo, fixture};

use crate::common::{read_back, rows};
use crate::fake_llm::FakeLlm;

fn build(tmp: &Path) -> PathBuf {
    let resolver = SourceResolver::local_only();
    let converted = tmp.join("converted");
    convert(
        &resolver,
        &ConvertOptions {
            dataset: fixture("data_pipeline/input/en_triplet").display().to_string(),
            subset: None,
            lang: "en".to_owned(),
            punkt_dir: None,
            sample_size: None,
            seed: 42,
            max_text_chars: DEFAULT_MAX_TEXT_CHARS,
            output: OutputOptions::new(&converted),
        },
    )
    .unwrap();
    let filtered = tmp.join("filtered");
    filter_frequency(
        &resolver,
        &FilterOptions {
            dataset: converted.display().to_string(),
            subset: None,
            splits: vec!["train".to_owned()],
            thresholds: vec![2],
            debug_limit: None,
            id_column: "id".to_owned(),
            texts_column: "texts".to_owned(),
            output: OutputOptions::new(&filtered),
        },
    )
    .unwrap();
    let scored = tmp.join("scored");
    teacher_scores(
        &resolver,
        &TeacherOptions {
            dataset: filtered.display().to_string(),
            model: fixture("data_pipeline/teacher/models/tiny-modernbert-reranker")
                .display()
                .to_string(),
            column_name: Some("teacher".to_owned()),
            overwrite_column: false,
            batch_size: 8,
            max_batch_tokens: 1024,
            chunk_rows: DEFAULT_CHUNK_ROWS,
            debug_limit: None,
            progress: false,
            hub: HubOptions {
                offline: true,
                ..HubOptions::from_vars(|_| None)
            },
            output: OutputOptions::new(&scored),
        },
    )
    .unwrap();
    let fake = FakeLlm::start(HashMap::new(), Vec::new());
    let mut llm = LlmConfig::new(&fake.endpoint, "llm");
    llm.cache_dir = Some(tmp.join("llm-cache"));
    let labelled = tmp.join("labelled");
    let report = label_spans(
        &resolver,
        &LabelOptions {
            dataset: scored.display().to_string(),
            llm,
            sampling: default_label_sampling(),
            tokenizer: None,
            max_model_len: DEFAULT_MAX_MODEL_LEN,
            debug_limit: None,
            dry_run: false,
            output: OutputOptions::new(&labelled),
        },
    )
    .unwrap();
    assert_eq!(report.requests, fake.requests().len());
    assert!(report.requests > 0);
    labelled
}

#[test]
fn a_built_dataset_trains() {
    let tmp = tempfile::tempdir().unwrap();
    let labelled = build(tmp.path());
    let train = read_back(&labelled);
    let first = &rows(&train.splits[0].batch)[0];
    for column in [
        "id",
        "query",
        "texts",
        "context_spans",
        "labels",
        "teacher_scores.teacher",
        RELEVANCE_COLUMN,
    ] {
        assert!(first.get(column).is_some(), "{column} missing: {first}");
    }
    // The fake answers "1": the first span of every passage with a span is relevant.
    assert_eq!(first[RELEVANCE_COLUMN][0][0], 1);

    let output = tmp.path().join("run");
    let recipe = tmp.path().join("recipe.yaml");
    let text = format!(
        r#"model_args:
  model_name_or_path: "{model}"
  from_scratch: true
  max_length: 64
data_args:
  datasets:
    - dataset_name: "{data}"
      teacher_column: "teacher_scores.teacher"
training_args:
  output_dir: "{output}"
  per_device_train_batch_size: 2
  gradient_accumulation_steps: 1
  max_steps: 5
  save_steps: 100
  eval_steps: 100
  dataloader_num_workers: 0
  report_to: []
"#,
        model = demo("model").display(),
        data = labelled.display(),
        output = output.display()
    );
    std::fs::write(&recipe, text).unwrap();
    let setup = prepare_run(&recipe, &[], None, "20260101_000000").unwrap();
    let outcome = run_training::<TrainBackend>(&setup, &Default::default(), Precision::F32).unwrap();
    assert_eq!(outcome.global_step, 5);
    assert!(output.join("final_model").join("model.safetensors").exists());
}
