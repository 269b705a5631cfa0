//! `open_provence_eval mldr`: upstream's scripts/eval_mldr.py (the flags, a thin shell over
//! `provence_eval::mldr`).

use std::path::PathBuf;

use anyhow::{Result, bail};
use provence_eval::mldr::{JudgeSettings, MLDR_HUB_ID, MldrSettings, TextSource, run_mldr};
use provence_infer::ProcessOptions;
use provence_llm::API_KEY_VAR;
use provence_model::ModelBackend;

use crate::{EngineArgs, load_pruner, threshold};

/// OpenAI's API, the judge when no endpoint is given.
const OPENAI_ENDPOINT: &str = "https://api.openai.com/v1";

#[derive(Debug, clap::Args)]
pub(crate) struct MldrArgs {
    /// Model directory (ours or upstream's final_model/; a run directory's final_model/ is
    /// used) or Hub model id.
    #[arg(long)]
    model: String,
    /// Where the stages write (process/, eval_llm/).
    #[arg(long = "output-dir")]
    output_dir: PathBuf,
    /// Ignore-list key (en, jp; ja reads jp) and the default MLDR language.
    #[arg(long, value_parser = ["en", "ja", "jp"])]
    lang: String,
    /// MLDR language directory (mldr-v1.0-<lang>; default from --lang, jp → ja).
    #[arg(long = "mldr-lang")]
    mldr_lang: Option<String>,
    /// MLDR: a local copy in the Hub layout (mldr-v1.0-<lang>/<split>.jsonl[.gz]) or a Hub id.
    #[arg(long, default_value = MLDR_HUB_ID)]
    dataset: String,
    /// Pruning threshold, in [0, 1].
    #[arg(long, default_value_t = 0.1, value_parser = threshold, allow_negative_numbers = true)]
    threshold: f64,
    /// Split expression as `datasets` reads it (test, test[:200], test[10%:], dev+test).
    #[arg(long, default_value = "test")]
    split: String,
    /// Queries to read: test[:N] when the split has no slice (0: the whole split).
    #[arg(long, default_value_t = 200)]
    limit: i64,
    /// Judge the pruned passages or the original ones.
    #[arg(long = "text-source", default_value = "pruned", value_parser = ["pruned", "original"])]
    text_source: String,
    /// At most this many blocks per forward batch.
    #[arg(long = "batch-size", default_value_t = 16)]
    batch_size: usize,
    /// Use the first block's reranker score instead of the best over blocks.
    #[arg(long = "reranker-first-score")]
    reranker_first_score: bool,
    /// Hide progress bars.
    #[arg(long = "no-progress")]
    no_progress: bool,
    #[command(flatten)]
    engine: EngineArgs,
    #[command(flatten)]
    stages: StageArgs,
    #[command(flatten)]
    judge: JudgeArgs,
}

/// Which stages run.
#[derive(Debug, clap::Args)]
struct StageArgs {
    /// Stop after the process stage.
    #[arg(long = "no-eval")]
    no_eval: bool,
    /// Reuse the process stage's dataset (an error when it is missing).
    #[arg(long = "skip-process", conflicts_with = "force_process")]
    skip_process: bool,
    /// Re-run the process stage even when its dataset exists.
    #[arg(long = "force-process")]
    force_process: bool,
    /// Re-run the LLM stage even when its dataset exists (judgments in the cache are reused).
    #[arg(long = "force-eval")]
    force_eval: bool,
}

