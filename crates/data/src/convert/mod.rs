//! `convert`: sentence-transformers triplet / hard-negative datasets → the context-relevance
//! schema (`id`, `query`, `texts`, `context_spans`, `labels`), as upstream's
//! `scripts/context-relevance-datasets/generate_ds_from_sentense_transformer.py` does: the same
//! rows, spans and splits for the same input and seed.
//!
//! Per row: the query from the first truthy `query`/`question`/`prompt`, the positive from
//! `answer`/`positive`/`pos`/`target`, negatives from every column whose name starts with `neg`,
//! in string order of the names (`negative_1, negative_10, negative_2`), empty ones dropped;
//! `texts = [positive, *negatives]`, `labels = [1, 0, …]`, spans from the language's splitter,
//! `id = "<slug>:<split>:<position>"`.

mod pyvalue;
mod spans;
mod splits;
mod splitter;

use std::path::PathBuf;
use std::sync::Arc;

use arrow_array::builder::{Int64Builder, ListBuilder, StringBuilder};
use arrow_array::{ArrayRef, RecordBatch};
use provence_datasets::{DatasetTables, SourceResolver, SplitTable};
use rayon::prelude::*;

pub use spans::text_to_spans;
pub use splits::{SplitPlan, plan_splits, split_size};
pub use splitter::SpanSplitter;

use crate::error::{DataError, RowProblem};
use crate::output::{Card, OutputOptions, finish};
use pyvalue::PyValue;

/// The longest text (query or passage) `convert` accepts by default, in code points.
pub const DEFAULT_MAX_TEXT_CHARS: usize = 1_000_000;

/// Query columns, in the order upstream tries them.
const QUERY_COLUMNS: [&str; 3] = ["query", "question", "prompt"];
/// Positive-passage columns, in the order upstream tries them.
const POSITIVE_COLUMNS: [&str; 4] = ["answer", "positive", "pos", "target"];
/// Columns whose name starts with this are negatives (`negative…` included).
const NEGATIVE_PREFIX: &str = "neg";

/// What `convert` reads, how it splits, and where it writes.
#[derive(Debug, Clone)]
pub struct ConvertOptions {
    /// Hub id or local directory (Hub parquet layout or `save_to_disk`).
    pub dataset: String,
    /// Hub subset (config); also part of the row ids.
    pub subset: Option<String>,
    /// Splitter language: `ja`, an NLTK Punkt language (code or name), or anything else for
    /// the generic regex splitter.
    pub lang: String,
    /// NLTK `punkt_tab/<language>/` directory for Punkt languages other than English.
    pub punkt_dir: Option<PathBuf>,
    /// Keep a random sample of this many rows of every split.
    pub sample_size: Option<usize>,
    /// Seed of every shuffle.
    pub seed: u64,
    /// Longest accepted text in code points (a longer one is an error naming its row).
    pub max_text_chars: usize,
    /// Output directory and layout.
    pub output: OutputOptions,
}

/// What `convert` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConvertReport {
    /// The output directory.
    pub output: PathBuf,
    /// Rows per output split, in order.
    pub splits: Vec<(String, usize)>,
    /// Per output split, the source row of each output row as `"<split>:<index>"`.
    pub source_rows: Vec<(String, Vec<String>)>,
    /// Whether `validation`/`test` were carved out of `train`.
    pub carved: bool,
    /// The sentence splitter used.
    pub splitter: String,
    /// Empty negatives that were dropped.
    pub dropped_negatives: usize,
}

/// Upstream's `slugify_dataset_name`: the name with `/` → `_`, plus `_<subset>`; the default
/// output directory name and the prefix of every id.
pub fn dataset_slug(dataset: &str, subset: Option<&str>) -> String {
    let base = dataset.replace('/', "_");
    match subset {
        Some(s) if !s.is_empty() => format!("{base}_{s}"),
        _ => base,
    }
}

