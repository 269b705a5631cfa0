//! Upstream's `scripts/eval_datasets.py` (hotchpotch/open_provence; `evaluate_dataset` and `run`):
//! span-level pruning metrics per dataset and threshold. The model runs once per dataset;
//! thresholds are applied afterwards (upstream re-runs `process()` per threshold, but thresholds
//! only affect post-processing, so the outputs are identical). Extension: nDCG@10 and MRR of
//! `reranking_score` against row labels.

use crate::metrics::{DatasetMetrics, MetricsAccumulator, PassageOutcome};
use provence_config::yaml::{Located, Node, parse_document};
use provence_config::{FieldError, FieldValue};
use provence_datasets::{BadRowPolicy, DatasetError, Row, SourceResolver};
use provence_infer::{Document, ProcessInput, ProcessOptions, PruneError, Pruner, Timing, Title, extract_sentences};
use provence_model::ModelBackend;
use serde::Serialize;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Errors of the dataset evaluation.
#[derive(Debug, thiserror::Error)]
pub enum DatasetEvalError {
    /// The config file could not be read.
    #[error("reading {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The config is not valid YAML or does not follow the schema.
    #[error("{}{}: {key}: {message}", path.display(), if *line > 0 { format!(":{line}") } else { String::new() })]
    Config {
        /// The file.
        path: PathBuf,
        /// 1-based line of the offending value (0 when unknown).
        line: u64,
        /// Key path of the offending value (`datasets[1].n_samples`).
        key: String,
        /// What is wrong.
        message: String,
    },
    /// `--target` names no dataset of the config.
    #[error("unknown target {target:?}; datasets of the config: {available}")]
    UnknownTarget {
        /// The key given.
        target: String,
        /// The keys there are.
        available: String,
    },
    /// A dataset could not be loaded.
    #[error(transparent)]
    Dataset(#[from] DatasetError),
    /// Pruning failed.
    #[error(transparent)]
    Prune(#[from] PruneError),
}

/// One `datasets:` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatasetEntry {
    /// HF id or local path.
    pub dataset_name: String,
    /// HF config name.
    pub subset: Option<String>,
    /// Per-dataset split override.
    pub split: Option<String>,
    /// First N rows only.
    pub n_samples: Option<usize>,
}

impl DatasetEntry {
    /// `"{dataset_name}:{subset or split}"`.
    pub fn key(&self, split: &str) -> String {
        format!("{}:{}", self.dataset_name, self.subset.as_deref().unwrap_or(split))
    }
}

/// An eval-datasets YAML (`split`, `datasets`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvalDatasetsConfig {
    /// Global split (default `"test"`).
    pub split: String,
    /// The datasets, in order.
    pub datasets: Vec<DatasetEntry>,
}

