//! `open_provence_data`: build context-relevance training datasets stage by stage, as upstream
//! OpenProvence's `scripts/context-relevance-datasets/` do. A thin shell over `provence-data`.

use anyhow::Result;
use clap::{Parser, Subcommand};
use provence_config::error_line;
use provence_data::{
    ConvertOptions, DEFAULT_CHUNK_ROWS, DEFAULT_MAX_MODEL_LEN, DEFAULT_MAX_TEXT_CHARS, DEFAULT_PUSH_MESSAGE,
    DEFAULT_TEACHER_BATCH_SIZE, FilterOptions, LabelOptions, OutputOptions, PushOptions, TeacherOptions, dataset_slug,
    default_label_sampling, default_teacher_output,
};
use provence_datasets::{OutputLayout, SourceResolver};
use provence_hub::HubOptions;
use provence_infer::DEFAULT_MAX_BATCH_TOKENS;
use provence_llm::LlmConfig;
use provence_model::init_cpu_threads;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Parser)]
#[command(
    name = "open_provence_data",
    version,
    about = "Build context-relevance training datasets for OpenProvence models"
)]
struct Cli {
    #[command(subcommand)]
    command: Commands,
}

#[derive(Debug, Subcommand)]
enum Commands {
    /// Sentence-transformers triplets / hard negatives → id, query, texts, context_spans, labels
    /// (upstream's generate_ds_from_sentense_transformer.py).
    Convert(ConvertArgs),
    /// Drop train rows whose passages appeared in too many earlier rows (MD5 duplicate counts),
    /// one dataset per --threshold (upstream's frequency_filter_ds.py).
    FilterFrequency(FilterArgs),
    /// Add a teacher_scores.<name> column from a cross-encoder reranker (ModernBERT, BERT, XLM-R
    /// sequence classification; Hub id or directory); resumable (upstream's
    /// add_reranker_teacher_scores.py).
    TeacherScores(TeacherArgs),
    /// Add context_spans_relevance (per passage, a 0/1 flag per span) from an LLM behind an
    /// OpenAI-compatible endpoint (vLLM, llama.cpp, OpenAI); answers cached, so a rerun resumes
    /// (upstream's add_context_spans_relevance.py).
    LabelSpans(LabelArgs),
    /// Upload a built dataset to a Hub dataset repository: the Hub parquet layout
    /// (data/<split>-NNNNN-of-NNNNN.parquet) and a README.md dataset card, as one commit.
    Push(PushArgs),
}

/// `--format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Format {
    /// A `datasets.save_to_disk` directory (Arrow files; `datasets.load_from_disk` reads it).
    Disk,
    /// The Hub parquet layout, `data/<split>-NNNNN-of-NNNNN.parquet`.
    Parquet,
}

/// Where a stage writes.
#[derive(Debug, clap::Args)]
struct OutputArgs {
    /// Output layout.
    #[arg(long, value_enum, default_value_t = Format::Disk)]
    format: Format,
    /// Replace an existing output directory.
    #[arg(long)]
    overwrite: bool,
}

impl OutputArgs {
    fn options(&self, path: PathBuf) -> OutputOptions {
        OutputOptions {
            path,
            layout: match self.format {
                Format::Disk => OutputLayout::SaveToDisk,
                Format::Parquet => OutputLayout::HubParquet,
            },
            overwrite: self.overwrite,
            command: command_line(),
        }
    }
}

#[derive(Debug, clap::Args)]
struct ConvertArgs {
    /// Hub dataset id, or a local directory (Hub parquet layout or save_to_disk).
    #[arg(long)]
    dataset: String,
    /// Hub subset (config name); also part of the ids and of the default output name.
    #[arg(long)]
    subset: Option<String>,
    /// Sentence splitter: `ja`, an NLTK Punkt language (`en`, `de`, `french`, ...), or anything
    /// else for upstream's generic regex splitter.
    #[arg(long, default_value = "en")]
    lang: String,
    /// NLTK `punkt_tab/<language>/` directory (Punkt languages other than English; default:
    /// NLTK's data path).
    #[arg(long, value_name = "DIR")]
    punkt_dir: Option<PathBuf>,
    /// Keep a random sample of N rows of every split.
    #[arg(long, value_name = "N")]
    sample_size: Option<usize>,
    /// Seed of the shuffles (sampling, validation/test carve-out).
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Longest text accepted, in characters; a longer query or passage is an error.
    #[arg(long, default_value_t = DEFAULT_MAX_TEXT_CHARS, value_name = "N")]
    max_text_chars: usize,
    /// The output is OUTPUT_ROOT/<dataset slug> unless --output is given.
    #[arg(long, default_value = "output/context-relevance-datasets/base")]
    output_root: PathBuf,
    /// Output directory.
    #[arg(long)]
    output: Option<PathBuf>,
    #[command(flatten)]
    out: OutputArgs,
}

