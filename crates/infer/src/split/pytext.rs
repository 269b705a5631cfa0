//! Python `str` semantics that the upstream splitters rely on (whitespace set, `splitlines`,
//! `strip`, decimal digits, `\w`), expressed over `char`s.
//!
//! Upstream runs on CPython, whose notion of whitespace and line boundaries differs from Rust's
//! (`\x1c`..`\x1f` are whitespace in Python; `str.splitlines` knows eleven line boundaries).

/// Python `str.isspace()` for one code point (also what `\s` matches in a Python `str` regex).
pub fn is_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// Python `string.whitespace` (ASCII only): `' \t\n\r\x0b\x0c'`.
pub fn is_ascii_whitespace_py(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r' | '\u{0b}' | '\u{0c}')
}

/// Inclusive ranges of Unicode category `Nd` (Unicode 14, as in CPython 3.11).
#[rustfmt::skip]
const DECIMAL_RANGES: &[(u32, u32)] = &[
    (0x30, 0x39), (0x660, 0x669), (0x6F0, 0x6F9), (0x7C0, 0x7C9), (0x966, 0x96F),
    (0x9E6, 0x9EF), (0xA66, 0xA6F), (0xAE6, 0xAEF), (0xB66, 0xB6F), (0xBE6, 0xBEF),
    (0xC66, 0xC6F), (0xCE6, 0xCEF), (0xD66, 0xD6F), (0xDE6, 0xDEF), (0xE50, 0xE59),
    (0xED0, 0xED9), (0xF20, 0xF29), (0x1040, 0x1049), (0x1090, 0x1099), (0x17E0, 0x17E9),
    (0x1810, 0x1819), (0x1946, 0x194F), (0x19D0, 0x19D9), (0x1A80, 0x1A89), (0x1A90, 0x1A99),
    (0x1B50, 0x1B59), (0x1BB0, 0x1BB9), (0x1C40, 0x1C49), (0x1C50, 0x1C59), (0xA620, 0xA629),
    (0xA8D0, 0xA8D9), (0xA900, 0xA909), (0xA9D0, 0xA9D9), (0xA9F0, 0xA9F9), (0xAA50, 0xAA59),
    (0xABF0, 0xABF9), (0xFF10, 0xFF19), (0x104A0, 0x104A9), (0x10D30, 0x10D39), (0x11066, 0x1106F),
    (0x110F0, 0x110F9), (0x11136, 0x1113F), (0x111D0, 0x111D9), (0x112F0, 0x112F9), (0x11450, 0x11459),
    (0x114D0, 0x114D9), (0x11650, 0x11659), (0x116C0, 0x116C9), (0x11730, 0x11739), (0x118E0, 0x118E9),
    (0x11950, 0x11959), (0x11C50, 0x11C59), (0x11D50, 0x11D59), (0x11DA0, 0x11DA9), (0x16A60, 0x16A69),
    (0x16AC0, 0x16AC9), (0x16B50, 0x16B59), (0x1D7CE, 0x1D7FF), (0x1E140, 0x1E149), (0x1E2F0, 0x1E2F9),
    (0x1E950, 0x1E959), (0x1FBF0, 0x1FBF9),
];

/// Python regex `\d` on `str` (Unicode category `Nd`).
pub fn is_decimal(c: char) -> bool {
    if c.is_ascii() {
        return c.is_ascii_digit();
    }
    in_ranges(DECIMAL_RANGES, c)
}

/// The value of a decimal digit as Python's `int()` reads it (any `Nd` code point: `２` is 2,
/// `٣` is 3), `None` for other characters. Every `Nd` range starts at a zero and runs in tens.
pub fn decimal_value(c: char) -> Option<u32> {
    if c.is_ascii() {
        return c.to_digit(10);
    }
    let index = range_index(DECIMAL_RANGES, c)?;
    Some((c as u32 - DECIMAL_RANGES[index].0) % 10)
}

/// The index of the sorted, disjoint, inclusive code point range of `ranges` holding `c`.
fn range_index(ranges: &[(u32, u32)], c: char) -> Option<usize> {
    let cp = c as u32;
    ranges
        .binary_search_by(|&(lo, hi)| {
            if hi < cp {
                std::cmp::Ordering::Less
            } else if lo > cp {
                std::cmp::Ordering::Greater
            } else {
                std::cmp::Ordering::Equal
            }
        })
        .ok()
}

