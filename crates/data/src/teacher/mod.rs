//! `teacher-scores`: a `teacher_scores.<name>` column (one score per passage, `list<double>`)
//! from a cross-encoder reranker, as upstream's
//! `scripts/context-relevance-datasets/add_reranker_teacher_scores.py` adds it, with
//! sentence-transformers' scores (see `model`).
//!
//! Unlike upstream, pairs are batched by a token budget after sorting by length (the inference
//! crate's [`plan_batches`]), and the run is resumable: rows are scored in chunks, each chunk's
//! scores are checkpointed in the staged output directory (`checkpoint`), and a rerun of the
//! same command after a kill scores only the chunks not yet recorded.

mod checkpoint;
mod model;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use arrow_array::builder::{Float64Builder, ListBuilder};
use arrow_array::cast::AsArray;
use arrow_array::{Array, ArrayRef};
use provence_datasets::{DatasetTables, SourceResolver, StagedDir};
use provence_hub::HubOptions;
use provence_infer::{InferenceBackend, default_device, plan_batches};
use provence_model::ModelBackend;
use rayon::prelude::*;

pub use model::{Activation, EncodedPair, Teacher};

use crate::error::{DataError, RowProblem};
use crate::input::{is_string, is_string_list, required_column};
use crate::output::{OutputOptions, finish, replace_column};
use checkpoint::{Checkpoint, RunKey};

/// Prefix of every teacher column (`teacher_scores.<name>`).
pub const TEACHER_COLUMN_PREFIX: &str = "teacher_scores.";
/// Default pairs per forward pass (an upper bound; the token budget usually decides).
pub const DEFAULT_TEACHER_BATCH_SIZE: usize = 64;
/// Default rows per checkpointed chunk.
pub const DEFAULT_CHUNK_ROWS: usize = 1024;
/// The suffix upstream appends to the input's name for the default output.
pub const TEACHER_OUTPUT_SUFFIX: &str = "_with_teacher_scores";

/// What `teacher-scores` reads, which model scores, and where it writes.
#[derive(Debug, Clone)]
pub struct TeacherOptions {
    /// The input dataset (directory or Hub id).
    pub dataset: String,
    /// The teacher: a sequence-classification checkpoint directory or Hub model id.
    pub model: String,
    /// Column name after `teacher_scores.` (default: [`default_column_name`] of the model).
    pub column_name: Option<String>,
    /// Replace an existing column of that name.
    pub overwrite_column: bool,
    /// At most this many pairs per forward pass.
    pub batch_size: usize,
    /// At most this many padded tokens per forward pass.
    pub max_batch_tokens: usize,
    /// Rows per checkpointed chunk.
    pub chunk_rows: usize,
    /// Score (and keep) only the first N rows of every split.
    pub debug_limit: Option<usize>,
    /// Draw a progress bar (on a terminal).
    pub progress: bool,
    /// Hub settings for model ids.
    pub hub: HubOptions,
    /// Output directory and layout.
    pub output: OutputOptions,
}

/// What `teacher-scores` did.
#[derive(Debug, Clone, PartialEq)]
pub struct TeacherReport {
    /// The output directory.
    pub output: PathBuf,
    /// The column written.
    pub column: String,
    /// Pairs in the dataset.
    pub pairs: usize,
    /// Rows scored by this run.
    pub rows_scored: usize,
    /// Rows whose scores came from the checkpoint of an interrupted run.
    pub rows_resumed: usize,
    /// The activation applied.
    pub activation: Activation,
    /// Wall time of the scoring, seconds.
    pub seconds: f64,
}

/// Upstream's default column name: the model's last path component with `.` → `_`.
pub fn default_column_name(model: &str) -> String {
    model
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or(model)
        .replace('.', "_")
}

