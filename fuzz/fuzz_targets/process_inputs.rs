//! `process()` on the tiny model: any question/context shape, titles, threshold and options
//! (`provence_fuzz::process_call`) → a result, or a typed error.
#![no_main]

use libfuzzer_sys::arbitrary::Unstructured;
use libfuzzer_sys::fuzz_target;
use provence_fuzz::{B, MAX_MODEL_INPUT, check_error, process_call, tiny_pruner};
use provence_infer::Pruner;

thread_local! {
    static PRUNER: Pruner<B> = tiny_pruner();
}

fuzz_target!(|data: &[u8]| {
    if data.len() > MAX_MODEL_INPUT {
        return;
    }
    let Ok((input, options)) = process_call(&mut Unstructured::new(data)) else {
        return;
    };
    PRUNER.with(|pruner| {
        if let Err(e) = pruner.process(input, &options) {
            check_error(&e);
        }
    });
});
