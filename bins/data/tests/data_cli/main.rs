//! Tests of the `open_provence_data` binary: bad input, resuming a killed run, the whole
//! pipeline into the trainer.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests unwrap fixtures and known-good values.

mod bad_input;
mod common;
mod teacher_resume;
