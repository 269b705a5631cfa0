//! Upstream's sentence normalisation (`_normalize_sentences` and `_split_multiline_sentence` in
//! hotchpotch/open_provence's `open_provence/modeling_open_provence_standalone.py`), applied to
//! every sentence source of `process()`: splitter output, user pre-split sentences and title
//! sentences.

use super::english::DEFAULT_ENGLISH_SENTENCE_MAX_CHARS;
use super::pytext::{is_blank, py_strip, splitlines_keepends};

/// Upstream's `_split_multiline_sentence`: a sentence containing `\n` whose non-blank lines
/// outnumber its ASCII `.?!` characters (and none of whose lines exceeds 1,200 code points once
/// stripped) is replaced by its non-blank lines (`splitlines`, keeping line ends unless
/// `strip_sentences`); blank lines are dropped. Otherwise the sentence is kept whole. With
/// `strip_sentences` every piece is stripped.
pub fn split_multiline_sentence(text: &str, strip_sentences: bool) -> Vec<String> {
    let whole = || {
        vec![if strip_sentences {
            py_strip(text).to_string()
        } else {
            text.to_string()
        }]
    };
    if !text.contains('\n') {
        return whole();
    }
    let chars: Vec<char> = text.chars().collect();
    // Line ends are kept; with `strip_sentences` upstream drops them (`keepends=False`), which
    // the final strip does as well, since every line boundary is Python whitespace.
    let segments: Vec<String> = splitlines_keepends(&chars)
        .into_iter()
        .map(|(start, end)| chars[start..end].iter().collect())
        .collect();
    let meaningful: Vec<&String> = segments.iter().filter(|s| !is_blank(s)).collect();
    if meaningful.len() <= 1 {
        return whole();
    }
    let punctuation = chars.iter().filter(|c| matches!(c, '.' | '?' | '!')).count();
    if punctuation >= meaningful.len() {
        return whole();
    }
    if meaningful
        .iter()
        .any(|s| py_strip(s).chars().count() > DEFAULT_ENGLISH_SENTENCE_MAX_CHARS)
    {
        return whole();
    }
    meaningful
        .into_iter()
        .map(|s| {
            if strip_sentences {
                py_strip(s).to_string()
            } else {
                s.clone()
            }
        })
        .collect()
}

/// Upstream's `_normalize_sentences`: every non-empty raw sentence goes through
/// [`split_multiline_sentence`]; empty pieces are dropped; when nothing is left the single
/// fallback sentence is `context_text` (stripped with `strip_sentences`, unless that leaves
/// nothing).
pub fn normalize_sentences<S: AsRef<str>>(
    raw_sentences: &[S],
    context_text: &str,
    strip_sentences: bool,
) -> Vec<String> {
    let sentences: Vec<String> = raw_sentences
        .iter()
        .map(AsRef::as_ref)
        .filter(|s| !s.is_empty())
        .flat_map(|s| split_multiline_sentence(s, strip_sentences))
        .filter(|s| !s.is_empty())
        .collect();
    if !sentences.is_empty() {
        return sentences;
    }
    vec![fallback_sentence(context_text, strip_sentences)]
}

/// Upstream's `_fallback_sentence`: the context, stripped when `strip_sentences` and the
/// stripped text is not empty.
pub fn fallback_sentence(context_text: &str, strip_sentences: bool) -> String {
    let stripped = py_strip(context_text);
    if strip_sentences && !stripped.is_empty() {
        stripped.to_string()
    } else {
        context_text.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_without_punctuation_are_split() {
        assert_eq!(
            split_multiline_sentence("Title line\nbody one\n\nbody two", false),
            ["Title line\n", "body one\n", "body two"]
        );
        assert_eq!(
            split_multiline_sentence("Title line\r\nbody one", true),
            ["Title line", "body one"]
        );
        // Enough sentence punctuation: kept whole.
        assert_eq!(split_multiline_sentence("One.\nTwo.", false), ["One.\nTwo."]);
    }

    #[test]
    fn fallback_when_nothing_survives() {
        assert_eq!(normalize_sentences(&["", ""], "  ctx  ", true), ["ctx"]);
        assert_eq!(normalize_sentences::<&str>(&[], "  ", true), ["  "]);
        assert_eq!(normalize_sentences(&["  "], "x", true), ["x"]);
    }
}
