//! `teacher-scores` killed with SIGKILL part-way and run again with the same command: it
//! continues from its checkpoint (rows scored before the kill are not scored again, none is
//! missing), and the result equals an uninterrupted run's.

use std::path::Path;
use std::time::{Duration, Instant};

use provence_datasets::{DatasetTables, OutputLayout, SourceResolver, write_dataset};

use provence_test_support::fixture;

use crate::common::{data, run};

/// The converted fixture's train split repeated `times` times, as a one-split dataset.
fn big_input(dir: &Path, times: usize) -> usize {
    let resolver = SourceResolver::local_only();
    let saved = fixture("data_pipeline/convert/en_hard_negatives/saved");
    let tables = resolver
        .load_tables(&resolver.resolve(saved.to_str().unwrap(), None).unwrap())
        .unwrap();
    let train = tables.get("train").unwrap().batch.clone();
    let repeated = arrow_select::concat::concat_batches(&train.schema(), &vec![train.clone(); times]).unwrap();
    let rows = repeated.num_rows();
    let mut out = DatasetTables::default();
    out.splits.push(provence_datasets::SplitTable {
        name: "train".to_owned(),
        batch: repeated,
    });
    write_dataset(dir, &out, OutputLayout::SaveToDisk).unwrap();
    rows
}

fn args<'a>(input: &'a str, output: &'a str) -> Vec<&'a str> {
    let model = fixture("data_pipeline/teacher/models/tiny-modernbert-reranker");
    let model: &'static str = Box::leak(model.to_str().unwrap().to_owned().into_boxed_str());
    vec![
        "teacher-scores",
        "--dataset-path",
        input,
        "--model",
        model,
        "--output-path",
        output,
        "--chunk-rows",
        "10",
    ]
}

fn read(dir: &Path) -> DatasetTables {
    let resolver = SourceResolver::local_only();
    resolver
        .load_tables(&resolver.resolve(dir.to_str().unwrap(), None).unwrap())
        .unwrap()
}

#[test]
fn a_killed_run_resumes_without_scoring_twice_or_losing_rows() {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("input");
    let rows = big_input(&input, 60);
    let input = input.to_str().unwrap().to_owned();

    let straight = tmp.path().join("straight");
    let out = run(&args(&input, straight.to_str().unwrap()));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    let resumed = tmp.path().join("resumed");
    let checkpoint = tmp.path().join(".resumed.partial/teacher-checkpoint/scores.jsonl");
    let mut child = data(&args(&input, resumed.to_str().unwrap())).spawn().unwrap();
    let started = Instant::now();
    let chunks_before_kill = loop {
        let chunks = std::fs::read_to_string(&checkpoint)
            .map(|t| t.lines().count())
            .unwrap_or(0);
        if chunks >= 2 {
            break chunks;
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "the run finished before it could be killed"
        );
        assert!(started.elapsed() < Duration::from_secs(120), "no checkpoint written");
        std::thread::sleep(Duration::from_millis(5));
    };
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    assert!(!resumed.exists(), "a killed run leaves no output that looks complete");
    let recorded = std::fs::read_to_string(&checkpoint).unwrap().lines().count();
    assert!(
        recorded >= chunks_before_kill && recorded * 10 < rows,
        "killed part-way: {recorded} chunks"
    );

    let out = run(&args(&input, resumed.to_str().unwrap()));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let resumed_rows = (recorded * 10).min(rows);
    let expected = format!("{} rows scored now, {resumed_rows} resumed", rows - resumed_rows);
    assert!(stdout.contains(&expected), "expected {expected:?} in {stdout}");
    assert!(!tmp.path().join(".resumed.partial").exists());
    assert!(!resumed.join("teacher-checkpoint").exists());
    let (a, b) = (read(&straight), read(&resumed));
    assert_eq!(
        a.splits[0].batch, b.splits[0].batch,
        "the resumed run's dataset differs from the uninterrupted one"
    );
}