/// Whether `c` lies in one of the sorted, disjoint, inclusive code point `ranges`.
pub(crate) fn in_ranges(ranges: &[(u32, u32)], c: char) -> bool {
    range_index(ranges, c).is_some()
}

/// Python regex class `[^\W\d]`: a word character that is not a decimal digit.
///
/// Python's `\w` is `isalnum() or '_'`; Rust's `is_alphabetic` additionally covers a few
/// combining vowel signs, a difference that does not occur in realistic English text.
pub fn is_alpha_not_digit(c: char) -> bool {
    (c.is_alphabetic() || c.is_numeric() || c == '_') && !is_decimal(c)
}

/// Python `str.splitlines()` line boundary characters (`\r\n` is handled by the caller).
pub fn is_line_boundary(c: char) -> bool {
    matches!(
        c,
        '\n' | '\r' | '\u{0b}' | '\u{0c}' | '\u{1c}' | '\u{1d}' | '\u{1e}' | '\u{85}' | '\u{2028}' | '\u{2029}'
    )
}

/// Python `str.splitlines(keepends=True)` over a char slice, as `(start, end)` char ranges that
/// tile the input.
pub fn splitlines_keepends(chars: &[char]) -> Vec<(usize, usize)> {
    let mut lines = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i < chars.len() {
        if is_line_boundary(chars[i]) {
            let end = if chars[i] == '\r' && chars.get(i + 1) == Some(&'\n') {
                i + 2
            } else {
                i + 1
            };
            lines.push((start, end));
            start = end;
            i = end;
        } else {
            i += 1;
        }
    }
    if start < chars.len() {
        lines.push((start, chars.len()));
    }
    lines
}

/// Python `str.strip()` (Python whitespace set).
pub fn py_strip(text: &str) -> &str {
    text.trim_matches(is_space)
}

/// True when `text.strip()` would be empty.
pub fn is_blank(text: &str) -> bool {
    text.chars().all(is_space)
}

/// True when every char of the slice is Python whitespace (also for an empty slice).
pub fn chars_blank(chars: &[char]) -> bool {
    chars.iter().all(|&c| is_space(c))
}

/// Byte offset of every char boundary of `text`, plus `text.len()` at the end, so that char
/// index `i` maps to byte offset `offsets[i]`.
pub fn char_byte_offsets(text: &str) -> Vec<usize> {
    let mut offsets: Vec<usize> = text.char_indices().map(|(b, _)| b).collect();
    offsets.push(text.len());
    offsets
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_values_of_every_script() {
        assert_eq!(decimal_value('7'), Some(7));
        assert_eq!(decimal_value('\u{ff12}'), Some(2), "full-width two");
        assert_eq!(decimal_value('\u{663}'), Some(3), "Arabic-Indic three");
        assert_eq!(decimal_value('\u{1d7d9}'), Some(1), "mathematical double-struck one");
        assert_eq!(decimal_value('x'), None);
        assert_eq!(decimal_value('\u{b2}'), None, "superscript two is not Nd");
    }

    #[test]
    fn python_whitespace_includes_information_separators() {
        assert!(is_space('\u{1f}'));
        assert!(is_space('\u{3000}'));
        assert!(!is_space('a'));
        assert!(!is_ascii_whitespace_py('\u{a0}'));
    }

    #[test]
    fn decimal_digits_cover_fullwidth_and_arabic_indic() {
        assert!(is_decimal('７'));
        assert!(is_decimal('٣'));
        assert!(!is_decimal('²'));
        assert!(!is_decimal('a'));
        assert!(is_alpha_not_digit('é'));
        assert!(!is_alpha_not_digit('5'));
    }

    #[test]
    fn splitlines_matches_python() {
        let chars: Vec<char> = "a\r\nb\rc\u{2028}d\n\ne".chars().collect();
        let got: Vec<String> = splitlines_keepends(&chars)
            .into_iter()
            .map(|(s, e)| chars[s..e].iter().collect())
            .collect();
        assert_eq!(got, ["a\r\n", "b\r", "c\u{2028}", "d\n", "\n", "e"]);
        assert!(splitlines_keepends(&[]).is_empty());
    }
}
