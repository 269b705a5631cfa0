//! Integration tests of `crates/serve`: one test binary, one module per concern; every test
//! starts a server on an ephemeral loopback port with a tiny random model and talks real HTTP.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests unwrap fixtures and known-good values.

mod access;
mod clients;
mod common;
mod concurrency;
mod endpoints;
mod errors;
mod openapi;
mod score_many;
mod shutdown;
mod tei;
