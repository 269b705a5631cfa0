//! Golden tests against `scripts/fixtures/sampling_fixtures.py` (CPython `random.Random`, NumPy
//! `default_rng`, and upstream's sampling/mixing algorithms run in Python on the committed
//! synthetic datasets).

use provence_test_support::fixture;
use provence_test_support::json::usizes;

use provence_datasets::{DataOptions, DatasetSpec, Row, SourceResolver, prepare_datasets};
use provence_datasets::{NumpyGenerator, PyRandom};
use serde_json::Value;

fn load_json(name: &str) -> Value {
    let text = std::fs::read_to_string(fixture("datasets").join(name)).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn seed_of(v: &Value) -> i128 {
    v["seed"].as_str().unwrap().parse().unwrap()
}

#[test]
fn cpython_random_sequences_match() {
    let golden = load_json("rng_golden.json");
    for entry in golden["python"].as_array().unwrap() {
        let seed = seed_of(entry);
        let mut r = PyRandom::new(seed);
        for expected in entry["random_times_2_53"].as_array().unwrap() {
            let x = r.random();
            assert_eq!(
                x * 9_007_199_254_740_992.0,
                expected.as_u64().unwrap() as f64,
                "random() seed {seed}"
            );
        }
        for pair in entry["getrandbits"].as_array().unwrap() {
            let k = pair[0].as_u64().unwrap() as u32;
            assert_eq!(
                r.getrandbits(k),
                pair[1].as_u64().unwrap(),
                "getrandbits({k}) seed {seed}"
            );
        }
        for pair in entry["randbelow"].as_array().unwrap() {
            let n = pair[0].as_u64().unwrap();
            assert_eq!(r.randbelow(n), pair[1].as_u64().unwrap(), "_randbelow({n}) seed {seed}");
        }
        for (key, n) in [("shuffle10", 10usize), ("shuffle37", 37)] {
            let mut xs: Vec<usize> = (0..n).collect();
            r.shuffle(&mut xs);
            assert_eq!(xs, usizes(&entry[key]), "{key} seed {seed}");
        }
        for (key, n, k) in [
            ("sample_pool_20_5", 20, 5),
            ("sample_pool_30_7", 30, 7),
            ("sample_set_100_3", 100, 3),
            ("sample_set_1000_10", 1000, 10),
            ("sample_set_5000_40", 5000, 40),
        ] {
            assert_eq!(
                r.sample_indices(n, k).unwrap(),
                usizes(&entry[key]),
                "{key} seed {seed}"
            );
        }
    }
}

#[test]
fn numpy_permutations_match() {
    let golden = load_json("rng_golden.json");
    for entry in golden["numpy"].as_array().unwrap() {
        let seed = seed_of(entry) as u128;
        let mut g = NumpyGenerator::default_rng(seed);
        for n in [1usize, 5, 17, 100] {
            let expected = usizes(&entry["permutations_in_sequence"][n.to_string()]);
            assert_eq!(g.permutation(n), expected, "permutation({n}) seed {seed}");
        }
    }
}

/// Maps a fixture dataset name to its directory and subset.
fn spec_from_json(v: &Value) -> DatasetSpec {
    let name = v["name"].as_str().unwrap();
    let subset = match name {
        "ds_a" => Some("sub_a"),
        "ds_b" => Some("sub_b"),
        _ => None,
    };
    let dir = fixture("datasets").join("mix").join(name);
    let mut spec = DatasetSpec::new(dir.to_str().unwrap(), subset);
    if let Some(t) = v.get("teacher_column").and_then(Value::as_str) {
        spec.teacher_column = t.to_owned();
    }
    spec.items = v.get("items").and_then(Value::as_i64);
    spec.upsample_factor = v.get("upsample_factor").and_then(Value::as_f64);
    spec.n_samples = v.get("n_samples").and_then(Value::as_f64);
    spec
}

fn options_from_json(v: &Value) -> DataOptions {
    let us = |k: &str| v.get(k).and_then(Value::as_u64).map(|x| x as usize);
    DataOptions {
        validation_split: v.get("validation_split").and_then(Value::as_f64),
        validation_split_samples: us("validation_split_samples"),
        validation_split_name: v
            .get("validation_split_name")
            .and_then(Value::as_str)
            .map(str::to_owned),
        max_train_samples: us("max_train_samples"),
        max_eval_samples: us("max_eval_samples"),
        ..DataOptions::default()
    }
}

/// The tag that starts each synthetic passage (`at3p1`), as the generator summarises rows.
fn first_sentence(text: &str) -> String {
    text.split('.').next().unwrap().split('。').next().unwrap().to_owned()
}

fn assert_rows(scenario: &str, which: &str, rows: &[Row], expected: &Value) {
    let expected = expected.as_array().unwrap();
    let got_queries: Vec<&str> = rows.iter().map(|r| r.query.as_str()).collect();
    let want_queries: Vec<&str> = expected.iter().map(|e| e["query"].as_str().unwrap()).collect();
    assert_eq!(got_queries, want_queries, "{scenario} {which}: row order");
    for (row, e) in rows.iter().zip(expected) {
        let got: Vec<String> = row.texts.iter().map(|t| first_sentence(t)).collect();
        let want: Vec<String> = e["first_sentences"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap().to_owned())
            .collect();
        assert_eq!(got, want, "{scenario} {which}: passages of {}", row.query);
        assert_eq!(
            row.teacher_score.is_some(),
            e["has_teacher"].as_bool().unwrap(),
            "{scenario} teacher presence"
        );
        assert_eq!(
            row.labels.is_some(),
            e["has_labels"].as_bool().unwrap(),
            "{scenario} labels presence"
        );
        if let Some(scores) = &row.teacher_score {
            let want: Vec<f64> = e["teacher_score"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_f64().unwrap())
                .collect();
            assert_eq!(scores, &want, "{scenario}: teacher scores follow their passages");
        }
        assert_eq!(row.context_spans.len(), row.texts.len());
    }
}

#[test]
fn pipeline_scenarios_match_python_reference() {
    let golden = load_json("sampling_golden.json");
    let seed = golden["seed"].as_i64().unwrap();
    let resolver = SourceResolver::local_only();
    let scenarios = golden["scenarios"].as_object().unwrap();
    assert!(scenarios.len() >= 10);
    for (name, scenario) in scenarios {
        let specs: Vec<DatasetSpec> = scenario["specs"]
            .as_array()
            .unwrap()
            .iter()
            .map(spec_from_json)
            .collect();
        let options = options_from_json(&scenario["options"]);
        let prepared = prepare_datasets(&specs, &options, seed, &resolver).unwrap();
        let expected = &scenario["expected"];
        assert_rows(name, "train", &prepared.train, &expected["train"]);
        match (&prepared.eval, expected["eval"].is_null()) {
            (None, true) => {}
            (Some(eval), false) => assert_rows(name, "eval", eval, &expected["eval"]),
            (got, _) => panic!(
                "{name}: eval presence differs (got {:?} rows)",
                got.as_ref().map(Vec::len)
            ),
        }
        let want_columns: Option<Vec<String>> = expected["columns"]
            .as_array()
            .map(|a| a.iter().map(|c| c.as_str().unwrap().to_owned()).collect());
        assert_eq!(prepared.report.mixed_columns, want_columns, "{name}: mixed columns");
    }
}
