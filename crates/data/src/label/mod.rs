//! `label-spans`: a `context_spans_relevance` column (per passage, one 0/1 flag per span) from an
//! LLM behind any OpenAI-compatible endpoint, as upstream's
//! `scripts/context-relevance-datasets/add_context_spans_relevance.py` builds it with vLLM in
//! process: one request per passage with at least one non-empty span, upstream's prompt and
//! truncation (`prompt`), upstream's answer parsing.
//!
//! Unlike upstream: requests go through [`provence_llm`] (concurrency, retries with backoff,
//! timeouts), answers are cached on disk keyed by the full request (an interrupted run resumes
//! without asking again, and a changed prompt or model is asked again), and answers without
//! any digit are counted and reported instead of silently becoming all-zero labels.

mod prompt;

use std::path::PathBuf;
use std::sync::Arc;

use arrow_array::builder::{Int64Builder, ListBuilder};
use arrow_array::cast::AsArray;
use arrow_array::types::Int64Type;
use arrow_array::{Array, ArrayRef};
use arrow_schema::DataType;
use provence_datasets::{DatasetTables, SourceResolver, SplitTable};
use provence_llm::{LlmClient, LlmConfig, LlmError, Prompt as LlmPrompt, Request, Sampling};

use crate::error::{DataError, RowProblem};
use crate::input::{is_string, is_string_list, required_column};
use crate::output::{OutputOptions, finish, replace_column};
pub use prompt::parse_relevance_flags;
use prompt::{PromptModel, build_prompt, chunks};

/// The column `label-spans` writes.
pub const RELEVANCE_COLUMN: &str = "context_spans_relevance";
/// Upstream's `--max-model-len`.
pub const DEFAULT_MAX_MODEL_LEN: usize = 1280;
/// How many ids of unparseable answers the dataset card lists.
const LISTED_UNPARSEABLE: usize = 20;

/// Upstream's sampling: temperature 0.1, top-p 0.95, at most 64 tokens, stop at `<|endoftext|>`.
pub fn default_label_sampling() -> Sampling {
    Sampling {
        temperature: Some(0.1),
        top_p: Some(0.95),
        max_tokens: Some(64),
        stop: vec!["<|endoftext|>".to_owned()],
    }
}

/// What `label-spans` reads, whom it asks and where it writes.
#[derive(Debug, Clone)]
pub struct LabelOptions {
    /// The input dataset (directory or Hub id) with `query`, `texts`, `context_spans`.
    pub dataset: String,
    /// The endpoint, model, key, concurrency, retries, timeout and answer cache.
    pub llm: LlmConfig,
    /// Sampling of every request.
    pub sampling: Sampling,
    /// The model's tokenizer directory (`tokenizer.json`, `tokenizer_config.json` with its chat
    /// template): prompts are rendered with it, sent to `/completions` and truncated to
    /// `max_model_len` as upstream does. Without it, chat messages go to `/chat/completions`
    /// and only the query is cut.
    pub tokenizer: Option<PathBuf>,
    /// The model's context length (prompt + answer), with a tokenizer.
    pub max_model_len: usize,
    /// Label only the first N rows of every split (and keep only those).
    pub debug_limit: Option<usize>,
    /// Build the first prompt, ask nothing and write nothing.
    pub dry_run: bool,
    /// Output directory and layout.
    pub output: OutputOptions,
}

/// What `label-spans` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelReport {
    /// The output directory (`None` on a dry run).
    pub output: Option<PathBuf>,
    /// Requests needed (passages with a non-empty span).
    pub requests: usize,
    /// Of those, answered from the cache.
    pub cached: usize,
    /// Answers without any digit (labelled all zeros, as upstream does), by `split/id#passage`.
    pub unparseable: Vec<String>,
    /// The first request's prompt (what a dry run shows).
    pub first_prompt: Option<String>,
}

/// One passage to ask about.
struct Job {
    split: usize,
    row: usize,
    text: usize,
    chunks: usize,
    request: Request,
}

