//! Punkt's word tokens (NLTK `PunktToken`, `PunktLanguageVars.word_tokenize`) and the
//! period contexts that may end a sentence (`_match_potential_end_contexts`).

use crate::split::pytext::{is_alpha_not_digit, is_decimal, is_space};

/// An annotated word token (NLTK `PunktToken`).
#[derive(Debug, Clone)]
pub(super) struct PunktToken {
    pub(super) tok: String,
    pub(super) typ: String,
    pub(super) period_final: bool,
    pub(super) sentbreak: bool,
    pub(super) abbr: bool,
    pub(super) ellipsis: bool,
}

/// NLTK `_RE_NUMERIC`: `^-?[\.,]?\d[\d,\.-]*\.?$`.
fn is_numeric_token(s: &str) -> bool {
    let mut chars = s.chars().peekable();
    if chars.peek() == Some(&'-') {
        chars.next();
    }
    if matches!(chars.peek(), Some('.') | Some(',')) {
        chars.next();
    }
    match chars.next() {
        Some(c) if is_decimal(c) => {}
        _ => return false,
    }
    chars.all(|c| is_decimal(c) || matches!(c, ',' | '.' | '-'))
}

impl PunktToken {
    pub(super) fn new(tok: String) -> Self {
        let lower = tok.to_lowercase();
        let typ = if is_numeric_token(&lower) {
            "##number##".to_string()
        } else {
            lower
        };
        let period_final = tok.ends_with('.');
        PunktToken {
            tok,
            typ,
            period_final,
            sentbreak: false,
            abbr: false,
            ellipsis: false,
        }
    }

    pub(super) fn type_no_period(&self) -> &str {
        if self.typ.chars().count() > 1 && self.typ.ends_with('.') {
            &self.typ[..self.typ.len() - 1]
        } else {
            &self.typ
        }
    }

    pub(super) fn type_no_sentperiod(&self) -> &str {
        if self.sentbreak {
            self.type_no_period()
        } else {
            &self.typ
        }
    }

    pub(super) fn first_upper(&self) -> bool {
        self.tok.chars().next().is_some_and(char::is_uppercase)
    }

    pub(super) fn first_lower(&self) -> bool {
        self.tok.chars().next().is_some_and(char::is_lowercase)
    }

    /// `_RE_ELLIPSIS.match`: two or more periods and nothing else.
    pub(super) fn is_ellipsis(&self) -> bool {
        self.tok.len() >= 2 && self.tok.chars().all(|c| c == '.')
    }

    /// `_RE_INITIAL.match`: one `[^\W\d]` char followed by a period.
    pub(super) fn is_initial(&self) -> bool {
        let mut chars = self.tok.chars();
        matches!(
            (chars.next(), chars.next(), chars.next()),
            (Some(c), Some('.'), None) if is_alpha_not_digit(c)
        )
    }
}

/// `PunktLanguageVars._re_non_word_chars`: `)";}]*:@'({[` plus `?` and `!`.
fn is_non_word(c: char) -> bool {
    matches!(
        c,
        ')' | '"' | ';' | '}' | ']' | '*' | ':' | '@' | '\'' | '(' | '{' | '[' | '?' | '!'
    )
}

/// Characters excluded from starting a word token (`_re_word_start`).
fn is_word_start_excluded(c: char) -> bool {
    matches!(
        c,
        '(' | '"' | '`' | '{' | '[' | ':' | ';' | '&' | '#' | '*' | '@' | ')' | '}' | ']' | '-' | ','
    )
}

pub(super) fn is_sent_end_char(c: char) -> bool {
    matches!(c, '.' | '?' | '!')
}

