//! `process()` on the tiny model: any question/context shape, titles, threshold and options,
//! given as a JSON case (`question`, `context`, `options`; tests/fixtures/process/cases.json) →
//! a result of the input's shape, or a typed error.
#![no_main]

use libfuzzer_sys::fuzz_target;
use provence_fuzz::{B, MAX_MODEL_INPUT, check_error, process_case, tiny_pruner};
use provence_infer::Pruner;

thread_local! {
    static PRUNER: Pruner<B> = tiny_pruner();
}

fuzz_target!(|data: &[u8]| {
    if data.len() > MAX_MODEL_INPUT {
        return;
    }
    let Ok(case) = serde_json::from_slice(data) else {
        return;
    };
    let Some((input, options)) = process_case(&case) else {
        return;
    };
    PRUNER.with(|pruner| {
        if let Err(e) = pruner.process(input, &options) {
            check_error(&e);
        }
    });
});
