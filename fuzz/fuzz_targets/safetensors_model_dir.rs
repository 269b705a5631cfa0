//! A model directory's `model.safetensors` (header, tensor table, data; the tiny model's
//! `config.json` beside it) → a loaded model, or a typed error naming the tensors.
#![no_main]

use libfuzzer_sys::fuzz_target;
use provence_fuzz::{B, check_error, scratch_dir, tiny_model_dir, write_input};
use provence_model::OpenProvenceModel;
use std::path::PathBuf;

thread_local! {
    static DIR: PathBuf = scratch_dir(&tiny_model_dir(), &["config.json"]);
}

fuzz_target!(|data: &[u8]| {
    DIR.with(|dir| {
        write_input(&dir.join("model.safetensors"), data);
        if let Err(e) = OpenProvenceModel::<B>::load(dir, &Default::default()) {
            check_error(&e);
        }
    });
});
