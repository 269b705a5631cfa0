//! The bad-data corpus (`tests/fixtures/datasets/bad/`, made by
//! `scripts/fixtures/sampling_fixtures.py`): every defect gives a clear typed error, never a panic.

use provence_test_support::fixture;
use std::path::PathBuf;

use provence_datasets::{
    BadRowPolicy, DataOptions, DatasetError, DatasetSpec, SourceResolver, SplitData, prepare_datasets,
};
use provence_hub::HubError;

fn case_dir(case: &str) -> PathBuf {
    fixture("datasets/bad").join(case)
}

fn load(case: &str, policy: BadRowPolicy) -> Result<SplitData, DatasetError> {
    let resolver = SourceResolver::local_only();
    let ds = resolver.resolve(case_dir(case).to_str().unwrap(), None)?;
    resolver.load_split(&ds, "train", "teacher_score", policy)
}

fn bad_row(case: &str) -> (usize, Option<String>, String, String) {
    match load(case, BadRowPolicy::Fail) {
        Err(e @ DatasetError::BadRow { .. }) => {
            let msg = e.to_string();
            let DatasetError::BadRow {
                row,
                id,
                problem,
                split,
                ..
            } = e
            else {
                unreachable!()
            };
            assert_eq!(split, "train");
            assert!(msg.contains(case), "message names the dataset: {msg}");
            (row, id, problem, msg)
        }
        other => panic!("{case}: expected BadRow, got {other:?}"),
    }
}

#[test]
fn good_file_loads() {
    let data = load("ok", BadRowPolicy::Fail).unwrap();
    assert_eq!(data.rows.len(), 3);
    assert_eq!(data.skipped, 0);
    assert_eq!(data.rows[1].id.as_deref(), Some("g:train:1"));
    assert!(
        data.rows
            .iter()
            .all(|r| r.teacher_score.is_some() && r.labels.is_some())
    );
}

#[test]
fn missing_column_is_named() {
    match load("missing_column", BadRowPolicy::Fail) {
        Err(DatasetError::MissingColumn { column, path, .. }) => {
            assert_eq!(column, "context_spans");
            assert!(path.ends_with("train-00000-of-00001.parquet"));
        }
        other => panic!("expected MissingColumn, got {other:?}"),
    }
}

#[test]
fn wrong_column_type_is_named() {
    match load("wrong_type", BadRowPolicy::Fail) {
        Err(DatasetError::ColumnType {
            column,
            found,
            expected,
            ..
        }) => {
            assert_eq!(column, "query");
            assert_eq!(found, "Int64");
            assert_eq!(expected, "string");
        }
        other => panic!("expected ColumnType, got {other:?}"),
    }
}

#[test]
fn ragged_lists_are_reported_with_row_and_id() {
    let (row, id, problem, _) = bad_row("ragged_lists");
    assert_eq!(row, 1);
    assert_eq!(id.as_deref(), Some("g:train:1"));
    assert!(problem.contains("context_spans has"), "{problem}");
}

#[test]
fn span_past_the_end_is_reported_in_code_points() {
    let (row, _, problem, _) = bad_row("span_past_end");
    assert_eq!(row, 2);
    assert!(problem.contains("ends past the passage end"), "{problem}");
}

#[test]
fn negative_offsets_are_reported() {
    let (row, _, problem, _) = bad_row("negative_offset");
    assert_eq!(row, 0);
    assert!(problem.contains("negative offset"), "{problem}");
}

#[test]
fn nan_teacher_scores_are_reported() {
    let (row, _, problem, msg) = bad_row("nan_teacher");
    assert_eq!(row, 1);
    assert!(problem.contains("NaN"), "{problem}");
    assert!(msg.contains("row 1") && msg.contains("g:train:1"), "{msg}");
}

#[test]
fn skip_policy_drops_and_counts_bad_rows() {
    for case in ["ragged_lists", "span_past_end", "negative_offset", "nan_teacher"] {
        let data = load(case, BadRowPolicy::Skip).unwrap();
        assert_eq!(data.rows.len(), 2, "{case}");
        assert_eq!(data.skipped, 1, "{case}");
        assert_eq!(data.skipped_examples.len(), 1, "{case}");
    }
}

#[test]
fn empty_dataset_is_an_error_for_training() {
    assert_eq!(load("empty", BadRowPolicy::Fail).unwrap().rows.len(), 0);
    let spec = DatasetSpec::new(case_dir("empty").to_str().unwrap(), None);
    let err = prepare_datasets(&[spec], &DataOptions::default(), 42, &SourceResolver::local_only()).unwrap_err();
    assert!(matches!(err, DatasetError::EmptySplit { .. }), "{err}");
}

#[test]
fn unknown_split_lists_available_ones() {
    let resolver = SourceResolver::local_only();
    let ds = resolver.resolve(case_dir("ok").to_str().unwrap(), None).unwrap();
    match resolver.load_split(&ds, "validation", "teacher_score", BadRowPolicy::Fail) {
        Err(DatasetError::UnknownSplit { split, available, .. }) => {
            assert_eq!(split, "validation");
            assert_eq!(available, vec!["train".to_owned()]);
        }
        other => panic!("expected UnknownSplit, got {other:?}"),
    }
}

#[test]
fn unknown_subset_and_missing_dataset_are_errors() {
    let resolver = SourceResolver::local_only();
    let err = resolver
        .resolve(case_dir("ok").to_str().unwrap(), Some("nope"))
        .unwrap_err();
    assert!(matches!(err, DatasetError::NoDataFiles { .. }), "{err}");
    assert!(err.to_string().contains("nope"), "{err}");
    let err = resolver.resolve("/nonexistent/dataset/dir", None).unwrap_err();
    assert!(matches!(err, DatasetError::Hub(HubError::LocalPath { .. })), "{err}");
    assert_eq!(err.to_string(), "dataset /nonexistent/dataset/dir does not exist");
}