/// `_re_multi_char_punct` = `(?:\-{2,}|\.{2,}|(?:\.\s){2,}\.)` anchored at `i`; returns the end.
fn multi_char_punct_at(s: &[char], i: usize) -> Option<usize> {
    let at = |k: usize| s.get(k).copied();
    for mark in ['-', '.'] {
        if at(i) == Some(mark) && at(i + 1) == Some(mark) {
            let mut end = i + 2;
            while at(end) == Some(mark) {
                end += 1;
            }
            return Some(end);
        }
    }
    let mut pairs = 0;
    let mut p = i;
    while at(p) == Some('.') && at(p + 1).is_some_and(is_space) {
        p += 2;
        pairs += 1;
    }
    if pairs >= 2 && at(p) == Some('.') {
        Some(p + 1)
    } else if pairs >= 3 {
        // Backtrack one `\.\s` pair: its period closes the match.
        Some(p - 1)
    } else {
        None
    }
}

/// The lookahead that ends a word token in `_word_tokenize_fmt`.
fn word_ends_at(s: &[char], j: usize) -> bool {
    let Some(&c) = s.get(j) else { return true };
    if is_space(c) || is_non_word(c) || multi_char_punct_at(s, j).is_some() {
        return true;
    }
    if c == ',' {
        return match s.get(j + 1) {
            None => true,
            Some(&n) => is_space(n) || is_non_word(n) || multi_char_punct_at(s, j + 1).is_some(),
        };
    }
    false
}

/// `PunktLanguageVars.word_tokenize` on one line (no `\n` inside).
fn word_tokenize(line: &[char]) -> Vec<String> {
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < line.len() {
        if let Some(end) = multi_char_punct_at(line, i) {
            tokens.push(line[i..end].iter().collect());
            i = end;
            continue;
        }
        let c = line[i];
        if is_space(c) {
            i += 1;
            continue;
        }
        if is_word_start_excluded(c) {
            tokens.push(c.to_string());
            i += 1;
            continue;
        }
        let mut j = i + 1;
        while !word_ends_at(line, j) {
            j += 1;
        }
        tokens.push(line[i..j].iter().collect());
        i = j;
    }
    tokens
}

/// A `period_context_re` match: the sentence-end char at `start`, its `after_tok` group and the
/// start of `next_tok` when the lookahead went through whitespace.
#[derive(Debug, Clone, Copy)]
pub(super) struct PeriodContext {
    pub(super) start: usize,
    pub(super) after_end: usize,
    pub(super) next_tok: Option<usize>,
}

impl PeriodContext {
    pub(super) fn end(&self) -> usize {
        self.start + 1
    }
}

pub(super) fn period_contexts(text: &[char]) -> Vec<PeriodContext> {
    let mut found = Vec::new();
    for (i, &c) in text.iter().enumerate() {
        if !is_sent_end_char(c) {
            continue;
        }
        match text.get(i + 1) {
            Some(&n) if is_non_word(n) => found.push(PeriodContext {
                start: i,
                after_end: i + 2,
                next_tok: None,
            }),
            Some(&n) if is_space(n) => {
                let mut j = i + 1;
                while j < text.len() && is_space(text[j]) {
                    j += 1;
                }
                if j == text.len() {
                    continue;
                }
                let mut k = j;
                while k < text.len() && !is_space(text[k]) {
                    k += 1;
                }
                found.push(PeriodContext {
                    start: i,
                    after_end: k,
                    next_tok: Some(j),
                });
            }
            _ => {}
        }
    }
    found
}

/// `_tokenize_words`: word tokens of every non-blank line (lines split on `\n` only).
pub(super) fn tokenize_words(text: &str) -> Vec<PunktToken> {
    let mut tokens = Vec::new();
    for line in text.split('\n') {
        let chars: Vec<char> = line.chars().collect();
        if chars.iter().all(|&c| is_space(c)) {
            continue;
        }
        tokens.extend(word_tokenize(&chars).into_iter().map(PunktToken::new));
    }
    tokens
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn word_tokenizer_splits_punctuation() {
        let chars: Vec<char> = "Hello, (world)... \"quoted\" a--b 3.5.".chars().collect();
        assert_eq!(
            word_tokenize(&chars),
            [
                "Hello", ",", "(", "world", ")", "...", "\"", "quoted", "\"", "a", "--", "b", "3.5."
            ]
        );
    }
}
