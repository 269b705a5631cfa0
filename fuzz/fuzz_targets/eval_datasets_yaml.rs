//! Eval-datasets YAML (`open_provence_eval --config`) → datasets to evaluate, or a typed error.
#![no_main]

use libfuzzer_sys::fuzz_target;
use provence_eval::EvalDatasetsConfig;

fuzz_target!(|data: &[u8]| {
    // `EvalDatasetsConfig::from_file` refuses non-UTF-8 files before parsing.
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Err(e) = EvalDatasetsConfig::parse(text) {
        assert!(!e.message.trim().is_empty(), "an error with an empty message");
    }
});
