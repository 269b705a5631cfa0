//! Dataset evaluation on the embedded demo data with a tiny random model: counts must match the
//! data, extreme thresholds must give the all-kept / nothing-kept metrics, and the model runs
//! once for all thresholds.

use crate::common;

use common::{load, tiny_model_dir};
use provence_datasets::{BadRowPolicy, SourceResolver};
use provence_eval::select_datasets;
use provence_eval::{EvalDatasetsConfig, EvalSettings, evaluate_datasets, json_report, markdown};
use provence_test_support::repo;

#[test]
fn demo_datasets_metrics_follow_the_data() {
    let dir = tiny_model_dir(128, None);
    let pruner = load(dir.path());
    let mut config = EvalDatasetsConfig::from_file(&repo("configs/eval_datasets/demo.yaml")).unwrap();
    for d in &mut config.datasets {
        d.dataset_name = repo(&d.dataset_name).display().to_string();
    }
    let settings = EvalSettings {
        thresholds: vec![0.0, 1.0],
        batch_size: 16,
        max_batch_tokens: 256,
        split: None,
        limit: Some(6),
        targets: vec![":en".into()],
        progress: false,
    };
    assert_eq!(select_datasets(&config, &settings).unwrap().len(), 1);
    let resolver = SourceResolver::local_only();
    let outcomes = evaluate_datasets(&pruner, &config, &settings, &resolver).unwrap();
    assert_eq!(outcomes.len(), 1);
    let o = &outcomes[0];
    assert_eq!((o.n_samples, o.split.as_str()), (6, "test"));

    // Expected counts straight from the rows.
    let (entry, _, split) = &select_datasets(&config, &settings).unwrap()[0];
    let resolved = resolver.resolve(&entry.dataset_name, entry.subset.as_deref()).unwrap();
    let rows = resolver
        .load_split(&resolved, split, "teacher_score", BadRowPolicy::Fail)
        .unwrap()
        .rows;
    let rows = &rows[..6];
    let passages: u64 = rows.iter().map(|r| r.texts.len() as u64).sum();
    let spans: u64 = rows.iter().flat_map(|r| &r.context_spans).map(|s| s.len() as u64).sum();
    let positives: u64 = rows
        .iter()
        .flat_map(|r| &r.context_spans_relevance)
        .flat_map(|v| v.iter())
        .filter(|&&v| v != 0)
        .count() as u64;

    let all = &o.results[0].metrics;
    assert_eq!((all.contexts, all.span_total), (passages, spans));
    assert_eq!(
        all.confusion_matrix.tp, positives,
        "keeping everything finds every relevant span"
    );
    assert_eq!(all.confusion_matrix.fn_ + all.confusion_matrix.tn, 0);
    let none = &o.results[1].metrics;
    assert_eq!(none.confusion_matrix.tp + none.confusion_matrix.fp, 0);
    assert_eq!(none.precision, None);
    assert_eq!(none.mean_compression, Some(100.0));
    assert_eq!(none.confusion_matrix.fn_, positives);
    assert_eq!(
        o.results[0].timing["inference_seconds"], o.results[1].timing["inference_seconds"],
        "one model run"
    );
    assert_eq!(o.results[0].ranking, o.results[1].ranking);

    let ctx = provence_eval::ReportContext {
        timestamp_utc: "T".into(),
        model: "m".into(),
        config: "c".into(),
        single_threshold: None,
    };
    let md = markdown(&ctx, &settings, &outcomes, false);
    assert!(
        md.contains("### Threshold 0\n") && md.contains("### Threshold 1\n"),
        "{md}"
    );
    assert!(md.contains("| N/A | 0.0000 | N/A |"), "{md}");
    let json = json_report(&ctx, &settings, &outcomes);
    let key = &o.key;
    assert_eq!(json["results"]["1"][key]["confusion_matrix"]["fn"], positives);
    assert_eq!(json["args"]["datasets"][0]["n_samples"], 6);
}
