//! `prepare_datasets`: upstream's `prepare_dataset` (per-dataset pipeline, mixing, validation
//! split, `max_*_samples`), producing the training and evaluation rows.
//!
//! Row and passage selection is bit-identical to upstream for the same seed (CPython MT19937 for
//! `items`/`n_samples`, NumPy PCG64 for the upsampling tail and `validation_split`), checked on
//! golden fixtures made by `scripts/fixtures/sampling_fixtures.py`. Deliberate differences:
//! * bad rows (schema violations) are an error by default; with [`BadRowPolicy::Skip`] they are
//!   dropped before sampling, so later row indices (the `Random(seed + idx)` of `items`) shift —
//!   upstream has no such policy (it fails somewhere downstream instead);
//! * an empty `train` split is an error here (upstream trains on nothing or fails later);
//! * a directory holding a single saved `Dataset` (not a `DatasetDict`) is read as split `train`
//!   (upstream's `dataset["train"]` would fail);
//! * only the columns the trainer uses are read; other columns still count for upstream's column
//!   intersection and eval-set dropping when several datasets are mixed.

use crate::error::DatasetError;
use crate::pyrandom::PyRandom;
use crate::row::Row;
use crate::sampling::{filter_zero_relevance, n_samples_target, sample_items, sample_rows, train_test_split, upsample};
use crate::schema::BadRowPolicy;
use crate::source::{ResolvedDataset, SourceResolver, SplitData, columns::names};

/// One entry of `data_args.datasets` (or the single-dataset keys mapped to one entry).
#[derive(Debug, Clone, PartialEq)]
pub struct DatasetSpec {
    /// Hub id (`owner/name`) or a local directory.
    pub dataset_name: String,
    /// Hub config name; `None` means `default` (ignored for `save_to_disk` directories).
    pub subset: Option<String>,
    /// Teacher score column, renamed to `teacher_score` (upstream default `"teacher_score"`).
    pub teacher_column: String,
    /// Passages per query (`items`); `None` keeps every passage.
    pub items: Option<i64>,
    /// Row upsampling factor (`>= 1`, train split only).
    pub upsample_factor: Option<f64>,
    /// Row subset: a fraction when `<= 1`, a count otherwise.
    pub n_samples: Option<f64>,
}

impl DatasetSpec {
    /// A spec with upstream's defaults (`teacher_column: "teacher_score"`, nothing else set).
    pub fn new(dataset_name: impl Into<String>, subset: Option<&str>) -> Self {
        Self {
            dataset_name: dataset_name.into(),
            subset: subset.map(str::to_owned),
            teacher_column: names::TEACHER_SCORE.to_owned(),
            items: None,
            upsample_factor: None,
            n_samples: None,
        }
    }
}

/// Dataset-wide options of `data_args`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DataOptions {
    /// Validation ratio in `(0, 1)`, used only when no dataset has an eval split.
    pub validation_split: Option<f64>,
    /// Absolute validation row count (takes precedence over the ratio), in `[1, N-1]`.
    pub validation_split_samples: Option<usize>,
    /// Preferred eval split name (upstream default `validation`; `None` means that).
    pub validation_split_name: Option<String>,
    /// Keep only the first N train rows (`0`/`None` = off).
    pub max_train_samples: Option<usize>,
    /// Keep only the first N eval rows (`0`/`None` = off).
    pub max_eval_samples: Option<usize>,
    /// Zero-relevance filter (`filter_zero_relevance_max_items`).
    pub filter_zero_relevance_max_items: Option<usize>,
    /// Keep the lowest-relevance passages in that filter instead.
    pub filter_zero_relevance_max_items_reverse: bool,
    /// Always keep passage 0 in that filter.
    pub filter_keep_first_item: bool,
    /// What to do with rows that fail the schema check.
    pub bad_rows: BadRowPolicy,
}

/// What happened to one dataset entry.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DatasetReport {
    /// `dataset_name:subset`.
    pub label: String,
    /// Train rows read (after dropping bad rows).
    pub train_loaded: usize,
    /// Train rows after the filter and `items` sampling.
    pub train_after_items: usize,
    /// Train rows after upsampling.
    pub train_after_upsample: usize,
    /// Train rows contributed (after `n_samples`).
    pub train_rows: usize,
    /// The eval split used, if any.
    pub eval_split: Option<String>,
    /// Eval rows contributed (before mixing drops).
    pub eval_rows: usize,
    /// Bad rows skipped (train + eval).
    pub skipped_bad_rows: usize,
    /// Whether the teacher column was found in the train split.
    pub has_teacher_score: bool,
}

