//! Local sources: Hub repository layout (incl. `refs/convert/parquet` and multi-shard splits) and
//! `datasets.save_to_disk` directories (written by the real `datasets` library).

use provence_test_support::fixture;

use provence_datasets::split_of_data_file;
use provence_datasets::{BadRowPolicy, DataFile, DatasetError, SourceResolver};

#[test]
fn data_file_names_map_to_splits() {
    assert_eq!(
        split_of_data_file("train-00000-of-00003.parquet").as_deref(),
        Some("train")
    );
    assert_eq!(
        split_of_data_file("validation-00001-of-00002-3f2a1b.parquet").as_deref(),
        Some("validation")
    );
    assert_eq!(split_of_data_file("test.parquet").as_deref(), Some("test"));
    assert_eq!(split_of_data_file("train/0000.parquet").as_deref(), Some("train"));
    assert_eq!(split_of_data_file("README.md"), None);
    assert_eq!(split_of_data_file("a/b/c.parquet"), None);
}

#[test]
fn hub_layout_subset_and_default_directories() {
    let resolver = SourceResolver::local_only();
    let a = resolver
        .resolve(fixture("datasets/mix/ds_a").to_str().unwrap(), Some("sub_a"))
        .unwrap();
    assert_eq!(a.split_names(), vec!["test", "train", "validation"]);
    let c = resolver
        .resolve(fixture("datasets/mix/ds_c").to_str().unwrap(), Some("default"))
        .unwrap();
    assert_eq!(c.split_names(), vec!["train"]);
    let data = resolver
        .load_split(&a, "validation", "teacher_score", BadRowPolicy::Fail)
        .unwrap();
    assert_eq!(data.rows.len(), 8);
    assert_eq!(data.rows[0].id.as_deref(), Some("a:validation:0"));
    assert!(data.columns.contains(&"teacher_score".to_owned()));
}

#[test]
fn dotted_teacher_column_is_read_and_renamed() {
    let resolver = SourceResolver::local_only();
    let b = resolver
        .resolve(fixture("datasets/mix/ds_b").to_str().unwrap(), Some("sub_b"))
        .unwrap();
    let teacher = "teacher_scores.gte-reranker-modernbert-base";
    let data = resolver.load_split(&b, "train", teacher, BadRowPolicy::Fail).unwrap();
    assert!(
        data.rows
            .iter()
            .all(|r| { r.teacher_score.as_ref().is_some_and(|s| s.len() == r.texts.len()) })
    );
    assert!(data.columns.contains(&"teacher_score".to_owned()));
    assert!(!data.columns.contains(&teacher.to_owned()));
    // Japanese passages: spans are code points, not bytes, and pass the check.
    assert!(data.rows[0].texts[0].len() > data.rows[0].texts[0].chars().count());
}

#[test]
fn convert_parquet_layout_and_multiple_shards() {
    let dir = tempfile::tempdir().unwrap();
    let src = fixture("datasets/mix/ds_a/sub_a/train-00000-of-00001.parquet");
    let ragged = fixture("datasets/bad/ragged_lists/data/train-00000-of-00001.parquet");
    std::fs::create_dir_all(dir.path().join("sub_a/train")).unwrap();
    std::fs::copy(&src, dir.path().join("sub_a/train/0000.parquet")).unwrap();
    std::fs::create_dir_all(dir.path().join("data")).unwrap();
    std::fs::copy(&src, dir.path().join("data/train-00000-of-00002.parquet")).unwrap();
    std::fs::copy(&ragged, dir.path().join("data/train-00001-of-00002.parquet")).unwrap();

    let resolver = SourceResolver::local_only();
    let converted = resolver.resolve(dir.path().to_str().unwrap(), Some("sub_a")).unwrap();
    let rows = resolver
        .load_split(&converted, "train", "teacher_score", BadRowPolicy::Fail)
        .unwrap()
        .rows;
    assert_eq!(rows.len(), 30);

    let sharded = resolver.resolve(dir.path().to_str().unwrap(), None).unwrap();
    assert!(
        matches!(&sharded.splits["train"][..], [DataFile::Parquet(a), DataFile::Parquet(b)]
        if a.ends_with("train-00000-of-00002.parquet") && b.ends_with("train-00001-of-00002.parquet"))
    );
    // Row indices continue across shards: the ragged row 1 of shard 2 is row 31 of the split.
    match resolver.load_split(&sharded, "train", "teacher_score", BadRowPolicy::Fail) {
        Err(DatasetError::BadRow { row, .. }) => assert_eq!(row, 31),
        other => panic!("expected BadRow, got {other:?}"),
    }
    let skipped = resolver
        .load_split(&sharded, "train", "teacher_score", BadRowPolicy::Skip)
        .unwrap();
    assert_eq!((skipped.rows.len(), skipped.skipped), (32, 1));
}

#[test]
fn save_to_disk_dataset_dict_is_read_from_arrow_files() {
    let resolver = SourceResolver::local_only();
    let dd = resolver
        .resolve(
            fixture("datasets/saved_dd").to_str().unwrap(),
            Some("subset-is-ignored"),
        )
        .unwrap();
    assert_eq!(dd.split_names(), vec!["train", "validation"]);
    assert!(matches!(&dd.splits["train"][0], DataFile::Arrow(p) if p.ends_with("data-00000-of-00001.arrow")));
    let train = resolver
        .load_split(&dd, "train", "teacher_score", BadRowPolicy::Fail)
        .unwrap();
    let queries: Vec<String> = train.rows.iter().map(|r| r.query.clone()).collect();
    let want: Vec<String> = (0..10).map(|i| format!("query s train {i}")).collect();
    assert_eq!(queries, want);
    assert!(
        train
            .rows
            .iter()
            .all(|r| r.teacher_score.is_some() && r.labels.is_some())
    );
}

#[test]
fn single_saved_dataset_is_used_as_train() {
    let dir = tempfile::tempdir().unwrap();
    for f in ["state.json", "dataset_info.json", "data-00000-of-00001.arrow"] {
        std::fs::copy(fixture("datasets/saved_dd/validation").join(f), dir.path().join(f)).unwrap();
    }
    let resolver = SourceResolver::local_only();
    let ds = resolver.resolve(dir.path().to_str().unwrap(), None).unwrap();
    assert_eq!(ds.split_names(), vec!["train"]);
    let rows = resolver
        .load_split(&ds, "train", "teacher_score", BadRowPolicy::Fail)
        .unwrap()
        .rows;
    assert_eq!(rows.len(), 6);
}

#[test]
fn broken_metadata_is_a_typed_error() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("dataset_dict.json"), "{not json").unwrap();
    let err = SourceResolver::local_only()
        .resolve(dir.path().to_str().unwrap(), None)
        .unwrap_err();
    assert!(matches!(err, DatasetError::Metadata { .. }), "{err}");
}
