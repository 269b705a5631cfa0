//! `open_provence_eval`: evaluate OpenProvence models on context-relevance datasets and prune
//! contexts with a trained model, publish and export models. A thin shell over `provence-eval` and `provence-infer`.

mod mldr;
mod publish;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use provence_config::{check_threshold, error_line};
use provence_eval::{EvalDatasetsConfig, EvalSettings, evaluate_and_report};
use provence_infer::{DEFAULT_MAX_BATCH_TOKENS, process_requests, read_requests};
use provence_infer::{OnBackend, ProcessInput, ProcessOptions, Pruner, on_device};
use provence_model::{AttentionLayout, DeviceChoice, Execution, ModelBackend, init_cpu_threads};
use provence_serve::{Limits, ServeConfig};
use std::fs::File;
use std::io::{BufReader, BufWriter};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Parser)]
#[command(
    name = "open_provence_eval",
    version,
    about = "Evaluate OpenProvence models and prune contexts"
)]
struct Cli {
    #[command(subcommand)]
    command: Commands,
    /// CPU worker threads (default: one per core, or RAYON_NUM_THREADS).
    #[arg(long, global = true, value_name = "N")]
    threads: Option<usize>,
    /// Where the model runs: cpu, cuda[:N] or wgpu[:N] (default: the build's best; cpu without
    /// the cuda and wgpu features).
    #[arg(long, global = true, default_value_t = DeviceChoice::best(), value_name = "DEVICE")]
    device: DeviceChoice,
}

#[derive(Debug, Subcommand)]
enum Commands {
    /// F2 / recall / precision / compression / span accuracy per dataset and threshold
    /// (Markdown and JSON reports), as upstream's scripts/eval_datasets.py.
    Datasets(DatasetsArgs),
    /// Prune one context (or a JSONL file of them) with a trained model.
    Process(ProcessArgs),
    /// HTTP service, a text-embeddings-inference drop-in: POST /rerank (also / and /invocations),
    /// POST /prune (process() over HTTP), GET /health (/ping), /info, /metrics, /docs; concurrent
    /// requests share forward passes (docs/serving.md).
    Serve(ServeArgs),
    /// Push a trained model (final_model/ with a generated model card) to the Hugging Face Hub.
    Push(publish::PushArgs),
    /// Re-write a model directory: an upstream-layout final_model/, or with --ranking-only a plain
    /// sequence-classification checkpoint (upstream's export_ranking_model).
    Export(publish::ExportArgs),
    /// Upstream's MLDR evaluation (scripts/eval_mldr.py): prune MLDR's long documents, then ask
    /// an LLM judge (any OpenAI-compatible endpoint) whether each pruned text still answers its
    /// question; process/ and eval_llm/ under --output-dir (docs/evaluation.md).
    Mldr(mldr::MldrArgs),
}

#[derive(Debug, clap::Args)]
struct DatasetsArgs {
    /// Eval-datasets YAML (split + datasets list), e.g. configs/eval_datasets/en_nano.yaml.
    #[arg(long)]
    config: PathBuf,
    /// Model directory (ours or upstream's final_model/) or Hub model id.
    #[arg(long)]
    model: String,
    /// One pruning threshold, in [0, 1] (default, without --th: the model's default_threshold,
    /// else 0.1, as `process` chooses).
    #[arg(long, value_parser = threshold, allow_negative_numbers = true)]
    threshold: Option<f64>,
    /// Several thresholds in [0, 1], comma-separated (the model runs once; thresholds apply afterwards).
    #[arg(long, value_delimiter = ',', value_parser = threshold, allow_negative_numbers = true)]
    th: Vec<f64>,
    /// At most this many blocks per forward batch.
    #[arg(long = "batch-size")]
    batch_size: Option<usize>,
    #[command(flatten)]
    engine: EngineArgs,
    /// Split to evaluate (overrides the config's `split`).
    #[arg(long)]
    split: Option<String>,
    /// Evaluate at most N rows per dataset.
    #[arg(long)]
    limit: Option<usize>,
    /// Only datasets whose name or subset contains this text.
    #[arg(long)]
    target: Option<String>,
    /// Write the Markdown report here.
    #[arg(long = "output-file")]
    output_file: Option<PathBuf>,
    /// Write the JSON report here.
    #[arg(long = "output-json")]
    output_json: Option<PathBuf>,
    /// Report per-stage timings.
    #[arg(long = "timing-details")]
    timing_details: bool,
    /// Hide progress bars.
    #[arg(long = "no-progress")]
    no_progress: bool,
}

