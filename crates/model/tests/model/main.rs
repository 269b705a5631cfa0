//! Integration tests of `crates/model`: one test binary (one link instead of one per file), one module
//! per concern.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests unwrap fixtures and known-good values.

mod attention;
mod backward;
mod bert;
mod checkpoints;
mod common;
mod config_init;
mod fused_ops;
mod mixed_precision;
mod packed;
mod parity;