/// Labels every passage of `options.dataset` (see the module docs).
pub fn label_spans(resolver: &SourceResolver, options: &LabelOptions) -> Result<LabelReport, DataError> {
    let client = LlmClient::new(options.llm.clone()).map_err(|e| match e {
        LlmError::Config { key, message } => DataError::option(&format!("--{key}"), message),
        other => DataError::option("--endpoint", other.to_string()),
    })?;
    let model = options.tokenizer.as_deref().map(PromptModel::load).transpose()?;
    let resolved = resolver.resolve(&options.dataset, None)?;
    let mut tables = resolver.load_tables(&resolved)?;
    if let Some(limit) = options.debug_limit {
        for split in &mut tables.splits {
            split.batch = split.batch.slice(0, limit.min(split.batch.num_rows()));
        }
    }
    if tables.splits.iter().all(|s| s.batch.num_rows() == 0) {
        return Err(DataError::Empty {
            dataset: options.dataset.clone(),
            problem: "no rows to label".to_owned(),
        });
    }
    let inputs = tables
        .splits
        .iter()
        .map(|split| SplitInput::read(&options.dataset, split))
        .collect::<Result<Vec<_>, _>>()?;
    let staged = (!options.dry_run).then(|| options.output.begin(false)).transpose()?;
    let jobs = plan_jobs(options, model.as_ref(), &tables, &inputs)?;
    let first_prompt = jobs.first().map(|job| match &job.request.prompt {
        LlmPrompt::Text(text) => text.clone(),
        LlmPrompt::Chat(messages) => messages
            .iter()
            .map(|m| m.content.as_str())
            .collect::<Vec<_>>()
            .join("\n"),
    });
    let Some(staged) = staged else {
        return Ok(LabelReport {
            output: None,
            requests: jobs.len(),
            cached: 0,
            unparseable: Vec::new(),
            first_prompt,
        });
    };
    let (flags, cached, unparseable) = ask(&client, options, &tables, &inputs, &jobs)?;
    let out = with_relevance(&tables, &inputs, &jobs, flags)?;
    let report = LabelReport {
        output: Some(options.output.path.clone()),
        requests: jobs.len(),
        cached,
        unparseable,
        first_prompt,
    };
    finish(staged, &out, &options.output, "label-spans", summary(options, &report))?;
    Ok(report)
}

/// The columns of one split.
struct SplitInput {
    ids: Option<ArrayRef>,
    queries: ArrayRef,
    texts: ArrayRef,
    spans: ArrayRef,
}

fn is_spans(t: &DataType) -> bool {
    let inner = |t: &DataType, ok: fn(&DataType) -> bool| matches!(t, DataType::List(f) if ok(f.data_type()));
    inner(
        t,
        |t| matches!(t, DataType::List(f) if matches!(f.data_type(), DataType::List(g) if matches!(g.data_type(), DataType::Int64))),
    )
}

impl SplitInput {
    fn read(dataset: &str, split: &SplitTable) -> Result<Self, DataError> {
        Ok(Self {
            ids: split
                .batch
                .column_by_name("id")
                .filter(|c| is_string(c.data_type()))
                .cloned(),
            queries: required_column(dataset, split, "query", "string", is_string)?,
            texts: required_column(dataset, split, "texts", "list<string>", is_string_list)?,
            spans: required_column(dataset, split, "context_spans", "list<list<list<int64>>>", is_spans)?,
        })
    }

    fn id(&self, row: usize) -> Option<String> {
        let ids = self.ids.as_ref()?.as_string::<i32>();
        (!ids.is_null(row)).then(|| ids.value(row).to_owned())
    }

    /// The query, the passages and their spans of `row` (`zip` of texts and spans, as upstream).
    #[allow(clippy::type_complexity)] // A row's (query, [(passage, [(start, end)])]).
    fn row(&self, row: usize) -> Result<(String, Vec<(String, Vec<(usize, usize)>)>), (String, String)> {
        let queries = self.queries.as_string::<i32>();
        if queries.is_null(row) {
            return Err(("query".to_owned(), "is null".to_owned()));
        }
        let (texts, spans) = (self.texts.as_list::<i32>(), self.spans.as_list::<i32>());
        if texts.is_null(row) || spans.is_null(row) {
            return Err(("texts".to_owned(), "texts or context_spans is null".to_owned()));
        }
        let texts = texts.value(row);
        let texts = texts.as_string::<i32>();
        let spans = spans.value(row);
        let spans = spans.as_list::<i32>();
        let mut out = Vec::new();
        for i in 0..texts.len().min(spans.len()) {
            if texts.is_null(i) {
                return Err(("texts".to_owned(), format!("passage {i} is null")));
            }
            let pairs = spans.value(i);
            let pairs = pairs.as_list::<i32>();
            let mut ranges = Vec::new();
            for p in 0..pairs.len() {
                let pair = pairs.value(p);
                let pair = pair.as_primitive::<Int64Type>();
                let bounds =
                    (pair.len() == 2).then(|| (usize::try_from(pair.value(0)), usize::try_from(pair.value(1))));
                let Some((Ok(start), Ok(end))) = bounds else {
                    return Err((
                        "context_spans".to_owned(),
                        format!("span {p} of passage {i} is not [start, end] with non-negative offsets"),
                    ));
                };
                ranges.push((start, end));
            }
            out.push((texts.value(i).to_owned(), ranges));
        }
        Ok((queries.value(row).to_owned(), out))
    }
}

