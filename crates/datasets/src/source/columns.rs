//! Turning Arrow record batches (from parquet or Arrow IPC files) into [`Row`]s.
//!
//! Every column is decoded by walking its list offsets directly, so any integer width, any float
//! width, `List`/`LargeList`/`FixedSizeList` and `Utf8`/`LargeUtf8`/`Utf8View` are accepted.

use std::ops::Range;
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Float16Type, Float32Type, Float64Type, Int8Type, Int16Type, Int32Type, Int64Type, UInt8Type, UInt16Type,
    UInt32Type, UInt64Type,
};
use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_schema::DataType;

use crate::row::Row;

/// Column names of the context-relevance schema.
pub(crate) mod names {
    /// Row id.
    pub const ID: &str = "id";
    /// Query text.
    pub const QUERY: &str = "query";
    /// Passages.
    pub const TEXTS: &str = "texts";
    /// Sentence spans per passage.
    pub const CONTEXT_SPANS: &str = "context_spans";
    /// Positive/negative labels per passage.
    pub const LABELS: &str = "labels";
    /// Keep flags per span.
    pub const RELEVANCE: &str = "context_spans_relevance";
    /// The unified teacher column name after the rename.
    pub const TEACHER_SCORE: &str = "teacher_score";
}

/// Expected Arrow type of a column, used to check a file's schema before reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// `string`
    Str,
    /// `list<string>`
    ListStr,
    /// `list<int>`
    ListInt,
    /// `list<float>`
    ListFloat,
    /// `list<list<int>>`
    ListListInt,
    /// `list<list<list<int>>>`
    ListListListInt,
}

impl Kind {
    /// Human-readable type, for error messages.
    pub(crate) fn describe(self) -> &'static str {
        match self {
            Kind::Str => "string",
            Kind::ListStr => "list<string>",
            Kind::ListInt => "list<integer>",
            Kind::ListFloat => "list<float>",
            Kind::ListListInt => "list<list<integer>>",
            Kind::ListListListInt => "list<list<list<integer>>>",
        }
    }

    /// Whether an Arrow type matches this kind.
    pub(crate) fn matches(self, dt: &DataType) -> bool {
        match self {
            Kind::Str => is_string(dt),
            Kind::ListStr => list_item(dt).is_some_and(is_string),
            Kind::ListInt => list_item(dt).is_some_and(is_int),
            Kind::ListFloat => list_item(dt).is_some_and(is_float),
            Kind::ListListInt => list_item(dt).and_then(list_item).is_some_and(is_int),
            Kind::ListListListInt => list_item(dt)
                .and_then(list_item)
                .and_then(list_item)
                .is_some_and(is_int),
        }
    }
}

fn is_string(dt: &DataType) -> bool {
    matches!(dt, DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View)
}

fn is_int(dt: &DataType) -> bool {
    dt.is_integer()
}

fn is_float(dt: &DataType) -> bool {
    matches!(dt, DataType::Float16 | DataType::Float32 | DataType::Float64)
}

fn list_item(dt: &DataType) -> Option<&DataType> {
    match dt {
        DataType::List(f) | DataType::LargeList(f) | DataType::FixedSizeList(f, _) => Some(f.data_type()),
        _ => None,
    }
}

/// One list level: per-element child ranges (`None` for a null element).
struct ListLevel {
    ranges: Vec<Option<Range<usize>>>,
}

impl ListLevel {
    /// Peels one list level off `array`; `None` if it is not a list.
    fn peel(array: &ArrayRef) -> Option<(ListLevel, ArrayRef)> {
        let nulls = array.logical_nulls();
        let valid = |i: usize| nulls.as_ref().is_none_or(|n| n.is_valid(i));
        let (bounds, child): (Vec<Range<usize>>, ArrayRef) = match array.data_type() {
            DataType::List(_) => {
                let l = array.as_list::<i32>();
                let o = l.value_offsets();
                let b = o.windows(2).map(|w| w[0] as usize..w[1] as usize).collect();
                (b, Arc::clone(l.values()))
            }
            DataType::LargeList(_) => {
                let l = array.as_list::<i64>();
                let o = l.value_offsets();
                let b = o.windows(2).map(|w| w[0] as usize..w[1] as usize).collect();
                (b, Arc::clone(l.values()))
            }
            DataType::FixedSizeList(_, size) => {
                let l = array.as_fixed_size_list();
                let size = usize::try_from(*size).unwrap_or(0);
                let b = (0..l.len()).map(|i| i * size..(i + 1) * size).collect();
                (b, Arc::clone(l.values()))
            }
            _ => return None,
        };
        let ranges = bounds
            .into_iter()
            .enumerate()
            .map(|(i, r)| valid(i).then_some(r))
            .collect();
        Some((ListLevel { ranges }, child))
    }

    fn get(&self, i: usize) -> Option<Range<usize>> {
        self.ranges.get(i).cloned().flatten()
    }
}