/// Upstream's default output: the input with `_with_teacher_scores` appended (the input itself
/// when it already ends so, for stacking several teachers).
pub fn default_teacher_output(dataset: &str) -> PathBuf {
    let trimmed = dataset.trim_end_matches('/');
    if trimmed.ends_with(TEACHER_OUTPUT_SUFFIX) {
        PathBuf::from(trimmed)
    } else {
        PathBuf::from(format!("{trimmed}{TEACHER_OUTPUT_SUFFIX}"))
    }
}

/// The checkpoint directory inside the staged output.
const CHECKPOINT_DIR: &str = "teacher-checkpoint";

/// Scores every passage of `options.dataset` and writes the dataset with the new column (see
/// the module docs), on the default inference backend. The input and output are checked before
/// the model is loaded.
pub fn teacher_scores(resolver: &SourceResolver, options: &TeacherOptions) -> Result<TeacherReport, DataError> {
    let input = TeacherInput::read(resolver, options)?;
    let teacher = Teacher::<InferenceBackend>::load(&options.model, options.hub.clone(), default_device())?;
    input.score(&teacher, options)
}

/// [`teacher_scores`] with an already loaded teacher (any backend).
pub fn teacher_scores_with<B: ModelBackend>(
    resolver: &SourceResolver,
    teacher: &Teacher<B>,
    options: &TeacherOptions,
) -> Result<TeacherReport, DataError> {
    TeacherInput::read(resolver, options)?.score(teacher, options)
}

/// The checked input of a run and its staged output.
struct TeacherInput {
    tables: DatasetTables,
    inputs: Vec<SplitInput>,
    column: String,
    output: OutputOptions,
    staged: StagedDir,
}

impl TeacherInput {
    fn read(resolver: &SourceResolver, options: &TeacherOptions) -> Result<Self, DataError> {
        let column = format!(
            "{TEACHER_COLUMN_PREFIX}{}",
            options
                .column_name
                .clone()
                .unwrap_or_else(|| default_column_name(&options.model))
        );
        let resolved = resolver.resolve(&options.dataset, None)?;
        let mut tables = resolver.load_tables(&resolved)?;
        if let Some(limit) = options.debug_limit {
            for split in &mut tables.splits {
                split.batch = split.batch.slice(0, limit.min(split.batch.num_rows()));
            }
        }
        let inputs = check_input(options, &tables, &column)?;
        let mut output = options.output.clone();
        output.overwrite |= same_path(&output.path, Path::new(&options.dataset));
        let staged = output.begin(true)?;
        Ok(Self {
            tables,
            inputs,
            column,
            output,
            staged,
        })
    }

    fn score<B: ModelBackend>(
        self,
        teacher: &Teacher<B>,
        options: &TeacherOptions,
    ) -> Result<TeacherReport, DataError> {
        let key = RunKey {
            model: options.model.clone(),
            column: self.column.clone(),
            dataset: options.dataset.clone(),
            rows: self.tables.counts(),
            chunk_rows: options.chunk_rows.max(1),
        };
        let checkpoint_dir = self.staged.path().join(CHECKPOINT_DIR);
        let (mut checkpoint, rows_resumed) = Checkpoint::open(&checkpoint_dir, &key)?;
        if rows_resumed > 0 {
            tracing::info!(
                rows = rows_resumed,
                "resuming: rows already scored by an interrupted run"
            );
        }
        let start = Instant::now();
        let pairs: usize = self.inputs.iter().map(SplitInput::pairs).sum();
        let scorer = Scorer {
            teacher,
            options,
            bar: progress_bar(options.progress, pairs),
        };
        let mut rows_scored = 0;
        for (split, input) in self.tables.splits.iter().zip(&self.inputs) {
            for chunk_start in (0..input.rows()).step_by(key.chunk_rows) {
                let rows = chunk_start..(chunk_start + key.chunk_rows).min(input.rows());
                if checkpoint.has(&split.name, chunk_start) {
                    scorer.bar.inc(input.pairs_in(rows) as u64);
                    continue;
                }
                let scores = scorer.score_rows(&split.name, input, rows.clone())?;
                checkpoint.record(&split.name, chunk_start, scores)?;
                rows_scored += rows.len();
            }
        }
        scorer.bar.finish_and_clear();
        let seconds = start.elapsed().as_secs_f64();
        let out = with_scores(&self.tables, &self.inputs, &checkpoint, &self.column, key.chunk_rows)?;
        std::fs::remove_dir_all(&checkpoint_dir).map_err(|e| DataError::io(&checkpoint_dir, e))?;
        let report = TeacherReport {
            output: self.output.path.clone(),
            column: self.column,
            pairs,
            rows_scored,
            rows_resumed,
            activation: teacher.activation(),
            seconds,
        };
        finish(
            self.staged,
            &out,
            &self.output,
            "teacher-scores",
            summary(options, teacher, &report),
        )?;
        Ok(report)
    }
}

