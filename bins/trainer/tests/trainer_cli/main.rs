//! Integration tests of `bins/trainer`: one test binary (one link instead of one per file), one module
//! per concern.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests unwrap fixtures and known-good values.

mod cli;
mod distributed;
mod kill_resume;
#[cfg(feature = "wgpu")]
mod wgpu;

/// Without the feature the wgpu tests are not built; say so once.
#[cfg(not(feature = "wgpu"))]
#[test]
fn wgpu_tests_need_the_wgpu_feature() {
    use std::io::Write;
    // Straight to stderr: the test harness hides what passing tests print.
    let _ = writeln!(
        std::io::stderr(),
        "wgpu trainer tests skipped: built without the `wgpu` feature \
         (cargo test -p open_provence_trainer --features wgpu --test trainer_cli wgpu::)"
    );
}
