//! `open_provence_eval mldr` from end to end (upstream's `main`, `run_process`,
//! `run_original_dataset`, `run_evaluation`): the stages, what is skipped or redone, and the
//! output tree. A stage's `dataset/` directory is renamed into place last, so it exists only
//! when its stage finished: a killed run redoes the unfinished stage.
//!
//! ```text
//! <output-dir>/process/               (process_original/ with --text-source original)
//!     dataset/rows.jsonl              one row per passage (PassageRecord)
//!     summary.json  result.md
//! <output-dir>/eval_llm/
//!     dataset/rows.jsonl              the rows judged, with llm_* columns (JudgedRecord)
//!     summary.json  summary.md
//!     cache/                          the judge's raw answers by request (parsed ones only)
//! ```

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use provence_infer::{ProcessOptions, Pruner};
use provence_llm::ResponseCache;
use provence_model::ModelBackend;
use serde::{Deserialize, Serialize, de::DeserializeOwned};

use super::data::load_mldr;
use super::error::{MldrError, io_error};
use super::evaluate::{
    DEFAULT_IGNORE_LIST, EvalSummary, JudgeSettings, JudgedRecord, judge_client, judge_rows, parse_ignore_list,
    select_rows, tally,
};
use super::markdown::{eval_markdown, result_markdown};
use super::records::{PassageRecord, averages, original_records, pruned_records};

/// The rows file inside a stage's `dataset/` directory.
pub const ROWS_FILE: &str = "rows.jsonl";

/// Which text the judge reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextSource {
    /// The model's pruned passages (`process/`).
    Pruned,
    /// The passages as given (`process_original/`), a reference point.
    Original,
}

/// Everything `open_provence_eval mldr` takes (see `docs/evaluation.md`).
#[derive(Clone)]
pub struct MldrSettings {
    /// Model directory or Hub id, as given (recorded in the summary).
    pub model: String,
    /// MLDR: a local copy in the Hub layout or a Hub id (`Shitao/MLDR`).
    pub dataset: String,
    /// `--lang`: the ignore list's key (`en`, `jp`; `ja` reads `jp`) and the default MLDR language.
    pub lang: String,
    /// `--mldr-lang`: MLDR's language directory (default from `lang`, `jp` → `ja`).
    pub mldr_lang: Option<String>,
    /// Pruning threshold.
    pub threshold: f64,
    /// Split expression (`test`, `test[:200]`).
    pub split: String,
    /// `--limit`: `split[:limit]` when non-zero and the split has no slice.
    pub limit: i64,
    /// What the judge reads.
    pub text_source: TextSource,
    /// `process()` options (batch size, token budget, first-block score, progress).
    pub process: ProcessOptions,
    /// The output directory.
    pub output_dir: PathBuf,
    /// Reuse the process stage's dataset (an error when absent).
    pub skip_process: bool,
    /// Redo the process stage even when its dataset exists.
    pub force_process: bool,
    /// Stop after the process stage.
    pub no_eval: bool,
    /// Redo the LLM stage even when its dataset exists (cached judgments are reused).
    pub force_eval: bool,
    /// Ignore list (`None`: upstream's list, built in).
    pub ignore_file: Option<PathBuf>,
    /// Go on without the ignore list when the file is missing.
    pub force_no_ignore: bool,
    /// Judge negative passages too.
    pub include_negatives: bool,
    /// Clamp each judged text to this many characters (0 or less: no clamp).
    pub max_text_chars: i64,
    /// The judge.
    pub judge: JudgeSettings,
    /// The judge's answer cache (default `<output-dir>/eval_llm/cache`).
    pub cache_dir: Option<PathBuf>,
}

impl MldrSettings {
    /// MLDR's language directory: `--mldr-lang`, else `--lang` (`jp` → `ja`).
    pub fn mldr_language(&self) -> String {
        self.mldr_lang
            .clone()
            .unwrap_or_else(|| if self.lang == "jp" { "ja" } else { &self.lang }.to_owned())
    }

    /// The ignore list's key: `jp` for Japanese (`ja` or `jp`), else `--lang`.
    fn ignore_key(&self) -> &str {
        if self.lang == "ja" { "jp" } else { &self.lang }
    }

    fn stage_dir(&self) -> PathBuf {
        self.output_dir.join(match self.text_source {
            TextSource::Pruned => "process",
            TextSource::Original => "process_original",
        })
    }
}

/// The process stage's `summary.json` (upstream's fields, in order).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProcessSummary {
    /// `--limit`.
    pub limit: i64,
    /// `--threshold`.
    pub threshold: f64,
    /// Rows (passages).
    pub num_records: usize,
    /// Queries with at least one passage.
    pub num_queries: usize,
    /// MLDR's language.
    pub dataset_language: String,
    /// Always `auto` (the splitter picks per text).
    pub splitter_language: String,
    /// Always `None` (no `--max-length`).
    pub max_length: Option<usize>,
    /// `--model`.
    pub model: String,
    /// Always false (upstream's naver/provence loader is not ported).
    pub naver_provence_model: bool,
    /// Mean reranking score of positives.
    pub avg_pos_score: Option<f64>,
    /// Mean reranking score of negatives.
    pub avg_neg_score: Option<f64>,
    /// Mean compression of positives.
    pub avg_pos_compression: Option<f64>,
    /// Mean compression of negatives.
    pub avg_neg_compression: Option<f64>,
    /// `pruned` or `original`.
    pub source_text: String,
    /// The stage's wall time.
    pub process_time_seconds: f64,
}

