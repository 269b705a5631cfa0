//! Markdown and JSON reports of a dataset evaluation in upstream's format (hotchpotch/open_provence's
//! `scripts/eval_datasets.py::build_markdown` and the JSON payload of `run`).

use crate::dataset_eval::{DatasetEvalError, DatasetOutcome, EvalDatasetsConfig, EvalSettings, evaluate_datasets};
use serde_json::{Map, Value, json};

/// What the report header names.
#[derive(Debug, Clone)]
pub struct ReportContext {
    /// ISO-8601 UTC timestamp.
    pub timestamp_utc: String,
    /// Model as given.
    pub model: String,
    /// Config path as given.
    pub config: String,
    /// The single `--threshold`, when no list was given.
    pub single_threshold: Option<f64>,
}

impl ReportContext {
    /// A context stamped with the current UTC time.
    pub fn now(model: &str, config: &str, single_threshold: Option<f64>) -> Self {
        Self {
            timestamp_utc: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            model: model.to_string(),
            config: config.to_string(),
            single_threshold,
        }
    }
}

/// Upstream's threshold label: integers as `"1"`, else Python's `f"{x:.6g}"` (plain notation).
pub fn threshold_label(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        return format!("{}", x as i64);
    }
    let magnitude = x.abs().log10().floor() as i32;
    let decimals = (5 - magnitude).max(0) as usize;
    let text = format!("{x:.decimals$}");
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}

fn fmt(value: Option<f64>, decimals: usize) -> String {
    value.map_or_else(|| "N/A".to_string(), |v| format!("{v:.decimals$}"))
}

/// Runtime per threshold: the sum over datasets.
fn threshold_runtimes(outcomes: &[DatasetOutcome], settings: &EvalSettings) -> Vec<(String, f64)> {
    settings
        .thresholds
        .iter()
        .enumerate()
        .map(|(t, &x)| {
            let total = outcomes
                .iter()
                .filter_map(|o| o.results.get(t))
                .map(|r| r.process_time_seconds)
                .sum();
            (threshold_label(x), total)
        })
        .collect()
}

/// The Markdown report; with `timing_details` a per-stage timing table follows each threshold,
/// and an nDCG@10 / MRR table (extension) follows each threshold table.
pub fn markdown(
    ctx: &ReportContext,
    settings: &EvalSettings,
    outcomes: &[DatasetOutcome],
    timing_details: bool,
) -> String {
    let runtimes = threshold_runtimes(outcomes, settings);
    let mut md = markdown_header(ctx, settings, outcomes, &runtimes);
    for (t, (label, _)) in runtimes.iter().enumerate() {
        md.push_str(&format!("\n### Threshold {label}\n\n"));
        md.push_str(&metrics_table(outcomes, t));
        md.push_str(&ranking_table(outcomes, t));
        if timing_details {
            md.push_str(&timing_table(outcomes, t));
        }
    }
    md
}

/// The bullet list: run context, settings, datasets and runtimes per threshold.
fn markdown_header(
    ctx: &ReportContext,
    settings: &EvalSettings,
    outcomes: &[DatasetOutcome],
    runtimes: &[(String, f64)],
) -> String {
    let total: f64 = runtimes.iter().map(|(_, s)| s).sum();
    let mut md = String::new();
    md.push_str(&format!("* Timestamp (UTC): {}\n", ctx.timestamp_utc));
    md.push_str(&format!("* Model: `{}`\n", ctx.model));
    md.push_str(&format!("* Config: `{}`\n", ctx.config));
    md.push_str(&format!("* Batch size: {}\n", settings.batch_size));
    md.push_str(&format!("* Total process time (s): {total:.2}\n"));
    md.push_str("* Primary metric: F2 score (β=2).\n");
    let labels: Vec<&str> = runtimes.iter().map(|(l, _)| l.as_str()).collect();
    md.push_str(&format!("* Thresholds: {}\n", labels.join(", ")));
    if let Some(split) = &settings.split {
        md.push_str(&format!("* Split override: {split}\n"));
    }
    if let Some(limit) = settings.limit {
        md.push_str(&format!("* CLI limit: {limit}\n"));
    }
    md.push_str("* Evaluated datasets:\n");
    for o in outcomes {
        md.push_str(&format!(
            "  - {} (split={}, n_samples={})\n",
            o.key, o.split, o.n_samples
        ));
    }
    let runtime_text: Vec<String> = runtimes.iter().map(|(l, s)| format!("{l}: {s:.2}")).collect();
    md.push_str(&format!("* Threshold runtimes (s): {}\n", runtime_text.join(", ")));
    md
}

/// The pruning metrics of threshold `t`, one row per dataset.
fn metrics_table(outcomes: &[DatasetOutcome], t: usize) -> String {
    let mut md = String::new();
    md.push_str("| Dataset | F2 Score | Recall | Precision | FN | TP | FP | TN | Mean Compression (%) | Span Accuracy | Total Spans | Contexts |\n");
    md.push_str("|---|---|---|---|---|---|---|---|---|---|---|---|\n");
    for o in outcomes {
        let Some(r) = o.results.get(t) else { continue };
        let m = &r.metrics;
        let c = m.confusion_matrix;
        md.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
            o.key,
            fmt(m.f2, 4),
            fmt(m.recall, 4),
            fmt(m.precision, 4),
            c.fn_,
            c.tp,
            c.fp,
            c.tn,
            fmt(m.mean_compression, 2),
            fmt(m.span_accuracy, 4),
            m.span_total,
            m.contexts
        ));
    }
    md
}

