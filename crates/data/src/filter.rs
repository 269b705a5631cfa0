//! `filter-frequency`: drop `train` rows whose passages were already seen too often, as upstream's
//! `scripts/context-relevance-datasets/frequency_filter_ds.py` does (same rows kept, same summary).
//!
//! Over `train` in row order: each passage is hashed (MD5 of its UTF-8 bytes, nothing
//! normalised); a row's duplicate count is how many of its passages appeared in rows kept
//! before it; a row with more than `N` is dropped, a kept row adds its passages to the seen set.
//! Several thresholds write `freq<N>/` each; one writes the output directory itself. Other
//! splits are copied unchanged. Each threshold directory holds the dataset, upstream's
//! `frequency_filter_ds_summary.md`, `drop_ids.txt` (when rows were dropped) and a card; the
//! output root `frequency_filter_metadata.json`.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use arrow_array::cast::AsArray;
use arrow_array::{Array, BooleanArray, ListArray, RecordBatch, StringArray};
use arrow_schema::DataType;
use provence_datasets::{DatasetTables, SourceResolver, SplitTable};

use crate::error::{DataError, RowProblem};
use crate::output::{Card, OutputOptions, write_with_card};

/// Upstream's default thresholds.
pub const DEFAULT_THRESHOLDS: [u32; 3] = [1, 2, 3];

/// What `filter-frequency` reads and how it filters.
#[derive(Debug, Clone)]
pub struct FilterOptions {
    /// Hub id or local directory.
    pub dataset: String,
    /// Hub subset.
    pub subset: Option<String>,
    /// The splits named in the summary (upstream's `--split`; `train` is the one filtered).
    pub splits: Vec<String>,
    /// Duplicate allowances per row (sorted and de-duplicated here).
    pub thresholds: Vec<u32>,
    /// Process (and keep) only the first N train rows.
    pub debug_limit: Option<usize>,
    /// The column with row ids (for `drop_ids.txt`).
    pub id_column: String,
    /// The column with the passages.
    pub texts_column: String,
    /// Output root (and layout of each threshold's dataset).
    pub output: OutputOptions,
}

/// The counts of one threshold's pass (upstream's `DuplicateStats`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FilterStats {
    /// The threshold.
    pub threshold: u32,
    /// Train rows read.
    pub rows_total: usize,
    /// Train rows kept.
    pub rows_kept: usize,
    /// Passages in all train rows.
    pub texts_total: usize,
    /// Distinct passages in all train rows.
    pub texts_unique: usize,
    /// Passages in kept rows.
    pub texts_total_filtered: usize,
    /// Distinct passages in kept rows.
    pub texts_unique_filtered: usize,
    /// Rows per duplicate count: (total, kept, removed).
    pub buckets: BTreeMap<usize, (usize, usize, usize)>,
    /// Ids of the dropped rows, sorted.
    pub drop_ids: Vec<String>,
}

/// What `filter-frequency` did: one entry per threshold, and where each went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilterReport {
    /// Per threshold: its statistics and its output directory.
    pub thresholds: Vec<(FilterStats, PathBuf)>,
}

/// Summary and drop-list file names (upstream's).
const SUMMARY_FILE: &str = "frequency_filter_ds_summary.md";
const DROP_IDS_FILE: &str = "drop_ids.txt";
const METADATA_FILE: &str = "frequency_filter_metadata.json";

