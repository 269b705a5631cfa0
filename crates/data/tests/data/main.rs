//! Integration tests of `crates/data`: one test binary, one module per stage.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests unwrap fixtures and known-good values.

mod common;
mod convert_golden;
mod filter_golden;
