//! Shared test helpers: a tiny random model saved as a `final_model/` with the demo tokenizer.
// Each test crate uses a subset of the helpers.
#![allow(dead_code)]

use burn::backend::Flex;
use provence_infer::{Document, ProcessInput, Pruner, SentenceSpan};
use std::path::Path;

/// The CPU test backend.
pub type B = Flex;

pub use provence_test_support::model::tiny_model_dir;

/// Loads a model directory through `Pruner::load`.
pub fn load(dir: &Path) -> Pruner<B> {
    Pruner::load(dir, Default::default()).unwrap()
}

/// The documents of `input`, per query, in input order.
pub fn documents_of(input: &ProcessInput) -> Vec<Vec<Document>> {
    match input {
        ProcessInput::Pair { context, .. } => vec![vec![Document::Text(context.clone())]],
        ProcessInput::Documents { documents, .. } => vec![documents.clone()],
        ProcessInput::Aligned { documents, .. } => documents.iter().map(|d| vec![d.clone()]).collect(),
        ProcessInput::Nested { documents, .. } => documents.clone(),
    }
}

/// The offsets contract: `spans` are in order, on char boundaries of `source`, the same in
/// bytes and in code points, and their slices joined (as `process()` joins kept sentences: no
/// separator) are `pruned`.
pub fn assert_spans_rebuild(source: &str, spans: &[SentenceSpan], pruned: &str, at: &str) {
    let mut end = 0;
    let mut joined = String::new();
    for span in spans {
        let bytes = span.bytes.clone();
        assert!(
            end <= bytes.start && bytes.start <= bytes.end,
            "{at}: spans out of order: {spans:?}"
        );
        assert!(
            source.is_char_boundary(bytes.start) && source.is_char_boundary(bytes.end) && bytes.end <= source.len(),
            "{at}: {bytes:?} is not on char boundaries of {source:?}"
        );
        let chars = source[..bytes.start].chars().count()..source[..bytes.end].chars().count();
        assert_eq!(span.chars, chars, "{at}: code points disagree with bytes");
        joined.push_str(&source[bytes.clone()]);
        end = bytes.end;
    }
    assert_eq!(
        joined, pruned,
        "{at}: the slices of {spans:?} joined are not the pruned text"
    );
}

/// The slices of `source` at `[start, end]` code-point pairs (the JSON `kept_spans`), joined.
pub fn join_char_slices(source: &str, pairs: &serde_json::Value) -> String {
    let chars: Vec<char> = source.chars().collect();
    pairs
        .as_array()
        .unwrap()
        .iter()
        .map(|pair| {
            let (start, end) = (pair[0].as_u64().unwrap() as usize, pair[1].as_u64().unwrap() as usize);
            chars[start..end].iter().collect::<String>()
        })
        .collect()
}
