//! Where `process()`'s sentences lie in the caller's text (`return_offsets`). Every content
//! sentence is a piece of its document's source text ([`Document::source_text`]): the built-in
//! splitters return pieces of their input, and normalisation only strips sentences, cuts them
//! into lines or falls back to the whole (stripped) text. Each sentence is located at its first
//! occurrence at or after the end of the one before, so the slices of the kept sentences joined
//! are exactly the pruned text, whatever was stripped or dropped between them.

use std::ops::Range;

use super::error::PruneError;
use super::inputs::Document;
use super::prepare::SentencePlan;

/// Where one sentence lies in its document's source text ([`Document::source_text`]):
/// `[start, end)` in UTF-8 bytes (to slice a Rust `&str`) and in code points (Python `str`
/// indices; the unit of the JSON field `kept_spans`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentenceSpan {
    /// Byte offsets.
    pub bytes: Range<usize>,
    /// Code-point offsets.
    pub chars: Range<usize>,
}

impl SentenceSpan {
    /// `[start, end)` in code points, as the JSON answers carry it.
    pub fn char_pair(&self) -> [usize; 2] {
        [self.chars.start, self.chars.end]
    }
}

/// The length of a document's source text, measured before `first_line_as_title` takes the
/// title away (what remains of the source is a suffix of it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct SourceLength {
    bytes: usize,
    chars: usize,
}

impl SourceLength {
    /// The length of `document`'s source text.
    pub(super) fn of(document: &Document) -> Self {
        let source = document.source_text();
        Self {
            bytes: source.len(),
            chars: source.chars().count(),
        }
    }

    /// The spans of `plan`'s content sentences (after its `n_prefix` title sentences) in the
    /// source text measured, where `document` is what remains of that document once its title
    /// was taken away; an error names the first sentence that is not a piece of the text.
    pub(super) fn locate(self, document: &Document, plan: &SentencePlan) -> Result<Vec<SentenceSpan>, PruneError> {
        let source = document.source_text();
        let origin = Cursor {
            byte: self.bytes.saturating_sub(source.len()),
            char: self.chars.saturating_sub(source.chars().count()),
        };
        locate_sentences(&source, plan.sentences.get(plan.n_prefix..).unwrap_or_default(), origin)
    }
}

/// A position in a text, in bytes and in code points.
#[derive(Debug, Clone, Copy)]
struct Cursor {
    byte: usize,
    char: usize,
}

/// Each of `sentences` at its first occurrence in `source` at or after the end of the one
/// before, offset by `origin` (where `source` starts in the text the spans index).
fn locate_sentences(source: &str, sentences: &[String], origin: Cursor) -> Result<Vec<SentenceSpan>, PruneError> {
    let mut at = Cursor { byte: 0, char: 0 };
    let mut spans = Vec::with_capacity(sentences.len());
    for sentence in sentences {
        let rest = source.get(at.byte..).unwrap_or_default();
        let skip = rest.find(sentence.as_str()).ok_or_else(|| PruneError::Offsets {
            sentence: sentence.chars().take(80).collect(),
        })?;
        let start = Cursor {
            byte: at.byte + skip,
            char: at.char + rest[..skip].chars().count(),
        };
        at = Cursor {
            byte: start.byte + sentence.len(),
            char: start.char + sentence.chars().count(),
        };
        spans.push(SentenceSpan {
            bytes: origin.byte + start.byte..origin.byte + at.byte,
            chars: origin.char + start.char..origin.char + at.char,
        });
    }
    Ok(spans)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(sentences: &[&str], n_prefix: usize) -> SentencePlan {
        SentencePlan {
            sentences: sentences.iter().map(|s| s.to_string()).collect(),
            n_prefix,
            base_text: String::new(),
        }
    }

    fn chars(spans: &[SentenceSpan]) -> Vec<[usize; 2]> {
        spans.iter().map(SentenceSpan::char_pair).collect()
    }

    #[test]
    fn spans_skip_what_normalisation_dropped_and_count_code_points() {
        let text = Document::Text("  東京は首都。\n\n  Sushi 🍣 is good.  ".into());
        let spans = SourceLength::of(&text)
            .locate(&text, &plan(&["Title\n", "東京は首都。", "Sushi 🍣 is good."], 1))
            .unwrap();
        assert_eq!(chars(&spans), [[2, 8], [12, 28]]);
        assert_eq!(spans[0].bytes, 2..20);
        assert_eq!(
            &"  東京は首都。\n\n  Sushi 🍣 is good.  "[spans[1].bytes.clone()],
            "Sushi 🍣 is good."
        );
    }

    #[test]
    fn repeated_sentences_are_found_in_order() {
        let text = Document::Text("Yes. Yes. Yes.".into());
        let spans = SourceLength::of(&text)
            .locate(&text, &plan(&["Yes. ", "Yes.", "Yes."], 0))
            .unwrap();
        assert_eq!(chars(&spans), [[0, 5], [5, 9], [10, 14]]);
    }

    #[test]
    fn offsets_of_a_remainder_count_from_the_original_start() {
        // first_line_as_title took "Heading\n" away: what remains is a suffix of the original.
        let original = Document::Sentences(vec!["Ü Heading\n".into(), "  ".into(), "Body.".into()]);
        let rest = Document::Sentences(vec!["  ".into(), "Body.".into()]);
        let spans = SourceLength::of(&original).locate(&rest, &plan(&["Body."], 0)).unwrap();
        assert_eq!(chars(&spans), [[12, 17]]);
        assert_eq!(spans[0].bytes, 13..18);
        assert_eq!(&original.source_text()[spans[0].bytes.clone()], "Body.");
    }

    #[test]
    fn empty_fallback_and_foreign_sentences() {
        let empty = Document::Text(String::new());
        let spans = SourceLength::of(&empty).locate(&empty, &plan(&[""], 0)).unwrap();
        assert_eq!(chars(&spans), [[0, 0]]);
        let text = Document::Text("One. Two.".into());
        let err = SourceLength::of(&text)
            .locate(&text, &plan(&["Two.", "One."], 0))
            .unwrap_err();
        assert!(
            matches!(err, PruneError::Offsets { ref sentence } if sentence == "One."),
            "{err}"
        );
        assert!(SourceLength::of(&text).locate(&text, &plan(&["one."], 0)).is_err());
    }
}