/// What a run did.
#[derive(Debug, Clone, PartialEq)]
pub struct MldrOutcome {
    /// The process stage's dataset directory.
    pub dataset: PathBuf,
    /// The LLM stage's summary (`None` with `--no-eval` or when the stage was skipped).
    pub eval: Option<EvalSummary>,
}

/// Runs the stages; `load_model` is called only when the process stage runs on pruned text.
pub fn run_mldr<B: ModelBackend>(
    settings: &MldrSettings,
    load_model: impl FnOnce() -> Result<Pruner<B>, MldrError>,
) -> Result<MldrOutcome, MldrError> {
    let stage_dir = settings.stage_dir();
    let dataset = stage_dir.join("dataset");
    if settings.skip_process {
        if !dataset.is_dir() {
            return Err(MldrError::MissingStage {
                what: "process dataset",
                path: dataset,
                hint: "remove --skip-process or rerun processing",
            });
        }
    } else if dataset.is_dir() && !settings.force_process {
        tracing::info!(path = %dataset.display(), "process dataset exists; skipping (--force-process to rerun)");
    } else {
        process_stage(settings, &stage_dir, load_model)?;
    }
    if settings.no_eval {
        tracing::info!("skipping the LLM evaluation (--no-eval)");
        return Ok(MldrOutcome { dataset, eval: None });
    }
    let eval = eval_stage(settings, &dataset)?;
    Ok(MldrOutcome { dataset, eval })
}

fn process_stage<B: ModelBackend>(
    settings: &MldrSettings,
    stage_dir: &Path,
    load_model: impl FnOnce() -> Result<Pruner<B>, MldrError>,
) -> Result<(), MldrError> {
    let start = Instant::now();
    let lang = settings.mldr_language();
    let split = provence_datasets::apply_limit(&settings.split, settings.limit);
    let queries = load_mldr(&settings.dataset, &lang, &split)?;
    tracing::info!(%split, %lang, queries = queries.len(), "loaded MLDR");
    let (records, num_queries, label) = match settings.text_source {
        TextSource::Pruned => {
            let pruner = load_model()?;
            let options = ProcessOptions {
                threshold: Some(settings.threshold),
                ..settings.process.clone()
            };
            let (records, n) = pruned_records(&pruner, &queries, &options)?;
            (records, n, "auto".to_owned())
        }
        TextSource::Original => {
            let (records, n) = original_records(&queries);
            if records.is_empty() {
                return Err(MldrError::Setting {
                    key: "--split",
                    message: format!("no passages in {split} for original-text evaluation"),
                });
            }
            (records, n, lang.clone())
        }
    };
    let (avg_pos_score, avg_pos_compression) = averages(&records, 1);
    let (avg_neg_score, avg_neg_compression) = averages(&records, 0);
    let summary = ProcessSummary {
        limit: settings.limit,
        threshold: settings.threshold,
        num_records: records.len(),
        num_queries,
        dataset_language: lang,
        splitter_language: "auto".to_owned(),
        max_length: None,
        model: settings.model.clone(),
        naver_provence_model: false,
        avg_pos_score,
        avg_neg_score,
        avg_pos_compression,
        avg_neg_compression,
        source_text: match settings.text_source {
            TextSource::Pruned => "pruned",
            TextSource::Original => "original",
        }
        .to_owned(),
        process_time_seconds: start.elapsed().as_secs_f64(),
    };
    write_file(&stage_dir.join("summary.json"), &pretty(&summary)?)?;
    let markdown = result_markdown(&records, settings.threshold, settings.limit, &label);
    write_file(&stage_dir.join("result.md"), &markdown)?;
    write_rows(&stage_dir.join("dataset"), &records)?;
    tracing::info!(rows = records.len(), queries = num_queries, dir = %stage_dir.display(), "process stage done");
    Ok(())
}

