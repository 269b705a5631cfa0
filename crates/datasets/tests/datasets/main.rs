//! Integration tests of `crates/datasets`: one test binary (one link instead of one per file), one module
//! per concern.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests unwrap fixtures and known-good values.

mod collator_golden;
mod collator_unit;
mod hub_cache;
mod hub_fake;
mod properties;
mod sampling_golden;
mod sampling_upstream;
mod schema_bad_data;
mod source_demo;
mod source_local;