/// A string leaf array of any string type.
enum Strings<'a> {
    Small(&'a arrow_array::StringArray),
    Large(&'a arrow_array::LargeStringArray),
    View(&'a arrow_array::StringViewArray),
}

impl<'a> Strings<'a> {
    fn new(array: &'a ArrayRef) -> Option<Self> {
        match array.data_type() {
            DataType::Utf8 => Some(Strings::Small(array.as_string::<i32>())),
            DataType::LargeUtf8 => Some(Strings::Large(array.as_string::<i64>())),
            DataType::Utf8View => Some(Strings::View(array.as_string_view())),
            _ => None,
        }
    }

    fn get(&self, i: usize) -> Option<&'a str> {
        match self {
            Strings::Small(a) => a.is_valid(i).then(|| a.value(i)),
            Strings::Large(a) => a.is_valid(i).then(|| a.value(i)),
            Strings::View(a) => a.is_valid(i).then(|| a.value(i)),
        }
    }
}

/// Integer leaf values of any width, `None` for nulls (and for `u64` values above `i64::MAX`).
fn int_values(array: &ArrayRef) -> Option<Vec<Option<i64>>> {
    macro_rules! collect {
        ($t:ty) => {
            array
                .as_primitive::<$t>()
                .iter()
                .map(|v| v.and_then(|x| i64::try_from(x).ok()))
                .collect()
        };
    }
    Some(match array.data_type() {
        DataType::Int8 => collect!(Int8Type),
        DataType::Int16 => collect!(Int16Type),
        DataType::Int32 => collect!(Int32Type),
        DataType::Int64 => collect!(Int64Type),
        DataType::UInt8 => collect!(UInt8Type),
        DataType::UInt16 => collect!(UInt16Type),
        DataType::UInt32 => collect!(UInt32Type),
        DataType::UInt64 => collect!(UInt64Type),
        _ => return None,
    })
}

/// Float leaf values of any width, `None` for nulls.
fn float_values(array: &ArrayRef) -> Option<Vec<Option<f64>>> {
    Some(match array.data_type() {
        DataType::Float16 => array
            .as_primitive::<Float16Type>()
            .iter()
            .map(|v| v.map(|x| x.to_f64()))
            .collect(),
        DataType::Float32 => array
            .as_primitive::<Float32Type>()
            .iter()
            .map(|v| v.map(f64::from))
            .collect(),
        DataType::Float64 => array.as_primitive::<Float64Type>().iter().collect(),
        _ => return None,
    })
}

/// A `list^depth<int>` column, decoded.
struct NestedInts {
    levels: Vec<ListLevel>,
    leaf: Vec<Option<i64>>,
}

impl NestedInts {
    fn new(array: &ArrayRef, depth: usize) -> Option<Self> {
        let mut levels = Vec::with_capacity(depth);
        let mut current = Arc::clone(array);
        for _ in 0..depth {
            let (level, child) = ListLevel::peel(&current)?;
            levels.push(level);
            current = child;
        }
        Some(Self {
            levels,
            leaf: int_values(&current)?,
        })
    }

    /// The integers of leaf range `r`, or an error naming the null.
    fn leaf_slice(&self, r: Range<usize>, what: &str) -> Result<Vec<i64>, String> {
        self.leaf[r]
            .iter()
            .map(|v| v.ok_or_else(|| format!("null value in {what}")))
            .collect()
    }
}

/// A row that could not be decoded: its id (when readable) and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BadRow {
    /// The row's `id`, when present.
    pub id: Option<String>,
    /// What is wrong.
    pub problem: String,
}

/// Decodes a record batch into rows. Structural problems of one row (nulls, a span that is not
/// a pair) come back as `Err(problem)` for that row; value checks happen in [`crate::schema`].
///
/// `teacher` is the name of the column to read as `teacher_score`, when present.
pub(crate) fn batch_rows(batch: &RecordBatch, teacher: Option<&str>) -> Result<Vec<Result<Row, BadRow>>, String> {
    let texts = column(batch, names::TEXTS)?;
    let (texts_level, texts_child) = ListLevel::peel(texts).ok_or_else(|| not_a(names::TEXTS, Kind::ListStr))?;
    let columns = Columns::new(batch, teacher, texts_level, &texts_child)?;
    let rows = (0..batch.num_rows())
        .map(|r| {
            let id = columns.ids.as_ref().and_then(|s| s.get(r)).map(str::to_owned);
            columns.row(r, id.clone()).map_err(|problem| BadRow { id, problem })
        })
        .collect();
    Ok(rows)
}

/// Column `name` of `batch`.
fn column<'b>(batch: &'b RecordBatch, name: &str) -> Result<&'b ArrayRef, String> {
    batch
        .column_by_name(name)
        .ok_or_else(|| format!("column {name:?} missing from batch"))
}

/// The error for a column of the wrong type.
fn not_a(name: &str, kind: Kind) -> String {
    format!("column {name:?} is not {}", kind.describe())
}

/// The typed columns of one record batch, read row by row.
struct Columns<'a> {
    ids: Option<Strings<'a>>,
    query: Strings<'a>,
    texts: (ListLevel, Strings<'a>),
    spans: NestedInts,
    relevance: NestedInts,
    labels: Option<NestedInts>,
    teacher: Option<(ListLevel, Vec<Option<f64>>)>,
}

