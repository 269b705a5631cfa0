//! A datasets split expression (`open_provence_eval mldr --split`, e.g. `test[:10%]+dev`) →
//! row ranges inside splits of a few lengths, or a typed error.
#![no_main]

use libfuzzer_sys::fuzz_target;
use provence_datasets::{parse_split_expr, resolve_split_expr};
use provence_fuzz::check_error;

/// Split lengths each slice is resolved against (around the 100 rows percent slices care about).
const LENGTHS: [usize; 6] = [0, 1, 99, 100, 250, 1 << 40];

fuzz_target!(|data: &[u8]| {
    let Ok(expr) = std::str::from_utf8(data) else {
        return;
    };
    let slices = match parse_split_expr(expr) {
        Ok(slices) => slices,
        Err(e) => return check_error(&e),
    };
    for slice in &slices {
        for len in LENGTHS {
            match slice.range(len) {
                Ok(rows) => assert!(rows.start <= rows.end && rows.end <= len, "{rows:?} outside 0..{len}"),
                Err(e) => check_error(&e),
            }
        }
    }
    let known = ["train".to_owned(), "test".to_owned()];
    if let Err(e) = resolve_split_expr(expr, &known, |split| known.iter().any(|k| k == split).then_some(10)) {
        check_error(&e);
    }
});
