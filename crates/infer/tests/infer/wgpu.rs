//! `process()` on Burn's wgpu backend (Mesa's lavapipe in CI) against upstream's goldens: the
//! CPU suite's fixtures and tolerance (`pruner_golden`) on the wgpu device, ModernBERT, BERT and
//! XLM-R. Without an adapter the test returns after one line saying why. CI runs it with
//! `cargo test -p provence-infer --features wgpu --test infer wgpu::` (`.ci/run`).

use std::io::Write;
use std::time::Instant;

use crate::pruner_golden::check_fixture_on;

#[test]
fn wgpu_process_matches_upstream_on_every_fixture() {
    // Straight to stderr: the test harness hides what passing tests print.
    let say = |line: String| {
        let _ = writeln!(std::io::stderr(), "{line}");
    };
    let device = match provence_model::wgpu::device(None) {
        Ok(device) => device,
        Err(error) => {
            say(format!("wgpu process() goldens skipped: {error}"));
            return;
        }
    };
    say(format!("wgpu adapter: {}", provence_model::wgpu::describe(&device)));
    for name in ["process", "process_bert", "process_xlmr"] {
        let started = Instant::now();
        let cases = check_fixture_on::<burn::backend::Wgpu>(&provence_test_support::fixture(name), device.clone());
        say(format!(
            "wgpu process() goldens: {cases} cases of {name} match upstream ({:.1} s)",
            started.elapsed().as_secs_f64()
        ));
    }
}
