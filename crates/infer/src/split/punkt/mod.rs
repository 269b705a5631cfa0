//! A port of NLTK 3.9.1's Punkt sentence tokenizer (`nltk.tokenize.punkt`), inference only.
//!
//! Only what `PunktSentenceTokenizer.span_tokenize(text, realign_boundaries=True)` needs is
//! ported: the word tokenizer of `PunktLanguageVars`, the period-context matcher with its
//! overlap removal (`_match_potential_end_contexts`), the first-pass (type based) and
//! second-pass (collocation, orthographic and sentence-starter heuristics) annotation,
//! `_slices_from_text` and `_realign_boundaries`. Names mirror NLTK's. All positions are char
//! indices internally (Python string indices); the public API speaks byte ranges.

mod params;
mod words;

use std::ops::Range;

use super::pytext::{char_byte_offsets, is_ascii_whitespace_py, is_space};
pub use params::PunktParameters;
use params::{ORTHO_BEG_LC, ORTHO_LC, ORTHO_MID_UC, ORTHO_UC};
use words::{PeriodContext, PunktToken, is_sent_end_char, period_contexts, tokenize_words};

/// Tri-state result of the orthographic heuristic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ortho {
    SentStarter,
    NotStarter,
    Unknown,
}

/// A Punkt sentence tokenizer with fixed parameters (NLTK `PunktSentenceTokenizer`).
#[derive(Debug, Clone, Copy)]
pub struct PunktSentenceTokenizer<'p> {
    params: &'p PunktParameters,
}

impl PunktSentenceTokenizer<'static> {
    /// The tokenizer NLTK loads for `tokenizers/punkt/english.pickle` (→ `punkt_tab/english`).
    pub fn english() -> Self {
        PunktSentenceTokenizer {
            params: PunktParameters::english(),
        }
    }
}

impl<'p> PunktSentenceTokenizer<'p> {
    /// A tokenizer over the given parameters.
    pub fn new(params: &'p PunktParameters) -> Self {
        PunktSentenceTokenizer { params }
    }

    /// Sentence byte ranges of `text` (`span_tokenize(text, realign_boundaries=True)`).
    pub fn span_tokenize(&self, text: &str) -> Vec<Range<usize>> {
        let chars: Vec<char> = text.chars().collect();
        let offsets = char_byte_offsets(text);
        self.span_tokenize_chars(&chars)
            .into_iter()
            .map(|(s, e)| offsets[s]..offsets[e])
            .collect()
    }

    /// Sentence strings of `text` (`tokenize(text)`).
    pub fn tokenize<'t>(&self, text: &'t str) -> Vec<&'t str> {
        self.span_tokenize(text).into_iter().map(|r| &text[r]).collect()
    }

    /// `span_tokenize` over chars; returns non-empty `(start, end)` char ranges in order.
    pub(crate) fn span_tokenize_chars(&self, text: &[char]) -> Vec<(usize, usize)> {
        let slices = self.slices_from_text(text);
        realign_boundaries(text, &slices)
    }

    /// `_match_potential_end_contexts`: matches whose preceding word does not overlap the next
    /// match's word, with their context strings.
    fn match_potential_end_contexts(&self, text: &[char]) -> Vec<(PeriodContext, String)> {
        let mut out = Vec::new();
        let mut previous_slice = (0usize, 0usize);
        let mut previous_match: Option<PeriodContext> = None;
        let context = |slice: (usize, usize), m: &PeriodContext| -> String {
            let mut s: String = text[slice.0..slice.1].iter().collect();
            s.extend(&text[m.start..m.after_end]);
            s
        };
        for m in period_contexts(text) {
            let before = &text[previous_slice.1..m.start];
            let last_ws = before.iter().rposition(|&c| is_ascii_whitespace_py(c)).unwrap_or(0);
            let word_start = if last_ws != 0 {
                last_ws + previous_slice.1 + 1
            } else {
                previous_slice.0
            };
            let prev_word_slice = (word_start, m.start);
            if let Some(pm) = previous_match
                && previous_slice.1 <= prev_word_slice.0
            {
                out.push((pm, context(previous_slice, &pm)));
            }
            previous_match = Some(m);
            previous_slice = prev_word_slice;
        }
        if let Some(pm) = previous_match {
            out.push((pm, context(previous_slice, &pm)));
        }
        out
    }

    /// `_slices_from_text`.
    fn slices_from_text(&self, text: &[char]) -> Vec<(usize, usize)> {
        let mut slices = Vec::new();
        let mut last_break = 0;
        for (m, context) in self.match_potential_end_contexts(text) {
            if self.text_contains_sentbreak(&context) {
                slices.push((last_break, m.end()));
                last_break = m.next_tok.unwrap_or(m.end());
            }
        }
        let mut rstripped = text.len();
        while rstripped > 0 && is_space(text[rstripped - 1]) {
            rstripped -= 1;
        }
        slices.push((last_break, rstripped));
        slices
    }

    /// `text_contains_sentbreak`: a sentence break followed by at least one more token.
    fn text_contains_sentbreak(&self, text: &str) -> bool {
        let tokens = self.annotate_tokens(tokenize_words(text));
        tokens.iter().take(tokens.len().saturating_sub(1)).any(|t| t.sentbreak)
    }

    fn annotate_tokens(&self, mut tokens: Vec<PunktToken>) -> Vec<PunktToken> {
        for token in &mut tokens {
            self.first_pass_annotation(token);
        }
        for i in 0..tokens.len() {
            if i + 1 < tokens.len() {
                let (head, tail) = tokens.split_at_mut(i + 1);
                self.second_pass_annotation(&mut head[i], &tail[0]);
            }
        }
        tokens
    }

    /// `_first_pass_annotation`: type-based sentence break / abbreviation / ellipsis marks.
    fn first_pass_annotation(&self, token: &mut PunktToken) {
        let tok = token.tok.as_str();
        if tok.chars().count() == 1 && tok.chars().all(is_sent_end_char) {
            token.sentbreak = true;
        } else if token.is_ellipsis() {
            token.ellipsis = true;
        } else if token.period_final && !tok.ends_with("..") {
            let stem = tok[..tok.len() - 1].to_lowercase();
            let last_part = stem.rsplit('-').next().unwrap_or("");
            if self.params.abbrev_types.contains(&stem) || self.params.abbrev_types.contains(last_part) {
                token.abbr = true;
            } else {
                token.sentbreak = true;
            }
        }
    }

    /// `_second_pass_annotation`: collocation, orthographic and frequent-starter heuristics.
    fn second_pass_annotation(&self, tok1: &mut PunktToken, tok2: &PunktToken) {
        if !tok1.period_final {
            return;
        }
        let typ = tok1.type_no_period().to_string();
        let next_typ = tok2.type_no_sentperiod();
        let tok_is_initial = tok1.is_initial();

        if self.params.collocations.contains(&(typ.clone(), next_typ.to_string())) {
            tok1.sentbreak = false;
            tok1.abbr = true;
            return;
        }

        if (tok1.abbr || tok1.ellipsis) && !tok_is_initial {
            if self.ortho_heuristic(tok2) == Ortho::SentStarter {
                tok1.sentbreak = true;
                return;
            }
            if tok2.first_upper() && self.params.sent_starters.contains(next_typ) {
                tok1.sentbreak = true;
                return;
            }
        }

        if tok_is_initial || typ == "##number##" {
            let is_sent_starter = self.ortho_heuristic(tok2);
            if is_sent_starter == Ortho::NotStarter {
                tok1.sentbreak = false;
                tok1.abbr = true;
                return;
            }
            if is_sent_starter == Ortho::Unknown
                && tok_is_initial
                && tok2.first_upper()
                && self.params.ortho(next_typ) & ORTHO_LC == 0
            {
                tok1.sentbreak = false;
                tok1.abbr = true;
            }
        }
    }

    /// `_ortho_heuristic`: does `token` start a sentence?
    fn ortho_heuristic(&self, token: &PunktToken) -> Ortho {
        if matches!(token.tok.as_str(), ";" | ":" | "," | "." | "!" | "?") {
            return Ortho::NotStarter;
        }
        let ortho = self.params.ortho(token.type_no_sentperiod());
        if token.first_upper() && ortho & ORTHO_LC != 0 && ortho & ORTHO_MID_UC == 0 {
            return Ortho::SentStarter;
        }
        if token.first_lower() && (ortho & ORTHO_UC != 0 || ortho & ORTHO_BEG_LC == 0) {
            return Ortho::NotStarter;
        }
        Ortho::Unknown
    }
}