/// Converts `options.dataset` and writes the result (see the module docs).
pub fn convert(resolver: &SourceResolver, options: &ConvertOptions) -> Result<ConvertReport, DataError> {
    if options.sample_size == Some(0) {
        return Err(DataError::option("--sample-size", "must be positive if given"));
    }
    let splitter = SpanSplitter::for_language(&options.lang, options.punkt_dir.as_deref())?;
    let staged = options.output.begin(false)?;
    let resolved = resolver.resolve(&options.dataset, options.subset.as_deref())?;
    let source = resolver.load_tables(&resolved)?;
    let (plans, carved) = plan_splits(&source.counts(), options.sample_size, options.seed).map_err(|e| match e {
        splits::PlanError::NoTrain => DataError::Empty {
            dataset: options.dataset.clone(),
            problem: format!("no \"train\" split (it has {:?})", resolved.order),
        },
        splits::PlanError::EmptyTrain => DataError::Empty {
            dataset: options.dataset.clone(),
            problem: "the train split is empty; cannot create validation/test splits".to_owned(),
        },
    })?;
    let columns: Vec<SourceColumns> = source
        .splits
        .iter()
        .map(|s| SourceColumns::of(&options.dataset, s))
        .collect::<Result<_, _>>()?;
    let slug = dataset_slug(&options.dataset, options.subset.as_deref());
    let context = RowContext {
        dataset: &options.dataset,
        source: &source,
        columns: &columns,
        splitter: &splitter,
        max_chars: options.max_text_chars,
    };
    let mut out = DatasetTables::default();
    let mut dropped_negatives = 0;
    for plan in &plans {
        let records = plan
            .rows
            .par_iter()
            .map(|&(s, r)| context.record(s, r))
            .collect::<Result<Vec<Record>, DataError>>()?;
        dropped_negatives += records.iter().map(|r| r.dropped).sum::<usize>();
        out.splits.push(SplitTable {
            name: plan.name.clone(),
            batch: records_batch(&slug, &plan.name, &records)?,
        });
    }
    let report = ConvertReport {
        output: options.output.path.clone(),
        splits: out.counts(),
        source_rows: plans
            .iter()
            .map(|p| {
                let rows = p
                    .rows
                    .iter()
                    .map(|&(s, r)| format!("{}:{r}", source.splits[s].name))
                    .collect();
                (p.name.clone(), rows)
            })
            .collect(),
        carved,
        splitter: splitter.name(),
        dropped_negatives,
    };
    let card = Card {
        stage: "convert",
        command: &options.output.command,
        summary: summary(options, &report),
    };
    finish(staged, &out, &options.output, &card)?;
    Ok(report)
}

fn summary(options: &ConvertOptions, report: &ConvertReport) -> String {
    format!(
        "- Source: `{}`{}\n- Sentence splitter: {}\n- Sample size: {}\n- Seed: {}\n- validation/test carved out of train: {}\n- Empty negatives dropped: {}",
        options.dataset,
        options
            .subset
            .as_deref()
            .map(|s| format!(" (subset `{s}`)"))
            .unwrap_or_default(),
        report.splitter,
        options.sample_size.map_or("all rows".to_owned(), |k| k.to_string()),
        options.seed,
        if report.carved {
            "yes (1%, at most 5,000 rows each)"
        } else {
            "no"
        },
        report.dropped_negatives,
    )
}

/// The columns of one source split that `convert` reads.
struct SourceColumns {
    query: Vec<(String, ArrayRef)>,
    positive: Vec<(String, ArrayRef)>,
    negatives: Vec<(String, ArrayRef)>,
}

impl SourceColumns {
    fn of(dataset: &str, split: &SplitTable) -> Result<Self, DataError> {
        let schema = split.batch.schema();
        let pick = |names: &[&str]| -> Vec<(String, ArrayRef)> {
            names
                .iter()
                .filter_map(|n| split.batch.column_by_name(n).map(|a| ((*n).to_owned(), Arc::clone(a))))
                .collect()
        };
        let missing = |expected: &[&str]| DataError::MissingColumn {
            dataset: dataset.to_owned(),
            split: split.name.clone(),
            expected: expected.join(" / "),
            found: schema.fields().iter().map(|f| f.name().clone()).collect(),
        };
        let (query, positive) = (pick(&QUERY_COLUMNS), pick(&POSITIVE_COLUMNS));
        if query.is_empty() {
            return Err(missing(&QUERY_COLUMNS));
        }
        if positive.is_empty() {
            return Err(missing(&POSITIVE_COLUMNS));
        }
        let mut negatives: Vec<(String, ArrayRef)> = schema
            .fields()
            .iter()
            .enumerate()
            .filter(|(_, f)| f.name().starts_with(NEGATIVE_PREFIX))
            .map(|(i, f)| (f.name().clone(), Arc::clone(split.batch.column(i))))
            .collect();
        negatives.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(Self {
            query,
            positive,
            negatives,
        })
    }
}

/// One converted row (before its id).
struct Record {
    query: String,
    texts: Vec<String>,
    spans: Vec<Vec<[i64; 2]>>,
    dropped: usize,
}