/// Summary of a preparation run.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PrepareReport {
    /// Per dataset entry, in config order.
    pub datasets: Vec<DatasetReport>,
    /// Columns kept after mixing (upstream's intersection order), when several datasets are mixed.
    pub mixed_columns: Option<Vec<String>>,
    /// Whether the eval set came from `validation_split(_samples)`.
    pub eval_from_split: bool,
}

/// Training and evaluation rows, ready for the collator.
#[derive(Debug, Clone, PartialEq)]
pub struct PreparedData {
    /// Training rows (config order; the trainer's sampler shuffles).
    pub train: Vec<Row>,
    /// Evaluation rows, if any dataset has an eval split or a validation split was requested.
    pub eval: Option<Vec<Row>>,
    /// What happened.
    pub report: PrepareReport,
}

/// A split after the per-dataset pipeline, with its column names for the mixing rules.
struct Part {
    rows: Vec<Row>,
    columns: Vec<String>,
}

/// Upstream's column order after mixing: `query, positive, negative, teacher_score`, then
/// `context_spans, context_spans_relevance`, then the rest alphabetically.
fn mixed_columns(train: &[Part]) -> Vec<String> {
    let mut common: Vec<String> = train.first().map(|p| p.columns.clone()).unwrap_or_default();
    for part in &train[1..] {
        common.retain(|c| part.columns.contains(c));
    }
    common.sort();
    common.dedup();
    let priority = [
        "query",
        "positive",
        "negative",
        names::TEACHER_SCORE,
        names::CONTEXT_SPANS,
        names::RELEVANCE,
    ];
    let mut ordered: Vec<String> = priority
        .iter()
        .filter(|c| common.iter().any(|x| x == *c))
        .map(|c| (*c).to_owned())
        .collect();
    ordered.extend(common.into_iter().filter(|c| !priority.contains(&c.as_str())));
    ordered
}

/// Drops the optional fields that are not among `columns`.
fn project(mut rows: Vec<Row>, columns: &[String]) -> Vec<Row> {
    let has = |c: &str| columns.iter().any(|x| x == c);
    let (id, labels, teacher) = (has(names::ID), has(names::LABELS), has(names::TEACHER_SCORE));
    for row in &mut rows {
        if !id {
            row.id = None;
        }
        if !labels {
            row.labels = None;
        }
        if !teacher {
            row.teacher_score = None;
        }
    }
    rows
}

/// The per-split steps shared by train and eval: zero-relevance filter, then `items`.
fn filter_and_items(
    split: SplitData,
    spec: &DatasetSpec,
    options: &DataOptions,
    seed: i64,
) -> Result<Part, DatasetError> {
    let has_labels = split.columns.iter().any(|c| c == names::LABELS);
    let mut rows = split.rows;
    if let Some(max_items) = options.filter_zero_relevance_max_items {
        rows = filter_zero_relevance(
            rows,
            max_items,
            options.filter_zero_relevance_max_items_reverse,
            options.filter_keep_first_item,
        );
    }
    if let Some(items) = spec.items {
        rows = sample_items(rows, items, seed, has_labels)?;
    }
    Ok(Part {
        rows,
        columns: split.columns,
    })
}

/// How far outside [0, 1] a teacher score may be before it is worth a warning: the ranking loss
/// regresses the raw logit onto it, so scores far from the usual probabilities dominate it.
const TEACHER_SCORE_SLACK: f64 = 1.0;

/// Warns once per dataset when teacher scores lie far outside [0, 1], naming the first such row.
fn warn_on_far_teacher_scores(label: &str, rows: &[Row]) {
    let far = |s: &f64| *s < -TEACHER_SCORE_SLACK || *s > 1.0 + TEACHER_SCORE_SLACK;
    let mut offending = rows
        .iter()
        .enumerate()
        .filter(|(_, r)| r.teacher_score.as_ref().is_some_and(|s| s.iter().any(far)));
    if let Some((index, row)) = offending.next() {
        let score = row
            .teacher_score
            .iter()
            .flatten()
            .copied()
            .find(far)
            .unwrap_or(f64::NAN);
        tracing::warn!(
            "{label}: {} rows have teacher scores far outside [0, 1] (first: row {index}{}, score {score}); \
             the ranking loss regresses the logits onto them",
            1 + offending.count(),
            row.id.as_deref().map(|id| format!(" id {id}")).unwrap_or_default(),
        );
    }
}

