//! `filter-frequency` against upstream's `frequency_filter_ds.py` on the same input
//! (`tests/fixtures/data_pipeline/filter/`): the same rows kept per split and threshold, the same
//! `drop_ids.txt`, the same summary (but for the command, timestamps and environment), the same
//! files.

use std::path::Path;

use provence_data::{FilterOptions, OutputOptions, filter_frequency};
use serde_json::Value;

use provence_test_support::fixture;
use provence_test_support::json::load;

use crate::common::{hub_cache_resolver, read_back, rows};

const REPO: &str = "fixture/duplicate-heavy-context-relevance";

fn options(argv: &[Value], out: &Path) -> FilterOptions {
    let mut options = FilterOptions {
        dataset: String::new(),
        subset: None,
        splits: Vec::new(),
        thresholds: Vec::new(),
        debug_limit: None,
        id_column: "id".to_owned(),
        texts_column: "texts".to_owned(),
        output: OutputOptions::new(out),
    };
    let args: Vec<&str> = argv.iter().map(|v| v.as_str().unwrap()).collect();
    for pair in args.chunks(2) {
        match pair[0] {
            "--dataset" => options.dataset = pair[1].to_owned(),
            "--threshold" => options.thresholds.push(pair[1].parse().unwrap()),
            "--debug-limit" => options.debug_limit = Some(pair[1].parse().unwrap()),
            "--output-dir" => {}
            other => panic!("unexpected {other}"),
        }
    }
    options
}

/// The summary without the lines that name the run (command, time, environment).
fn stable_lines(text: &str) -> Vec<&str> {
    text.lines()
        .filter(|l| {
            !["- Command:", "- Timestamp", "- Environment:", "- Summary generated at:"]
                .iter()
                .any(|p| l.starts_with(p))
        })
        .collect()
}

#[test]
fn kept_rows_drop_ids_and_summaries_match_upstream() {
    let tmp = tempfile::tempdir().unwrap();
    let resolver = hub_cache_resolver(
        &tmp.path().join("hub"),
        &[(REPO, "data_pipeline/filter/input/data", "data")],
    );
    for case in ["thresholds_0_2", "threshold_1_debug_limit"] {
        let expected = load(&fixture(&format!("data_pipeline/filter/{case}/outcome.json")));
        let out = tmp.path().join(case);
        let report = filter_frequency(&resolver, &options(expected["argv"].as_array().unwrap(), &out)).unwrap();
        assert_eq!(
            report.thresholds.len(),
            expected["thresholds"].as_object().unwrap().len()
        );
        for (dir_name, want) in expected["thresholds"].as_object().unwrap() {
            let dir = out.join(dir_name);
            let written = read_back(&dir);
            for split in &written.splits {
                let ids: Vec<Value> = rows(&split.batch).iter().map(|r| r["id"].clone()).collect();
                assert_eq!(
                    &Value::Array(ids),
                    &want["splits"][&split.name],
                    "{case}/{dir_name}/{}",
                    split.name
                );
            }
            let dict: Value =
                serde_json::from_str(&std::fs::read_to_string(dir.join("dataset_dict.json")).unwrap()).unwrap();
            assert_eq!(dict, want["dataset_dict_json"]);
            let mut files: Vec<String> = std::fs::read_dir(&dir)
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .filter(|f| f != "README.md")
                .collect();
            files.sort();
            assert_eq!(
                serde_json::to_value(&files).unwrap(),
                want["files"],
                "{case}/{dir_name}"
            );
            let upstream_dir = fixture(&format!("data_pipeline/filter/{case}")).join(dir_name);
            let read = |d: &Path, f: &str| std::fs::read_to_string(d.join(f)).unwrap();
            assert_eq!(
                read(&dir, "drop_ids.txt"),
                read(&upstream_dir, "drop_ids.txt"),
                "{case}/{dir_name}"
            );
            let (ours, theirs) = (
                read(&dir, "frequency_filter_ds_summary.md"),
                read(&upstream_dir, "frequency_filter_ds_summary.md"),
            );
            assert_eq!(stable_lines(&ours), stable_lines(&theirs), "{case}/{dir_name}");
        }
        let metadata: Value =
            serde_json::from_str(&std::fs::read_to_string(out.join("frequency_filter_metadata.json")).unwrap())
                .unwrap();
        let upstream = load(&fixture(&format!(
            "data_pipeline/filter/{case}/frequency_filter_metadata.json"
        )));
        for key in ["dataset", "subset", "thresholds", "splits_request", "debug_limit"] {
            assert_eq!(metadata[key], upstream[key], "{case}: {key}");
        }
    }
}

#[test]
fn a_local_save_to_disk_directory_is_read_properly() {
    // Upstream cannot filter a save_to_disk directory (filter/errors.json); this reads it.
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let mut opts = options(&[], &out);
    opts.dataset = fixture("data_pipeline/convert/en_hard_negatives/saved")
        .display()
        .to_string();
    opts.thresholds = vec![0];
    let report = filter_frequency(&provence_datasets::SourceResolver::local_only(), &opts).unwrap();
    let stats = &report.thresholds[0].0;
    assert_eq!(stats.rows_total, 20);
    assert!(stats.rows_kept < 20, "shared passages drop rows at threshold 0");
    assert_eq!(read_back(&out).get("train").unwrap().batch.num_rows(), stats.rows_kept);
}