/// One request per passage with a non-empty span, in split, row and passage order.
fn plan_jobs(
    options: &LabelOptions,
    model: Option<&PromptModel>,
    tables: &DatasetTables,
    inputs: &[SplitInput],
) -> Result<Vec<Job>, DataError> {
    let max_tokens = options.sampling.max_tokens.unwrap_or(0) as usize;
    let mut jobs = Vec::new();
    for (s, (split, input)) in tables.splits.iter().zip(inputs).enumerate() {
        for row in 0..split.batch.num_rows() {
            let bad = |column: String, problem: String| {
                DataError::bad_row(RowProblem {
                    dataset: options.dataset.clone(),
                    split: split.name.clone(),
                    row,
                    id: input.id(row),
                    column,
                    problem,
                })
            };
            let (query, passages) = input.row(row).map_err(|(c, p)| bad(c, p))?;
            for (text, (passage, spans)) in passages.iter().enumerate() {
                let chunks = chunks(passage, spans);
                if chunks.is_empty() {
                    continue;
                }
                let prompt = build_prompt(model, &query, &chunks, options.max_model_len, max_tokens)
                    .map_err(|p| bad("texts".to_owned(), format!("passage {text}: {p}")))?;
                let prompt = match prompt.rendered {
                    Some(rendered) => LlmPrompt::Text(rendered),
                    None => Request::user(prompt.user_content, Sampling::default()).prompt,
                };
                jobs.push(Job {
                    split: s,
                    row,
                    text,
                    chunks: chunks.len(),
                    request: Request {
                        prompt,
                        sampling: options.sampling.clone(),
                    },
                });
            }
        }
    }
    Ok(jobs)
}

/// Flags per job, cached answers, and the unparseable answers by `split/id#passage`.
type Asked = (Vec<Vec<i64>>, usize, Vec<String>);

/// Asks every job (`concurrency` at a time); the first failure after the retries ends the run
/// (answers already received stay in the cache).
fn ask(
    client: &LlmClient,
    options: &LabelOptions,
    tables: &DatasetTables,
    inputs: &[SplitInput],
    jobs: &[Job],
) -> Result<Asked, DataError> {
    let requests: Vec<Request> = jobs.iter().map(|j| j.request.clone()).collect();
    let answers = client.ask_all(&requests);
    let (mut flags, mut cached, mut unparseable) = (Vec::new(), 0, Vec::new());
    for (job, answer) in jobs.iter().zip(answers) {
        let split = &tables.splits[job.split].name;
        let id = inputs[job.split]
            .id(job.row)
            .unwrap_or_else(|| format!("row {}", job.row));
        let answer = answer.map_err(|e| {
            DataError::bad_row(RowProblem {
                dataset: options.dataset.clone(),
                split: split.clone(),
                row: job.row,
                id: inputs[job.split].id(job.row),
                column: "texts".to_owned(),
                problem: format!("passage {}: the LLM gave no answer: {e}", job.text),
            })
        })?;
        cached += usize::from(answer.cached);
        flags.push(parse_relevance_flags(&answer.text, job.chunks).unwrap_or_else(|| {
            tracing::warn!(
                split,
                id,
                passage = job.text,
                answer = answer.text,
                "answer without a chunk number"
            );
            unparseable.push(format!("{split}/{id}#{}", job.text));
            vec![0; job.chunks]
        }));
    }
    Ok((flags, cached, unparseable))
}

/// The tables with `context_spans_relevance` appended: per passage the flags of its request, `[]`
/// for passages without one.
fn with_relevance(
    tables: &DatasetTables,
    inputs: &[SplitInput],
    jobs: &[Job],
    flags: Vec<Vec<i64>>,
) -> Result<DatasetTables, DataError> {
    let mut answers = jobs.iter().zip(flags).peekable();
    let mut out = tables.clone();
    for ((s, split), input) in out.splits.iter_mut().enumerate().zip(inputs) {
        let mut builder = ListBuilder::new(ListBuilder::new(Int64Builder::new()));
        let spans = input.spans.as_list::<i32>();
        for row in 0..split.batch.num_rows() {
            let passages = if spans.is_null(row) {
                0
            } else {
                spans.value_length(row) as usize
            };
            for text in 0..passages {
                if let Some((_, flags)) = answers.next_if(|(j, _)| (j.split, j.row, j.text) == (s, row, text)) {
                    builder.values().values().append_slice(&flags);
                }
                builder.values().append(true);
            }
            builder.append(true);
        }
        let column: ArrayRef = Arc::new(builder.finish());
        split.batch = replace_column(&split.batch, RELEVANCE_COLUMN, column)?;
    }
    Ok(out)
}

fn summary(options: &LabelOptions, report: &LabelReport) -> String {
    let mut out = format!(
        "- LLM: `{}` at `{}` ({})\n- Requests: {} ({} answered from the cache)\n- Unparseable answers (no chunk number; labelled all 0): {}",
        options.llm.model,
        options.llm.endpoint,
        if options.tokenizer.is_some() {
            "rendered prompts, /completions"
        } else {
            "chat messages, /chat/completions"
        },
        report.requests,
        report.cached,
        report.unparseable.len(),
    );
    for id in report.unparseable.iter().take(LISTED_UNPARSEABLE) {
        out.push_str(&format!("\n  - `{id}`"));
    }
    out
}
