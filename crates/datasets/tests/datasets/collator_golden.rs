//! Golden collation fixtures made by `scripts/fixtures/collator_fixtures.py` (upstream's v2
//! algorithm written in Python on top of Python `tokenizers`): input ids, attention masks,
//! pruning labels, ranking targets and indices must be identical, for a ModernBERT-style BPE and
//! an XLM-R-style Unigram/Metaspace tokenizer, over English, Japanese (no spaces), newline
//! separated, truncated and empty passages with relevance given as masks and as indices.

use provence_test_support::fixture;

use provence_datasets::{Collator, CollatorConfig, LabelAlignment, Row};
use provence_hub::PretrainedTokenizer;
use serde::Deserialize;

#[derive(Deserialize)]
struct Case {
    max_length: usize,
    rows: Vec<Row>,
    seq_len: usize,
    input_ids: Vec<Vec<i64>>,
    pad_id: i64,
    pruning_labels: Vec<Vec<i64>>,
    offsets_labels: Vec<Vec<i64>>,
    ranking_targets: Vec<f64>,
    batch_indices: Vec<usize>,
    doc_indices: Vec<usize>,
    docs_per_query: Vec<usize>,
}

fn load_cases(name: &str) -> Vec<Case> {
    let text = std::fs::read_to_string(fixture("collator").join(name)).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// Checks every case; returns (pairs, truncated pairs, pairs whose v2 labels differ from the
/// offsets labels) so the caller can assert the fixture covers what it claims to.
fn check(tokenizer_dir: &str, cases_file: &str) -> (usize, usize, usize) {
    let tokenizer = PretrainedTokenizer::from_pretrained(fixture("collator").join(tokenizer_dir)).unwrap();
    let (mut pairs, mut truncated, mut drift) = (0, 0, 0);
    for (c, case) in load_cases(cases_file).iter().enumerate() {
        for alignment in [LabelAlignment::V2, LabelAlignment::Offsets] {
            let config = CollatorConfig {
                max_length: case.max_length,
                label_alignment: alignment,
            };
            let batch = Collator::new(&tokenizer, config).unwrap().collate(&case.rows).unwrap();
            let ctx = format!("{cases_file} case {c} ({alignment:?})");
            assert_eq!(batch.pairs, case.input_ids.len(), "{ctx}: pairs");
            assert_eq!(batch.seq_len, case.seq_len, "{ctx}: seq_len");
            let expected_labels = match alignment {
                LabelAlignment::V2 => &case.pruning_labels,
                LabelAlignment::Offsets => &case.offsets_labels,
            };
            for (p, ids) in case.input_ids.iter().enumerate() {
                let row = p * batch.seq_len..(p + 1) * batch.seq_len;
                let mut padded = ids.clone();
                padded.resize(batch.seq_len, case.pad_id);
                let mut mask = vec![1; ids.len()];
                mask.resize(batch.seq_len, 0);
                assert_eq!(batch.input_ids[row.clone()], padded[..], "{ctx} pair {p}: input_ids");
                assert_eq!(batch.attention_mask[row.clone()], mask[..], "{ctx} pair {p}: mask");
                assert_eq!(
                    batch.pruning_labels[row],
                    expected_labels[p][..],
                    "{ctx} pair {p}: labels"
                );
            }
            let targets: Vec<f32> = case.ranking_targets.iter().map(|&v| v as f32).collect();
            assert_eq!(batch.ranking_targets, targets, "{ctx}: ranking targets");
            assert_eq!(batch.batch_indices, case.batch_indices, "{ctx}: batch indices");
            assert_eq!(batch.doc_indices, case.doc_indices, "{ctx}: doc indices");
            assert_eq!(batch.docs_per_query, case.docs_per_query, "{ctx}: docs per query");
        }
        pairs += case.input_ids.len();
        truncated += case.input_ids.iter().filter(|ids| ids.len() == case.max_length).count();
        drift += case
            .pruning_labels
            .iter()
            .zip(&case.offsets_labels)
            .filter(|(a, b)| a != b)
            .count();
    }
    (pairs, truncated, drift)
}

#[test]
fn bpe_collation_matches_python_reference() {
    let (pairs, truncated, drift) = check("bpe", "cases_bpe.json");
    assert!(pairs >= 200, "only {pairs} pairs");
    assert!(truncated >= 20, "only {truncated} truncated pairs");
    assert!(drift > 0, "no pair exercises the v2 quirks");
}

#[test]
fn unigram_collation_matches_python_reference() {
    let (pairs, truncated, drift) = check("unigram", "cases_unigram.json");
    assert!(pairs >= 200, "only {pairs} pairs");
    assert!(truncated >= 20, "only {truncated} truncated pairs");
    assert!(drift > 0, "no pair exercises the v2 quirks");
}
