//! Ports of upstream's `tests/test_trainer_sampling.py` and `tests/test_items_sampling.py`
//! (behaviour checks), plus the option errors upstream raises.

use provence_test_support::fixture;

use provence_datasets::PyRandom;
use provence_datasets::{DataOptions, DatasetError, DatasetSpec, Row, SourceResolver, prepare_datasets};
use provence_datasets::{filter_zero_relevance, n_samples_target, sample_items, sample_rows, upsample};

/// A row whose passages are `"p0".."p{n-1}"`, with teacher scores `0.0, 0.1, ...`.
fn row(query: &str, labels: Option<Vec<i64>>, n: usize) -> Row {
    Row {
        id: Some(query.to_owned()),
        query: query.to_owned(),
        texts: (0..n).map(|i| format!("p{i}")).collect(),
        context_spans: vec![vec![[0, 2]]; n],
        labels,
        context_spans_relevance: (0..n).map(|i| vec![i as i64 % 2]).collect(),
        teacher_score: Some((0..n).map(|i| i as f64 / 10.0).collect()),
    }
}

fn queries(rows: &[Row]) -> Vec<&str> {
    rows.iter().map(|r| r.query.as_str()).collect()
}

fn ten_rows() -> Vec<Row> {
    (0..10).map(|i| row(&format!("q{i}"), Some(vec![1, 0]), 2)).collect()
}

#[test]
fn sample_dataset_randomly_is_deterministic() {
    let a = sample_rows(ten_rows(), 3, &mut PyRandom::new(42)).unwrap();
    let b = sample_rows(ten_rows(), 3, &mut PyRandom::new(42)).unwrap();
    assert_eq!(a.len(), 3);
    assert_eq!(queries(&a), queries(&b));
    // Original order is kept.
    let idx: Vec<usize> = a.iter().map(|r| r.query[1..].parse().unwrap()).collect();
    assert!(idx.windows(2).all(|w| w[0] < w[1]));
}

#[test]
fn sample_dataset_randomly_returns_original_if_large_request_without_consuming_rng() {
    let rows: Vec<Row> = ten_rows().into_iter().take(3).collect();
    let mut rnd = PyRandom::new(42);
    let out = sample_rows(rows.clone(), 5, &mut rnd).unwrap();
    assert_eq!(out, rows);
    assert_eq!(rnd.random(), PyRandom::new(42).random(), "RNG must not be consumed");
}

#[test]
fn sample_dataset_randomly_rejects_non_positive_sample_size() {
    let err = sample_rows(ten_rows(), 0, &mut PyRandom::new(42)).unwrap_err();
    assert!(matches!(err, DatasetError::InvalidOption { .. }), "{err}");
}

fn saved_dd_spec(n_samples: Option<f64>) -> DatasetSpec {
    let mut spec = DatasetSpec::new(fixture("datasets").join("saved_dd").to_str().unwrap(), Some("ignored"));
    spec.n_samples = n_samples;
    spec
}

fn golden_saved_dd(key: &str) -> (Vec<String>, Vec<String>) {
    let text = std::fs::read_to_string(fixture("datasets").join("sampling_golden.json")).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let list = |k: &str| -> Vec<String> {
        v["saved_dd"][key][k]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap().to_owned())
            .collect()
    };
    (list("train"), list("eval"))
}

#[test]
fn prepare_dataset_supports_local_paths() {
    let prepared = prepare_datasets(
        &[saved_dd_spec(None)],
        &DataOptions::default(),
        42,
        &SourceResolver::local_only(),
    )
    .unwrap();
    assert_eq!(prepared.train.len(), 10);
    assert_eq!(prepared.eval.as_ref().map(Vec::len), Some(6));
    assert_eq!(prepared.report.datasets[0].eval_split.as_deref(), Some("validation"));
}

#[test]
fn prepare_dataset_applies_n_samples() {
    let run = || {
        prepare_datasets(
            &[saved_dd_spec(Some(5.0))],
            &DataOptions::default(),
            42,
            &SourceResolver::local_only(),
        )
        .unwrap()
    };
    let (a, b) = (run(), run());
    assert_eq!(a.train.len(), 5);
    assert_eq!(a.eval.as_ref().unwrap().len(), 3);
    assert_eq!(a, b);
    let (train, eval) = golden_saved_dd("n5");
    assert_eq!(queries(&a.train), train);
    assert_eq!(queries(a.eval.as_ref().unwrap()), eval);
}

#[test]
fn prepare_dataset_accepts_fractional_n_samples() {
    let run = || {
        prepare_datasets(
            &[saved_dd_spec(Some(0.2))],
            &DataOptions::default(),
            42,
            &SourceResolver::local_only(),
        )
        .unwrap()
    };
    let (a, b) = (run(), run());
    assert_eq!(a.train.len(), 2);
    assert_eq!(a.eval.as_ref().unwrap().len(), 2);
    assert_eq!(a, b);
    let (train, eval) = golden_saved_dd("n02");
    assert_eq!(queries(&a.train), train);
    assert_eq!(queries(a.eval.as_ref().unwrap()), eval);
}