impl EvalDatasetsConfig {
    /// Reads and checks a config file.
    pub fn from_file(path: &Path) -> Result<Self, DatasetEvalError> {
        let text = std::fs::read_to_string(path).map_err(|source| DatasetEvalError::Io {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(&text).map_err(|e| DatasetEvalError::Config {
            path: path.to_owned(),
            line: e.line,
            key: e.sub_key,
            message: e.message,
        })
    }

    /// Parses config text with the recipes' located-YAML reader: an error names the key path
    /// (`datasets[1].n_samples`) and its line.
    pub fn parse(text: &str) -> Result<Self, FieldError> {
        let root = parse_document(text).map_err(|e| FieldError {
            sub_key: String::new(),
            line: 0,
            column: 0,
            message: format!("invalid YAML: {e}"),
        })?;
        let Some(entries) = root.as_map() else {
            return Err(FieldError::at(
                &root,
                format!("expected a mapping with `datasets`, got {}", root.describe()),
            ));
        };
        let (mut split, mut datasets) = (None, None);
        for (key, value) in entries {
            match key.as_key().as_deref() {
                Some("split") => split = Option::<String>::from_node(value).map_err(|e| e.within("split"))?,
                Some("datasets") => datasets = Some(parse_entries(value)?),
                other => tracing::warn!("eval datasets config line {}: key {other:?} ignored", key.line),
            }
        }
        let datasets = datasets.ok_or_else(|| FieldError::at(&root, "`datasets` is required").within("datasets"))?;
        Ok(Self {
            split: split.unwrap_or_else(|| "test".to_owned()),
            datasets,
        })
    }
}

/// The `datasets` list: a non-empty sequence of names or mappings.
fn parse_entries(list: &Located) -> Result<Vec<DatasetEntry>, FieldError> {
    let items = match &list.node {
        Node::Seq(items) if !items.is_empty() => items,
        _ => {
            let message = format!("expected a non-empty list, got {}", list.describe());
            return Err(FieldError::at(list, message).within("datasets"));
        }
    };
    items
        .iter()
        .enumerate()
        .map(|(i, item)| parse_entry(item).map_err(|e| e.within(&format!("datasets[{i}]"))))
        .collect()
}

/// One entry: a dataset name, or a mapping with `dataset_name` and optional `subset`, `split`,
/// `n_samples`.
fn parse_entry(item: &Located) -> Result<DatasetEntry, FieldError> {
    if let Node::Str(name) = &item.node {
        return Ok(DatasetEntry {
            dataset_name: name.clone(),
            subset: None,
            split: None,
            n_samples: None,
        });
    }
    let Some(fields) = item.as_map() else {
        return Err(FieldError::at(
            item,
            format!("expected a name or a mapping, got {}", item.describe()),
        ));
    };
    let mut entry = DatasetEntry {
        dataset_name: String::new(),
        subset: None,
        split: None,
        n_samples: None,
    };
    let mut named = false;
    for (key, value) in fields {
        let name = key.as_key().unwrap_or_default();
        let at = |e: FieldError| e.within(&format!(".{name}"));
        match name.as_str() {
            "dataset_name" => (entry.dataset_name, named) = (String::from_node(value).map_err(at)?, true),
            "subset" => entry.subset = Option::from_node(value).map_err(at)?,
            "split" => entry.split = Option::from_node(value).map_err(at)?,
            "n_samples" => entry.n_samples = Option::from_node(value).map_err(at)?,
            other => tracing::warn!("eval datasets config line {}: key {other:?} ignored", key.line),
        }
    }
    if !named {
        return Err(FieldError::at(item, "`dataset_name` is required").within(".dataset_name"));
    }
    Ok(entry)
}

/// Settings of one evaluation run (the CLI flags).
#[derive(Debug, Clone)]
pub struct EvalSettings {
    /// Thresholds, in order, de-duplicated.
    pub thresholds: Vec<f64>,
    /// At most this many blocks per forward pass.
    pub batch_size: usize,
    /// At most this many padded tokens per forward pass (see [`ProcessOptions::max_batch_tokens`]).
    pub max_batch_tokens: usize,
    /// Split override for entries without their own split.
    pub split: Option<String>,
    /// First N rows per dataset.
    pub limit: Option<usize>,
    /// Only dataset keys equal to or containing one of these (empty: all).
    pub targets: Vec<String>,
    /// Progress bars over each dataset's forward batches (stderr, terminals only).
    pub progress: bool,
}

/// nDCG@10 and MRR of the model's ranking score against the rows' binary labels (extension).
/// The raw score is used (not the one zeroed for empty pruned texts, which would make the
/// metric depend on the threshold and on input order); ties rank positives last; rows without
/// labels or without a positive are skipped.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct RankingMetrics {
    /// Mean nDCG@10.
    pub ndcg_at_10: Option<f64>,
    /// Mean reciprocal rank of the first positive.
    pub mrr: Option<f64>,
    /// Rows that counted.
    pub queries: u64,
}

/// Results of one dataset at one threshold.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ThresholdResult {
    /// Upstream's metrics.
    #[serde(flatten)]
    pub metrics: DatasetMetrics,
    /// Model time (shared by all thresholds) plus this threshold's post-processing.
    pub process_time_seconds: f64,
    /// Stage timings (`preprocess`, `assembly`, `inference`, `postprocess`, `total`, `load`).
    pub timing: Value,
    /// Extension: ranking quality of the model score (threshold-independent).
    pub ranking: RankingMetrics,
}

/// One evaluated dataset.
#[derive(Debug, Clone, PartialEq)]
pub struct DatasetOutcome {
    /// `"{dataset_name}:{subset or split}"`.
    pub key: String,
    /// Split used.
    pub split: String,
    /// Rows evaluated.
    pub n_samples: usize,
    /// Per threshold (same order as [`EvalSettings::thresholds`]).
    pub results: Vec<ThresholdResult>,
}

/// The datasets selected by `targets` (all when empty) as (entry, key, split); a target
/// matching no key is an error listing the keys.
pub fn select_datasets(
    config: &EvalDatasetsConfig,
    settings: &EvalSettings,
) -> Result<Vec<(DatasetEntry, String, String)>, DatasetEvalError> {
    let all: Vec<(DatasetEntry, String, String)> = config
        .datasets
        .iter()
        .map(|e| {
            let split = e
                .split
                .clone()
                .or_else(|| settings.split.clone())
                .unwrap_or_else(|| config.split.clone());
            (e.clone(), e.key(&split), split)
        })
        .collect();
    if settings.targets.is_empty() {
        return Ok(all);
    }
    let matches = |key: &str| settings.targets.iter().any(|t| key.contains(t.as_str()));
    for target in &settings.targets {
        if !all.iter().any(|(_, key, _)| key.contains(target.as_str())) {
            return Err(DatasetEvalError::UnknownTarget {
                target: target.clone(),
                available: all.iter().map(|(_, k, _)| k.as_str()).collect::<Vec<_>>().join(", "),
            });
        }
    }
    Ok(all.into_iter().filter(|(_, key, _)| matches(key)).collect())
}

