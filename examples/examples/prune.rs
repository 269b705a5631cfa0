//! Prune contexts from your own program with [`provence_infer::Pruner`].
//!
//! Loads a trained reranker–pruner (a local model directory such as a run's `final_model/`, or a
//! Hugging Face Hub id, fetched into or read from the shared Hub cache) and shows three uses:
//!
//! 1. one (question, context) pair with [`Pruner::process`]: the pruned text, the reranking score,
//!    the compression rate, and which sentences were kept or removed;
//! 2. one question with several documents, reordered by score and cut to the best two;
//! 3. [`Pruner::score`] once, then [`ScoredBatch::finish`] at several thresholds without running
//!    the model again, reading the per-sentence keep probabilities.
//!
//! ```text
//! cargo run -p provence-examples --example prune -- <MODEL_DIR or HUB_ID> [THRESHOLD]
//! ```
//!
//! e.g. with the model the `train` example wrote, or `hotchpotch/open-provence-reranker-v1`.
//! `THRESHOLD` (in [0, 1]) defaults to the model config's `default_threshold`, else 0.1.

use anyhow::{Context, Result, bail};
use provence_infer::ScoredBatch;
use provence_infer::{Document, InferenceBackend, ProcessInput, ProcessOptions, Pruner, Title, default_device};

const QUESTION: &str = "How tall is Mount Fuji?";

const CONTEXT: &str = "Mount Fuji is the highest mountain in Japan. It stands 3,776 metres above sea level. \
    The mountain is an active volcano that last erupted in 1707. \
    Many visitors climb it during the summer season.";

/// Documents for one question: relevant, partly relevant (Japanese), and unrelated.
fn documents() -> Vec<Document> {
    vec![
        Document::Text("Tokyo is the capital of Japan. It has a population of about 14 million people.".into()),
        Document::Text("富士山は日本一高い山です。標高は3776メートルです。山梨県と静岡県にまたがっています。".into()),
        Document::Text(CONTEXT.into()),
    ]
}

fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let Some(model) = args.next() else {
        bail!("usage: prune <MODEL_DIR or HUB_ID> [THRESHOLD]");
    };
    let threshold = args
        .next()
        .map(|t| {
            t.parse::<f64>()
                .with_context(|| format!("THRESHOLD {t:?} is not a number"))
        })
        .transpose()?;

    // A local directory is loaded as is; anything shaped like `owner/name` goes through the Hub
    // cache (HF_HOME, HF_HUB_CACHE, HF_HUB_OFFLINE, HF_TOKEN are honoured).
    let pruner = Pruner::<InferenceBackend>::from_pretrained(&model, default_device())
        .with_context(|| format!("loading {model}"))?;
    let options = ProcessOptions {
        threshold,
        return_sentence_texts: true,
        ..ProcessOptions::default()
    };
    println!("Model: {model}  threshold: {}", pruner.resolve_threshold(threshold)?);

    prune_pair(&pruner, &options)?;
    rank_documents(&pruner, &options)?;
    sweep_thresholds(&pruner)?;
    Ok(())
}

/// One pair: the pruned context, its score and which sentences survived.
fn prune_pair(pruner: &Pruner<InferenceBackend>, options: &ProcessOptions) -> Result<()> {
    let input = ProcessInput::Pair {
        question: QUESTION.into(),
        context: CONTEXT.into(),
    };
    let output = pruner.process(input, options)?;
    // Results are per question, then per document: a pair has exactly one of each.
    let Some(result) = output.results.first().and_then(|docs| docs.first()) else {
        bail!("no result for the pair");
    };
    println!("\n== One pair\nQuestion: {QUESTION}");
    println!("Pruned context: {:?}", result.pruned_context);
    println!(
        "Reranking score: {}  compression: {:.1}%  ({:.3}s)",
        result.reranking_score.map_or("none".into(), |s| format!("{s:.4}")),
        result.compression_rate,
        output.timing.total_seconds
    );
    for sentence in result.kept_sentences.iter().flatten() {
        println!("  kept:    {sentence:?}");
    }
    for sentence in result.removed_sentences.iter().flatten() {
        println!("  removed: {sentence:?}");
    }
    Ok(())
}

/// One question, several documents: reordered by reranking score, best two kept.
fn rank_documents(pruner: &Pruner<InferenceBackend>, options: &ProcessOptions) -> Result<()> {
    let options = ProcessOptions {
        reorder: true,
        top_k: Some(2),
        ..options.clone()
    };
    let input = ProcessInput::Documents {
        question: QUESTION.into(),
        documents: documents(),
    };
    let output = pruner.process(input, &options)?;
    println!("\n== Top 2 of {} documents", documents().len());
    for (rank, result) in output.results.iter().flatten().enumerate() {
        let score = result.reranking_score.unwrap_or(0.0);
        println!("{}. score {score:.4}  pruned: {:?}", rank + 1, result.pruned_context);
    }
    // The upstream-shaped JSON (`pruned_context`, `reranking_score`, ... as lists) is one call away.
    println!("as JSON: {}", output.to_json()["reranking_score"]);
    Ok(())
}

/// Runs the model once, then applies several thresholds to the same scores.
fn sweep_thresholds(pruner: &Pruner<InferenceBackend>) -> Result<()> {
    let options = ProcessOptions {
        title: Title::None,
        ..ProcessOptions::default()
    };
    let input = ProcessInput::Documents {
        question: QUESTION.into(),
        documents: vec![Document::Text(CONTEXT.into())],
    };
    let scored: ScoredBatch = pruner.score(input, &options)?;
    println!("\n== Keep probability per sentence");
    for document in scored.documents.iter().flatten() {
        for (sentence, p) in document.sentences.iter().zip(&document.sentence_probabilities) {
            println!("  {p:.3}  {sentence:?}");
        }
    }
    for threshold in [0.05, 0.1, 0.3, 0.5, 0.9] {
        let output = scored.finish(threshold, &options);
        if let Some(result) = output.results.first().and_then(|docs| docs.first()) {
            println!(
                "threshold {threshold:<4}  compression {:5.1}%  pruned: {:?}",
                result.compression_rate, result.pruned_context
            );
        }
    }
    Ok(())
}
