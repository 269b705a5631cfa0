//! Upstream's English splitter (`create_english_sentence_splitter`, with `_iter_english_blocks`
//! and `_split_overlong_sentence`, in hotchpotch/open_provence's
//! `open_provence/modeling_open_provence_standalone.py`): bullet-aware line blocks, NLTK Punkt
//! inside each block, whitespace glued to the preceding sentence, and a cap on sentence length.

use std::ops::Range;

use super::error::SplitError;
use super::punkt::PunktSentenceTokenizer;
use super::pytext::{char_byte_offsets, chars_blank, is_decimal, is_space, py_strip, splitlines_keepends};

/// Upstream's `DEFAULT_ENGLISH_SENTENCE_MAX_CHARS`.
pub const DEFAULT_ENGLISH_SENTENCE_MAX_CHARS: usize = 1200;

/// English sentence splitter: NLTK Punkt (English parameters) plus upstream's block, newline and
/// bullet handling and the overlong-sentence cap.
#[derive(Debug, Clone, Copy)]
pub struct EnglishSentenceSplitter {
    tokenizer: PunktSentenceTokenizer<'static>,
    max_chars: usize,
}

impl Default for EnglishSentenceSplitter {
    fn default() -> Self {
        EnglishSentenceSplitter {
            tokenizer: PunktSentenceTokenizer::english(),
            max_chars: DEFAULT_ENGLISH_SENTENCE_MAX_CHARS,
        }
    }
}

impl EnglishSentenceSplitter {
    /// A splitter whose sentences are at most `max_chars` code points
    /// (`create_english_sentence_splitter(max_chars)`); `max_chars` must be positive.
    pub fn with_max_chars(max_chars: usize) -> Result<Self, SplitError> {
        if max_chars == 0 {
            return Err(SplitError::ZeroMaxChars);
        }
        Ok(EnglishSentenceSplitter {
            max_chars,
            ..Self::default()
        })
    }

    /// Sentence byte ranges of `text`, in order. Ranges never overlap; characters of blank
    /// blocks/segments are in no range. When nothing remains the stripped text is the only range.
    pub fn split_spans(&self, text: &str) -> Vec<Range<usize>> {
        if text.is_empty() {
            return Vec::new();
        }
        let chars: Vec<char> = text.chars().collect();
        let offsets = char_byte_offsets(text);
        let mut spans: Vec<(usize, usize)> = Vec::new();
        for (block_start, block_end) in english_blocks(&chars) {
            let block = &chars[block_start..block_end];
            let sentence_spans = self.tokenizer.span_tokenize_chars(block);
            if sentence_spans.is_empty() {
                if !chars_blank(block) {
                    split_overlong(&chars, block_start, block_end, self.max_chars, &mut spans);
                }
                continue;
            }
            for (s, e) in sentence_spans {
                let start = block_start + s;
                let mut end = block_start + e;
                while end < block_end && is_space(chars[end]) {
                    end += 1;
                }
                if start < end && !chars_blank(&chars[start..end]) {
                    split_overlong(&chars, start, end, self.max_chars, &mut spans);
                }
            }
        }
        if spans.is_empty() {
            let stripped = py_strip(text);
            if stripped.is_empty() {
                return Vec::new();
            }
            let start = text.len() - text.trim_start_matches(is_space).len();
            return std::iter::once(start..start + stripped.len()).collect();
        }
        spans.into_iter().map(|(s, e)| offsets[s]..offsets[e]).collect()
    }
}

/// `_BULLET_PREFIX_RE`: `^\s*(?:[\-\*\u2022•]+|\d{1,4}[:.)]|[A-Za-z][:.)])\s+`.
fn looks_like_bullet_line(line: &[char]) -> bool {
    let mut i = 0;
    while i < line.len() && is_space(line[i]) {
        i += 1;
    }
    let marker_end = match line.get(i) {
        Some('-' | '*' | '•') => {
            let mut j = i;
            while j < line.len() && matches!(line[j], '-' | '*' | '•') {
                j += 1;
            }
            Some(j)
        }
        Some(&c) if is_decimal(c) => {
            let mut j = i;
            while j < line.len() && is_decimal(line[j]) {
                j += 1;
            }
            (j - i <= 4 && matches!(line.get(j), Some(':' | '.' | ')'))).then_some(j + 1)
        }
        Some(&c) if c.is_ascii_alphabetic() => matches!(line.get(i + 1), Some(':' | '.' | ')')).then_some(i + 2),
        _ => None,
    };
    marker_end.is_some_and(|j| line.get(j).is_some_and(|&c| is_space(c)))
}

