//! Sentence splitting as upstream OpenProvence does it (hotchpotch/open_provence's
//! `open_provence/modeling_open_provence_standalone.py`: `OpenProvenceModel._resolve_sentence_splitter`,
//! `create_auto_sentence_splitter` and friends): language choice (`auto` by kana density, `en`,
//! `ja`), NLTK Punkt with upstream's block handling for English, bunkai-style rules for Japanese,
//! the regex fallback splitter, and the sentence normalisation that `process()` applies to every
//! sentence source.
//!
//! Every built-in splitter returns pieces of the input in order (byte ranges via `split_spans`),
//! so a caller can rebuild a pruned text by concatenating kept sentences.

use std::ops::Range;
use std::str::FromStr;

mod english;
mod error;
mod japanese;
mod normalize;
mod punkt;
pub mod pytext;
mod spans;

pub use english::{DEFAULT_ENGLISH_SENTENCE_MAX_CHARS, EnglishSentenceSplitter};
pub use error::SplitError;
pub use japanese::JapaneseSentenceSplitter;
pub use normalize::{fallback_sentence, normalize_sentences, split_multiline_sentence};
pub use punkt::{PunktParameters, PunktSentenceTokenizer};
pub use spans::extract_sentences;

/// Splits a text into sentences. Implement it to replace the built-in splitters; the output is
/// what the pruning pipeline tokenises sentence by sentence and concatenates back. With
/// `ProcessOptions::return_offsets` the sentences must be pieces of `text`, in order.
pub trait SentenceSplitter: Send + Sync {
    /// The sentences of `text`, in order.
    fn split(&self, text: &str) -> Vec<String>;
}

impl<F> SentenceSplitter for F
where
    F: Fn(&str) -> Vec<String> + Send + Sync,
{
    fn split(&self, text: &str) -> Vec<String> {
        self(text)
    }
}

/// Language of the built-in splitter (upstream's `language` argument of `process()`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SplitterLanguage {
    /// Japanese when [`is_japanese_fast`] says so, else English; decided per text.
    #[default]
    Auto,
    /// English (NLTK Punkt + upstream's block handling).
    En,
    /// Japanese (bunkai-style rules).
    Ja,
}

impl FromStr for SplitterLanguage {
    type Err = SplitError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "auto" => Ok(SplitterLanguage::Auto),
            "en" => Ok(SplitterLanguage::En),
            "ja" => Ok(SplitterLanguage::Ja),
            _ => Err(SplitError::UnknownLanguage {
                language: s.to_string(),
            }),
        }
    }
}

/// Upstream's kana window: one kana letter per started block of this many code points.
pub const KANA_WINDOW: usize = 500;

/// Kana letters counted by [`is_japanese_fast`] (the long-vowel mark and middle dot are not).
fn is_kana_letter(c: char) -> bool {
    matches!(c as u32, 0x3041..=0x3096 | 0x30A1..=0x30FA | 0x31F0..=0x31FF | 0xFF71..=0xFF9D)
}

/// Upstream's `is_japanese_fast`: true when `text` has at least `ceil(len / 500)` kana letters
/// (lengths in code points). Empty and pure-ASCII texts are not Japanese; kanji alone is not
/// enough (Chinese and Korean go to the English splitter).
pub fn is_japanese_fast(text: &str) -> bool {
    if text.is_empty() || text.is_ascii() {
        return false;
    }
    let required = text.chars().count().div_ceil(KANA_WINDOW);
    text.chars().filter(|&c| is_kana_letter(c)).take(required).count() >= required
}

/// The built-in splitter for a [`SplitterLanguage`] (upstream's default `sentence_splitter`).
#[derive(Debug, Clone, Copy, Default)]
pub struct LanguageSplitter {
    language: SplitterLanguage,
    english: EnglishSentenceSplitter,
}

impl LanguageSplitter {
    /// The splitter for `language` with the default English sentence cap (1,200 chars).
    pub fn new(language: SplitterLanguage) -> Self {
        LanguageSplitter {
            language,
            english: EnglishSentenceSplitter::default(),
        }
    }

    /// Uses `english` (e.g. a custom `max_chars`) for English texts.
    pub fn with_english(mut self, english: EnglishSentenceSplitter) -> Self {
        self.english = english;
        self
    }

