//! A rule-based Japanese sentence splitter in the spirit of bunkai / fast-bunkai, tuned against
//! fast-bunkai 0.1.1's outputs (see `tests/split_golden.rs`).
//!
//! Boundaries come from annotators applied in this order:
//! 1. face marks: a parenthesised run without whitespace or Japanese letters that is not plain
//!    ASCII alphanumerics (`(^_^)`, `(T_T)`, `(*´ω｀*)`), plus a run of punctuation or symbols
//!    right after it, and emotion words in parentheses (`(笑)`, `（泣）`, ...): the boundary
//!    follows the closing parenthesis;
//! 2. emotion symbols: runs of `…★☆♪`, together with one end punctuation mark right after;
//! 3. emoji of the "Smileys & Emotion" and "Symbols" groups, with any emoji right after them;
//! 4. the basic rule: runs of `。!?.！？．` plus the whitespace after them, except a single
//!    period between ASCII alphanumerics (`No.1`, `a.b`) or between numerals (`3.5`, `１．５`,
//!    kanji numerals too: `京.2`);
//! 5. indirect-quote exception: no boundary when the text goes on with `て`, `と`, `に`, `の`,
//!    `って` or `など` (`本当？と思った`);
//! 6. forced boundaries after every whitespace run that contains a newline; such a run also
//!    absorbs one boundary right before it (a second one there survives).
//!
//! The annotators are independent: `…。` is both an emotion run and a basic-rule run, so
//! `…。　次` has a boundary before and after the ideographic space, as in fast-bunkai.
//!
//! Sentences tile the input; upstream drops empty pieces and returns `[text]` when nothing is left.

use std::ops::Range;

use super::pytext::{char_byte_offsets, in_ranges, is_decimal, is_space};

/// Emoji code points that fast-bunkai treats as sentence boundaries (inclusive ranges).
#[rustfmt::skip]
const EMOJI_RANGES: &[(u32, u32)] = &[
    (0xA9, 0xA9), (0xAE, 0xAE), (0x203C, 0x203C), (0x2049, 0x2049), (0x2122, 0x2122),
    (0x2139, 0x2139), (0x2194, 0x2199), (0x21A9, 0x21AA), (0x23CF, 0x23CF), (0x23E9, 0x23EF),
    (0x23F8, 0x23FA), (0x24C2, 0x24C2), (0x25AA, 0x25AB), (0x25B6, 0x25B6), (0x25C0, 0x25C0),
    (0x25FB, 0x25FE), (0x2611, 0x2611), (0x2620, 0x2620), (0x2622, 0x2623), (0x2626, 0x2626),
    (0x262A, 0x262A), (0x262E, 0x262F), (0x2638, 0x263A), (0x2640, 0x2640), (0x2642, 0x2642),
    (0x2648, 0x2653), (0x267B, 0x267B), (0x267E, 0x267F), (0x2695, 0x2695), (0x269B, 0x269C),
    (0x26A0, 0x26A0), (0x26A7, 0x26A7), (0x26AA, 0x26AB), (0x26CE, 0x26CE), (0x26D4, 0x26D4),
    (0x2705, 0x2705), (0x2714, 0x2714), (0x2716, 0x2716), (0x271D, 0x271D), (0x2721, 0x2721),
    (0x2733, 0x2734), (0x2747, 0x2747), (0x274C, 0x274C), (0x274E, 0x274E), (0x2753, 0x2755),
    (0x2757, 0x2757), (0x2763, 0x2764), (0x2795, 0x2797), (0x27A1, 0x27A1), (0x27B0, 0x27B0),
    (0x27BF, 0x27BF), (0x2934, 0x2935), (0x2B05, 0x2B07), (0x2B1B, 0x2B1C), (0x2B55, 0x2B55),
    (0x3030, 0x3030), (0x303D, 0x303D), (0x3297, 0x3297), (0x3299, 0x3299), (0x1F170, 0x1F171),
    (0x1F17E, 0x1F17F), (0x1F18E, 0x1F18E), (0x1F191, 0x1F19A), (0x1F201, 0x1F202), (0x1F21A, 0x1F21A),
    (0x1F22F, 0x1F22F), (0x1F232, 0x1F23A), (0x1F250, 0x1F251), (0x1F3A6, 0x1F3A6), (0x1F3E7, 0x1F3E7),
    (0x1F479, 0x1F47B), (0x1F47D, 0x1F480), (0x1F48B, 0x1F48C), (0x1F493, 0x1F4A0), (0x1F4A2, 0x1F4A6),
    (0x1F4A8, 0x1F4A9), (0x1F4AB, 0x1F4AD), (0x1F4AF, 0x1F4AF), (0x1F4B1, 0x1F4B2), (0x1F4DB, 0x1F4DB),
    (0x1F4F3, 0x1F4F6), (0x1F500, 0x1F506), (0x1F518, 0x1F524), (0x1F52F, 0x1F53D), (0x1F549, 0x1F549),
    (0x1F54E, 0x1F54E), (0x1F573, 0x1F573), (0x1F5A4, 0x1F5A4), (0x1F5E8, 0x1F5E8), (0x1F5EF, 0x1F5EF),
    (0x1F600, 0x1F644), (0x1F648, 0x1F64A), (0x1F6AB, 0x1F6AB), (0x1F6AD, 0x1F6B1), (0x1F6B3, 0x1F6B3),
    (0x1F6B7, 0x1F6BC), (0x1F6BE, 0x1F6BE), (0x1F6C2, 0x1F6C5), (0x1F6D0, 0x1F6D0), (0x1F7E0, 0x1F7EB),
    (0x1F7F0, 0x1F7F0), (0x1F90D, 0x1F90E), (0x1F910, 0x1F917), (0x1F920, 0x1F925), (0x1F927, 0x1F92F),
    (0x1F970, 0x1F976), (0x1F978, 0x1F97A), (0x1F9D0, 0x1F9D0), (0x1F9E1, 0x1F9E1), (0x1FAE0, 0x1FAE5),
];