#[test]
fn narrow_int_and_float_widths_read_like_int64_float64() {
    let ok = load("ok", BadRowPolicy::Fail).unwrap();
    let narrow = load("narrow_types", BadRowPolicy::Fail).unwrap();
    assert_eq!(ok.rows.len(), narrow.rows.len());
    for (a, b) in ok.rows.iter().zip(&narrow.rows) {
        assert_eq!((&a.id, &a.query, &a.texts), (&b.id, &b.query, &b.texts));
        assert_eq!(a.context_spans, b.context_spans);
        assert_eq!(a.context_spans_relevance, b.context_spans_relevance);
        assert_eq!(a.labels, b.labels);
        for (x, y) in a
            .teacher_score
            .as_ref()
            .unwrap()
            .iter()
            .zip(b.teacher_score.as_ref().unwrap())
        {
            assert_eq!(*y, f64::from(*x as f32), "float32 teacher scores widen exactly");
        }
    }
}

#[test]
fn missing_teacher_column_falls_back_to_labels_but_needs_one_of_them() {
    let resolver = SourceResolver::local_only();
    let ds = resolver.resolve(case_dir("ok").to_str().unwrap(), None).unwrap();
    let data = resolver
        .load_split(&ds, "train", "teacher_scores.absent", BadRowPolicy::Fail)
        .unwrap();
    // A column literally named `teacher_score` is used as is, like upstream (no rename needed).
    assert!(data.rows[0].teacher_score.is_some());
    assert!(data.columns.iter().any(|c| c == "teacher_score"));
}

#[test]
fn neither_teacher_nor_labels_is_an_error() {
    match load("no_target", BadRowPolicy::Fail) {
        Err(DatasetError::NoRankingTarget { teacher_column, .. }) => {
            assert_eq!(teacher_column, "teacher_score")
        }
        other => panic!("expected NoRankingTarget, got {other:?}"),
    }
}

/// Found by fuzzing (`fuzz/fuzz_targets/data_stages.rs`): a footer that gives a column chunk a
/// negative offset made the parquet crate panic while reading the rows ("column start and
/// length should not be negative"); it is a Decode error naming the file and the chunk.
#[test]
fn negative_column_chunk_offset_is_a_decode_error() {
    use parquet::file::metadata::{ParquetMetaDataReader, ParquetMetaDataWriter};
    let ok = case_dir("ok").join("data/train-00000-of-00001.parquet");
    let bytes = std::fs::read(&ok).unwrap();
    let metadata = ParquetMetaDataReader::new()
        .parse_and_finish(&std::fs::File::open(&ok).unwrap())
        .unwrap();
    let mut builder = metadata.into_builder();
    let groups = builder
        .take_row_groups()
        .into_iter()
        .map(|group| {
            let columns = group.columns().iter().cloned();
            let columns = columns
                .map(|c| {
                    c.into_builder()
                        .set_dictionary_page_offset(None)
                        .set_data_page_offset(-4)
                        .build()
                        .unwrap()
                })
                .collect();
            group.into_builder().set_column_metadata(columns).build().unwrap()
        })
        .collect();
    let metadata = builder.set_row_groups(groups).build();
    // The data pages as they were, then the rewritten footer (metadata, its length, `PAR1`).
    let footer_len = u32::from_le_bytes(bytes[bytes.len() - 8..bytes.len() - 4].try_into().unwrap());
    let mut broken = bytes[..bytes.len() - 8 - footer_len as usize].to_vec();
    ParquetMetaDataWriter::new(&mut broken, &metadata).finish().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    std::fs::create_dir(tmp.path().join("data")).unwrap();
    let file = tmp.path().join("data/train-00000-of-00001.parquet");
    std::fs::write(&file, broken).unwrap();
    let resolver = SourceResolver::local_only();
    let ds = resolver.resolve(tmp.path().to_str().unwrap(), None).unwrap();
    match resolver.load_split(&ds, "train", "teacher_score", BadRowPolicy::Fail) {
        Err(e @ DatasetError::Decode { .. }) => {
            let message = e.to_string();
            assert!(message.contains(&file.display().to_string()), "{message}");
            assert!(message.contains("offset -4"), "{message}");
        }
        other => panic!("expected a Decode error, got {other:?}"),
    }
}

/// Found by fuzzing (`fuzz/fuzz_targets/data_stages.rs`; the file is
/// `tests/fixtures/fuzz/corrupt_definition_levels.parquet`): a data page whose definition levels
/// disagree with its values made the parquet crate panic in arrow-buffer ("offset + len out of
/// bounds"); reading it is a Decode error naming the file.
#[test]
fn corrupt_pages_are_a_decode_error() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::create_dir(tmp.path().join("data")).unwrap();
    let file = tmp.path().join("data/train-00000-of-00001.parquet");
    std::fs::copy(fixture("fuzz/corrupt_definition_levels.parquet"), &file).unwrap();
    let resolver = SourceResolver::local_only();
    let ds = resolver.resolve(tmp.path().to_str().unwrap(), None).unwrap();
    match resolver.load_tables(&ds) {
        Err(e @ DatasetError::Decode { .. }) => {
            let message = e.to_string();
            assert!(message.contains(&file.display().to_string()), "{message}");
            assert!(message.contains("corrupt data"), "{message}");
        }
        other => panic!("expected a Decode error, got {:?}", other.map(|t| t.counts())),
    }
}
