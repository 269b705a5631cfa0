//! Integration tests of `crates/infer`: one test binary (one link instead of one per file), one module
//! per concern.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests unwrap fixtures and known-good values.

mod common;
mod layout_golden;
mod offsets;
mod properties;
mod pruner_end_to_end;
mod pruner_golden;
mod split_golden;
#[cfg(feature = "wgpu")]
mod wgpu;