fn same_path(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

fn summary<B: ModelBackend>(options: &TeacherOptions, teacher: &Teacher<B>, report: &TeacherReport) -> String {
    format!(
        "- Teacher: `{}` → column `{}`\n- Activation: {}\n- Pair truncation: {} tokens (longest first)\n- Pairs scored: {} in {:.1} s ({:.1} pairs/s); rows resumed from a checkpoint: {}\n- Batching: length-sorted, at most {} pairs and {} padded tokens per forward pass",
        options.model,
        report.column,
        report.activation.name(),
        teacher.max_length(),
        report.pairs,
        report.seconds,
        report.pairs as f64 / report.seconds.max(1e-9),
        report.rows_resumed,
        options.batch_size,
        options.max_batch_tokens,
    )
}

/// The query and passage columns of one split.
struct SplitInput {
    queries: ArrayRef,
    texts: ArrayRef,
}

impl SplitInput {
    fn rows(&self) -> usize {
        self.queries.len()
    }

    fn offsets(&self) -> &[i32] {
        self.texts.as_list::<i32>().value_offsets()
    }

    fn pairs(&self) -> usize {
        self.pairs_in(0..self.rows())
    }

    fn pairs_in(&self, rows: std::ops::Range<usize>) -> usize {
        let o = self.offsets();
        (o[rows.end] - o[rows.start]) as usize
    }
}

/// Checks the columns and returns each split's query and passage columns.
fn check_input(options: &TeacherOptions, tables: &DatasetTables, column: &str) -> Result<Vec<SplitInput>, DataError> {
    if tables.splits.iter().all(|s| s.batch.num_rows() == 0) {
        return Err(DataError::Empty {
            dataset: options.dataset.clone(),
            problem: "no rows to score".to_owned(),
        });
    }
    let mut inputs = Vec::new();
    for split in &tables.splits {
        let schema = split.batch.schema();
        if schema.index_of(column).is_ok() && !options.overwrite_column {
            return Err(DataError::option(
                "--column-name",
                format!(
                    "column {column:?} already exists in split {}; pass --overwrite to replace it",
                    split.name
                ),
            ));
        }
        let queries = required_column(&options.dataset, split, "query", "string", is_string)?;
        let texts = required_column(&options.dataset, split, "texts", "list<string>", is_string_list)?;
        inputs.push(SplitInput { queries, texts });
    }
    Ok(inputs)
}

/// Scores chunks of rows.
struct Scorer<'a, B: ModelBackend> {
    teacher: &'a Teacher<B>,
    options: &'a TeacherOptions,
    bar: indicatif::ProgressBar,
}

