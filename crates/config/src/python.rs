//! Python's text forms of values, for files upstream writes with `json.dump` or `repr`:
//! [`python_float_repr`] (`repr(float)`) and [`python_json_pretty`] (`json.dumps(value,
//! indent=2, ensure_ascii=False)`), the one place that knows them.

use serde_json::Value;

/// Python's `repr(float)`: the shortest round-trip digits, fixed notation for exponents in
/// [-4, 16), otherwise scientific with a signed exponent of at least two digits.
pub fn python_float_repr(x: f64) -> String {
    if x.is_nan() {
        return "nan".to_string();
    }
    if x.is_infinite() {
        return if x > 0.0 { "inf" } else { "-inf" }.to_string();
    }
    if x == 0.0 {
        return if x.is_sign_negative() { "-0.0" } else { "0.0" }.to_string();
    }
    // Rust's `{:e}` gives the shortest round-trip digits: "-2.76e-7".
    let sci = format!("{x:e}");
    let (mantissa, exponent) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let negative = mantissa.starts_with('-');
    let digits: String = mantissa.chars().filter(|c| c.is_ascii_digit()).collect();
    let sign = if negative { "-" } else { "" };
    if (-4..16).contains(&exponent) {
        let point = exponent + 1; // digits before the decimal point
        let body = if point <= 0 {
            format!("0.{}{digits}", "0".repeat((-point) as usize))
        } else if point as usize >= digits.len() {
            format!("{digits}{}.0", "0".repeat(point as usize - digits.len()))
        } else {
            let (int, frac) = digits.split_at(point as usize);
            format!("{int}.{frac}")
        };
        format!("{sign}{body}")
    } else {
        let (first, rest) = digits.split_at(1);
        let mantissa = if rest.is_empty() {
            first.to_string()
        } else {
            format!("{first}.{rest}")
        };
        let exp_sign = if exponent < 0 { '-' } else { '+' };
        format!("{sign}{mantissa}e{exp_sign}{:02}", exponent.abs())
    }
}

/// `json.dumps(value, indent=2, ensure_ascii=False)`: two-space indent, `", "`-free item
/// separators at line ends, `": "` after keys, floats as [`python_float_repr`] (`NaN`,
/// `Infinity` for non-finite ones), integers as integers, empty containers as `[]` / `{}`.
pub fn python_json_pretty(value: &Value) -> String {
    let mut out = String::new();
    write_value(value, 0, &mut out);
    out
}

fn write_value(value: &Value, depth: usize, out: &mut String) {
    let pad = |d: usize| "  ".repeat(d);
    match value {
        Value::Number(n) if n.is_f64() => {
            let x = n.as_f64().unwrap_or(f64::NAN);
            out.push_str(&match python_float_repr(x).as_str() {
                "nan" => "NaN".to_owned(),
                "inf" => "Infinity".to_owned(),
                "-inf" => "-Infinity".to_owned(),
                text => text.to_owned(),
            });
        }
        Value::Array(items) if !items.is_empty() => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                out.push_str(if i == 0 { "\n" } else { ",\n" });
                out.push_str(&pad(depth + 1));
                write_value(item, depth + 1, out);
            }
            out.push('\n');
            out.push_str(&pad(depth));
            out.push(']');
        }
        Value::Object(map) if !map.is_empty() => {
            out.push('{');
            for (i, (key, item)) in map.iter().enumerate() {
                out.push_str(if i == 0 { "\n" } else { ",\n" });
                out.push_str(&pad(depth + 1));
                out.push_str(&Value::String(key.clone()).to_string());
                out.push_str(": ");
                write_value(item, depth + 1, out);
            }
            out.push('\n');
            out.push_str(&pad(depth));
            out.push('}');
        }
        other => out.push_str(&other.to_string()),
    }
}

/// Python's `repr()` of the object `json.loads` makes of `value`: `None`, `True`, `1`, `0.5`,
/// `'text'`, `[...]`, `{'key': ...}` (in the map's order).
pub fn python_repr(value: &Value) -> String {
    match value {
        Value::Null => "None".to_owned(),
        Value::Bool(b) => if *b { "True" } else { "False" }.to_owned(),
        Value::Number(n) if n.is_f64() => python_float_repr(n.as_f64().unwrap_or(f64::NAN)),
        Value::Number(n) => n.to_string(),
        Value::String(s) => python_str_repr(s),
        Value::Array(items) => format!("[{}]", items.iter().map(python_repr).collect::<Vec<_>>().join(", ")),
        Value::Object(map) => python_dict_repr(map.iter()),
    }
}

/// Python's `repr()` of a dict with these entries, in order.
pub fn python_dict_repr<'a>(entries: impl Iterator<Item = (&'a String, &'a Value)>) -> String {
    let items: Vec<String> = entries
        .map(|(k, v)| format!("{}: {}", python_str_repr(k), python_repr(v)))
        .collect();
    format!("{{{}}}", items.join(", "))
}

/// Python's `repr()` of a string: single quotes unless it holds `'` and no `"`; backslash,
/// the quote, `\n`, `\r`, `\t` and other control characters escaped.
fn python_str_repr(s: &str) -> String {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::from(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || c as u32 == 0x7f => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn float_repr_matches_python() {
        // Expected strings are Python 3.11's repr() of the same values.
        let cases = [
            (2.76e-07, "2.76e-07"),
            (0.4167, "0.4167"),
            (1.0, "1.0"),
            (100.0, "100.0"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (1e16, "1e+16"),
            (123456789012345.6, "123456789012345.6"),
            (-0.5, "-0.5"),
            (5e-5, "5e-05"),
            (8.6388e-05, "8.6388e-05"),
            (0.1 + 0.2, "0.30000000000000004"),
        ];
        for (value, expected) in cases {
            assert_eq!(python_float_repr(value), expected, "{value}");
        }
    }

    #[test]
    fn repr_is_pythons() {
        // repr(json.loads(...)) in Python 3.11.
        let value = serde_json::json!({"a": [1, 0.5, null, true], "b": "it's", "c": "say \"x\"\n"});
        assert_eq!(
            python_repr(&value),
            r#"{'a': [1, 0.5, None, True], 'b': "it's", 'c': 'say "x"\n'}"#
        );
    }

    #[test]
    fn pretty_json_is_pythons() {
        let value = serde_json::json!({"a": [1, 2.5e-05, {"b": null}], "c": {}, "d": [], "é": "ü"});
        // json.dumps(..., indent=2, ensure_ascii=False) of the same dict in Python 3.11.
        let expected = "{\n  \"a\": [\n    1,\n    2.5e-05,\n    {\n      \"b\": null\n    }\n  ],\n  \"c\": {},\n  \"d\": [],\n  \"é\": \"ü\"\n}";
        assert_eq!(python_json_pretty(&value), expected);
    }
}