/// Runs upstream's `prepare_dataset` over `specs` with the training `seed` (upstream: 42).
///
/// Per entry, in order: read `train`; filter; `items`; teacher rename (done on read);
/// `upsample_factor`; `n_samples` with ONE `random.Random(seed)` shared by all entries (consumed
/// train₁, eval₁, train₂, …). Eval split = `validation_split_name`, else `validation`, else `test`;
/// it gets the filter, `items` and, when `n_samples` is set, a subset of
/// `ceil(len * train_ratio)` rows. Then mixing (column intersection, concatenation in config
/// order, eval sets lacking a kept column dropped), the optional `validation_split`, and
/// `max_*_samples` (first N rows).
pub fn prepare_datasets(
    specs: &[DatasetSpec],
    options: &DataOptions,
    seed: i64,
    resolver: &SourceResolver,
) -> Result<PreparedData, DatasetError> {
    if specs.is_empty() {
        return Err(DatasetError::InvalidOption {
            key: "datasets".to_owned(),
            message: "no dataset given".to_owned(),
        });
    }
    let mut entry = EntryPipeline {
        options,
        seed,
        resolver,
        rnd: PyRandom::new(i128::from(seed)),
    };
    let mut report = PrepareReport::default();
    let (mut train_parts, mut eval_parts) = (Vec::with_capacity(specs.len()), Vec::new());
    for spec in specs {
        let (train, eval, dataset) = entry.run(spec)?;
        train_parts.push(train);
        eval_parts.extend(eval);
        report.datasets.push(dataset);
    }
    let (mut train, mut eval) = mix(train_parts, eval_parts, &mut report);
    if eval.is_none()
        && let Some(ratio) = validation_ratio(options, train.len())?
    {
        let split_seed = u64::try_from(seed).map_err(|_| DatasetError::InvalidOption {
            key: "seed".to_owned(),
            message: format!("validation_split needs a non-negative seed, got {seed}"),
        })?;
        let (tr, ev) = train_test_split(&train, ratio, split_seed)?;
        (train, eval) = (tr, Some(ev));
        report.eval_from_split = true;
    }
    if let Some(max) = options.max_train_samples.filter(|&m| m > 0) {
        train.truncate(max);
    }
    if let (Some(ev), Some(max)) = (eval.as_mut(), options.max_eval_samples.filter(|&m| m > 0)) {
        ev.truncate(max);
    }
    tracing::info!(
        train = train.len(),
        eval = eval.as_ref().map_or(0, Vec::len),
        "final dataset sizes"
    );
    Ok(PreparedData { train, eval, report })
}

/// The per-entry part of the preparation, with the random stream all entries share.
struct EntryPipeline<'a> {
    options: &'a DataOptions,
    seed: i64,
    resolver: &'a SourceResolver,
    rnd: PyRandom,
}

