//! A dataset's parquet file → checked rows (spans, labels, teacher scores), then collated with
//! the tiny model's tokenizer: rows and a batch, or a typed error naming the file and row.
#![no_main]

use libfuzzer_sys::fuzz_target;
use provence_datasets::{BadRowPolicy, Collator, CollatorConfig, SourceResolver};
use provence_fuzz::{check_error, setup, tiny_model_dir, write_input};
use provence_hub::PretrainedTokenizer;
use std::path::PathBuf;

thread_local! {
    /// A local dataset folder with one train file, and the collator.
    static DATASET: (PathBuf, Collator) = {
        provence_fuzz::allow_caught_panics();
        let dir = provence_fuzz::scratch_dir(&tiny_model_dir(), &[]);
        setup(std::fs::create_dir_all(dir.join("data")), "data dir");
        let tokenizer = setup(PretrainedTokenizer::from_pretrained(tiny_model_dir()), "tokenizer");
        (dir, setup(Collator::new(&tokenizer, CollatorConfig::default()), "collator"))
    };
}

fuzz_target!(|data: &[u8]| {
    DATASET.with(|(dir, collator)| {
        write_input(&dir.join("data/train-00000-of-00001.parquet"), data);
        let resolver = SourceResolver::local_only();
        let split = resolver
            .resolve(&dir.to_string_lossy(), None)
            .and_then(|dataset| resolver.load_split(&dataset, "train", "teacher_score", BadRowPolicy::Skip));
        let split = match split {
            Ok(split) => split,
            Err(e) => return check_error(&e),
        };
        for rows in split.rows.chunks(4).take(4) {
            if let Err(e) = collator.collate(rows) {
                check_error(&e);
            }
        }
    });
});
