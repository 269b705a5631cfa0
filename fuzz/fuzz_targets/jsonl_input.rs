//! The JSONL `--input` of `open_provence_eval prune`: lines → requests → one JSON result per
//! request on the tiny model, or a typed error naming the line.
#![no_main]

use libfuzzer_sys::fuzz_target;
use provence_fuzz::{B, MAX_MODEL_INPUT, check_error, tiny_pruner};
use provence_infer::{ProcessOptions, Pruner, process_requests, read_requests};

thread_local! {
    static PRUNER: Pruner<B> = tiny_pruner();
}

fuzz_target!(|data: &[u8]| {
    let requests = match read_requests(data) {
        Ok(requests) => requests,
        Err(e) => return check_error(&e),
    };
    if data.len() > MAX_MODEL_INPUT {
        return;
    }
    let count = requests.len();
    let mut out = Vec::new();
    PRUNER.with(
        |pruner| match process_requests(pruner, requests, &mut out, &ProcessOptions::default()) {
            Ok(written) => {
                assert_eq!(written, count, "one result per request");
                let lines = out.split(|&b| b == b'\n').filter(|l| !l.is_empty());
                for line in lines {
                    assert!(
                        serde_json::from_slice::<serde_json::Value>(line).is_ok(),
                        "a result is not JSON"
                    );
                }
            }
            Err(e) => check_error(&e),
        },
    );
});
