//! LR multipliers: anchors of upstream's toy run and values from transformers' schedule functions
//! (tests/fixtures/optim/schedule.json, made by scripts/fixtures/optim_fixtures.py).

use provence_test_support::{fixture, json};
use provence_trainer::SchedulerType;
use provence_trainer::{LrSchedule, cosine_multiplier, warmup_steps};

#[test]
fn toy_run_anchors() {
    // Upstream's toy recipe: lr 5e-5, W = ceil(188 · 0.1) = 19, T = 188.
    assert_eq!(warmup_steps(188, 0.1), 19);
    let anchors = [
        (0, 0.0),
        (1, 0.052632),
        (18, 0.947368),
        (19, 1.0),
        (100, 0.532508),
        (180, 0.005519),
        (187, 8.6388e-05),
    ];
    for (step, want) in anchors {
        let got = cosine_multiplier(step, 188, 19);
        let tol = if want < 1e-3 { 5e-9 } else { 5e-7 };
        assert!((got - want).abs() <= tol, "λ({step}) = {got}, spec says {want}");
    }
    let schedule = LrSchedule {
        kind: SchedulerType::Cosine,
        max_steps: 188,
        warmup_steps: 19,
    };
    assert_eq!(schedule.lr(5e-5, 19), 5e-5);
}

#[test]
fn multipliers_match_transformers() {
    let doc = json::load(&fixture("optim/schedule.json"));
    let cases = doc["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 16);
    for case in cases {
        let kind: SchedulerType = case["name"].as_str().unwrap().parse().unwrap();
        let schedule = LrSchedule {
            kind,
            max_steps: case["max_steps"].as_u64().unwrap() as usize,
            warmup_steps: case["warmup_steps"].as_u64().unwrap() as usize,
        };
        for (step, want) in case["multipliers"].as_array().unwrap().iter().enumerate() {
            let want = want.as_f64().unwrap();
            let got = schedule.multiplier(step);
            assert!(
                (got - want).abs() <= 1e-12,
                "{schedule:?} λ({step}) = {got}, transformers {want}"
            );
        }
    }
}

#[test]
fn scheduler_names() {
    for name in ["cosine", "linear", "constant", "constant_with_warmup"] {
        assert_eq!(name.parse::<SchedulerType>().unwrap().as_str(), name);
    }
    let err = "cosine_with_restarts".parse::<SchedulerType>().unwrap_err();
    assert!(err.contains("cosine_with_restarts"), "{err}");
}