#[derive(Debug, clap::Args)]
struct ProcessArgs {
    /// Model directory (ours or upstream's final_model/) or Hub model id.
    #[arg(long)]
    model: String,
    /// The question (with --context).
    #[arg(long, requires = "context")]
    question: Option<String>,
    /// The context to prune (with --question).
    #[arg(long, requires = "question")]
    context: Option<String>,
    /// JSONL input with `question` and `context` fields per line (instead of --question/--context).
    #[arg(long, conflicts_with_all = ["question", "context"])]
    input: Option<PathBuf>,
    /// JSONL output (default: stdout).
    #[arg(long)]
    output: Option<PathBuf>,
    /// Keep sentences whose keep probability is above this, in [0, 1] (default: the model's default_threshold, else 0.1).
    #[arg(long, value_parser = threshold, allow_negative_numbers = true)]
    threshold: Option<f64>,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
    /// Also give `kept_spans`: each kept sentence's [start, end) in code points of the context
    /// (a JSON field with --json and --input; on stderr otherwise).
    #[arg(long = "return-offsets")]
    return_offsets: bool,
    /// At most this many blocks per forward batch.
    #[arg(long = "batch-size", default_value_t = ProcessOptions::default().batch_size)]
    batch_size: usize,
    #[command(flatten)]
    engine: EngineArgs,
}

#[derive(Debug, clap::Args)]
struct ServeArgs {
    /// Model directory (ours or upstream's final_model/) or Hub model id.
    #[arg(long)]
    model: String,
    /// Address to listen on (0.0.0.0: every interface, logged as a warning).
    #[arg(long, alias = "host", default_value = "127.0.0.1")]
    hostname: String,
    /// Port to listen on (0: any free port, logged at start).
    #[arg(long, default_value_t = 8080)]
    port: u16,
    /// Also serve GET /metrics on this port (metrics are always on the main port too).
    #[arg(long = "prometheus-port")]
    prometheus_port: Option<u16>,
    /// Require `Authorization: Bearer <KEY>` on every route but /health, /ping, GET /, /metrics
    /// and the API documentation.
    #[arg(long = "api-key", env = "API_KEY", hide_env_values = true)]
    api_key: Option<String>,
    /// Origins browsers may call the API from, comma-separated (`*`: any); none: no CORS headers.
    #[arg(long = "cors-allow-origin", value_delimiter = ',')]
    cors_allow_origin: Vec<String>,
    /// Default pruning threshold in [0, 1] (requests may give their own; default: the model's
    /// default_threshold, else 0.1).
    #[arg(long, value_parser = threshold, allow_negative_numbers = true)]
    threshold: Option<f64>,
    /// Requests merged into one model call (1 turns dynamic batching off).
    #[arg(long = "max-batch-requests", default_value_t = Limits::default().max_batch_requests)]
    max_batch_requests: usize,
    /// Milliseconds the batcher waits for more requests once it holds one (0: only what is queued).
    #[arg(long = "batch-wait-ms", default_value_t = Limits::default().batch_wait.as_millis() as u64)]
    batch_wait_ms: u64,
    /// At most this many blocks per forward pass.
    #[arg(long = "batch-size", default_value_t = Limits::default().max_batch_blocks)]
    batch_size: usize,
    /// Requests in flight at once (queued or being scored); more are answered 429.
    #[arg(long = "max-concurrent-requests", default_value_t = Limits::default().max_concurrent_requests)]
    max_concurrent_requests: usize,
    /// Texts (documents) per request; more are answered 422.
    #[arg(long = "max-client-batch-size", default_value_t = Limits::default().max_client_batch_size)]
    max_client_batch_size: usize,
    /// Bytes per request body; more are answered 413.
    #[arg(long = "max-body-bytes", default_value_t = Limits::default().max_body_bytes)]
    max_body_bytes: usize,
    #[command(flatten)]
    engine: EngineArgs,
}

/// How the model runs (shared by the subcommands).
#[derive(Debug, clap::Args)]
struct EngineArgs {
    /// Encoder execution: packed (only real tokens) or padded (every position, eager semantics).
    #[arg(long, default_value_t = AttentionLayout::default())]
    attention: AttentionLayout,
    /// At most this many padded tokens (blocks × longest block) per forward batch; blocks are
    /// sorted by length and results come back in input order.
    #[arg(long = "max-batch-tokens", default_value_t = DEFAULT_MAX_BATCH_TOKENS)]
    max_batch_tokens: usize,
}

/// A `--threshold` / `--th` value: a number, checked by the rule recipes use.
fn threshold(text: &str) -> Result<f64, String> {
    let value: f64 = text
        .trim()
        .parse()
        .map_err(|_| format!("expected a number, got {text:?}"))?;
    check_threshold(value)
}

fn run() -> Result<()> {
    let cli = Cli::parse();
    let threads = init_cpu_threads(cli.threads);
    tracing::info!("CPU threads: {threads}");
    on_device(cli.device, cli.command)?
}

/// Each subcommand runs on the backend `--device` names.
impl OnBackend for Commands {
    type Output = Result<()>;

    fn run<B: ModelBackend>(self, device: B::Device) -> Result<()> {
        match self {
            Commands::Datasets(args) => datasets::<B>(args, device),
            Commands::Process(args) => process::<B>(args, device),
            Commands::Serve(args) => serve::<B>(args, device),
            Commands::Push(args) => publish::push(args),
            Commands::Export(args) => publish::export::<B>(args, device),
            Commands::Mldr(args) => mldr::mldr::<B>(args, device),
        }
    }
}