/// Filters `options.dataset` at every threshold and writes the results (see the module docs).
pub fn filter_frequency(resolver: &SourceResolver, options: &FilterOptions) -> Result<FilterReport, DataError> {
    let mut thresholds = options.thresholds.clone();
    thresholds.sort_unstable();
    thresholds.dedup();
    if thresholds.is_empty() {
        thresholds = DEFAULT_THRESHOLDS.to_vec();
    }
    if options.debug_limit == Some(0) {
        return Err(DataError::option("--debug-limit", "must be positive if given"));
    }
    let staged = options.output.begin(false)?;
    let resolved = resolver.resolve(&options.dataset, options.subset.as_deref())?;
    let mut tables = resolver.load_tables(&resolved)?;
    let train_index = tables
        .splits
        .iter()
        .position(|s| s.name == "train")
        .ok_or_else(|| DataError::Empty {
            dataset: options.dataset.clone(),
            problem: format!("no \"train\" split (it has {:?})", resolved.order),
        })?;
    if tables.splits[train_index].batch.num_rows() == 0 {
        return Err(DataError::Empty {
            dataset: options.dataset.clone(),
            problem: "the train split is empty; nothing to filter".to_owned(),
        });
    }
    if let Some(limit) = options.debug_limit {
        let train = &mut tables.splits[train_index].batch;
        *train = train.slice(0, limit.min(train.num_rows()));
    }
    let hashes = train_hashes(options, &tables.splits[train_index])?;
    let mut report = FilterReport { thresholds: Vec::new() };
    for &threshold in &thresholds {
        let (keep, stats) = filter_rows(&hashes, threshold);
        let dir_name = if thresholds.len() > 1 {
            format!("freq{threshold}")
        } else {
            String::new()
        };
        let dir = staged.path().join(&dir_name);
        std::fs::create_dir_all(&dir).map_err(|e| DataError::io(&dir, e))?;
        let out = filtered_tables(&tables, train_index, &keep)?;
        let summary = summary_markdown(options, &stats);
        write_threshold_files(&dir, &stats, &summary)?;
        let card = Card {
            stage: "filter-frequency",
            command: &options.output.command,
            summary,
        };
        write_with_card(&dir, &out, options.output.layout, &card)?;
        report.thresholds.push((stats, options.output.path.join(dir_name)));
    }
    write_metadata(staged.path(), options, &thresholds)?;
    staged.commit()?;
    Ok(report)
}

/// One train row: its id and the MD5 digests of its passages.
struct HashedRow {
    id: String,
    digests: Vec<[u8; 16]>,
}

/// The train split's passage lists and ids, checked to be `list<string>` and `string` columns.
fn train_columns<'a>(
    options: &FilterOptions,
    train: &'a SplitTable,
) -> Result<(&'a ListArray, &'a StringArray), DataError> {
    let batch = &train.batch;
    let column_names = || batch.schema().fields().iter().map(|f| f.name().clone()).collect();
    let missing = |name: &str| DataError::MissingColumn {
        dataset: options.dataset.clone(),
        split: train.name.clone(),
        expected: format!("{name:?}"),
        found: column_names(),
    };
    let texts = batch
        .column_by_name(&options.texts_column)
        .ok_or_else(|| missing(&options.texts_column))?;
    let ids = batch
        .column_by_name(&options.id_column)
        .ok_or_else(|| missing(&options.id_column))?;
    let type_error = |column: &str, found: &DataType, expected: &str| DataError::ColumnType {
        dataset: options.dataset.clone(),
        split: train.name.clone(),
        column: column.to_owned(),
        found: found.to_string(),
        expected: expected.to_owned(),
    };
    let (DataType::List(_), DataType::Utf8) = (texts.data_type(), ids.data_type()) else {
        return Err(if matches!(ids.data_type(), DataType::Utf8) {
            type_error(&options.texts_column, texts.data_type(), "list<string>")
        } else {
            type_error(&options.id_column, ids.data_type(), "string")
        });
    };
    let (lists, ids) = (texts.as_list::<i32>(), ids.as_string::<i32>());
    let DataType::Utf8 = lists.values().data_type() else {
        return Err(type_error(&options.texts_column, texts.data_type(), "list<string>"));
    };
    Ok((lists, ids))
}

/// The id and passage digests of every train row.
fn train_hashes(options: &FilterOptions, train: &SplitTable) -> Result<Vec<HashedRow>, DataError> {
    let problem = |row: usize, column: &str, problem: String| {
        DataError::bad_row(RowProblem {
            dataset: options.dataset.clone(),
            split: train.name.clone(),
            row,
            id: None,
            column: column.to_owned(),
            problem,
        })
    };
    let (lists, ids) = train_columns(options, train)?;
    let values = lists.values().as_string::<i32>();
    (0..train.batch.num_rows())
        .map(|row| {
            if lists.is_null(row) {
                return Err(problem(
                    row,
                    &options.texts_column,
                    "is null; expected a list of passages".to_owned(),
                ));
            }
            let range = lists.value_offsets()[row] as usize..lists.value_offsets()[row + 1] as usize;
            let digests = range
                .map(|i| {
                    if values.is_null(i) {
                        Err(problem(
                            row,
                            &options.texts_column,
                            format!("passage {} is null", i - lists.value_offsets()[row] as usize),
                        ))
                    } else {
                        Ok(md5::compute(values.value(i).as_bytes()).0)
                    }
                })
                .collect::<Result<_, _>>()?;
            if ids.is_null(row) {
                return Err(problem(
                    row,
                    &options.id_column,
                    "is null; every row needs an id".to_owned(),
                ));
            }
            Ok(HashedRow {
                id: ids.value(row).to_owned(),
                digests,
            })
        })
        .collect()
}