impl<B: ModelBackend> Scorer<'_, B> {
    /// The scores of `rows` of one split, per row and passage.
    fn score_rows(
        &self,
        split: &str,
        input: &SplitInput,
        rows: std::ops::Range<usize>,
    ) -> Result<Vec<Vec<f32>>, DataError> {
        let (queries, lists) = (input.queries.as_string::<i32>(), input.texts.as_list::<i32>());
        let passages = lists.values().as_string::<i32>();
        let bad = |row: usize, column: &str, problem: String| {
            DataError::bad_row(RowProblem {
                dataset: self.options.dataset.clone(),
                split: split.to_owned(),
                row,
                id: None,
                column: column.to_owned(),
                problem,
            })
        };
        let mut slots = Vec::new(); // (row, passage index in the values array)
        for row in rows.clone() {
            if queries.is_null(row) {
                return Err(bad(row, "query", "is null".to_owned()));
            }
            if lists.is_null(row) {
                return Err(bad(row, "texts", "is null".to_owned()));
            }
            let o = lists.value_offsets();
            for i in o[row] as usize..o[row + 1] as usize {
                if passages.is_null(i) {
                    return Err(bad(row, "texts", format!("passage {} is null", i - o[row] as usize)));
                }
                slots.push((row, i));
            }
        }
        let encoded = slots
            .par_iter()
            .map(|&(row, i)| {
                self.teacher
                    .encode(queries.value(row), passages.value(i))
                    .map_err(|e| bad(row, "texts", format!("cannot tokenize: {e}")))
            })
            .collect::<Result<Vec<EncodedPair>, DataError>>()?;
        let scores = self.run(&encoded);
        let mut out: Vec<Vec<f32>> = rows.clone().map(|_| Vec::new()).collect();
        for ((row, _), score) in slots.into_iter().zip(scores) {
            out[row - rows.start].push(score);
        }
        Ok(out)
    }

    /// Scores in input order, from length-sorted forward passes within the budgets (side by
    /// side on the worker threads where the backend gains from it).
    fn run(&self, pairs: &[EncodedPair]) -> Vec<f32> {
        let lengths: Vec<usize> = pairs.iter().map(|p| p.ids.len()).collect();
        let batches = plan_batches(&lengths, self.options.batch_size, self.options.max_batch_tokens);
        let pass = |batch: &Vec<usize>| {
            let members: Vec<&EncodedPair> = batch.iter().map(|&i| &pairs[i]).collect();
            let scores = self.teacher.score(&members);
            self.bar.inc(batch.len() as u64);
            scores
        };
        let results: Vec<Vec<f32>> = if B::CONCURRENT_PASSES && batches.len() > 1 {
            batches.par_iter().map(pass).collect()
        } else {
            batches.iter().map(pass).collect()
        };
        let mut out = vec![0.0; pairs.len()];
        for (batch, scores) in batches.iter().zip(results) {
            for (&i, s) in batch.iter().zip(scores) {
                out[i] = s;
            }
        }
        out
    }
}

/// A progress bar over `pairs` pairs (drawn on a terminal only).
fn progress_bar(show: bool, pairs: usize) -> indicatif::ProgressBar {
    if !show {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::with_draw_target(Some(pairs as u64), indicatif::ProgressDrawTarget::stderr());
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "teacher scores {bar:30} {pos}/{len} pairs [{elapsed} < {eta}, {per_sec}]",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    bar
}

/// The tables with the score column (f32 scores widened to f64) appended, an old one of that
/// name removed first.
fn with_scores(
    tables: &DatasetTables,
    inputs: &[SplitInput],
    checkpoint: &Checkpoint,
    column: &str,
    chunk_rows: usize,
) -> Result<DatasetTables, DataError> {
    let mut out = tables.clone();
    for (split, input) in out.splits.iter_mut().zip(inputs) {
        let mut builder = ListBuilder::new(Float64Builder::new());
        for start in (0..input.rows()).step_by(chunk_rows) {
            let chunk = checkpoint.scores(&split.name, start).ok_or_else(|| DataError::File {
                path: PathBuf::from(CHECKPOINT_DIR),
                message: format!("split {} rows from {start} were not scored", split.name),
            })?;
            for row in chunk {
                builder.values().extend(row.iter().map(|&s| Some(f64::from(s))));
                builder.append(true);
            }
        }
        let scores: ArrayRef = Arc::new(builder.finish());
        split.batch = replace_column(&split.batch, column, scores)?;
    }
    Ok(out)
}
