//! `Pruner::process` throughput on the CPU (`Flex`): 32 (query, passage) pairs of the embedded
//! demo data (English test split, pre-split gold sentences as in the dataset evaluation) through
//! a random model shaped like the demo backbone (data/demo/model/config.json), one shaped like
//! the xsmall release (10 layers, H 256) and one shaped like ModernBERT-base (22 layers, H 768;
//! only the first `BASE_PAIRS` pairs, it is slow on a small CPU). Reported as pairs per second;
//! scripts/fixtures/process_bench.py times upstream's `process()` on the same inputs.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Benchmarks abort on a setup failure.

use burn::prelude::*;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use provence_datasets::{BadRowPolicy, SourceResolver};
use provence_hub::PretrainedTokenizer;
use provence_infer::{Document, ProcessInput, ProcessOptions, Pruner, Title, extract_sentences};
use provence_model::{ModernBertConfig, OpenProvenceConfig, OpenProvenceModel};
use provence_test_support::demo;
use serde_json::json;

type Cpu = burn::backend::Flex;

const PAIRS: usize = 32;
/// Pairs for the base-shaped model.
const BASE_PAIRS: usize = 8;

/// The first rows' passages as (query, pre-split passage) pairs, `count` in all.
fn demo_pairs(count: usize) -> Vec<(String, Document)> {
    let resolver = SourceResolver::local_only();
    let ds = resolver
        .resolve(&demo("dataset").to_string_lossy(), Some("en"))
        .expect("demo dataset");
    let rows = resolver
        .load_split(&ds, "test", "teacher_score", BadRowPolicy::Fail)
        .expect("demo rows")
        .rows;
    rows.iter()
        .flat_map(|r| {
            r.texts
                .iter()
                .zip(&r.context_spans)
                .map(|(t, spans)| (r.query.clone(), Document::Sentences(extract_sentences(t, spans))))
        })
        .take(count)
        .collect()
}

fn bench_model(c: &mut Criterion, name: &str, backbone: serde_json::Value, pairs: usize) {
    let device = Default::default();
    <Cpu as Backend>::seed(&device, 0);
    let bb = ModernBertConfig::from_json(backbone).expect("valid bench config");
    let model = OpenProvenceModel::<Cpu>::from_scratch(OpenProvenceConfig::new(bb, 0.0), &device).expect("model");
    let tokenizer = PretrainedTokenizer::from_pretrained(demo("model")).expect("tokenizer");
    let pruner = Pruner::new(model, tokenizer, device).expect("pruner");
    let pairs = demo_pairs(pairs);
    let options = ProcessOptions {
        title: Title::None,
        return_sentence_metrics: true,
        ..ProcessOptions::default()
    };
    let mut group = c.benchmark_group("process");
    group.throughput(Throughput::Elements(pairs.len() as u64));
    group.sample_size(10);
    group.bench_function(format!("{name}/{}pairs", pairs.len()), |b| {
        b.iter(|| {
            let input = ProcessInput::Nested {
                questions: pairs.iter().map(|(q, _)| q.clone()).collect(),
                documents: pairs.iter().map(|(_, d)| vec![d.clone()]).collect(),
            };
            pruner.process(input, &options).expect("process")
        })
    });
    group.finish();
}

fn process(c: &mut Criterion) {
    let demo: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(demo("model/config.json")).expect("config")).expect("json");
    bench_model(c, "demo", demo, PAIRS);
    bench_model(
        c,
        "xsmall_shaped",
        json!({"vocab_size": 2000, "hidden_size": 256, "intermediate_size": 384, "num_hidden_layers": 10,
               "num_attention_heads": 4, "local_attention": 128, "global_attn_every_n_layers": 3,
               "num_labels": 1, "pad_token_id": 3}),
        PAIRS,
    );
    bench_model(
        c,
        "base_shaped",
        json!({"vocab_size": 2000, "hidden_size": 768, "intermediate_size": 1152, "num_hidden_layers": 22,
               "num_attention_heads": 12, "local_attention": 128, "global_attn_every_n_layers": 3,
               "num_labels": 1, "pad_token_id": 3}),
        BASE_PAIRS,
    );
}

criterion_group!(benches, process);
criterion_main!(benches);
