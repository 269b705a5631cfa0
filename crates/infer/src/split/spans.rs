//! Pre-split sentences from character spans, as the datasets give them (`context_spans`).

/// Sentences of `text` cut at `spans` (`[start, end)` in code points, clamped to the text; an
/// empty string where `end <= start`). Without spans the whole text is the only sentence (none
/// when the text is empty). Upstream's `_extract_sentences` (`scripts/eval_datasets.py`), which
/// builds the `process()` input of its dataset evaluation.
pub fn extract_sentences(text: &str, spans: &[[i64; 2]]) -> Vec<String> {
    if spans.is_empty() {
        return if text.is_empty() {
            Vec::new()
        } else {
            vec![text.to_string()]
        };
    }
    let chars: Vec<char> = text.chars().collect();
    let len = chars.len() as i64;
    spans
        .iter()
        .map(|&[start, end]| {
            let start = start.max(0);
            let end = end.min(len);
            if end <= start {
                String::new()
            } else {
                chars[start as usize..end as usize].iter().collect()
            }
        })
        .collect()
}
