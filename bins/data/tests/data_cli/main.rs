//! Tests of the `open_provence_data` binary: bad input, resuming a killed run, a label-spans
//! dry run, pushing to a fake Hub (the whole pipeline into the trainer is `crates/data/tests/data/pipeline.rs`).
#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests unwrap fixtures and known-good values.

mod bad_input;
mod common;
mod label_dry_run;
mod push;
mod teacher_resume;
