//! The GPU code path under test without a GPU: Burn's wgpu backend with this crate's CubeCL
//! kernels (`src/ops/cube/`), on whatever adapter wgpu finds (Mesa's lavapipe, a software Vulkan
//! device, in CI): each kernel against the composed ops it replaces, attention against the CPU,
//! and the transformers parity suite (outputs and gradients of every fixture). One test binary,
//! because every test target that names the wgpu backend compiles the model's generic code again.
//!
//! Without the `wgpu` feature, or without an adapter, every test returns after one line on
//! stderr saying why (`cargo test --workspace` needs neither). CI runs it with
//! `cargo test -p provence-model --features wgpu --test wgpu` (`.ci/run`).
#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests unwrap fixtures and known-good values.

#[cfg(feature = "wgpu")]
mod device;
#[cfg(feature = "wgpu")]
mod kernels;
#[cfg(feature = "wgpu")]
#[path = "../model/common/mod.rs"]
mod model_common;
#[cfg(feature = "wgpu")]
mod parity;
#[cfg(feature = "wgpu")]
mod rng;

/// Without the feature there is nothing to run; say so once.
#[cfg(not(feature = "wgpu"))]
#[test]
fn wgpu_tests_need_the_wgpu_feature() {
    use std::io::Write;
    // Straight to stderr: the test harness hides what passing tests print.
    let _ = writeln!(
        std::io::stderr(),
        "wgpu tests skipped: built without the `wgpu` feature (cargo test -p provence-model --features wgpu --test wgpu)"
    );
}