/// The judge.
#[derive(Debug, clap::Args)]
struct JudgeArgs {
    /// OpenAI-compatible API base URL (…/v1).
    #[arg(long = "llm-endpoint", env = "OPENAI_BASE_URL", default_value = OPENAI_ENDPOINT)]
    llm_endpoint: String,
    /// Judge model as LiteLLM names it (openai/<name> sends <name>); gpt-5 models get
    /// max_completion_tokens and temperature 1.
    #[arg(long = "llm-model", default_value = "gpt-5-nano")]
    llm_model: String,
    /// Recorded in the summaries, as upstream does.
    #[arg(long = "reasoning-effort", default_value = "low")]
    reasoning_effort: String,
    /// Ignore list in upstream's YAML format (default: upstream's list, built in).
    #[arg(long = "ignore-file")]
    ignore_file: Option<PathBuf>,
    /// Go on without the ignore list when --ignore-file is missing.
    #[arg(long = "force-no-ignore")]
    force_no_ignore: bool,
    /// Judge negative passages too (default: positives only).
    #[arg(long = "include-negatives")]
    include_negatives: bool,
    /// Clamp each judged text to this many characters (0: no clamp).
    #[arg(long = "max-text-chars", default_value_t = 60000)]
    max_text_chars: i64,
    /// Requests in flight at once.
    #[arg(long, default_value_t = 10)]
    concurrency: usize,
    /// Attempts after the first, for any failure.
    #[arg(long, default_value_t = 2)]
    retries: u32,
    /// Seconds between attempts.
    #[arg(long = "retry-delay", default_value_t = 1.5)]
    retry_delay: f64,
    /// Seconds one request may take (at least 1).
    #[arg(long = "request-timeout", default_value_t = 120.0)]
    request_timeout: f64,
    /// Answer cache directory (default: <output-dir>/eval_llm/cache).
    #[arg(long = "llm-cache")]
    llm_cache: Option<PathBuf>,
}

pub(crate) fn mldr<B: ModelBackend>(args: MldrArgs, device: B::Device) -> Result<()> {
    let api_key = std::env::var(API_KEY_VAR).ok().filter(|k| !k.is_empty());
    let judged = !args.stages.no_eval;
    if judged && api_key.is_none() && args.judge.llm_endpoint == OPENAI_ENDPOINT {
        bail!("{API_KEY_VAR} is not set; export it, or point --llm-endpoint at a server that needs no key");
    }
    let model = args.model.trim().to_owned();
    let settings = MldrSettings {
        model: model.clone(),
        dataset: args.dataset,
        lang: args.lang,
        mldr_lang: args.mldr_lang,
        threshold: args.threshold,
        split: args.split,
        limit: args.limit,
        text_source: if args.text_source == "original" {
            TextSource::Original
        } else {
            TextSource::Pruned
        },
        process: ProcessOptions {
            batch_size: args.batch_size.max(1),
            max_batch_tokens: args.engine.max_batch_tokens,
            use_best_reranker_score: !args.reranker_first_score,
            progress: !args.no_progress,
            ..ProcessOptions::default()
        },
        output_dir: args.output_dir,
        skip_process: args.stages.skip_process,
        force_process: args.stages.force_process,
        no_eval: args.stages.no_eval,
        force_eval: args.stages.force_eval,
        ignore_file: args.judge.ignore_file,
        force_no_ignore: args.judge.force_no_ignore,
        include_negatives: args.judge.include_negatives,
        max_text_chars: args.judge.max_text_chars,
        judge: JudgeSettings {
            endpoint: args.judge.llm_endpoint,
            llm_model: args.judge.llm_model,
            reasoning_effort: args.judge.reasoning_effort,
            api_key,
            concurrency: args.judge.concurrency.max(1),
            retries: args.judge.retries,
            retry_delay: args.judge.retry_delay.max(0.0),
            request_timeout: args.judge.request_timeout.max(1.0),
        },
        cache_dir: args.judge.llm_cache,
    };
    let engine = args.engine;
    let outcome = run_mldr::<B>(&settings, || {
        let dir = provence_hub::model_dir_of(std::path::Path::new(&model));
        let name = if dir.is_dir() {
            dir.display().to_string()
        } else {
            model.clone()
        };
        load_pruner::<B>(&name, &engine, device).map_err(|e| provence_eval::mldr::MldrError::Setting {
            key: "--model",
            message: format!("{e:#}"),
        })
    })?;
    if let Some(summary) = outcome.eval {
        println!("{}", serde_json::to_string_pretty(&summary)?);
    }
    Ok(())
}
