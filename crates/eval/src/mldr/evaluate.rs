//! The LLM stage (upstream's `run_evaluation`, `evaluate_example`): the ignore list, which rows
//! are judged, the judge asked with upstream's retry loop, and `summary.json`'s numbers. Parsed
//! judgments are kept in an answer cache keyed by the request body, so a killed run or a rerun
//! asks only what it does not have; failures are not cached (asked again next time).

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use provence_config::python_float_repr;
use provence_config::yaml::{Node, parse_document};
use provence_llm::{LlmClient, LlmConfig, ResponseCache, Route, map_concurrent};
use serde::{Deserialize, Serialize};

use super::error::MldrError;
use super::judge::{Judgment, parse_judgment, request_body};
use super::records::{PassageRecord, mean};

/// Upstream's ignore list (`scripts/eval_mldr/ignored_questions.yaml`), the default `--ignore-file`.
pub const DEFAULT_IGNORE_LIST: &str = include_str!("ignored_questions.yaml");

/// The judge and how to ask it.
#[derive(Debug, Clone)]
pub struct JudgeSettings {
    /// Base URL of an OpenAI-compatible API (`…/v1`).
    pub endpoint: String,
    /// The model id as LiteLLM takes it (`gpt-5-nano`, `openai/<served name>`).
    pub llm_model: String,
    /// Recorded in the summaries (upstream passes it to nobody).
    pub reasoning_effort: String,
    /// `OPENAI_API_KEY`.
    pub api_key: Option<String>,
    /// Requests in flight at once.
    pub concurrency: usize,
    /// Attempts after the first, for any failure (HTTP, timeout, unparseable answer).
    pub retries: u32,
    /// Seconds between attempts.
    pub retry_delay: f64,
    /// Seconds one request may take.
    pub request_timeout: f64,
}

/// What one row's judging gave (upstream's `EvaluationResult`).
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    /// The judgment, or the last attempt's error.
    pub outcome: Result<Judgment, String>,
    /// Requests sent (0: answered from the cache).
    pub attempts: u32,
    /// Seconds spent.
    pub latency: f64,
}

/// The ignore list's `qid → reason` for `key` (`en`, `jp`), as upstream's `load_ignore_list`
/// reads it (entries without `qid` are skipped; qids and reasons as Python's `str`).
pub fn parse_ignore_list(text: &str, key: &str, path: &Path) -> Result<BTreeMap<String, String>, MldrError> {
    let bad = |message: String| MldrError::IgnoreList {
        path: path.to_owned(),
        message,
    };
    let root = parse_document(text).map_err(|e| bad(format!("invalid YAML: {e}")))?;
    let mut out = BTreeMap::new();
    let Some(map) = root.as_map() else {
        return match root.node {
            Node::Null => Ok(out),
            _ => Err(bad(format!(
                "expected a mapping of language keys, got {}",
                root.describe()
            ))),
        };
    };
    let Some((_, entries)) = map.iter().find(|(k, _)| k.as_key().as_deref() == Some(key)) else {
        return Ok(out);
    };
    let entries = match &entries.node {
        Node::Seq(items) => items.as_slice(),
        Node::Null => &[],
        _ => return Err(bad(format!("line {}: `{key}` must be a list", entries.line))),
    };
    for entry in entries {
        let fields = entry
            .as_map()
            .ok_or_else(|| bad(format!("line {}: expected a mapping with qid and reason", entry.line)))?;
        let get = |name: &str| {
            fields
                .iter()
                .find(|(k, _)| k.as_key().as_deref() == Some(name))
                .map(|(_, v)| v)
        };
        let Some(qid) = get("qid").map(|v| py_str(&v.node)).filter(|q| q != "None") else {
            continue;
        };
        let reason = get("reason").map_or_else(String::new, |v| py_str(&v.node).trim().to_owned());
        out.insert(qid, reason);
    }
    Ok(out)
}