/// What converting one row needs.
struct RowContext<'a> {
    dataset: &'a str,
    source: &'a DatasetTables,
    columns: &'a [SourceColumns],
    splitter: &'a SpanSplitter,
    max_chars: usize,
}

impl RowContext<'_> {
    fn bad(&self, split: usize, row: usize, column: &str, problem: String) -> DataError {
        DataError::bad_row(RowProblem {
            dataset: self.dataset.to_owned(),
            split: self.source.splits[split].name.clone(),
            row,
            id: None,
            column: column.to_owned(),
            problem,
        })
    }

    /// `_normalise_text` of column `name` at `row`, checked for length.
    fn text(
        &self,
        split: usize,
        row: usize,
        (name, array): &(String, ArrayRef),
    ) -> Result<(PyValue, String), DataError> {
        let value = PyValue::at(array, row).map_err(|found| {
            self.bad(
                split,
                row,
                name,
                format!("has type {found}; expected text (a string or a list of strings)"),
            )
        })?;
        let text = value.normalise_text();
        let chars = text.chars().count();
        if chars > self.max_chars {
            return Err(self.bad(
                split,
                row,
                name,
                format!(
                    "the text has {chars} characters, more than the limit of {} (--max-text-chars)",
                    self.max_chars
                ),
            ));
        }
        Ok((value, text))
    }

    /// The first truthy column of `candidates` as text (upstream's `a or b or c`).
    fn first_truthy(&self, split: usize, row: usize, candidates: &[(String, ArrayRef)]) -> Result<String, DataError> {
        for candidate in candidates {
            let (value, text) = self.text(split, row, candidate)?;
            if value.truthy() {
                return Ok(text);
            }
        }
        Ok(String::new())
    }

    fn record(&self, split: usize, row: usize) -> Result<Record, DataError> {
        let columns = &self.columns[split];
        let query = self.first_truthy(split, row, &columns.query)?;
        if query.is_empty() {
            let names = QUERY_COLUMNS.join(" / ");
            return Err(self.bad(split, row, &names, "no query: the query columns are empty".to_owned()));
        }
        let positive = self.first_truthy(split, row, &columns.positive)?;
        if positive.is_empty() {
            let names = POSITIVE_COLUMNS.join(" / ");
            return Err(self.bad(
                split,
                row,
                &names,
                "no positive passage: the passage columns are empty".to_owned(),
            ));
        }
        let mut texts = vec![positive];
        let mut dropped = 0;
        for negative in &columns.negatives {
            let (_, text) = self.text(split, row, negative)?;
            if text.is_empty() {
                dropped += 1;
            } else {
                texts.push(text);
            }
        }
        let spans = texts.iter().map(|t| text_to_spans(t, self.splitter)).collect();
        Ok(Record {
            query,
            texts,
            spans,
            dropped,
        })
    }
}

/// The converted rows of one split as a record batch (`id`, `query`, `texts`, `context_spans`,
/// `labels`), ids numbered by position.
fn records_batch(slug: &str, split: &str, records: &[Record]) -> Result<RecordBatch, DataError> {
    let mut ids = StringBuilder::new();
    let mut queries = StringBuilder::new();
    let mut texts = ListBuilder::new(StringBuilder::new());
    let mut spans = ListBuilder::new(ListBuilder::new(ListBuilder::new(Int64Builder::new())));
    let mut labels = ListBuilder::new(Int64Builder::new());
    for (i, record) in records.iter().enumerate() {
        ids.append_value(format!("{slug}:{split}:{i}"));
        queries.append_value(&record.query);
        for text in &record.texts {
            texts.values().append_value(text);
        }
        texts.append(true);
        for passage in &record.spans {
            for span in passage {
                spans.values().values().values().append_slice(span);
                spans.values().values().append(true);
            }
            spans.values().append(true);
        }
        spans.append(true);
        labels.values().append_value(1);
        for _ in 1..record.texts.len() {
            labels.values().append_value(0);
        }
        labels.append(true);
    }
    let columns: Vec<(&str, ArrayRef)> = vec![
        ("id", Arc::new(ids.finish())),
        ("query", Arc::new(queries.finish())),
        ("texts", Arc::new(texts.finish())),
        ("context_spans", Arc::new(spans.finish())),
        ("labels", Arc::new(labels.finish())),
    ];
    RecordBatch::try_from_iter(columns).map_err(|e| DataError::File {
        path: PathBuf::from(split),
        message: format!("cannot assemble the converted rows: {e}"),
    })
}
