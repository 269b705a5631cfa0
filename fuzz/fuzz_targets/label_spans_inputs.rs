//! `open_provence_data label-spans --dry-run` (every prompt built, nothing asked): first byte
//! `% 3` picks the file the rest replaces — the dataset's parquet file (0), the LLM's
//! `tokenizer_config.json` with its chat template (1) or its `tokenizer.json` (2); the others are
//! the fixtures'. Prompts, or a typed error naming the file, row or template.
#![no_main]

use libfuzzer_sys::fuzz_target;
use provence_data::{DEFAULT_MAX_MODEL_LEN, LabelOptions, OutputOptions, default_label_sampling, label_spans};
use provence_datasets::SourceResolver;
use provence_fuzz::{check_error, repo, scratch_dir, setup, write_input};
use provence_llm::LlmConfig;
use std::path::{Path, PathBuf};

/// The three input files (relative to the scratch root) and their fixture contents.
struct Inputs {
    root: PathBuf,
    files: [(PathBuf, Vec<u8>); 3],
}

thread_local! {
    static INPUTS: Inputs = {
        provence_fuzz::allow_caught_panics();
        let root = scratch_dir(Path::new("."), &[]);
        let fixture = |rel: &str| setup(std::fs::read(repo(rel)), rel);
        let tokenizer = "tests/fixtures/data_pipeline/label_spans/llm_tokenizer";
        let files = [
            ("dataset/data/train-00000-of-00001.parquet", fixture("tests/fixtures/data_pipeline/filter/input/data/train-00000-of-00001.parquet")),
            ("llm/tokenizer_config.json", fixture(&format!("{tokenizer}/tokenizer_config.json"))),
            ("llm/tokenizer.json", fixture(&format!("{tokenizer}/tokenizer.json"))),
        ]
        .map(|(rel, bytes)| (root.join(rel), bytes));
        for (path, _) in &files {
            setup(std::fs::create_dir_all(path.parent().unwrap_or(&root)), "scratch dirs");
        }
        Inputs { root, files }
    };
}

fuzz_target!(|data: &[u8]| {
    let Some((&which, bytes)) = data.split_first() else {
        return;
    };
    INPUTS.with(|inputs| {
        for (i, (path, fixture)) in inputs.files.iter().enumerate() {
            write_input(path, if i == usize::from(which % 3) { bytes } else { fixture });
        }
        let mut llm = LlmConfig::new("http://127.0.0.1:9/v1", "llm");
        llm.api_key = None;
        let options = LabelOptions {
            dataset: inputs.root.join("dataset").display().to_string(),
            llm,
            sampling: default_label_sampling(),
            tokenizer: Some(inputs.root.join("llm")),
            max_model_len: DEFAULT_MAX_MODEL_LEN,
            debug_limit: Some(4),
            dry_run: true,
            output: OutputOptions::new(inputs.root.join("output")),
        };
        if let Err(e) = label_spans(&SourceResolver::local_only(), &options) {
            check_error(&e);
        }
    });
});