/// Python's `str()` of a YAML scalar.
fn py_str(node: &Node) -> String {
    match node {
        Node::Null => "None".to_owned(),
        Node::Bool(b) => if *b { "True" } else { "False" }.to_owned(),
        Node::Int(i) => i.to_string(),
        Node::Float(f) => python_float_repr(*f),
        Node::Str(s) => s.clone(),
        Node::Seq(_) | Node::Map(_) => format!("{node:?}"),
    }
}

/// The rows to judge and the number of rows skipped by the ignore list (upstream counts every
/// row of an ignored query, negatives too); texts clamped to `max_chars` code points (0: no limit).
pub fn select_rows(
    records: Vec<PassageRecord>,
    ignore: &BTreeMap<String, String>,
    include_negatives: bool,
    max_chars: usize,
) -> (Vec<PassageRecord>, usize) {
    let mut ignored = 0;
    let mut rows = Vec::new();
    for mut record in records {
        if ignore.contains_key(&record.query_id) {
            ignored += 1;
            continue;
        }
        if !include_negatives && record.label != 1 {
            continue;
        }
        if max_chars > 0 && record.pruned_text.chars().count() > max_chars {
            record.pruned_text = record.pruned_text.chars().take(max_chars).collect();
        }
        rows.push(record);
    }
    (rows, ignored)
}

/// The client for `settings`: one attempt per request (the retry loop is upstream's, in
/// [`judge_rows`]).
pub fn judge_client(settings: &JudgeSettings) -> Result<LlmClient, MldrError> {
    let mut config = LlmConfig::new(settings.endpoint.clone(), settings.llm_model.clone());
    config.api_key = settings.api_key.clone();
    config.timeout = Duration::from_secs_f64(settings.request_timeout.max(1.0));
    config.max_retries = 0;
    config.concurrency = settings.concurrency.max(1);
    Ok(LlmClient::new(config)?)
}

/// Every row judged, `concurrency` at a time, in row order.
pub fn judge_rows(
    client: &LlmClient,
    cache: &ResponseCache,
    settings: &JudgeSettings,
    rows: &[PassageRecord],
) -> Result<Vec<Verdict>, MldrError> {
    let verdicts = map_concurrent(rows, settings.concurrency.max(1), |_, row| {
        judge_one(client, cache, settings, row)
    });
    verdicts.into_iter().collect()
}

/// One row: the cached judgment, else up to `retries + 1` attempts `retry_delay` apart, any
/// failure (HTTP error, timeout, refusal, unparseable or invalid answer) retried.
fn judge_one(
    client: &LlmClient,
    cache: &ResponseCache,
    settings: &JudgeSettings,
    row: &PassageRecord,
) -> Result<Verdict, MldrError> {
    let start = Instant::now();
    let body = request_body(&settings.llm_model, &row.query, &row.pruned_text, row.title.as_deref());
    let route = Route::Chat.path();
    if let Some(answer) = cache.get(route, &body) {
        let content = answer["choices"][0]["message"]["content"].as_str();
        if let Ok(judgment) = parse_judgment(content) {
            return Ok(Verdict {
                outcome: Ok(judgment),
                attempts: 0,
                latency: start.elapsed().as_secs_f64(),
            });
        }
    }
    let mut attempts = 0;
    loop {
        attempts += 1;
        let outcome = client.post(Route::Chat, &body).map_err(|e| e.to_string());
        let outcome = outcome.and_then(|answer| {
            let judgment = parse_judgment(answer.text())?;
            Ok((answer, judgment))
        });
        match outcome {
            Ok((answer, judgment)) => {
                cache.put(route, &body, &answer.body)?;
                return Ok(Verdict {
                    outcome: Ok(judgment),
                    attempts,
                    latency: start.elapsed().as_secs_f64(),
                });
            }
            Err(error) if attempts > settings.retries => {
                tracing::debug!(query_id = %row.query_id, docid = %row.docid, %error, "judge failed");
                return Ok(Verdict {
                    outcome: Err(error),
                    attempts,
                    latency: start.elapsed().as_secs_f64(),
                });
            }
            Err(_) => std::thread::sleep(Duration::from_secs_f64(settings.retry_delay.max(0.0))),
        }
    }
}