impl EntryPipeline<'_> {
    /// One dataset entry: its train part, its eval part (when it has an eval split) and its report.
    fn run(&mut self, spec: &DatasetSpec) -> Result<(Part, Option<Part>, DatasetReport), DatasetError> {
        let dataset = self.resolver.resolve(&spec.dataset_name, spec.subset.as_deref())?;
        let mut entry = DatasetReport {
            label: dataset.label.clone(),
            ..DatasetReport::default()
        };
        let (train, ratio) = self.train_part(&dataset, spec, &mut entry)?;
        let preferred = self.options.validation_split_name.as_deref().unwrap_or("validation");
        let eval_split = [preferred, "validation", "test"]
            .into_iter()
            .find(|s| dataset.splits.contains_key(*s));
        let eval = match eval_split {
            Some(split) => Some(self.eval_part(&dataset, split, spec, ratio, &mut entry)?),
            None => None,
        };
        tracing::info!(
            dataset = %entry.label,
            train = entry.train_rows,
            eval = entry.eval_rows,
            eval_split = entry.eval_split.as_deref().unwrap_or("-"),
            "prepared dataset"
        );
        Ok((train, eval, entry))
    }

    /// The train split through filter, `items`, upsampling and `n_samples`; with the ratio kept
    /// by `n_samples` (applied to the eval split too).
    fn train_part(
        &mut self,
        dataset: &ResolvedDataset,
        spec: &DatasetSpec,
        entry: &mut DatasetReport,
    ) -> Result<(Part, Option<f64>), DatasetError> {
        let (options, seed) = (self.options, self.seed);
        let train = self
            .resolver
            .load_split(dataset, "train", &spec.teacher_column, options.bad_rows)?;
        entry.skipped_bad_rows += train.skipped;
        if train.rows.is_empty() {
            return Err(DatasetError::EmptySplit {
                dataset: dataset.label.clone(),
                split: "train".to_owned(),
            });
        }
        entry.train_loaded = train.rows.len();
        warn_on_far_teacher_scores(&dataset.label, &train.rows);
        entry.has_teacher_score = train.columns.iter().any(|c| c == names::TEACHER_SCORE);
        let mut part = filter_and_items(train, spec, options, seed)?;
        entry.train_after_items = part.rows.len();
        if let Some(factor) = spec.upsample_factor {
            let seed = u64::try_from(seed).map_err(|_| DatasetError::InvalidOption {
                key: "seed".to_owned(),
                message: format!("upsampling needs a non-negative seed, got {seed}"),
            })?;
            part.rows = upsample(part.rows, factor, seed)?;
        }
        entry.train_after_upsample = part.rows.len();
        let mut ratio = None;
        if let Some(v) = spec.n_samples {
            let before = part.rows.len();
            if before == 0 {
                return Err(DatasetError::EmptySplit {
                    dataset: format!("{} (after items sampling)", dataset.label),
                    split: "train".to_owned(),
                });
            }
            part.rows = sample_rows(part.rows, n_samples_target(before, v)?, &mut self.rnd)?;
            ratio = Some(part.rows.len() as f64 / before as f64);
        }
        entry.train_rows = part.rows.len();
        Ok((part, ratio))
    }

    /// Eval split `split` through filter and `items`, then the train part's `n_samples` ratio.
    fn eval_part(
        &mut self,
        dataset: &ResolvedDataset,
        split: &str,
        spec: &DatasetSpec,
        ratio: Option<f64>,
        entry: &mut DatasetReport,
    ) -> Result<Part, DatasetError> {
        let data = self
            .resolver
            .load_split(dataset, split, &spec.teacher_column, self.options.bad_rows)?;
        entry.skipped_bad_rows += data.skipped;
        let mut part = filter_and_items(data, spec, self.options, self.seed)?;
        if let Some(ratio) = ratio
            && !part.rows.is_empty()
        {
            let len = part.rows.len();
            let k = ((len as f64 * ratio).ceil() as usize).max(1).min(len);
            part.rows = sample_rows(part.rows, k, &mut self.rnd)?;
        }
        entry.eval_split = Some(split.to_owned());
        entry.eval_rows = part.rows.len();
        Ok(part)
    }
}

/// Mixing: one entry passes through; several keep their common columns, concatenated in
/// config order, and eval parts lacking a kept column are dropped.
fn mix(
    mut train_parts: Vec<Part>,
    mut eval_parts: Vec<Part>,
    report: &mut PrepareReport,
) -> (Vec<Row>, Option<Vec<Row>>) {
    if train_parts.len() <= 1 {
        let train = train_parts.pop().map(|p| p.rows).unwrap_or_default();
        return (train, eval_parts.pop().map(|p| p.rows));
    }
    let columns = mixed_columns(&train_parts);
    let train: Vec<Row> = train_parts
        .into_iter()
        .flat_map(|p| project(p.rows, &columns))
        .collect();
    let kept: Vec<Part> = eval_parts
        .into_iter()
        .filter(|p| columns.iter().all(|c| p.columns.contains(c)))
        .collect();
    let eval = (!kept.is_empty()).then(|| kept.into_iter().flat_map(|p| project(p.rows, &columns)).collect());
    report.mixed_columns = Some(columns);
    (train, eval)
}

/// The share of `n` train rows to hold out when `validation_split(_samples)` asks for it.
fn validation_ratio(options: &DataOptions, n: usize) -> Result<Option<f64>, DatasetError> {
    if let Some(samples) = options.validation_split_samples {
        if samples == 0 || samples >= n {
            return Err(DatasetError::InvalidOption {
                key: "validation_split_samples".to_owned(),
                message: format!("validation_split_samples must be between 1 and {}", n.saturating_sub(1)),
            });
        }
        return Ok(Some(samples as f64 / n as f64));
    }
    match options.validation_split {
        None => Ok(None),
        Some(r) if r > 0.0 && r < 1.0 => Ok(Some(r)),
        Some(_) => Err(DatasetError::InvalidOption {
            key: "validation_split".to_owned(),
            message: "validation_split must be between 0 and 1".to_owned(),
        }),
    }
}