impl<'a> Columns<'a> {
    /// Checks the columns' types; `texts` is the already peeled `texts` list column.
    fn new(
        batch: &'a RecordBatch,
        teacher: Option<&str>,
        texts_level: ListLevel,
        texts_child: &'a ArrayRef,
    ) -> Result<Self, String> {
        let ids = match batch.column_by_name(names::ID) {
            Some(a) => Some(Strings::new(a).ok_or_else(|| not_a(names::ID, Kind::Str))?),
            None => None,
        };
        let query = Strings::new(column(batch, names::QUERY)?).ok_or_else(|| not_a(names::QUERY, Kind::Str))?;
        let texts_values = Strings::new(texts_child).ok_or_else(|| not_a(names::TEXTS, Kind::ListStr))?;
        let spans = NestedInts::new(column(batch, names::CONTEXT_SPANS)?, 3)
            .ok_or_else(|| not_a(names::CONTEXT_SPANS, Kind::ListListListInt))?;
        let relevance = NestedInts::new(column(batch, names::RELEVANCE)?, 2)
            .ok_or_else(|| not_a(names::RELEVANCE, Kind::ListListInt))?;
        let labels = match batch.column_by_name(names::LABELS) {
            Some(a) => Some(NestedInts::new(a, 1).ok_or_else(|| not_a(names::LABELS, Kind::ListInt))?),
            None => None,
        };
        let teacher = match teacher.and_then(|t| batch.column_by_name(t).map(|a| (t, a))) {
            Some((name, a)) => {
                let (level, child) = ListLevel::peel(a).ok_or_else(|| not_a(name, Kind::ListFloat))?;
                Some((level, float_values(&child).ok_or_else(|| not_a(name, Kind::ListFloat))?))
            }
            None => None,
        };
        Ok(Self {
            ids,
            query,
            texts: (texts_level, texts_values),
            spans,
            relevance,
            labels,
            teacher,
        })
    }

    /// Row `r`, or what is structurally wrong with it.
    fn row(&self, r: usize, id: Option<String>) -> Result<Row, String> {
        let labels = match &self.labels {
            Some(l) => {
                let range = l.levels[0].get(r).ok_or("labels is null")?;
                Some(l.leaf_slice(range, "labels")?)
            }
            None => None,
        };
        Ok(Row {
            id,
            query: self.query.get(r).ok_or("query is null")?.to_owned(),
            texts: self.texts(r)?,
            context_spans: self.context_spans(r)?,
            labels,
            context_spans_relevance: self.relevance(r)?,
            teacher_score: self.teacher_score(r)?,
        })
    }

    fn texts(&self, r: usize) -> Result<Vec<String>, String> {
        let (level, values) = &self.texts;
        let range = level.get(r).ok_or("texts is null")?;
        range
            .map(|i| {
                values
                    .get(i)
                    .map(str::to_owned)
                    .ok_or_else(|| format!("texts[{i}] is null"))
            })
            .collect()
    }

    fn context_spans(&self, r: usize) -> Result<Vec<Vec<[i64; 2]>>, String> {
        let spans = &self.spans;
        let passages = spans.levels[0].get(r).ok_or("context_spans is null")?;
        let mut out = Vec::with_capacity(passages.len());
        for (p, pi) in passages.enumerate() {
            let span_range = spans.levels[1]
                .get(pi)
                .ok_or_else(|| format!("context_spans[{p}] is null"))?;
            let mut list = Vec::with_capacity(span_range.len());
            for (s, si) in span_range.enumerate() {
                let pair_range = spans.levels[2]
                    .get(si)
                    .ok_or_else(|| format!("context_spans[{p}][{s}] is null"))?;
                match spans
                    .leaf_slice(pair_range, &format!("context_spans[{p}][{s}]"))?
                    .as_slice()
                {
                    [a, b] => list.push([*a, *b]),
                    other => {
                        return Err(format!(
                            "context_spans[{p}][{s}] has {} values, expected [start, end]",
                            other.len()
                        ));
                    }
                }
            }
            out.push(list);
        }
        Ok(out)
    }

    fn relevance(&self, r: usize) -> Result<Vec<Vec<i64>>, String> {
        let relevance = &self.relevance;
        let passages = relevance.levels[0].get(r).ok_or("context_spans_relevance is null")?;
        passages
            .enumerate()
            .map(|(p, pi)| {
                let flags = relevance.levels[1]
                    .get(pi)
                    .ok_or_else(|| format!("context_spans_relevance[{p}] is null"))?;
                relevance.leaf_slice(flags, &format!("context_spans_relevance[{p}]"))
            })
            .collect()
    }

    fn teacher_score(&self, r: usize) -> Result<Option<Vec<f64>>, String> {
        let Some((level, values)) = &self.teacher else {
            return Ok(None);
        };
        let range = level.get(r).ok_or("teacher scores are null")?;
        let scores = values[range]
            .iter()
            .enumerate()
            .map(|(i, v)| v.ok_or_else(|| format!("teacher score [{i}] is null")))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Some(scores))
    }
}