/// Reranking quality (threshold-independent, repeated under each threshold), one row per dataset.
fn ranking_table(outcomes: &[DatasetOutcome], t: usize) -> String {
    let mut md = String::new();
    md.push_str("\nReranking (extension, model score vs labels, threshold-independent):\n\n");
    md.push_str("| Dataset | nDCG@10 | MRR | Queries |\n|---|---|---|---|\n");
    for o in outcomes {
        let Some(r) = o.results.get(t) else { continue };
        let k = r.ranking;
        md.push_str(&format!(
            "| {} | {} | {} | {} |\n",
            o.key,
            fmt(k.ndcg_at_10, 4),
            fmt(k.mrr, 4),
            k.queries
        ));
    }
    md
}

/// Per-stage timings of threshold `t`, one row per dataset.
fn timing_table(outcomes: &[DatasetOutcome], t: usize) -> String {
    let mut md = String::new();
    md.push_str(
        "\n| Dataset | Load (s) | Preprocess (s) | Assembly (s) | Inference (s) | Postprocess (s) | Total (s) |\n",
    );
    md.push_str("|---|---|---|---|---|---|---|\n");
    for o in outcomes {
        let Some(r) = o.results.get(t) else { continue };
        let s = |k: &str| fmt(r.timing.get(k).and_then(Value::as_f64), 3);
        md.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} |\n",
            o.key,
            s("load_seconds"),
            s("preprocess_seconds"),
            s("assembly_seconds"),
            s("inference_seconds"),
            s("postprocess_seconds"),
            s("total_seconds")
        ));
    }
    md
}

/// The JSON report (`args` + `results[threshold label][dataset key]`).
pub fn json_report(ctx: &ReportContext, settings: &EvalSettings, outcomes: &[DatasetOutcome]) -> Value {
    let runtimes = threshold_runtimes(outcomes, settings);
    let total: f64 = runtimes.iter().map(|(_, s)| s).sum();
    let mut results = Map::new();
    for (t, (label, _)) in runtimes.iter().enumerate() {
        let mut per_dataset = Map::new();
        for o in outcomes {
            if let Some(r) = o.results.get(t) {
                per_dataset.insert(o.key.clone(), serde_json::to_value(r).unwrap_or(Value::Null));
            }
        }
        results.insert(label.clone(), Value::Object(per_dataset));
    }
    json!({
        "args": {
            "timestamp_utc": ctx.timestamp_utc,
            "model": ctx.model,
            "config": ctx.config,
            "threshold": ctx.single_threshold,
            "thresholds": settings.thresholds,
            "batch_size": settings.batch_size,
            "split_override": settings.split,
            "limit_override": settings.limit,
            "datasets": outcomes.iter().map(|o| json!({"key": o.key, "split": o.split, "n_samples": o.n_samples})).collect::<Vec<_>>(),
            "total_process_time_seconds": total,
            "per_threshold_process_time_seconds": runtimes.into_iter().map(|(l, s)| (l, json!(s))).collect::<Map<_, _>>(),
        },
        "results": results,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn threshold_labels_match_python_g6() {
        assert_eq!(threshold_label(1.0), "1");
        assert_eq!(threshold_label(0.1), "0.1");
        assert_eq!(threshold_label(0.05), "0.05");
        assert_eq!(threshold_label(0.3), "0.3");
        assert_eq!(threshold_label(0.1234567), "0.123457");
        assert_eq!(threshold_label(0.5), "0.5");
    }
}

/// Both renderings of one evaluation run.
#[derive(Debug, Clone)]
pub struct EvalReport {
    /// The Markdown tables (upstream's `results.md`).
    pub markdown: String,
    /// The JSON report (upstream's `results.json`).
    pub json: Value,
}

/// Evaluates `pruner` on the eval-datasets config (loaded from `config`; datasets resolved
/// through the environment's Hub settings) and renders the Markdown and JSON reports, labelled
/// with `model` and `config`.
pub fn evaluate_and_report<B: provence_model::ModelBackend>(
    pruner: &provence_infer::Pruner<B>,
    model: &str,
    datasets: &EvalDatasetsConfig,
    config: &std::path::Path,
    settings: &EvalSettings,
    timing_details: bool,
    single_threshold: Option<f64>,
) -> Result<EvalReport, DatasetEvalError> {
    let resolver = provence_datasets::SourceResolver::from_env()?;
    let outcomes = evaluate_datasets(pruner, datasets, settings, &resolver)?;
    let ctx = ReportContext::now(model, &config.display().to_string(), single_threshold);
    Ok(EvalReport {
        markdown: markdown(&ctx, settings, &outcomes, timing_details),
        json: json_report(&ctx, settings, &outcomes),
    })
}