fn eval_stage(settings: &MldrSettings, dataset: &Path) -> Result<Option<EvalSummary>, MldrError> {
    let eval_dir = settings.output_dir.join("eval_llm");
    if eval_dir.join("dataset").is_dir() && !settings.force_eval {
        tracing::info!(path = %eval_dir.display(), "LLM evaluation exists; skipping (--force-eval to rerun)");
        return Ok(None);
    }
    let start = Instant::now();
    let records: Vec<PassageRecord> = read_rows(dataset)?;
    let ignore = ignore_list(settings)?;
    let max_chars = usize::try_from(settings.max_text_chars).unwrap_or(0);
    let (rows, ignored) = select_rows(records, &ignore, settings.include_negatives, max_chars);
    if rows.is_empty() {
        tracing::warn!("no rows to judge after the ignore list and the label filter");
        return Ok(None);
    }
    tracing::info!(
        rows = rows.len(),
        ignored,
        include_negatives = settings.include_negatives,
        "judging"
    );
    let cache = ResponseCache::new(settings.cache_dir.clone().unwrap_or_else(|| eval_dir.join("cache")));
    let client = judge_client(&settings.judge)?;
    let verdicts = judge_rows(&client, &cache, &settings.judge, &rows)?;
    let judged: Vec<JudgedRecord> = rows
        .into_iter()
        .zip(verdicts)
        .map(|(r, v)| JudgedRecord::new(r, v))
        .collect();
    let (counts, answer_score_stats) = tally(&judged);
    let process_time_seconds = std::fs::read_to_string(dataset.with_file_name("summary.json"))
        .ok()
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        .and_then(|v| v["process_time_seconds"].as_f64());
    let summary = EvalSummary {
        input_dataset: dataset.display().to_string(),
        language: settings.lang.clone(),
        llm_model: settings.judge.llm_model.clone(),
        reasoning_effort: settings.judge.reasoning_effort.clone(),
        records_evaluated: judged.len(),
        ignored_count: ignored,
        counts,
        answer_score_stats,
        process_time_seconds,
        evaluation_time_seconds: start.elapsed().as_secs_f64(),
    };
    write_file(&eval_dir.join("summary.json"), &pretty(&summary)?)?;
    write_file(&eval_dir.join("summary.md"), &eval_markdown(&summary))?;
    write_rows(&eval_dir.join("dataset"), &judged)?;
    tracing::info!(rows = judged.len(), failed = summary.counts.failed, dir = %eval_dir.display(), "LLM stage done");
    Ok(Some(summary))
}

fn ignore_list(settings: &MldrSettings) -> Result<std::collections::BTreeMap<String, String>, MldrError> {
    let Some(path) = &settings.ignore_file else {
        return parse_ignore_list(
            DEFAULT_IGNORE_LIST,
            settings.ignore_key(),
            Path::new("<built-in ignore list>"),
        );
    };
    match std::fs::read_to_string(path) {
        Ok(text) => parse_ignore_list(&text, settings.ignore_key(), path),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && settings.force_no_ignore => {
            tracing::warn!(path = %path.display(), "ignore list not found; going on without it (--force-no-ignore)");
            Ok(Default::default())
        }
        Err(e) => Err(MldrError::IgnoreList {
            path: path.clone(),
            message: format!("{e}; create it or rerun with --force-no-ignore"),
        }),
    }
}

/// `value` as indented JSON (upstream's `json.dump(..., indent=2, ensure_ascii=False)`).
fn pretty(value: &impl Serialize) -> Result<String, MldrError> {
    serde_json::to_string_pretty(value).map_err(|e| MldrError::Setting {
        key: "summary",
        message: e.to_string(),
    })
}

/// Writes `text` to a temporary file beside `path`, then renames it into place.
fn write_file(path: &Path, text: &str) -> Result<(), MldrError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(io_error(dir))?;
    let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
    std::fs::write(&tmp, text).map_err(io_error(&tmp))?;
    std::fs::rename(&tmp, path).map_err(io_error(path))
}

/// Writes `rows` as `dir/rows.jsonl`: built in a staging directory that replaces `dir` at the end.
fn write_rows<T: Serialize>(dir: &Path, rows: &[T]) -> Result<(), MldrError> {
    let staging = dir.with_extension(format!("tmp-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&staging);
    std::fs::create_dir_all(&staging).map_err(io_error(&staging))?;
    let path = staging.join(ROWS_FILE);
    let mut out = std::io::BufWriter::new(std::fs::File::create(&path).map_err(io_error(&path))?);
    for row in rows {
        let line = serde_json::to_string(row).map_err(|e| MldrError::Setting {
            key: "rows",
            message: e.to_string(),
        })?;
        writeln!(out, "{line}").map_err(io_error(&path))?;
    }
    out.into_inner()
        .map_err(|e| io_error(&path)(e.into_error()))?
        .sync_all()
        .map_err(io_error(&path))?;
    if dir.exists() {
        std::fs::remove_dir_all(dir).map_err(io_error(dir))?;
    }
    std::fs::rename(&staging, dir).map_err(io_error(dir))
}

/// The rows of a stage's `dataset/` directory.
pub fn read_rows<T: DeserializeOwned>(dir: &Path) -> Result<Vec<T>, MldrError> {
    let path = dir.join(ROWS_FILE);
    let text = std::fs::read_to_string(&path).map_err(io_error(&path))?;
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(n, line)| {
            serde_json::from_str(line).map_err(|e| MldrError::BadRow {
                path: path.clone(),
                line: n + 1,
                message: e.to_string(),
            })
        })
        .collect()
}
