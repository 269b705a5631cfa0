//! Schema checks on load: required columns and their types per file, and per-row consistency
//! (aligned per-passage list lengths, span offsets within the passage in code points, finite
//! teacher scores).

use std::path::Path;

use arrow_schema::Schema;

use crate::error::DatasetError;
use crate::row::Row;
use crate::source::columns::{Kind, names};

pub use provence_config::BadRowPolicy;

/// The columns of one split that the reader will load, decided from the file schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ColumnPlan {
    /// All column names in the file, with the teacher column already renamed to `teacher_score`.
    pub renamed_columns: Vec<String>,
    /// Name of the column read as `teacher_score`, if any.
    pub teacher_source: Option<String>,
    /// Whether an `id` column is read.
    pub has_id: bool,
    /// Whether a `labels` column is read.
    pub has_labels: bool,
}

impl ColumnPlan {
    /// Names to project when reading (the file's own names).
    pub(crate) fn projection(&self) -> Vec<&str> {
        let mut cols = vec![names::QUERY, names::TEXTS, names::CONTEXT_SPANS, names::RELEVANCE];
        if self.has_id {
            cols.push(names::ID);
        }
        if self.has_labels {
            cols.push(names::LABELS);
        }
        if let Some(t) = &self.teacher_source {
            cols.push(t);
        }
        cols
    }
}

/// Checks a file's schema and decides which columns to read.
///
/// Required: `query`, `texts`, `context_spans`, `context_spans_relevance`; optional: `id`,
/// `labels`, the teacher column (upstream renames it to `teacher_score` only when it exists, and a
/// column already called `teacher_score` stays). Without a teacher column the collator falls back
/// to `labels` (warned here); with neither there is no ranking target, which is an error.
pub(crate) fn plan_columns(
    schema: &Schema,
    teacher_column: &str,
    dataset: &str,
    split: &str,
    path: &Path,
) -> Result<ColumnPlan, DatasetError> {
    let check = |name: &str, kind: Kind, required: bool| -> Result<bool, DatasetError> {
        match schema.field_with_name(name) {
            Ok(field) if kind.matches(field.data_type()) => Ok(true),
            Ok(field) => Err(DatasetError::ColumnType {
                dataset: dataset.to_owned(),
                column: name.to_owned(),
                path: path.to_owned(),
                found: field.data_type().to_string(),
                expected: kind.describe(),
            }),
            Err(_) if required => Err(DatasetError::MissingColumn {
                dataset: dataset.to_owned(),
                split: split.to_owned(),
                column: name.to_owned(),
                path: path.to_owned(),
            }),
            Err(_) => Ok(false),
        }
    };
    check(names::QUERY, Kind::Str, true)?;
    check(names::TEXTS, Kind::ListStr, true)?;
    check(names::CONTEXT_SPANS, Kind::ListListListInt, true)?;
    check(names::RELEVANCE, Kind::ListListInt, true)?;
    let has_id = check(names::ID, Kind::Str, false)?;
    let has_labels = check(names::LABELS, Kind::ListInt, false)?;
    let teacher_source = if check(teacher_column, Kind::ListFloat, false)? {
        Some(teacher_column.to_owned())
    } else if teacher_column != names::TEACHER_SCORE && check(names::TEACHER_SCORE, Kind::ListFloat, false)? {
        Some(names::TEACHER_SCORE.to_owned())
    } else {
        None
    };
    if teacher_source.is_none() {
        if !has_labels {
            return Err(DatasetError::NoRankingTarget {
                dataset: dataset.to_owned(),
                split: split.to_owned(),
                teacher_column: teacher_column.to_owned(),
            });
        }
        tracing::warn!(
            dataset,
            split,
            teacher_column,
            "teacher column not found; ranking targets will fall back to `labels`"
        );
    }
    let renamed_columns = schema
        .fields()
        .iter()
        .map(|f| {
            if teacher_source.as_deref() == Some(f.name().as_str()) {
                names::TEACHER_SCORE.to_owned()
            } else {
                f.name().clone()
            }
        })
        .collect();
    Ok(ColumnPlan {
        renamed_columns,
        teacher_source,
        has_id,
        has_labels,
    })
}

/// Checks one decoded row; returns what is wrong with it, if anything.
///
/// * every per-passage list (`context_spans`, `context_spans_relevance`, `labels`,
///   `teacher_score`) has one entry per passage of `texts`;
/// * every span `[start, end)` has `0 <= start <= end <= len(passage)` in Unicode code points;
/// * teacher scores are finite (no NaN/inf).
///
/// The inner length of `context_spans_relevance[i]` is not checked: upstream data legitimately
/// has `[]` or fewer flags than spans (hotchpotch/open_provence's labeller,
/// `scripts/context-relevance-datasets/add_context_spans_relevance.py::RelevanceLabeler.process_batch`,
/// skips passages without non-empty spans and flags only the non-empty ones).
pub fn check_row(row: &Row) -> Result<(), String> {
    let n = row.texts.len();
    let aligned = |name: &str, len: usize| {
        if len == n {
            Ok(())
        } else {
            Err(format!("{name} has {len} entries but texts has {n} passages"))
        }
    };
    aligned(names::CONTEXT_SPANS, row.context_spans.len())?;
    aligned(names::RELEVANCE, row.context_spans_relevance.len())?;
    if let Some(labels) = &row.labels {
        aligned(names::LABELS, labels.len())?;
    }
    if let Some(scores) = &row.teacher_score {
        aligned("teacher scores", scores.len())?;
        if let Some((i, s)) = scores.iter().enumerate().find(|(_, s)| !s.is_finite()) {
            return Err(format!("teacher score [{i}] is {s}, expected a finite number"));
        }
    }
    for (p, (text, spans)) in row.texts.iter().zip(&row.context_spans).enumerate() {
        let len = text.chars().count() as i64;
        for (s, &[start, end]) in spans.iter().enumerate() {
            if start < 0 || end < 0 {
                return Err(format!(
                    "context_spans[{p}][{s}] = [{start}, {end}] has a negative offset"
                ));
            }
            if start > end {
                return Err(format!("context_spans[{p}][{s}] = [{start}, {end}] has start > end"));
            }
            if end > len {
                return Err(format!(
                    "context_spans[{p}][{s}] = [{start}, {end}] ends past the passage end ({len} code points)"
                ));
            }
        }
    }
    Ok(())
}