/// Evaluates every selected dataset of `config` with `pruner` (one model run per dataset).
pub fn evaluate_datasets<B: ModelBackend>(
    pruner: &Pruner<B>,
    config: &EvalDatasetsConfig,
    settings: &EvalSettings,
    resolver: &SourceResolver,
) -> Result<Vec<DatasetOutcome>, DatasetEvalError> {
    for &threshold in &settings.thresholds {
        provence_config::check_threshold(threshold).map_err(|message| PruneError::Threshold {
            origin: "threshold",
            message,
        })?;
    }
    let mut outcomes = Vec::new();
    for (entry, key, split) in select_datasets(config, settings)? {
        let start = Instant::now();
        let resolved = resolver.resolve(&entry.dataset_name, entry.subset.as_deref())?;
        let data = resolver.load_split(&resolved, &split, "teacher_score", BadRowPolicy::Fail)?;
        let take = entry
            .n_samples
            .unwrap_or(usize::MAX)
            .min(settings.limit.unwrap_or(usize::MAX));
        let rows: Vec<Row> = data.rows.into_iter().take(take).collect();
        let load_seconds = start.elapsed().as_secs_f64();
        tracing::info!(dataset = %key, rows = rows.len(), "evaluating");
        let results = evaluate_rows(pruner, &rows, settings, load_seconds)?;
        outcomes.push(DatasetOutcome {
            key,
            split,
            n_samples: rows.len(),
            results,
        });
    }
    Ok(outcomes)
}

/// Scores `rows` once (pre-split gold sentences, `title=None`, sentence metrics on) and applies
/// every threshold of `settings`.
pub fn evaluate_rows<B: ModelBackend>(
    pruner: &Pruner<B>,
    rows: &[Row],
    settings: &EvalSettings,
    load_seconds: f64,
) -> Result<Vec<ThresholdResult>, DatasetEvalError> {
    let sentences: Vec<Vec<Vec<String>>> = rows
        .iter()
        .map(|row| {
            row.texts
                .iter()
                .enumerate()
                .map(|(i, text)| extract_sentences(text, row.context_spans.get(i).map_or(&[][..], Vec::as_slice)))
                .collect()
        })
        .collect();
    let options = ProcessOptions {
        title: Title::None,
        batch_size: settings.batch_size,
        max_batch_tokens: settings.max_batch_tokens,
        return_sentence_metrics: true,
        progress: settings.progress,
        ..ProcessOptions::default()
    };
    let input = ProcessInput::Nested {
        questions: rows.iter().map(|r| r.query.clone()).collect(),
        documents: sentences
            .iter()
            .map(|docs| docs.iter().map(|s| Document::Sentences(s.clone())).collect())
            .collect(),
    };
    let scored = pruner.score(input, &options)?;
    let mut ranking = RankingAccumulator::default();
    for (row, docs) in rows.iter().zip(&scored.documents) {
        if let Some(labels) = &row.labels {
            let scores: Vec<Option<f64>> = docs.iter().map(|d| d.block_score).collect();
            ranking.add(&scores, labels);
        }
    }
    let ranking = ranking.finish();
    settings
        .thresholds
        .iter()
        .map(|&threshold| {
            let start = Instant::now();
            let output = scored.finish(threshold, &options);
            let mut accumulator = MetricsAccumulator::new();
            for ((row, docs), results) in rows.iter().zip(&sentences).zip(&output.results) {
                for (i, (gold, result)) in docs.iter().zip(results).enumerate() {
                    let span_count = row.context_spans.get(i).map_or(0, Vec::len);
                    accumulator.add(&PassageOutcome::score(
                        gold,
                        span_count,
                        row.context_spans_relevance.get(i).map(Vec::as_slice),
                        &result.pruned_context,
                        Some(result.compression_rate),
                        result.sentence_probabilities.clone().unwrap_or_default(),
                    ));
                }
            }
            let post = start.elapsed().as_secs_f64();
            let timing = Timing {
                postprocess_seconds: scored.timing.postprocess_seconds + post,
                total_seconds: scored.timing.total_seconds + post,
                ..scored.timing.clone()
            };
            let mut timing_json = timing.to_json();
            timing_json["load_seconds"] = load_seconds.into();
            Ok(ThresholdResult {
                metrics: accumulator.finish(),
                process_time_seconds: timing.total_seconds,
                timing: timing_json,
                ranking,
            })
        })
        .collect()
}

/// Sums per-query nDCG@10 and reciprocal ranks.
#[derive(Debug, Default)]
struct RankingAccumulator {
    ndcg: f64,
    rr: f64,
    queries: u64,
}

