//! Upstream's `text_to_spans`: each sentence located in the text after the previous one, as
//! `[start, end)` in Unicode code points (Python `str` indices); `[[0, 0]]` for a blank text.

use provence_infer::pytext::py_strip;

use super::splitter::SpanSplitter;

/// Code-point offsets of byte positions that only move forward (one pass over a long text),
/// with a restart from zero for the rare backwards lookup.
struct CharCounter<'t> {
    text: &'t str,
    byte: usize,
    chars: usize,
}

impl<'t> CharCounter<'t> {
    fn new(text: &'t str) -> Self {
        Self {
            text,
            byte: 0,
            chars: 0,
        }
    }

    fn at(&mut self, byte: usize) -> usize {
        if byte < self.byte {
            self.byte = 0;
            self.chars = 0;
        }
        self.chars += self.text[self.byte..byte].chars().count();
        self.byte = byte;
        self.chars
    }
}

/// The sentence spans of `text` (see the module docs).
pub fn text_to_spans(text: &str, splitter: &SpanSplitter) -> Vec<[i64; 2]> {
    let mut counter = CharCounter::new(text);
    let mut spans = Vec::new();
    let mut cursor = 0usize; // bytes
    for sentence in splitter.sentences(text) {
        let s = py_strip(sentence);
        if s.is_empty() {
            continue;
        }
        let Some(start) = text[cursor..].find(s).map(|i| cursor + i).or_else(|| text.find(s)) else {
            continue;
        };
        let end = start + s.len();
        let (a, b) = (counter.at(start), counter.at(end));
        spans.push([a as i64, b as i64]);
        cursor = end;
    }
    if !spans.is_empty() {
        return spans;
    }
    let s = py_strip(text);
    if s.is_empty() {
        return vec![[0, 0]];
    }
    let start = text.find(s).unwrap_or(0);
    let a = counter.at(start);
    vec![[a as i64, (a + s.chars().count()) as i64]]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_sentences_get_successive_spans() {
        let en = SpanSplitter::for_language("en", None).unwrap();
        assert_eq!(
            text_to_spans("Same sentence. Same sentence. Same sentence.", &en),
            vec![[0, 14], [15, 29], [30, 44]]
        );
        assert_eq!(text_to_spans("   \n\t ", &en), vec![[0, 0]]);
        assert_eq!(text_to_spans("", &en), vec![[0, 0]]);
        // Code points, not bytes; Python's strip also removes U+001E.
        assert_eq!(text_to_spans("Café. Über\u{1e}", &en), vec![[0, 5], [6, 10]]);
    }
}
