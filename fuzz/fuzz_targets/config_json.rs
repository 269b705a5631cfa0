//! A model directory's `config.json` (with the tiny model's weights beside it) → a loaded model,
//! or a typed error; an absurd geometry must not allocate past the RSS bound.
#![no_main]

use libfuzzer_sys::fuzz_target;
use provence_fuzz::{load_model_dir_with, scratch_dir, tiny_model_dir};
use std::path::PathBuf;

thread_local! {
    static DIR: PathBuf = scratch_dir(&tiny_model_dir(), &["model.safetensors"]);
}

fuzz_target!(|data: &[u8]| DIR.with(|dir| load_model_dir_with(dir, "config.json", data)));
