//! A dataset's parquet file through `open_provence_data`'s readers: first byte `% 4` picks
//! `convert` with the English Punkt, Japanese or generic regex splitter (0–2) or
//! `filter-frequency` (3), each writing a complete output directory or returning a typed error
//! naming the dataset, split, column or row.
#![no_main]

use libfuzzer_sys::fuzz_target;
use provence_data::{ConvertOptions, FilterOptions, OutputOptions, convert, filter_frequency};
use provence_datasets::SourceResolver;
use provence_fuzz::{check_error, scratch_dir, setup, write_input};
use std::path::{Path, PathBuf};

/// Texts longer than this (code points) are refused, so one input cannot split for long.
const MAX_TEXT_CHARS: usize = 4096;

thread_local! {
    /// A local dataset folder (`input/data/` holds the one train file) and the output path.
    static DIRS: (PathBuf, PathBuf) = {
        provence_fuzz::allow_caught_panics();
        let root = scratch_dir(Path::new("."), &[]);
        setup(std::fs::create_dir_all(root.join("input/data")), "data dir");
        (root.join("input"), root.join("output"))
    };
}

fuzz_target!(|data: &[u8]| {
    let Some((&which, parquet)) = data.split_first() else {
        return;
    };
    DIRS.with(|(input, output)| {
        write_input(&input.join("data/train-00000-of-00001.parquet"), parquet);
        let resolver = SourceResolver::local_only();
        let output = OutputOptions {
            overwrite: true,
            ..OutputOptions::new(output)
        };
        let dataset = input.display().to_string();
        let result = match which % 4 {
            3 => filter_frequency(
                &resolver,
                &FilterOptions {
                    dataset,
                    subset: None,
                    splits: vec!["train".to_owned()],
                    thresholds: vec![u32::from(which / 4 % 4)],
                    debug_limit: None,
                    id_column: "id".to_owned(),
                    texts_column: "texts".to_owned(),
                    output,
                },
            )
            .map(drop),
            lang => convert(
                &resolver,
                &ConvertOptions {
                    dataset,
                    subset: None,
                    lang: ["en", "ja", "xx"][usize::from(lang)].to_owned(),
                    punkt_dir: None,
                    sample_size: (which >= 128).then_some(2),
                    seed: 42,
                    max_text_chars: MAX_TEXT_CHARS,
                    output,
                },
            )
            .map(drop),
        };
        if let Err(e) = result {
            check_error(&e);
        }
    });
});