#[test]
fn sample_items_handles_missing_labels() {
    let rows: Vec<Row> = (0..4).map(|i| row(&format!("q{i}"), None, 3 + i)).collect();
    let a = sample_items(rows.clone(), 2, 7, false).unwrap();
    let b = sample_items(rows, 2, 7, false).unwrap();
    assert_eq!(a, b);
    assert_eq!(a.len(), 4);
    for r in &a {
        assert_eq!(r.texts.len(), 2);
        assert_eq!(r.teacher_score.as_ref().unwrap().len(), 2);
        assert_eq!(r.context_spans.len(), 2);
        // Scores follow their passages: "p3" has 0.3.
        for (t, s) in r.texts.iter().zip(r.teacher_score.as_ref().unwrap()) {
            assert_eq!(t[1..].parse::<f64>().unwrap() / 10.0, *s);
        }
    }
}

#[test]
fn items_sampling_keeps_positive_and_samples_negatives() {
    let out = sample_items(vec![row("q", Some(vec![1, 0, 0, 0]), 4)], 3, 42, true).unwrap();
    let r = &out[0];
    assert_eq!(r.labels.as_deref(), Some(&[1, 0, 0][..]));
    assert_eq!(r.texts[0], "p0");
    assert_eq!(r.texts.len(), 3);
    assert_eq!(r.context_spans_relevance.len(), 3);
    // The two negatives are the first two of random.Random(42 + 0).shuffle([1, 2, 3]), sorted.
    let mut cand = vec![1usize, 2, 3];
    PyRandom::new(42).shuffle(&mut cand);
    let mut want: Vec<String> = cand[..2].iter().map(|i| format!("p{i}")).collect();
    want.sort();
    assert_eq!(&r.texts[1..], &want[..]);
}

#[test]
fn items_sampling_drops_queries_with_too_few_items() {
    let rows = vec![
        row("short", Some(vec![1, 0]), 2),
        row("long", Some(vec![1, 0, 0, 0]), 4),
    ];
    let out = sample_items(rows, 3, 42, true).unwrap();
    assert_eq!(queries(&out), vec!["long"]);
}

#[test]
fn items_sampling_handles_rows_without_positive_labels() {
    let out = sample_items(vec![row("q", Some(vec![0, 0, 0, 0, 0]), 5)], 2, 42, true).unwrap();
    assert_eq!(out[0].texts.len(), 2);
    let mut cand: Vec<usize> = (0..5).collect();
    PyRandom::new(42).shuffle(&mut cand);
    let mut want: Vec<String> = cand[..2].iter().map(|i| format!("p{i}")).collect();
    want.sort();
    assert_eq!(out[0].texts, want);
}

#[test]
fn items_sampling_prefers_positive_items_when_exceeding_limit() {
    let out = sample_items(vec![row("q", Some(vec![1, 1, 0, 0]), 4)], 2, 42, true).unwrap();
    assert_eq!(out[0].texts, vec!["p0", "p1"]);
    assert_eq!(out[0].labels.as_deref(), Some(&[1, 1][..]));
}

#[test]
fn items_must_be_positive() {
    assert!(matches!(
        sample_items(ten_rows(), 0, 42, true),
        Err(DatasetError::InvalidOption { .. })
    ));
}

#[test]
fn upsample_rejects_factor_below_one_and_copies_whole_factors() {
    assert!(matches!(
        upsample(ten_rows(), 0.5, 42),
        Err(DatasetError::InvalidOption { .. })
    ));
    let out = upsample(ten_rows(), 2.0, 42).unwrap();
    assert_eq!(out.len(), 20);
    assert_eq!(queries(&out[10..]), queries(&ten_rows()));
    assert_eq!(upsample(ten_rows(), 1.0, 42).unwrap(), ten_rows());
}

/// A factor that would make more rows than memory holds is refused before anything is copied
/// (it used to abort the process on a failed multi-terabyte allocation).
#[test]
fn upsample_refuses_absurd_factors_before_allocating() {
    for factor in [1e9, f64::INFINITY] {
        let err = upsample(ten_rows(), factor, 42).unwrap_err();
        assert!(matches!(err, DatasetError::InvalidOption { .. }), "{err}");
        assert!(err.to_string().contains("upsample_factor"), "{err}");
    }
}

#[test]
fn n_samples_one_means_everything_and_zero_is_rejected() {
    assert_eq!(n_samples_target(10, 1.0).unwrap(), 10);
    assert_eq!(n_samples_target(10, 0.01).unwrap(), 1);
    assert_eq!(n_samples_target(10, 7.9).unwrap(), 7);
    assert_eq!(n_samples_target(10, 50.0).unwrap(), 10);
    assert!(n_samples_target(10, 0.0).is_err());
    assert!(n_samples_target(10, -2.0).is_err());
}

#[test]
fn zero_relevance_filter_keeps_highest_mean_and_drops_short_rows() {
    let mut r = row("q", Some(vec![1, 0, 0, 0]), 4);
    r.context_spans_relevance = vec![vec![0], vec![1], vec![1, 0], vec![0, 0]];
    r.context_spans = vec![vec![[0, 1]], vec![[0, 1]], vec![[0, 1], [1, 2]], vec![[0, 1], [1, 2]]];
    let out = filter_zero_relevance(vec![r.clone()], 2, false, false);
    assert_eq!(out[0].texts, vec!["p1", "p2"]);
    // keep_first keeps p0 plus the best remaining one.
    let out = filter_zero_relevance(vec![r.clone()], 2, false, true);
    assert_eq!(out[0].texts, vec!["p0", "p1"]);
    // Only two passages have a non-zero flag: max_items 3 drops the row.
    assert!(filter_zero_relevance(vec![r], 3, false, false).is_empty());
}
