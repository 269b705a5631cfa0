//! Integration tests of `crates/eval`: one test binary (one link instead of one per file), one module
//! per concern.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests unwrap fixtures and known-good values.

// The tiny saved model of `crates/infer`'s tests, shared rather than copied.
#[path = "../../../infer/tests/infer/common/mod.rs"]
mod common;
mod dataset_eval_demo;
mod metrics_golden;
mod mldr_e2e;
mod mldr_judge;
