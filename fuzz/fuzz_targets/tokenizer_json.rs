//! A model directory's `tokenizer.json` (the tiny model's tokenizer_config.json and
//! special_tokens_map.json beside it) → a tokenizer that encodes a pair and builds the training
//! collator, or a typed error.
#![no_main]

use libfuzzer_sys::fuzz_target;
use provence_datasets::{Collator, CollatorConfig, Row};
use provence_fuzz::{check_error, scratch_dir, tiny_model_dir, write_input};
use provence_hub::PretrainedTokenizer;
use std::path::PathBuf;

thread_local! {
    static DIR: PathBuf = scratch_dir(&tiny_model_dir(), &["tokenizer_config.json", "special_tokens_map.json"]);
}

fuzz_target!(|data: &[u8]| {
    DIR.with(|dir| {
        write_input(&dir.join("tokenizer.json"), data);
        let tokenizer = match PretrainedTokenizer::from_pretrained(dir) {
            Ok(tokenizer) => tokenizer,
            Err(e) => return check_error(&e),
        };
        if let Err(e) = tokenizer
            .tokenizer()
            .encode(("What is it?", "It is a test. Ünïcode ok."), true)
        {
            return check_error(&e);
        }
        let row = Row {
            id: None,
            query: "What is it?".into(),
            texts: vec!["It is a test. Ünïcode ok.".into()],
            context_spans: vec![vec![[0, 14], [14, 25]]],
            labels: Some(vec![1]),
            context_spans_relevance: vec![vec![1, 0]],
            teacher_score: None,
        };
        let collated = Collator::new(&tokenizer, CollatorConfig::default()).and_then(|c| c.collate(&[row]));
        if let Err(e) = collated {
            check_error(&e);
        }
    });
});