/// `re_boundary_realignment` = `["\')\]}]+?(?:\s+|(?=--)|$)` (MULTILINE) matched at the start
/// of `s`; returns `(closing chars, match end)`.
fn boundary_realignment(s: &[char]) -> Option<(usize, usize)> {
    let is_closer = |c: char| matches!(c, '"' | '\'' | ')' | ']' | '}');
    let mut k = 0;
    while k < s.len() && is_closer(s[k]) {
        k += 1;
        match s.get(k) {
            None => return Some((k, k)),
            Some(&c) if is_space(c) => {
                let mut end = k;
                while end < s.len() && is_space(s[end]) {
                    end += 1;
                }
                return Some((k, end));
            }
            Some('-') if s.get(k + 1) == Some(&'-') => return Some((k, k)),
            _ => {}
        }
    }
    None
}

/// `_realign_boundaries`: move closing quotes/brackets after a break into the sentence before.
fn realign_boundaries(text: &[char], slices: &[(usize, usize)]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut realign = 0;
    for (i, &(s1_start, s1_stop)) in slices.iter().enumerate() {
        let s1_start = s1_start + realign;
        let Some(&(s2_start, s2_stop)) = slices.get(i + 1) else {
            if s1_start < s1_stop {
                out.push((s1_start, s1_stop));
            }
            continue;
        };
        let s2 = if s2_start < s2_stop {
            &text[s2_start..s2_stop]
        } else {
            &[][..]
        };
        match boundary_realignment(s2) {
            Some((closers, end)) => {
                out.push((s1_start, s2_start + closers));
                realign = end;
            }
            None => {
                realign = 0;
                if s1_start < s1_stop {
                    out.push((s1_start, s1_stop));
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(text: &str) -> Vec<&str> {
        PunktSentenceTokenizer::english().tokenize(text)
    }

    #[test]
    fn nltk_docstring_examples() {
        // From NLTK's punkt module docstring.
        assert_eq!(
            split(
                "Punkt knows that the periods in Mr. Smith and Johann S. Bach\ndo not mark sentence boundaries.  And sometimes sentences\ncan start with non-capitalized words.  i is a good variable\nname."
            ),
            [
                "Punkt knows that the periods in Mr. Smith and Johann S. Bach\ndo not mark sentence boundaries.",
                "And sometimes sentences\ncan start with non-capitalized words.",
                "i is a good variable\nname."
            ]
        );
        assert_eq!(
            split(
                "(How does it deal with this parenthesis?)  \"It should be part of the\nprevious sentence.\" \"(And the same with this one.)\" ('And this one!')\n\"('(And (this)) '?)\" [(and this. )]"
            ),
            [
                "(How does it deal with this parenthesis?)",
                "\"It should be part of the\nprevious sentence.\"",
                "\"(And the same with this one.)\"",
                "('And this one!')",
                "\"('(And (this)) '?)\"",
                "[(and this. )]"
            ]
        );
    }
}
