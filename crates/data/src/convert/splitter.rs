//! The converter's sentence splitters, chosen by `--lang` as upstream's
//! `generate_ds_from_sentense_transformer.py::resolve_sentence_splitter` does: `ja` → the
//! bunkai-style Japanese rules, an NLTK Punkt language (code or name) → plain Punkt with that
//! language's tables, anything else → upstream's generic regex `.+?(?:[.!?]|\n|$)`. Unlike the
//! inference splitter, none of `process()`'s extras (bullet blocks, whitespace gluing, the
//! 1,200-character cap) apply.

use std::path::{Path, PathBuf};

use provence_infer::pytext::py_strip;
use provence_infer::{JapaneseSentenceSplitter, PunktParameters, PunktSentenceTokenizer};

use crate::error::DataError;

/// NLTK's Punkt languages by ISO code, as upstream lists them (`_NLTK_PUNKT_LANG_CODES`).
const PUNKT_LANGUAGES: [(&str, &str); 16] = [
    ("da", "danish"),
    ("de", "german"),
    ("en", "english"),
    ("es", "spanish"),
    ("et", "estonian"),
    ("fi", "finnish"),
    ("fr", "french"),
    ("el", "greek"),
    ("it", "italian"),
    ("nb", "norwegian"),
    ("nl", "dutch"),
    ("pl", "polish"),
    ("pt", "portuguese"),
    ("sl", "slovene"),
    ("sv", "swedish"),
    ("tr", "turkish"),
];

/// The Punkt language `key` names (a code, a name, or upstream's `no`/`nn` aliases), if any.
fn punkt_language(key: &str) -> Option<&'static str> {
    if matches!(key, "no" | "nn") {
        return Some("norwegian");
    }
    PUNKT_LANGUAGES
        .iter()
        .find(|(code, name)| *code == key || *name == key)
        .map(|(_, name)| *name)
}

/// A sentence splitter of the converter.
#[derive(Debug)]
pub enum SpanSplitter {
    /// Bunkai-style Japanese rules (upstream: fast-bunkai).
    Japanese,
    /// NLTK Punkt with one language's parameters.
    Punkt {
        /// The language name (`english`, `german`, ...).
        language: String,
        /// Its parameters (`None`: the embedded English ones).
        params: Option<Box<PunktParameters>>,
    },
    /// Upstream's generic regex splitter, for languages without a splitter.
    Regex,
}

impl SpanSplitter {
    /// The splitter for `--lang` (case-insensitive). Punkt languages other than English read
    /// NLTK's `punkt_tab/<language>/` tables from `punkt_dir` or, when `None`, from NLTK's
    /// search path (`NLTK_DATA`, `~/nltk_data`, `/usr/share/nltk_data`, ...).
    pub fn for_language(lang: &str, punkt_dir: Option<&Path>) -> Result<Self, DataError> {
        let key = lang.to_lowercase();
        if key == "ja" {
            return Ok(Self::Japanese);
        }
        let Some(language) = punkt_language(&key) else {
            tracing::warn!(
                lang,
                "no Punkt splitter for this language; using the generic regex splitter"
            );
            return Ok(Self::Regex);
        };
        let params = match (language, punkt_dir) {
            ("english", None) => None,
            (_, Some(dir)) => Some(Box::new(load_tables(dir)?)),
            (_, None) => {
                let dirs = nltk_search_path();
                let found = dirs
                    .iter()
                    .map(|d| d.join("tokenizers/punkt_tab").join(language))
                    .find(|d| d.join("abbrev_types.txt").is_file())
                    .ok_or_else(|| {
                        DataError::option(
                            "--lang",
                            format!(
                                "NLTK's punkt_tab tables for {language} are not installed (looked in {}); run \
                                 `python -m nltk.downloader punkt_tab` or pass --punkt-dir",
                                dirs.iter()
                                    .map(|d| d.display().to_string())
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            ),
                        )
                    })?;
                Some(Box::new(load_tables(&found)?))
            }
        };
        Ok(Self::Punkt {
            language: language.to_owned(),
            params,
        })
    }

    /// A short name for reports (`punkt:english`, `ja`, `regex`).
    pub fn name(&self) -> String {
        match self {
            Self::Japanese => "ja (bunkai rules)".to_owned(),
            Self::Punkt { language, .. } => format!("punkt:{language}"),
            Self::Regex => "generic regex".to_owned(),
        }
    }