fn convert(args: ConvertArgs) -> Result<()> {
    let path = args.output.clone().unwrap_or_else(|| {
        args.output_root
            .join(dataset_slug(&args.dataset, args.subset.as_deref()))
    });
    let options = ConvertOptions {
        dataset: args.dataset,
        subset: args.subset,
        lang: args.lang,
        punkt_dir: args.punkt_dir,
        sample_size: args.sample_size,
        seed: args.seed,
        max_text_chars: args.max_text_chars,
        output: args.out.options(path),
    };
    let report = provence_data::convert(&SourceResolver::from_env()?, &options)?;
    let counts: Vec<String> = report.splits.iter().map(|(s, n)| format!("{s} {n}")).collect();
    println!("{}: {}", report.output.display(), counts.join(", "));
    Ok(())
}

#[derive(Debug, clap::Args)]
struct FilterArgs {
    /// Hub dataset id, or a local directory (Hub parquet layout or save_to_disk).
    #[arg(long)]
    dataset: String,
    /// Hub subset (config name).
    #[arg(long)]
    subset: Option<String>,
    /// Splits named in the summary (repeatable); train is always the split filtered, the
    /// others are copied unchanged.
    #[arg(long = "split", value_name = "SPLIT")]
    splits: Vec<String>,
    /// Passages a row may share with earlier kept rows (repeatable; default 1, 2 and 3). Several
    /// thresholds write OUTPUT_DIR/freq<N>/ each.
    #[arg(long = "threshold", value_name = "N")]
    thresholds: Vec<u32>,
    /// Output directory.
    #[arg(long)]
    output_dir: PathBuf,
    /// Process (and keep) only the first N train rows.
    #[arg(long, value_name = "N")]
    debug_limit: Option<usize>,
    /// Column of row ids (written to drop_ids.txt).
    #[arg(long, default_value = "id")]
    id_column: String,
    /// Column of passages.
    #[arg(long, default_value = "texts")]
    texts_column: String,
    #[command(flatten)]
    out: OutputArgs,
}

fn filter_frequency(args: FilterArgs) -> Result<()> {
    let options = FilterOptions {
        dataset: args.dataset,
        subset: args.subset,
        splits: args.splits,
        thresholds: args.thresholds,
        debug_limit: args.debug_limit,
        id_column: args.id_column,
        texts_column: args.texts_column,
        output: args.out.options(args.output_dir),
    };
    let report = provence_data::filter_frequency(&SourceResolver::from_env()?, &options)?;
    for (stats, dir) in &report.thresholds {
        println!(
            "{}: threshold {}: kept {} of {} train rows",
            dir.display(),
            stats.threshold,
            stats.rows_kept,
            stats.rows_total
        );
    }
    Ok(())
}

#[derive(Debug, clap::Args)]
struct TeacherArgs {
    /// Input dataset (directory or Hub id).
    #[arg(long)]
    dataset_path: String,
    /// Teacher: a sequence-classification checkpoint directory or Hub model id.
    #[arg(long, default_value = "hotchpotch/japanese-reranker-xsmall-v2")]
    model: String,
    /// Column name after "teacher_scores." (default: the model's last path component, `.` → `_`).
    #[arg(long)]
    column_name: Option<String>,
    /// Output directory (default: the input with `_with_teacher_scores` appended, or the input
    /// itself when it already ends so).
    #[arg(long)]
    output_path: Option<PathBuf>,
    /// At most this many pairs per forward pass.
    #[arg(long, default_value_t = DEFAULT_TEACHER_BATCH_SIZE)]
    batch_size: usize,
    /// At most this many padded tokens per forward pass (pairs are sorted by length first).
    #[arg(long, default_value_t = DEFAULT_MAX_BATCH_TOKENS, value_name = "N")]
    max_batch_tokens: usize,
    /// Rows per checkpointed chunk (a killed run loses at most one chunk of work).
    #[arg(long, default_value_t = DEFAULT_CHUNK_ROWS, value_name = "N")]
    chunk_rows: usize,
    /// Score (and keep) only the first N rows of every split.
    #[arg(long, value_name = "N")]
    debug_limit: Option<usize>,
    /// Replace an existing column of that name and an existing output directory.
    #[arg(long)]
    overwrite: bool,
    /// Output layout.
    #[arg(long, value_enum, default_value_t = Format::Disk)]
    format: Format,
    /// CPU worker threads (default: one per core, or RAYON_NUM_THREADS).
    #[arg(long, value_name = "N")]
    threads: Option<usize>,
}