    /// The language this splitter was built for.
    pub fn language(&self) -> SplitterLanguage {
        self.language
    }

    /// Whether `text` goes to the Japanese rules.
    pub fn is_japanese(&self, text: &str) -> bool {
        match self.language {
            SplitterLanguage::Auto => is_japanese_fast(text),
            SplitterLanguage::En => false,
            SplitterLanguage::Ja => true,
        }
    }

    /// Sentence byte ranges of `text` (see the English and Japanese splitters).
    pub fn split_spans(&self, text: &str) -> Vec<Range<usize>> {
        if self.is_japanese(text) {
            JapaneseSentenceSplitter.split_spans(text)
        } else {
            self.english.split_spans(text)
        }
    }
}

/// Upstream's `simple_sentence_splitter`: the regex `.+?(?:。|！|？|!|\?|\n|$)` (DOTALL), i.e.
/// pieces ending right after `。！？!?` or a newline, or at the end of the text.
#[derive(Debug, Clone, Copy, Default)]
pub struct SimpleSentenceSplitter;

impl SimpleSentenceSplitter {
    /// Sentence byte ranges of `text` (they tile it).
    pub fn split_spans(&self, text: &str) -> Vec<Range<usize>> {
        let mut spans = Vec::new();
        let mut chars = text.char_indices().peekable();
        while let Some((start, _)) = chars.next() {
            let mut end = text.len();
            while let Some(&(i, c)) = chars.peek() {
                chars.next();
                if matches!(c, '。' | '！' | '？' | '!' | '?' | '\n') {
                    end = i + c.len_utf8();
                    break;
                }
            }
            spans.push(start..end);
        }
        spans
    }
}

// Every built-in splitter finds byte spans; its sentences are those slices of the input.
macro_rules! sentences_from_spans {
    ($($splitter:ty),+) => {$(
        impl SentenceSplitter for $splitter {
            fn split(&self, text: &str) -> Vec<String> {
                self.split_spans(text).into_iter().map(|r| text[r].to_string()).collect()
            }
        }
    )+};
}

sentences_from_spans!(
    EnglishSentenceSplitter,
    JapaneseSentenceSplitter,
    LanguageSplitter,
    SimpleSentenceSplitter
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn language_parsing() {
        assert_eq!("auto".parse::<SplitterLanguage>().unwrap(), SplitterLanguage::Auto);
        assert_eq!(" JA ".parse::<SplitterLanguage>().unwrap(), SplitterLanguage::Ja);
        let err = "es".parse::<SplitterLanguage>().unwrap_err();
        assert!(err.to_string().contains("`es`"));
    }

    #[test]
    fn kana_density_heuristic() {
        assert!(!is_japanese_fast(""));
        assert!(!is_japanese_fast("Plain ASCII text."));
        assert!(is_japanese_fast("寿司が好きです。"));
        assert!(!is_japanese_fast("中文句子。"));
        assert!(!is_japanese_fast("ー・ー"));
        // 600 code points need two kana.
        let one_kana = format!("{}あ", "é".repeat(599));
        assert!(!is_japanese_fast(&one_kana));
        assert!(is_japanese_fast(&format!("{}ア", &one_kana[2..])));
    }

    #[test]
    fn auto_routes_by_language() {
        let auto = LanguageSplitter::new(SplitterLanguage::Auto);
        assert_eq!(auto.split("寿司が好きです。ラーメンも好きです。").len(), 2);
        assert_eq!(auto.split("Dr. Smith is here. He waits.").len(), 2);
        let ja = LanguageSplitter::new(SplitterLanguage::Ja);
        assert!(ja.is_japanese("English only."));
    }

    #[test]
    fn simple_splitter_matches_upstream_regex() {
        let s = SimpleSentenceSplitter;
        assert_eq!(
            s.split("吾輩は猫である。名前はまだない"),
            ["吾輩は猫である。", "名前はまだない"]
        );
        assert_eq!(s.split("a。。b\nc!"), ["a。", "。b\n", "c!"]);
        assert!(s.split("").is_empty());
    }

    #[test]
    fn closures_are_splitters() {
        let by_space = |t: &str| t.split(' ').map(str::to_string).collect::<Vec<_>>();
        let splitter: &dyn SentenceSplitter = &by_space;
        assert_eq!(splitter.split("a b"), ["a", "b"]);
    }
}