fn load_pruner<B: ModelBackend>(model: &str, engine: &EngineArgs, device: B::Device) -> Result<Pruner<B>> {
    let execution = Execution::for_backend::<B>().with_layout(engine.attention);
    Ok(Pruner::from_pretrained(model, device)?.with_execution(execution))
}

fn datasets<B: ModelBackend>(args: DatasetsArgs, device: B::Device) -> Result<()> {
    let config = EvalDatasetsConfig::from_file(&args.config)?;
    let mut thresholds: Vec<f64> = Vec::new();
    for &t in &args.th {
        if !thresholds.contains(&t) {
            thresholds.push(t);
        }
    }
    let pruner = load_pruner::<B>(&args.model, &args.engine, device)?;
    // Without --th, one threshold chosen by the same rule as `process`.
    let single = if thresholds.is_empty() {
        Some(pruner.resolve_threshold(args.threshold)?)
    } else {
        None
    };
    thresholds.extend(single);
    let settings = EvalSettings {
        thresholds,
        batch_size: args.batch_size.unwrap_or(512).max(1),
        max_batch_tokens: args.engine.max_batch_tokens,
        split: args.split,
        limit: args.limit,
        targets: args.target.into_iter().collect(),
        progress: !args.no_progress,
    };
    let report = evaluate_and_report(
        &pruner,
        &args.model,
        &config,
        &args.config,
        &settings,
        args.timing_details,
        single,
    )?;
    match &args.output_file {
        Some(path) => std::fs::write(path, format!("{}\n", report.markdown.trim_end()))
            .with_context(|| format!("writing {}", path.display()))?,
        None => print!("{}", report.markdown),
    }
    if let Some(path) = &args.output_json {
        let text = format!("{:#}\n", report.json);
        std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

fn process<B: ModelBackend>(args: ProcessArgs, device: B::Device) -> Result<()> {
    let options = ProcessOptions {
        threshold: args.threshold,
        batch_size: args.batch_size.max(1),
        max_batch_tokens: args.engine.max_batch_tokens,
        return_offsets: args.return_offsets,
        ..ProcessOptions::default()
    };
    if let (Some(question), Some(context)) = (&args.question, &args.context) {
        let pruner = load_pruner::<B>(&args.model, &args.engine, device)?;
        let input = ProcessInput::Pair {
            question: question.clone(),
            context: context.clone(),
        };
        let out = pruner.process(input, &options)?;
        if args.json {
            println!("{:#}", out.to_json());
        } else if let Some(doc) = out.results.first().and_then(|d| d.first()) {
            println!("{}", doc.pruned_context);
            let score = doc.reranking_score.map_or("None".to_string(), |s| format!("{s:.4}"));
            eprintln!(
                "reranking_score: {score}  compression_rate: {:.2}%",
                doc.compression_rate
            );
            if let Some(spans) = &doc.kept_spans {
                let pairs: Vec<[usize; 2]> = spans.iter().map(|s| s.char_pair()).collect();
                eprintln!("kept_spans: {pairs:?}");
            }
        }
        return Ok(());
    }
    let Some(input_path) = &args.input else {
        bail!("give --question and --context, or --input FILE.jsonl");
    };
    let file = File::open(input_path).with_context(|| format!("opening {}", input_path.display()))?;
    let requests = read_requests(BufReader::new(file)).with_context(|| format!("reading {}", input_path.display()))?;
    let pruner = load_pruner::<B>(&args.model, &args.engine, device)?;
    let count = match &args.output {
        Some(path) => {
            let out = File::create(path).with_context(|| format!("creating {}", path.display()))?;
            process_requests(&pruner, requests, BufWriter::new(out), &options)?
        }
        None => process_requests(&pruner, requests, std::io::stdout().lock(), &options)?,
    };
    tracing::info!(requests = count, "done");
    Ok(())
}

fn serve<B: ModelBackend>(args: ServeArgs, device: B::Device) -> Result<()> {
    let pruner = load_pruner::<B>(&args.model, &args.engine, device)?;
    let config = ServeConfig {
        hostname: args.hostname,
        port: args.port,
        prometheus_port: args.prometheus_port,
        api_key: args.api_key,
        cors_allow_origin: args.cors_allow_origin,
        threshold: args.threshold,
        limits: Limits {
            max_batch_tokens: args.engine.max_batch_tokens,
            max_batch_requests: args.max_batch_requests,
            max_batch_blocks: args.batch_size,
            batch_wait: std::time::Duration::from_millis(args.batch_wait_ms),
            max_concurrent_requests: args.max_concurrent_requests,
            max_client_batch_size: args.max_client_batch_size,
            max_body_bytes: args.max_body_bytes,
        },
        ..ServeConfig::new(args.model)
    };
    Ok(provence_serve::serve(pruner, &config)?)
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
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