    /// The stripped, non-empty sentences of `text`, or the stripped text itself when there are
    /// none (upstream's splitter wrappers).
    pub fn sentences<'t>(&self, text: &'t str) -> Vec<&'t str> {
        let raw: Vec<&str> = match self {
            Self::Japanese => JapaneseSentenceSplitter
                .split_spans(text)
                .into_iter()
                .map(|r| &text[r])
                .collect(),
            Self::Punkt { params, .. } => {
                let tokenizer = match params {
                    Some(p) => PunktSentenceTokenizer::new(p),
                    None => PunktSentenceTokenizer::english(),
                };
                tokenizer.tokenize(text)
            }
            Self::Regex => regex_pieces(text),
        };
        let mut out: Vec<&str> = raw.into_iter().map(py_strip).filter(|s| !s.is_empty()).collect();
        if out.is_empty() && !py_strip(text).is_empty() {
            out.push(py_strip(text));
        }
        out
    }
}

fn load_tables(dir: &Path) -> Result<PunktParameters, DataError> {
    PunktParameters::from_punkt_tab_dir(dir).map_err(|e| DataError::option("--punkt-dir", e.to_string()))
}

/// NLTK's data search path: `NLTK_DATA` entries, then the home and system locations.
fn nltk_search_path() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::env::var_os("NLTK_DATA")
        .map(|v| std::env::split_paths(&v).collect())
        .unwrap_or_default();
    if let Some(home) = std::env::var_os("HOME") {
        dirs.push(Path::new(&home).join("nltk_data"));
    }
    for system in [
        "/usr/share/nltk_data",
        "/usr/local/share/nltk_data",
        "/usr/lib/nltk_data",
        "/usr/local/lib/nltk_data",
    ] {
        dirs.push(PathBuf::from(system));
    }
    dirs
}

/// The matches of upstream's `re.compile(r".+?(?:[.!?]|\n|$)", re.S).findall(text)`: from each
/// start, at least one character, up to and including the next `.`, `!`, `?` or newline after
/// it, or to the end.
fn regex_pieces(text: &str) -> Vec<&str> {
    let mut pieces = Vec::new();
    let mut start = 0;
    while start < text.len() {
        let mut chars = text[start..].char_indices();
        chars.next(); // `.+?` takes at least one character
        let end = chars
            .find(|&(_, c)| matches!(c, '.' | '!' | '?' | '\n'))
            .map_or(text.len(), |(i, c)| start + i + c.len_utf8());
        pieces.push(&text[start..end]);
        start = end;
    }
    pieces
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regex_pieces_match_pythons_findall() {
        assert_eq!(
            regex_pieces("report.v2.final.pdf."),
            ["report.", "v2.", "final.", "pdf."]
        );
        assert_eq!(regex_pieces("..."), ["..", "."]);
        assert_eq!(regex_pieces("\n\nab"), ["\n\n", "ab"]);
        assert_eq!(regex_pieces("Hi! Yes?"), ["Hi!", " Yes?"]);
        assert!(regex_pieces("").is_empty());
    }

    #[test]
    fn languages_resolve_like_upstream() {
        assert!(matches!(
            SpanSplitter::for_language("JA", None).unwrap(),
            SpanSplitter::Japanese
        ));
        assert_eq!(
            SpanSplitter::for_language("english", None).unwrap().name(),
            "punkt:english"
        );
        assert!(matches!(
            SpanSplitter::for_language("xx", None).unwrap(),
            SpanSplitter::Regex
        ));
        assert_eq!(punkt_language("nn"), Some("norwegian"));
        let missing = tempfile::tempdir().unwrap();
        let error = SpanSplitter::for_language("de", Some(missing.path())).unwrap_err();
        assert!(
            error.to_string().contains("--punkt-dir") && error.to_string().contains(".tab"),
            "{error}"
        );
    }

    #[test]
    fn blank_texts_have_no_sentences_and_unsplit_texts_fall_back_to_the_whole() {
        let en = SpanSplitter::for_language("en", None).unwrap();
        assert!(en.sentences("").is_empty());
        assert!(en.sentences(" \u{1e}\n").is_empty());
        assert_eq!(en.sentences("  Hello there.  Bye. "), ["Hello there.", "Bye."]);
    }
}