/// Which rows one threshold keeps, and its statistics.
fn filter_rows(rows: &[HashedRow], threshold: u32) -> (Vec<bool>, FilterStats) {
    let mut global: HashMap<[u8; 16], usize> = HashMap::new();
    let mut seen: HashMap<[u8; 16], usize> = HashMap::new();
    let mut stats = FilterStats {
        threshold,
        rows_total: rows.len(),
        ..FilterStats::default()
    };
    let mut keep = Vec::with_capacity(rows.len());
    for row in rows {
        for digest in &row.digests {
            *global.entry(*digest).or_default() += 1;
        }
        let duplicates = row.digests.iter().filter(|d| seen.contains_key(*d)).count();
        let bucket = stats.buckets.entry(duplicates).or_default();
        bucket.0 += 1;
        let kept = duplicates <= threshold as usize;
        if kept {
            bucket.1 += 1;
            for digest in &row.digests {
                *seen.entry(*digest).or_default() += 1;
            }
        } else {
            bucket.2 += 1;
            stats.drop_ids.push(row.id.clone());
        }
        keep.push(kept);
    }
    stats.rows_kept = keep.iter().filter(|k| **k).count();
    stats.texts_total = global.values().sum();
    stats.texts_unique = global.len();
    stats.texts_total_filtered = seen.values().sum();
    stats.texts_unique_filtered = seen.len();
    stats.drop_ids.sort();
    stats.drop_ids.dedup();
    (keep, stats)
}

/// The dataset with `train` reduced to the kept rows.
fn filtered_tables(tables: &DatasetTables, train_index: usize, keep: &[bool]) -> Result<DatasetTables, DataError> {
    let mut out = tables.clone();
    let train: &mut RecordBatch = &mut out.splits[train_index].batch;
    *train = arrow_select::filter::filter_record_batch(train, &BooleanArray::from(keep.to_vec())).map_err(|e| {
        DataError::File {
            path: PathBuf::from("train"),
            message: format!("cannot filter the rows: {e}"),
        }
    })?;
    Ok(out)
}

/// Python's `{:,}`.
fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Python's `{:.4%}` of `part / total` (0 when `total` is 0).
fn percent(part: usize, total: usize) -> String {
    let ratio = if total == 0 { 0.0 } else { part as f64 / total as f64 };
    format!("{:.4}%", ratio * 100.0)
}

