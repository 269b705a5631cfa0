//! Integration tests of `crates/hub`: one test binary (one link instead of one per file), one module
//! per concern.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests unwrap fixtures and known-good values.

mod model_repo;
mod options;
mod tokenizer_loading;
#[cfg(feature = "hub")]
mod upload;