/// Every single-code-point emoji (what may continue an emoji run), inclusive ranges.
#[rustfmt::skip]
const EMOJI_ANY_RANGES: &[(u32, u32)] = &[
    (0xA9, 0xA9), (0xAE, 0xAE), (0x203C, 0x203C), (0x2049, 0x2049), (0x2122, 0x2122),
    (0x2139, 0x2139), (0x2194, 0x2199), (0x21A9, 0x21AA), (0x231A, 0x231B), (0x2328, 0x2328),
    (0x23CF, 0x23CF), (0x23E9, 0x23F3), (0x23F8, 0x23FA), (0x24C2, 0x24C2), (0x25AA, 0x25AB),
    (0x25B6, 0x25B6), (0x25C0, 0x25C0), (0x25FB, 0x25FE), (0x2600, 0x2604), (0x260E, 0x260E),
    (0x2611, 0x2611), (0x2614, 0x2615), (0x2618, 0x2618), (0x261D, 0x261D), (0x2620, 0x2620),
    (0x2622, 0x2623), (0x2626, 0x2626), (0x262A, 0x262A), (0x262E, 0x262F), (0x2638, 0x263A),
    (0x2640, 0x2640), (0x2642, 0x2642), (0x2648, 0x2653), (0x265F, 0x2660), (0x2663, 0x2663),
    (0x2665, 0x2666), (0x2668, 0x2668), (0x267B, 0x267B), (0x267E, 0x267F), (0x2692, 0x2697),
    (0x2699, 0x2699), (0x269B, 0x269C), (0x26A0, 0x26A1), (0x26A7, 0x26A7), (0x26AA, 0x26AB),
    (0x26B0, 0x26B1), (0x26BD, 0x26BE), (0x26C4, 0x26C5), (0x26C8, 0x26C8), (0x26CE, 0x26CF),
    (0x26D1, 0x26D1), (0x26D3, 0x26D4), (0x26E9, 0x26EA), (0x26F0, 0x26F5), (0x26F7, 0x26FA),
    (0x26FD, 0x26FD), (0x2702, 0x2702), (0x2705, 0x2705), (0x2708, 0x270D), (0x270F, 0x270F),
    (0x2712, 0x2712), (0x2714, 0x2714), (0x2716, 0x2716), (0x271D, 0x271D), (0x2721, 0x2721),
    (0x2728, 0x2728), (0x2733, 0x2734), (0x2744, 0x2744), (0x2747, 0x2747), (0x274C, 0x274C),
    (0x274E, 0x274E), (0x2753, 0x2755), (0x2757, 0x2757), (0x2763, 0x2764), (0x2795, 0x2797),
    (0x27A1, 0x27A1), (0x27B0, 0x27B0), (0x27BF, 0x27BF), (0x2934, 0x2935), (0x2B05, 0x2B07),
    (0x2B1B, 0x2B1C), (0x2B50, 0x2B50), (0x2B55, 0x2B55), (0x3030, 0x3030), (0x303D, 0x303D),
    (0x1F004, 0x1F004), (0x1F0CF, 0x1F0CF), (0x1F170, 0x1F171), (0x1F17E, 0x1F17F), (0x1F18E, 0x1F18E),
    (0x1F191, 0x1F19A), (0x1F201, 0x1F202), (0x1F21A, 0x1F21A), (0x1F22F, 0x1F22F), (0x1F232, 0x1F23A),
    (0x1F250, 0x1F251), (0x1F300, 0x1F321), (0x1F324, 0x1F393), (0x1F396, 0x1F397), (0x1F399, 0x1F39B),
    (0x1F39E, 0x1F3F0), (0x1F3F3, 0x1F3F5), (0x1F3F7, 0x1F4FD), (0x1F4FF, 0x1F53D), (0x1F549, 0x1F54E),
    (0x1F550, 0x1F567), (0x1F56F, 0x1F570), (0x1F573, 0x1F57A), (0x1F587, 0x1F587), (0x1F58A, 0x1F58D),
    (0x1F590, 0x1F590), (0x1F595, 0x1F596), (0x1F5A4, 0x1F5A5), (0x1F5A8, 0x1F5A8), (0x1F5B1, 0x1F5B2),
    (0x1F5BC, 0x1F5BC), (0x1F5C2, 0x1F5C4), (0x1F5D1, 0x1F5D3), (0x1F5DC, 0x1F5DE), (0x1F5E1, 0x1F5E1),
    (0x1F5E3, 0x1F5E3), (0x1F5E8, 0x1F5E8), (0x1F5EF, 0x1F5EF), (0x1F5F3, 0x1F5F3), (0x1F5FA, 0x1F64F),
    (0x1F680, 0x1F6C5), (0x1F6CB, 0x1F6D2), (0x1F6D5, 0x1F6D8), (0x1F6DC, 0x1F6E5), (0x1F6E9, 0x1F6E9),
    (0x1F6EB, 0x1F6EC), (0x1F6F0, 0x1F6F0), (0x1F6F3, 0x1F6FC), (0x1F7E0, 0x1F7EB), (0x1F7F0, 0x1F7F0),
    (0x1F90C, 0x1F93A), (0x1F93C, 0x1F945), (0x1F947, 0x1F9FF), (0x1FA70, 0x1FA7C), (0x1FA80, 0x1FA8A),
    (0x1FA8E, 0x1FAC6), (0x1FAC8, 0x1FAC8), (0x1FACD, 0x1FADC), (0x1FADF, 0x1FAEA), (0x1FAEF, 0x1FAF8),
];

