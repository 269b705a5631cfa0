//! Helpers shared by the tests, benches and examples of every crate: where the repository's
//! files are ([`paths`]), JSON and JSONL loaders ([`json`]), a lock for tests that share the
//! backend's RNG ([`serial`]), training recipes on the demo data ([`recipe`]), with the `model` feature, tiny models saved as a
//! `final_model/` ([`model`]) and, with the `fake-hub` feature, a fake Hugging Face Hub on
//! 127.0.0.1 ([`fake_hub`]), the fake MLDR judge ([`fake_judge`]). Test code: every helper panics with the file it could not read.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[cfg(feature = "fake-hub")]
pub mod fake_hub;
pub mod fake_judge;
pub mod json;
#[cfg(feature = "model")]
pub mod model;
pub mod paths;
pub mod recipe;

pub use paths::{demo, fixture, repo, root as repo_root};

/// Serialises the tests of one binary that seed or draw from the backend's global RNG (shared
/// by every test of the binary; tests run in parallel): hold the guard while seeding and drawing.
pub fn serial() -> std::sync::MutexGuard<'static, ()> {
    static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());
    SERIAL.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}