fn teacher_scores(args: TeacherArgs) -> Result<()> {
    init_cpu_threads(args.threads);
    let output_path = args
        .output_path
        .unwrap_or_else(|| default_teacher_output(&args.dataset_path));
    let out = OutputArgs {
        format: args.format,
        overwrite: args.overwrite,
    };
    let options = TeacherOptions {
        dataset: args.dataset_path,
        model: args.model,
        column_name: args.column_name,
        overwrite_column: args.overwrite,
        batch_size: args.batch_size,
        max_batch_tokens: args.max_batch_tokens,
        chunk_rows: args.chunk_rows,
        debug_limit: args.debug_limit,
        progress: true,
        hub: HubOptions::from_env(),
        output: out.options(output_path),
    };
    let report = provence_data::teacher_scores(&SourceResolver::from_env()?, &options)?;
    println!(
        "{}: column {} ({} pairs; {} rows scored now, {} resumed; {:.1} pairs/s)",
        report.output.display(),
        report.column,
        report.pairs,
        report.rows_scored,
        report.rows_resumed,
        report.pairs as f64 / report.seconds.max(1e-9)
    );
    Ok(())
}

#[derive(Debug, clap::Args)]
struct LabelArgs {
    /// Input dataset (directory or Hub id) with query, texts and context_spans.
    #[arg(long)]
    dataset_path: String,
    /// Output directory (default: the input with `_with_relevance` appended).
    #[arg(long)]
    output_path: Option<PathBuf>,
    /// OpenAI-compatible API base URL, e.g. http://127.0.0.1:8000/v1 (the key, if any, from
    /// OPENAI_API_KEY).
    #[arg(long, env = "OPENAI_BASE_URL")]
    endpoint: String,
    /// Model name the endpoint serves.
    #[arg(long, default_value = "hotchpotch/query-context-pruner-multilingual-Qwen3-4B")]
    model: String,
    /// The model's tokenizer directory (tokenizer.json, tokenizer_config.json with the chat
    /// template): prompts are rendered and truncated to --max-model-len as upstream does and sent
    /// to /completions. Without it, chat messages go to /chat/completions.
    #[arg(long, value_name = "DIR")]
    tokenizer: Option<PathBuf>,
    /// The model's context length (prompt + answer), used with --tokenizer.
    #[arg(long, default_value_t = DEFAULT_MAX_MODEL_LEN, value_name = "N")]
    max_model_len: usize,
    /// Sampling temperature.
    #[arg(long, default_value_t = 0.1)]
    temperature: f64,
    /// Nucleus sampling.
    #[arg(long, default_value_t = 0.95)]
    top_p: f64,
    /// Longest answer, tokens.
    #[arg(long, default_value_t = 64, value_name = "N")]
    max_tokens: u32,
    /// Stop sequences, separated by spaces (`\n` is a newline).
    #[arg(long, default_value = "<|endoftext|>")]
    stop_tokens: String,
    /// Requests in flight at once.
    #[arg(long, default_value_t = 8, value_name = "N")]
    concurrency: usize,
    /// Retries of a request after 429/5xx/timeouts/connection errors.
    #[arg(long, default_value_t = 5, value_name = "N")]
    max_retries: u32,
    /// Seconds before the first retry (doubled for each further one, at most 30 s).
    #[arg(long, default_value_t = 1.0, value_name = "SECONDS")]
    retry_delay: f64,
    /// Seconds one request may take.
    #[arg(long, default_value_t = 120.0, value_name = "SECONDS")]
    timeout: f64,
    /// Answer cache (one file per request; a rerun asks only what is not there).
    #[arg(long, default_value = "cache/context_spans_relevance", value_name = "DIR")]
    cache_dir: PathBuf,
    /// Label (and keep) only the first N rows of every split.
    #[arg(long, value_name = "N")]
    debug_limit: Option<usize>,
    /// Print the first prompt and stop: nothing is asked or written.
    #[arg(long)]
    dry_run: bool,
    #[command(flatten)]
    out: OutputArgs,
}

