//! A model directory's `config.json` (with the tiny model's weights beside it) → a loaded model,
//! or a typed error; an absurd geometry must not allocate past the RSS bound.
#![no_main]

use libfuzzer_sys::fuzz_target;
use provence_fuzz::{B, check_error, scratch_dir, tiny_model_dir, write_input};
use provence_model::OpenProvenceModel;
use std::path::PathBuf;

thread_local! {
    static DIR: PathBuf = scratch_dir(&tiny_model_dir(), &["model.safetensors"]);
}

fuzz_target!(|data: &[u8]| {
    DIR.with(|dir| {
        write_input(&dir.join("config.json"), data);
        if let Err(e) = OpenProvenceModel::<B>::load(dir, &Default::default()) {
            check_error(&e);
        }
    });
});