/// Words in parentheses that mark an emotion (`(笑)`), besides single emotion kanji.
const EMOTION_KANJI: &str = "笑泣汗爆怒驚喜涙悲焦恥照嬉苦憂謎";

/// Kanji numerals, which count as digits before a decimal point (`京.2`).
const KANJI_NUMERALS: &str = "〇一二三四五六七八九十百千万億兆京";

/// Continuations after which a candidate boundary is an indirect quote, not a sentence end.
const INDIRECT_QUOTE_STARTS: &[&[char]] = &[&['て'], &['と'], &['に'], &['の'], &['っ', 'て'], &['な', 'ど']];

/// Japanese sentence splitter (bunkai-style rules; see the module documentation).
#[derive(Debug, Clone, Copy, Default)]
pub struct JapaneseSentenceSplitter;

fn is_emoji(c: char) -> bool {
    in_ranges(EMOJI_RANGES, c)
}

/// Any emoji: what continues an emoji run once a boundary emoji started it.
fn is_pictographic(c: char) -> bool {
    in_ranges(EMOJI_ANY_RANGES, c)
}

/// Punctuation and symbols that a face mark absorbs after its closing parenthesis
/// (`(^_^)!?`, `(^_^)…♪`, `(^_^)❤`): ASCII punctuation but parentheses, non-ASCII text before
/// U+3000 and fullwidth punctuation; not kana, kanji, CJK punctuation such as `。`, or emoji
/// outside the BMP.
fn is_face_trailing(c: char) -> bool {
    (c.is_ascii_punctuation() && !matches!(c, '(' | ')'))
        || matches!(c as u32,
            0xA1..=0x2FFF | 0xFF01..=0xFF07 | 0xFF0A..=0xFF0F | 0xFF1A..=0xFF20 | 0xFF3B..=0xFF40
                | 0xFF5B..=0xFF5E)
}

