//! The committed demo dataset (`data/demo/dataset`, Hub layout, subsets `en` and `ja`) goes
//! through the strict schema check and the mixing pipeline the way `configs/demo.yaml` uses it.

use provence_datasets::{DataOptions, DatasetSpec, SourceResolver, prepare_datasets};

#[test]
fn demo_dataset_passes_schema_checks_and_mixes() {
    let dir = provence_test_support::demo("dataset");
    if !dir.is_dir() {
        eprintln!("data/demo/dataset not generated yet; skipping");
        return;
    }
    let specs: Vec<DatasetSpec> = ["en", "ja"]
        .into_iter()
        .map(|subset| {
            let mut spec = DatasetSpec::new(dir.to_str().unwrap(), Some(subset));
            spec.teacher_column = "teacher_scores.demo-teacher".to_owned();
            spec
        })
        .collect();
    let prepared = prepare_datasets(&specs, &DataOptions::default(), 42, &SourceResolver::local_only()).unwrap();
    let report = &prepared.report;
    assert_eq!(report.datasets.len(), 2);
    assert!(
        report
            .datasets
            .iter()
            .all(|d| d.skipped_bad_rows == 0 && d.has_teacher_score)
    );
    let loaded: usize = report.datasets.iter().map(|d| d.train_loaded).sum();
    assert_eq!(prepared.train.len(), loaded);
    assert!(
        prepared
            .train
            .iter()
            .all(|r| r.teacher_score.is_some() && r.labels.is_some())
    );
    let eval = prepared.eval.as_ref().unwrap();
    assert_eq!(eval.len(), report.datasets.iter().map(|d| d.eval_rows).sum::<usize>());
    assert!(
        report
            .datasets
            .iter()
            .all(|d| d.eval_split.as_deref() == Some("validation"))
    );
}