/// Upstream's summary Markdown (its `write_summary`), with our run's command and environment.
fn summary_markdown(options: &FilterOptions, stats: &FilterStats) -> String {
    let timestamp = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, false);
    let splits = if options.splits.is_empty() {
        "train".to_owned()
    } else {
        options.splits.join(", ")
    };
    let t = thousands;
    let mut lines = vec![
        "# Frequency Filter Summary".to_owned(),
        String::new(),
        "## Configuration".to_owned(),
        format!("- Dataset: `{}`", options.dataset),
        options
            .subset
            .as_deref()
            .map_or("- Subset: (none)".to_owned(), |s| format!("- Subset: `{s}`")),
        format!("- Threshold (N): {}", stats.threshold),
        format!("- Splits requested: {splits}"),
        "- Filtered split: train".to_owned(),
        format!(
            "- Debug limit: {}",
            options.debug_limit.map_or("None".to_owned(), |d| d.to_string())
        ),
        format!("- Command: `{}`", options.output.command),
        format!("- Timestamp (UTC): {timestamp}"),
        String::new(),
        "## Train Split Statistics".to_owned(),
        format!("- Rows (input): {}", t(stats.rows_total)),
        format!("- Rows kept: {}", t(stats.rows_kept)),
        format!("- Rows removed: {}", t(stats.rows_total - stats.rows_kept)),
        format!("- Drop id count: {}", t(stats.drop_ids.len())),
        String::new(),
    ];
    for (label, total, unique) in [
        ("input", stats.texts_total, stats.texts_unique),
        ("filtered", stats.texts_total_filtered, stats.texts_unique_filtered),
    ] {
        lines.push(format!("- Texts total ({label}): {}", t(total)));
        lines.push(format!("- Texts unique ({label}): {}", t(unique)));
        lines.push(format!("- Texts duplicates ({label}): {}", t(total - unique)));
        lines.push(format!(
            "- Text duplicate ratio ({label}): {}",
            percent(total - unique, total)
        ));
        lines.push(String::new());
    }
    lines.pop();
    lines.extend([
        String::new(),
        "## Duplicate Distribution (by duplicate count seen before row)".to_owned(),
        "| Duplicate texts | Total rows | Kept rows | Removed rows |".to_owned(),
        "| --- | ---: | ---: | ---: |".to_owned(),
    ]);
    for (duplicates, (total, kept, removed)) in &stats.buckets {
        lines.push(format!(
            "| {duplicates} | {} | {} | {} |",
            t(*total),
            t(*kept),
            t(*removed)
        ));
    }
    lines.extend([
        String::new(),
        "## Metadata".to_owned(),
        format!("- Environment: open-provence-rs {}", env!("CARGO_PKG_VERSION")),
        format!("- Summary generated at: {timestamp}"),
    ]);
    lines.join("\n")
}

/// Upstream's per-threshold files: the summary and, when rows were dropped, their ids.
fn write_threshold_files(dir: &Path, stats: &FilterStats, summary: &str) -> Result<(), DataError> {
    let path = dir.join(SUMMARY_FILE);
    std::fs::write(&path, summary).map_err(|e| DataError::io(&path, e))?;
    if !stats.drop_ids.is_empty() {
        let path = dir.join(DROP_IDS_FILE);
        std::fs::write(&path, stats.drop_ids.join("\n")).map_err(|e| DataError::io(&path, e))?;
    }
    Ok(())
}

/// `frequency_filter_metadata.json`, keys in upstream's order.
#[derive(serde::Serialize)]
struct Metadata<'a> {
    dataset: &'a str,
    subset: Option<&'a str>,
    thresholds: &'a [u32],
    splits_request: &'a [String],
    debug_limit: Option<usize>,
    output_root: String,
    generated_at: String,
}

fn write_metadata(dir: &Path, options: &FilterOptions, thresholds: &[u32]) -> Result<(), DataError> {
    let default_splits = ["train".to_owned()];
    let metadata = Metadata {
        dataset: &options.dataset,
        subset: options.subset.as_deref(),
        thresholds,
        splits_request: if options.splits.is_empty() {
            &default_splits
        } else {
            &options.splits
        },
        debug_limit: options.debug_limit,
        output_root: options.output.path.display().to_string(),
        generated_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, false),
    };
    let path = dir.join(METADATA_FILE);
    let text = serde_json::to_string_pretty(&metadata).map_err(|e| DataError::File {
        path: path.clone(),
        message: e.to_string(),
    })?;
    std::fs::write(&path, text).map_err(|e| DataError::io(&path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_format_like_python() {
        assert_eq!(thousands(1234567), "1,234,567");
        assert_eq!(thousands(999), "999");
        assert_eq!(percent(43, 110), "39.0909%");
        assert_eq!(percent(0, 0), "0.0000%");
    }

    #[test]
    fn duplicates_count_against_kept_rows_only() {
        let d = |b: u8| [b; 16];
        let rows = [
            HashedRow {
                id: "a".into(),
                digests: vec![d(1), d(2)],
            },
            HashedRow {
                id: "b".into(),
                digests: vec![d(1), d(2)],
            },
            HashedRow {
                id: "c".into(),
                digests: vec![d(1), d(3), d(3)],
            },
        ];
        let (keep, stats) = filter_rows(&rows, 1);
        assert_eq!(keep, [true, false, true]);
        assert_eq!(stats.drop_ids, ["b"]);
        assert_eq!((stats.texts_total, stats.texts_unique), (7, 3));
        assert_eq!((stats.texts_total_filtered, stats.texts_unique_filtered), (5, 3));
        assert_eq!(stats.buckets[&2], (1, 0, 1));
    }
}