/// A judged row (upstream's `eval_llm/dataset` columns: the process row, then `llm_*`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JudgedRecord {
    /// The row as judged (text clamped to `--max-text-chars`).
    #[serde(flatten)]
    pub record: PassageRecord,
    /// Requests sent (0: from the answer cache).
    pub llm_attempts: u32,
    /// Seconds spent on the row.
    pub llm_latency: Option<f64>,
    /// The last error, for a failed row.
    pub llm_error: Option<String>,
    /// The judge's score.
    pub llm_answer_score: Option<f64>,
    /// 0 or 1; `None` for a failed row.
    pub llm_has_answer: Option<i64>,
    /// The judge's reasoning, or the error of a failed row.
    pub llm_reasoning: String,
}

impl JudgedRecord {
    /// The row with its verdict.
    pub fn new(record: PassageRecord, verdict: Verdict) -> Self {
        let (error, score, has, reasoning) = match verdict.outcome {
            Ok(j) => (None, j.answer_score, Some(j.has_answer), j.reasoning),
            Err(e) => (Some(e.clone()), None, None, e),
        };
        Self {
            record,
            llm_attempts: verdict.attempts,
            llm_latency: Some(verdict.latency),
            llm_error: error,
            llm_answer_score: score,
            llm_has_answer: has,
            llm_reasoning: reasoning,
        }
    }
}

/// `counts` of the LLM summary.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JudgedCounts {
    /// Rows judged answerable.
    pub has_answer_1: usize,
    /// Rows judged not answerable.
    pub has_answer_0: usize,
    /// Rows without a judgment.
    pub failed: usize,
}

/// `answer_score_stats` of the LLM summary.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScoreStats {
    /// Mean.
    pub mean: f64,
    /// Median (mean of the middle two for an even count).
    pub median: f64,
    /// Smallest.
    pub min: f64,
    /// Largest.
    pub max: f64,
}

/// The LLM stage's `summary.json` (upstream's fields, in order).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvalSummary {
    /// The process stage's dataset directory.
    pub input_dataset: String,
    /// `--lang`.
    pub language: String,
    /// `--llm-model`.
    pub llm_model: String,
    /// `--reasoning-effort`.
    pub reasoning_effort: String,
    /// Rows judged (or failed).
    pub records_evaluated: usize,
    /// Rows skipped by the ignore list.
    pub ignored_count: usize,
    /// The verdicts.
    pub counts: JudgedCounts,
    /// Over the rows with a score.
    pub answer_score_stats: Option<ScoreStats>,
    /// The process stage's time, from its summary.
    pub process_time_seconds: Option<f64>,
    /// This stage's time.
    pub evaluation_time_seconds: f64,
}

/// Counts and score statistics of judged rows.
pub fn tally(rows: &[JudgedRecord]) -> (JudgedCounts, Option<ScoreStats>) {
    let count = |v: Option<i64>| rows.iter().filter(|r| r.llm_has_answer == v).count();
    let counts = JudgedCounts {
        has_answer_1: count(Some(1)),
        has_answer_0: count(Some(0)),
        failed: count(None),
    };
    let mut scores: Vec<f64> = rows.iter().filter_map(|r| r.llm_answer_score).collect();
    scores.sort_by(f64::total_cmp);
    let stats = mean(&scores).map(|m| {
        let n = scores.len();
        let median = if n % 2 == 1 {
            scores[n / 2]
        } else {
            (scores[n / 2 - 1] + scores[n / 2]) / 2.0
        };
        ScoreStats {
            mean: m,
            median,
            min: scores[0],
            max: scores[n - 1],
        }
    });
    (counts, stats)
}