fn is_emotion_symbol(c: char) -> bool {
    matches!(c, '…' | '★' | '☆' | '♪')
}

fn is_end_punct(c: char) -> bool {
    matches!(c, '。' | '!' | '?' | '.' | '！' | '？' | '．')
}

/// Kana, kanji and the katakana middle dot: letters that never occur inside a face mark.
fn is_japanese_letter(c: char) -> bool {
    matches!(c as u32,
        0x3005 | 0x3040..=0x30FF | 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF | 0xFF66..=0xFF9F)
}

fn is_open_paren(c: char) -> bool {
    matches!(c, '(' | '（')
}

fn is_close_paren(c: char) -> bool {
    matches!(c, ')' | '）')
}

/// End (exclusive) of a face mark (with the punctuation or symbols right after it) or of a
/// parenthesised emotion word, starting at `i`.
fn face_mark_end(chars: &[char], i: usize) -> Option<usize> {
    if !is_open_paren(chars[i]) {
        return None;
    }
    let close = (i + 1..chars.len()).find(|&j| {
        let c = chars[j];
        is_close_paren(c) || is_open_paren(c) || is_space(c)
    })?;
    if !is_close_paren(chars[close]) || close == i + 1 {
        return None;
    }
    let inner = &chars[i + 1..close];
    let emotion = match inner {
        [c] => EMOTION_KANJI.contains(*c),
        ['笑', 'い'] => true,
        _ => false,
    };
    if emotion {
        return Some(close + 1);
    }
    let face = !inner
        .iter()
        .any(|&c| is_japanese_letter(c) || matches!(c as u32, 0x3000..=0x303F | 0xFE0F | 0x10000..))
        && !inner.iter().all(|c| c.is_ascii_alphanumeric());
    if !face {
        return None;
    }
    let mut end = close + 1;
    while end < chars.len() && is_face_trailing(chars[end]) {
        end += 1;
    }
    Some(end)
}

/// A single `.`/`．` inside `No.1`, `a.b`, `3.5` or `１．５` is not a sentence end.
fn is_dot_exception(chars: &[char], start: usize, end: usize) -> bool {
    if end - start != 1 || !matches!(chars[start], '.' | '．') || start == 0 {
        return false;
    }
    let (Some(&prev), Some(&next)) = (chars.get(start - 1), chars.get(end)) else {
        return false;
    };
    (prev.is_ascii_alphanumeric() && next.is_ascii_alphanumeric()) || (is_numeral(prev) && is_numeral(next))
}

/// A decimal digit or a kanji numeral.
fn is_numeral(c: char) -> bool {
    is_decimal(c) || KANJI_NUMERALS.contains(c)
}

fn is_indirect_quote(chars: &[char], at: usize) -> bool {
    chars
        .get(at..)
        .is_some_and(|rest| INDIRECT_QUOTE_STARTS.iter().any(|word| rest.starts_with(word)))
}