/// `_iter_english_blocks`: char ranges of line blocks; a bullet-like line starts a new block.
fn english_blocks(chars: &[char]) -> Vec<(usize, usize)> {
    let mut blocks = Vec::new();
    let mut current: Option<(usize, usize)> = None;
    for (line_start, line_end) in splitlines_keepends(chars) {
        let mut plain_end = line_end;
        while plain_end > line_start && matches!(chars[plain_end - 1], '\r' | '\n') {
            plain_end -= 1;
        }
        let bullet = looks_like_bullet_line(&chars[line_start..plain_end]);
        current = match current {
            Some(block) if bullet => {
                blocks.push(block);
                Some((line_start, line_end))
            }
            Some((start, _)) => Some((start, line_end)),
            None => Some((line_start, line_end)),
        };
    }
    blocks.extend(current);
    blocks
}

/// `_split_overlong_sentence(preserve_whitespace=True)` on `chars[start..end]`: pushes char
/// ranges of at most `max_chars`, preferring a newline, then `.?!;:` and then a hard cut.
fn split_overlong(chars: &[char], start: usize, end: usize, max_chars: usize, out: &mut Vec<(usize, usize)>) {
    if end - start <= max_chars {
        out.push((start, end));
        return;
    }
    let mut pos = start;
    while pos < end {
        let target = (pos + max_chars).min(end);
        let newline = (pos + 1..target).rev().find(|&i| chars[i] == '\n');
        let boundary = match newline {
            Some(i) => i + 1,
            None => (pos + 1..=target)
                .rev()
                .find(|&i| matches!(chars[i - 1], '.' | '?' | '!' | ';' | ':' | '\n'))
                .unwrap_or(target),
        };
        out.push((pos, boundary));
        pos = boundary;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::split::SentenceSplitter;

    fn split(text: &str) -> Vec<String> {
        EnglishSentenceSplitter::default().split(text)
    }

    #[test]
    fn bullet_detection() {
        let is = |s: &str| looks_like_bullet_line(&s.chars().collect::<Vec<_>>());
        assert!(is("- item"));
        assert!(is("  1. First"));
        assert!(is("1001: Item"));
        assert!(is("A) Option"));
        assert!(is("• dot"));
        assert!(!is("10001: Item"));
        assert!(!is("-item"));
        assert!(!is("Ab) no"));
        assert!(!is("1."));
    }

    #[test]
    fn list_items_split_into_blocks() {
        // Upstream test: 6 segments with bullet blocks (Punkt splits "1." from "First entry").
        assert_eq!(
            split("1. First entry\n2. Second entry\n3. Third entry\n"),
            ["1. ", "First entry\n", "2. ", "Second entry\n", "3. ", "Third entry\n"]
        );
        assert_eq!(
            split("1001: Item A\n1002: Item B\n"),
            ["1001: Item A\n", "1002: Item B\n"]
        );
    }

    #[test]
    fn blank_text_gives_nothing_and_pieces_respect_the_cap() {
        assert!(split("").is_empty());
        assert!(split("  \n\t ").is_empty());
        let long = format!("Intro sentence. {}", "word ".repeat(400));
        let splitter = EnglishSentenceSplitter::with_max_chars(80).unwrap();
        let pieces = splitter.split(&long);
        assert_eq!(pieces[0], "Intro sentence. ");
        assert!(pieces.len() >= 4);
        assert!(pieces.iter().all(|p| p.chars().count() <= 80));
        assert_eq!(pieces.concat(), long);
        assert!(EnglishSentenceSplitter::with_max_chars(0).is_err());
    }
}
