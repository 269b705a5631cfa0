//! Collator throughput in (query, passage) pairs per second.
//!
//! Workload: every row of `tests/fixtures/collator/cases_bpe.json` (English, Japanese, newline
//! separated and empty passages) in micro-batches of 4 rows, `max_length` 512, with the fixture's
//! ModernBERT-style BPE tokenizer. `scripts/fixtures/collator_bench.py` runs the same workload
//! through the Python reference of upstream's algorithm for comparison.
//!
//! ```text
//! cargo bench -p provence-datasets --bench collator
//! ```
#![allow(clippy::unwrap_used, clippy::expect_used)] // Benchmarks abort on a setup failure.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use provence_datasets::{Collator, CollatorConfig, LabelAlignment, Row};
use provence_hub::PretrainedTokenizer;

const ROWS_PER_BATCH: usize = 4;

fn workload() -> (PretrainedTokenizer, Vec<Row>) {
    let dir = provence_test_support::fixture("collator");
    let tokenizer = PretrainedTokenizer::from_pretrained(dir.join("bpe")).expect("bpe tokenizer");
    let text = std::fs::read_to_string(dir.join("cases_bpe.json")).expect("cases_bpe.json");
    let cases: Vec<serde_json::Value> = serde_json::from_str(&text).expect("fixture JSON");
    let rows = cases
        .iter()
        .flat_map(|c| c["rows"].as_array().cloned().unwrap_or_default())
        .map(|r| serde_json::from_value(r).expect("row"))
        .collect();
    (tokenizer, rows)
}

fn bench_collator(c: &mut Criterion) {
    let (tokenizer, rows) = workload();
    let mut group = c.benchmark_group("collator");
    for alignment in [LabelAlignment::V2, LabelAlignment::Offsets] {
        let config = CollatorConfig {
            max_length: 512,
            label_alignment: alignment,
        };
        let collator = Collator::new(&tokenizer, config).expect("collator");
        let pairs: usize = rows
            .chunks(ROWS_PER_BATCH)
            .map(|b| collator.collate(b).expect("collate").pairs)
            .sum();
        group.throughput(Throughput::Elements(pairs as u64));
        group.bench_function(format!("{alignment:?}"), |b| {
            b.iter(|| {
                for batch in rows.chunks(ROWS_PER_BATCH) {
                    std::hint::black_box(collator.collate(batch).expect("collate"));
                }
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench_collator);
criterion_main!(benches);