impl JapaneseSentenceSplitter {
    /// Boundary positions (char indices, sorted, unique, never 0) of `chars`.
    fn boundaries(chars: &[char]) -> Vec<usize> {
        let n = chars.len();
        let mut candidates = Vec::new();
        // Face marks and parenthesised emotion words.
        candidates.extend((0..n).filter_map(|i| face_mark_end(chars, i)));
        // Emotion-symbol runs (with the end punctuation right after them) and emoji runs.
        let mut i = 0;
        while i < n {
            let c = chars[i];
            if !is_emotion_symbol(c) && !is_emoji(c) {
                i += 1;
                continue;
            }
            let emotion = is_emotion_symbol(c);
            let continues: fn(char) -> bool = if emotion { is_emotion_symbol } else { is_pictographic };
            let mut end = i + 1;
            while end < n && continues(chars[end]) {
                end += 1;
            }
            if emotion && end < n && is_end_punct(chars[end]) {
                end += 1;
            }
            candidates.push(end);
            i = end;
        }
        // Basic rule: end-punctuation runs plus the whitespace after them.
        let mut i = 0;
        while i < n {
            if !is_end_punct(chars[i]) {
                i += 1;
                continue;
            }
            let mut run_end = i;
            while run_end < n && is_end_punct(chars[run_end]) {
                run_end += 1;
            }
            let mut end = run_end;
            while end < n && is_space(chars[end]) {
                end += 1;
            }
            if !is_dot_exception(chars, i, run_end) {
                candidates.push(end);
            }
            i = run_end;
        }
        // Indirect quotes are no boundary.
        let mut bounds: Vec<usize> = candidates
            .into_iter()
            .filter(|&b| !is_indirect_quote(chars, b))
            .collect();
        // Forced split after every whitespace run that contains a newline; the run replaces one
        // candidate ending right before it (fast-bunkai drops one such span, so when two
        // annotators end there, e.g. a face mark and an emotion symbol, a boundary remains).
        let mut j = 0;
        while j < n {
            if !is_space(chars[j]) {
                j += 1;
                continue;
            }
            let start = j;
            while j < n && is_space(chars[j]) {
                j += 1;
            }
            if chars[start..j].contains(&'\n') {
                if let Some(k) = bounds.iter().position(|&b| b == start) {
                    bounds.swap_remove(k);
                }
                bounds.push(j);
            }
        }
        bounds.retain(|&b| b > 0 && b <= n);
        bounds.sort_unstable();
        bounds.dedup();
        bounds
    }

    /// Sentence byte ranges of `text`: non-empty pieces that tile it (`[text]` when no boundary).
    pub fn split_spans(&self, text: &str) -> Vec<Range<usize>> {
        if text.is_empty() {
            return Vec::new();
        }
        let chars: Vec<char> = text.chars().collect();
        let offsets = char_byte_offsets(text);
        let mut spans = Vec::new();
        let mut start = 0;
        for end in Self::boundaries(&chars) {
            if end > start {
                spans.push(offsets[start]..offsets[end]);
            }
            start = end;
        }
        if start < chars.len() {
            spans.push(offsets[start]..text.len());
        }
        spans
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::split::SentenceSplitter;

    fn split(text: &str) -> Vec<String> {
        JapaneseSentenceSplitter.split(text)
    }

    #[test]
    fn upstream_example_splits_on_maru() {
        assert_eq!(
            split("寿司が好きです。ラーメンも好きです。"),
            ["寿司が好きです。", "ラーメンも好きです。"]
        );
    }

    #[test]
    fn exceptions_keep_sentences_together() {
        assert_eq!(split("本当？と思った"), ["本当？と思った"]);
        assert_eq!(split("No.1の選手。3.5kgある。"), ["No.1の選手。", "3.5kgある。"]);
        assert_eq!(split("あ(笑)と言った"), ["あ(笑)と言った"]);
    }

    #[test]
    fn emotion_emoji_and_newlines_split() {
        assert_eq!(split("すごい(笑)。次"), ["すごい(笑)", "。", "次"]);
        assert_eq!(split("ええ…。次は"), ["ええ…。", "次は"]);
        assert_eq!(split("あ😀😂次"), ["あ😀😂", "次"]);
        assert_eq!(split("一行目\n\n二行目 \n 三"), ["一行目\n\n", "二行目 \n ", "三"]);
        assert!(split("").is_empty());
    }
}