/// `seconds` as a duration, or an error naming `flag`.
fn seconds(flag: &str, seconds: f64) -> Result<std::time::Duration> {
    std::time::Duration::try_from_secs_f64(seconds)
        .map_err(|_| anyhow::anyhow!("invalid {flag}: {seconds} is not a number of seconds"))
}

fn label_spans(args: LabelArgs) -> Result<()> {
    let mut llm = LlmConfig::new(args.endpoint, args.model);
    llm.concurrency = args.concurrency;
    llm.max_retries = args.max_retries;
    llm.retry_delay = seconds("--retry-delay", args.retry_delay)?;
    llm.timeout = seconds("--timeout", args.timeout)?;
    llm.cache_dir = Some(args.cache_dir);
    let mut sampling = default_label_sampling();
    sampling.temperature = Some(args.temperature);
    sampling.top_p = Some(args.top_p);
    sampling.max_tokens = Some(args.max_tokens);
    sampling.stop = args
        .stop_tokens
        .split(' ')
        .filter(|s| !s.is_empty())
        .map(|s| s.replace("\\n", "\n"))
        .collect();
    let output_path = args
        .output_path
        .unwrap_or_else(|| PathBuf::from(format!("{}_with_relevance", args.dataset_path.trim_end_matches('/'))));
    let options = LabelOptions {
        dataset: args.dataset_path,
        llm,
        sampling,
        tokenizer: args.tokenizer,
        max_model_len: args.max_model_len,
        debug_limit: args.debug_limit,
        dry_run: args.dry_run,
        output: args.out.options(output_path),
    };
    let report = provence_data::label_spans(&SourceResolver::from_env()?, &options)?;
    match &report.output {
        None => println!(
            "{}",
            report.first_prompt.as_deref().unwrap_or("(no passage needs a request)")
        ),
        Some(dir) => println!(
            "{}: {} requests ({} from the cache); {} unparseable answers (labelled all 0, listed in README.md)",
            dir.display(),
            report.requests,
            report.cached,
            report.unparseable.len()
        ),
    }
    Ok(())
}

#[derive(Debug, clap::Args)]
struct PushArgs {
    /// The dataset directory (save_to_disk or Hub parquet layout), as a stage wrote it.
    #[arg(long)]
    dataset_path: PathBuf,
    /// The Hub dataset repository: `owner/name` (or a bare name in the token's namespace).
    /// Created when missing; the token comes from HF_TOKEN (or the cached login), the Hub from
    /// HF_ENDPOINT.
    #[arg(long)]
    repo_id: String,
    /// Create the repository private (an existing repository keeps its visibility).
    #[arg(long)]
    private: bool,
    /// The commit message.
    #[arg(long, default_value = DEFAULT_PUSH_MESSAGE)]
    commit_message: String,
}

fn push(args: PushArgs) -> Result<()> {
    let report = provence_data::push(&PushOptions {
        dataset: args.dataset_path,
        repo_id: args.repo_id,
        private: args.private.then_some(true),
        commit_message: args.commit_message,
        command: command_line(),
        hub: HubOptions::from_env(),
    })?;
    let counts: Vec<String> = report.splits.iter().map(|(s, n)| format!("{s} {n}")).collect();
    println!("{}: {} ({} files)", report.url, counts.join(", "), report.files.len());
    if !report.deleted.is_empty() {
        println!("  {} data files of an earlier push deleted", report.deleted.len());
    }
    Ok(())
}

/// This process's command line, quoted for a POSIX shell (for the dataset cards).
fn command_line() -> String {
    std::env::args()
        .enumerate()
        .map(|(i, arg)| {
            let arg = if i == 0 { "open_provence_data".to_owned() } else { arg };
            let plain = !arg.is_empty()
                && arg
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "@%+=:,./-_".contains(c));
            if plain {
                arg
            } else {
                format!("'{}'", arg.replace('\'', "'\"'\"'"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn run() -> Result<()> {
    match Cli::parse().command {
        Commands::Convert(args) => convert(args),
        Commands::FilterFrequency(args) => filter_frequency(args),
        Commands::TeacherScores(args) => teacher_scores(args),
        Commands::LabelSpans(args) => label_spans(args),
        Commands::Push(args) => push(args),
    }
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                // The teacher's unused pruning head is reported as newly initialised by the model
                // loader; that is not news here.
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,provence_model::io=warn")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {}", error_line(error.chain().map(ToString::to_string)));
            ExitCode::from(2)
        }
    }
}
