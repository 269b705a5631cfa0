//! Load a model by Hugging Face Hub id through the shared Hub cache, then score one pair.
//!
//! [`provence_hub::HubOptions::from_env`] reads the same environment variables as Python's
//! `huggingface_hub`: the cache is `HF_HUB_CACHE`, else `$HF_HOME/hub`, else
//! `~/.cache/huggingface/hub` (Python's layout, so models Python downloaded are reused and the
//! other way round); `HF_HUB_OFFLINE=1` only reads that cache; `HF_ENDPOINT` and `HF_TOKEN` pick
//! the server and credentials. [`provence_hub::resolve_model_dir`] turns the id into a local
//! snapshot directory (downloading what is missing when online), and
//! [`provence_infer::Pruner::load`] loads it. (`Pruner::from_pretrained` does both steps in one.)
//!
//! ```text
//! cargo run -p provence-examples --example hub_model -- <HUB_ID> [QUESTION CONTEXT]
//! HF_HUB_OFFLINE=1 cargo run -p provence-examples --example hub_model -- hotchpotch/open-provence-reranker-v1
//! ```

use anyhow::{Context, Result, bail};
use provence_hub::{HubOptions, is_hub_id, resolve_model_dir};
use provence_infer::{InferenceBackend, ProcessInput, ProcessOptions, Pruner, default_device};

fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let Some(id) = args.next() else {
        bail!("usage: hub_model <HUB_ID> [QUESTION CONTEXT]");
    };
    let question = args
        .next()
        .unwrap_or_else(|| "What is the capital of France?".to_string());
    let context = args.next().unwrap_or_else(|| {
        "Paris is the capital and largest city of France. The Eiffel Tower was completed in 1889. \
         Bananas are rich in potassium."
            .to_string()
    });
    if !is_hub_id(&id) {
        bail!("{id:?} is not a Hub id (owner/name); the prune example loads local directories");
    }

    let options = HubOptions::from_env();
    println!("Hub endpoint: {}", options.endpoint);
    println!("Hub cache:    {}", options.cache_dir.display());
    println!("Offline:      {} (HF_HUB_OFFLINE)", options.offline);
    println!("Revision:     {}", options.revision);
    let dir = resolve_model_dir(&id, options).with_context(|| format!("locating {id}"))?;
    println!("Snapshot:     {}", dir.display());
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .with_context(|| format!("listing {}", dir.display()))?
        .filter_map(|entry| entry.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
        .collect();
    files.sort();
    println!("Files:        {}", files.join(", "));

    let pruner = Pruner::<InferenceBackend>::load(&dir, default_device())?;
    let config = &pruner.model().config;
    println!(
        "Model:        max_length {}, {} ranking label(s), default threshold {:?}",
        config.max_length(),
        config.num_labels,
        config.default_threshold
    );

    let input = ProcessInput::Pair {
        question: question.clone(),
        context,
    };
    let output = pruner.process(input, &ProcessOptions::default())?;
    let Some(result) = output.results.first().and_then(|docs| docs.first()) else {
        bail!("no result for the pair");
    };
    println!("\nQuestion:        {question}");
    println!(
        "Reranking score: {}",
        result.reranking_score.map_or("none".into(), |s| format!("{s:.4}"))
    );
    println!("Pruned context:  {:?}", result.pruned_context);
    println!("Compression:     {:.1}%", result.compression_rate);
    Ok(())
}
