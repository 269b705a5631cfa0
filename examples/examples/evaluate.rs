//! Evaluate a model on context-relevance datasets and read the metrics from your code.
//!
//! Runs the same dataset evaluation as `open_provence_eval datasets` (upstream's
//! `scripts/eval_datasets.py`) through [`provence_eval::evaluate_datasets`]: the model scores each
//! dataset once and every threshold is applied afterwards. The example then reads the returned
//! structures (F2, recall, precision, compression, confusion counts, nDCG@10 / MRR per dataset and
//! threshold), picks the best threshold per dataset by F2, and finally renders the same Markdown
//! report the CLI prints.
//!
//! Run it from the repository root (the demo config's dataset paths are relative to it):
//!
//! ```text
//! cargo run -p provence-examples --example evaluate -- <MODEL_DIR or HUB_ID> [EVAL_CONFIG]
//! ```
//!
//! `EVAL_CONFIG` defaults to `configs/eval_datasets/demo.yaml` (the test splits of the demo data
//! under `data/demo/`, no network); the model can be the `final_model/` the `train` example wrote.

use anyhow::{Context, Result, bail};
use provence_datasets::SourceResolver;
use provence_eval::DatasetOutcome;
use provence_eval::{EvalDatasetsConfig, EvalSettings};
use provence_eval::{ReportContext, markdown};
use provence_infer::{DEFAULT_MAX_BATCH_TOKENS, InferenceBackend, Pruner, default_device};
use std::path::PathBuf;

/// The demo's eval-datasets config, relative to the repository root.
const DEMO_CONFIG: &str = "configs/eval_datasets/demo.yaml";

fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let Some(model) = args.next() else {
        bail!("usage: evaluate <MODEL_DIR or HUB_ID> [EVAL_CONFIG]");
    };
    let config_path = PathBuf::from(args.next().unwrap_or_else(|| DEMO_CONFIG.to_string()));
    let config = EvalDatasetsConfig::from_file(&config_path)
        .context("run this example from the repository root, or pass an eval config")?;
    let settings = EvalSettings {
        thresholds: vec![0.05, 0.1, 0.3, 0.5],
        batch_size: 64,
        max_batch_tokens: DEFAULT_MAX_BATCH_TOKENS,
        // `Some(split)` overrides the config's split; `Some(n)` evaluates the first n rows only.
        split: None,
        limit: None,
        // Only datasets whose key (`name:subset`) contains one of these; empty means all.
        targets: Vec::new(),
        progress: false,
    };

    let pruner = Pruner::<InferenceBackend>::from_pretrained(&model, default_device())
        .with_context(|| format!("loading {model}"))?;
    // Datasets are local directories or Hub ids (read through the shared Hub cache).
    let resolver = SourceResolver::from_env()?;
    let outcomes = provence_eval::evaluate_datasets(&pruner, &config, &settings, &resolver)?;

    for outcome in &outcomes {
        print_outcome(outcome, &settings);
    }
    let context = ReportContext::now(&model, &config_path.display().to_string(), None);
    println!("\n== The CLI's Markdown report of the same results\n");
    print!("{}", markdown(&context, &settings, &outcomes, false));
    Ok(())
}

/// One dataset: metrics per threshold and the threshold with the best F2.
fn print_outcome(outcome: &DatasetOutcome, settings: &EvalSettings) {
    println!(
        "\n== {} (split {}, {} rows)",
        outcome.key, outcome.split, outcome.n_samples
    );
    let show = |v: Option<f64>| v.map_or_else(|| "n/a".to_string(), |v| format!("{v:.4}"));
    // `results` lines up with `settings.thresholds`.
    for (threshold, result) in settings.thresholds.iter().zip(&outcome.results) {
        let m = &result.metrics;
        let c = m.confusion_matrix;
        println!(
            "threshold {threshold:<4}  F2 {}  recall {}  precision {}  compression {:>6}%  TP {} FP {} FN {} TN {}",
            show(m.f2),
            show(m.recall),
            show(m.precision),
            m.mean_compression
                .map_or_else(|| "n/a".to_string(), |v| format!("{v:.2}")),
            c.tp,
            c.fp,
            c.fn_,
            c.tn
        );
    }
    // Ranking metrics do not depend on the threshold: any result carries them.
    if let Some(result) = outcome.results.first() {
        let r = result.ranking;
        println!(
            "ranking: nDCG@10 {}  MRR {}  over {} queries  (model time {:.2}s)",
            show(r.ndcg_at_10),
            show(r.mrr),
            r.queries,
            result.process_time_seconds
        );
    }
    // Ties go to the higher threshold (more compression for the same F2).
    let best = settings
        .thresholds
        .iter()
        .zip(&outcome.results)
        .filter_map(|(t, r)| r.metrics.f2.map(|f2| (*t, f2)))
        .max_by(|a, b| a.1.total_cmp(&b.1));
    match best {
        Some((threshold, f2)) => println!("best threshold by F2: {threshold} (F2 {f2:.4})"),
        None => println!("no threshold has an F2 (no relevant spans?)"),
    }
}