impl RankingAccumulator {
    /// Adds one query: passages ranked by score (`None` last, ties broken against positives).
    fn add(&mut self, scores: &[Option<f64>], labels: &[i64]) {
        let relevant: Vec<bool> = labels.iter().map(|&l| l > 0).collect();
        let positives = relevant.iter().filter(|&&r| r).count();
        if positives == 0 || relevant.len() != scores.len() {
            return;
        }
        let mut order: Vec<usize> = (0..scores.len()).collect();
        order.sort_by(|&a, &b| {
            let key = |i: usize| scores[i].unwrap_or(f64::NEG_INFINITY);
            key(b).total_cmp(&key(a)).then(relevant[a].cmp(&relevant[b]))
        });
        let gain = |rank: usize| 1.0 / (rank as f64 + 2.0).log2();
        let dcg: f64 = order
            .iter()
            .take(10)
            .enumerate()
            .filter(|(_, i)| relevant[**i])
            .map(|(r, _)| gain(r))
            .sum();
        let ideal: f64 = (0..positives.min(10)).map(gain).sum();
        self.ndcg += dcg / ideal;
        if let Some(rank) = order.iter().position(|&i| relevant[i]) {
            self.rr += 1.0 / (rank as f64 + 1.0);
        }
        self.queries += 1;
    }

    fn finish(&self) -> RankingMetrics {
        let n = self.queries as f64;
        RankingMetrics {
            ndcg_at_10: (self.queries > 0).then(|| self.ndcg / n),
            mrr: (self.queries > 0).then(|| self.rr / n),
            queries: self.queries,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_accepts_both_entry_forms_and_names_bad_keys() {
        let c = EvalDatasetsConfig::parse(
            "datasets:\n  - owner/a\n  - dataset_name: owner/b\n    subset: s1\n    split: dev\n    n_samples: 5\n",
        )
        .unwrap();
        assert_eq!(c.split, "test");
        assert_eq!(c.datasets[0].key("test"), "owner/a:test");
        assert_eq!(c.datasets[1].key("test"), "owner/b:s1");
        assert_eq!(
            (c.datasets[1].split.as_deref(), c.datasets[1].n_samples),
            (Some("dev"), Some(5))
        );
        let err = EvalDatasetsConfig::parse("datasets:\n  - subset: x\n").unwrap_err();
        assert_eq!(
            (err.sub_key.as_str(), err.line),
            ("datasets[0].dataset_name", 2),
            "{err:?}"
        );
        let err = EvalDatasetsConfig::parse("datasets:\n  - a\n  - dataset_name: b\n    n_samples: -3\n").unwrap_err();
        assert_eq!(
            (err.sub_key.as_str(), err.line),
            ("datasets[1].n_samples", 4),
            "{err:?}"
        );
        assert!(EvalDatasetsConfig::parse("split: test\n").is_err());
    }

    #[test]
    fn split_resolution_and_targets() {
        let c = EvalDatasetsConfig::parse("split: validation\ndatasets:\n  - a\n  - dataset_name: b\n    split: dev\n")
            .unwrap();
        let mut s = EvalSettings {
            thresholds: vec![0.1],
            batch_size: 8,
            max_batch_tokens: 1024,
            split: Some("train".into()),
            limit: None,
            targets: vec![],
            progress: false,
        };
        let sel = select_datasets(&c, &s).unwrap();
        assert_eq!((sel[0].1.as_str(), sel[1].2.as_str()), ("a:train", "dev"));
        s.targets = vec!["b:dev".into()];
        assert_eq!(select_datasets(&c, &s).unwrap().len(), 1);
        s.targets = vec![":train".into()];
        assert_eq!(select_datasets(&c, &s).unwrap()[0].1, "a:train");
        s.targets = vec!["nope".into()];
        let err = select_datasets(&c, &s).unwrap_err().to_string();
        assert!(err.contains("a:train, b:dev"), "{err}");
    }

    #[test]
    fn ranking_metrics_by_hand() {
        let mut acc = RankingAccumulator::default();
        // Positive ranked second of three: RR 1/2, nDCG = (1/log2 3) / 1.
        acc.add(&[Some(0.9), Some(0.5), None], &[0, 1, 0]);
        acc.add(&[Some(0.1)], &[0]);
        // A tie does not favour the positive: it ranks after the negative.
        acc.add(&[Some(0.0), Some(0.0)], &[1, 0]);
        let m = acc.finish();
        assert_eq!(m.queries, 2);
        assert!((m.mrr.unwrap() - 0.5).abs() < 1e-12);
        let ndcg = (1.0 / 3f64.log2() + 1.0 / 3f64.log2()) / 2.0;
        assert!((m.ndcg_at_10.unwrap() - ndcg).abs() < 1e-12);
    }
}
