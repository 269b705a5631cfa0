//! Integration tests of `crates/config`: one test binary (one link instead of one per file), one module
//! per concern.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests unwrap fixtures and known-good values.

mod bad_configs;
mod recipes;
mod run_setup;
