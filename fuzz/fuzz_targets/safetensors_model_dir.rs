//! A model directory's `model.safetensors` (header, tensor table, data; the tiny model's
//! `config.json` beside it) → a loaded model, or a typed error naming the tensors.
#![no_main]

use libfuzzer_sys::fuzz_target;
use provence_fuzz::{load_model_dir_with, scratch_dir, tiny_model_dir};
use std::path::PathBuf;

thread_local! {
    static DIR: PathBuf = scratch_dir(&tiny_model_dir(), &["config.json"]);
}

fuzz_target!(|data: &[u8]| DIR.with(|dir| load_model_dir_with(dir, "model.safetensors", data)));
