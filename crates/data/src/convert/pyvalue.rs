//! A cell of a source dataset as the Python value upstream's converter sees in `example[key]`,
//! with Python's truthiness and `str()`, so text extraction (`_normalise_text`) is the same.

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Float16Type, Float32Type, Float64Type, Int8Type, Int16Type, Int32Type, Int64Type, UInt8Type, UInt16Type,
    UInt32Type, UInt64Type,
};
use arrow_array::{Array, ArrayRef};
use arrow_schema::DataType;

/// A Python value decoded from one Arrow cell.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum PyValue {
    /// `None` (a null cell).
    None,
    /// `str`.
    Str(String),
    /// `int` (any Arrow integer type; `u64` above `i64::MAX` kept as text).
    Int(String),
    /// `float` (f16/f32 widened to f64, as pyarrow converts them).
    Float(f64),
    /// `bool`.
    Bool(bool),
    /// `list`.
    List(Vec<PyValue>),
}

impl PyValue {
    /// The value of `array[row]`, or the Arrow type that has no Python value here.
    pub(crate) fn at(array: &ArrayRef, row: usize) -> Result<Self, String> {
        if array.is_null(row) {
            return Ok(Self::None);
        }
        macro_rules! int {
            ($t:ty) => {
                Self::Int(array.as_primitive::<$t>().value(row).to_string())
            };
        }
        Ok(match array.data_type() {
            DataType::Null => Self::None,
            DataType::Utf8 => Self::Str(array.as_string::<i32>().value(row).to_owned()),
            DataType::LargeUtf8 => Self::Str(array.as_string::<i64>().value(row).to_owned()),
            DataType::Utf8View => Self::Str(array.as_string_view().value(row).to_owned()),
            DataType::Boolean => Self::Bool(array.as_boolean().value(row)),
            DataType::Int8 => int!(Int8Type),
            DataType::Int16 => int!(Int16Type),
            DataType::Int32 => int!(Int32Type),
            DataType::Int64 => int!(Int64Type),
            DataType::UInt8 => int!(UInt8Type),
            DataType::UInt16 => int!(UInt16Type),
            DataType::UInt32 => int!(UInt32Type),
            DataType::UInt64 => int!(UInt64Type),
            DataType::Float16 => Self::Float(array.as_primitive::<Float16Type>().value(row).to_f64()),
            DataType::Float32 => Self::Float(f64::from(array.as_primitive::<Float32Type>().value(row))),
            DataType::Float64 => Self::Float(array.as_primitive::<Float64Type>().value(row)),
            DataType::List(_) => Self::list(&array.as_list::<i32>().value(row))?,
            DataType::LargeList(_) => Self::list(&array.as_list::<i64>().value(row))?,
            other => return Err(other.to_string()),
        })
    }

    fn list(values: &ArrayRef) -> Result<Self, String> {
        (0..values.len())
            .map(|i| Self::at(values, i))
            .collect::<Result<_, _>>()
            .map(Self::List)
    }

    /// Python's `bool(value)`.
    pub(crate) fn truthy(&self) -> bool {
        match self {
            Self::None => false,
            Self::Str(s) => !s.is_empty(),
            Self::Int(i) => i != "0",
            Self::Float(f) => *f != 0.0,
            Self::Bool(b) => *b,
            Self::List(items) => !items.is_empty(),
        }
    }

    /// Python's `str(value)`.
    pub(crate) fn py_str(&self) -> String {
        match self {
            Self::Str(s) => s.clone(),
            other => other.py_repr(),
        }
    }

    /// Python's `repr(value)` (strings quoted as Python quotes them, without escaping beyond
    /// quotes and backslashes).
    fn py_repr(&self) -> String {
        match self {
            Self::None => "None".to_owned(),
            Self::Str(s) => {
                let quote = if s.contains('\'') && !s.contains('"') {
                    '"'
                } else {
                    '\''
                };
                let body = s.replace('\\', "\\\\");
                let body = if quote == '\'' { body.replace('\'', "\\'") } else { body };
                format!("{quote}{body}{quote}")
            }
            Self::Int(i) => i.clone(),
            Self::Float(f) => float_repr(*f),
            Self::Bool(b) => if *b { "True" } else { "False" }.to_owned(),
            Self::List(items) => format!("[{}]", items.iter().map(Self::py_repr).collect::<Vec<_>>().join(", ")),
        }
    }

    /// Upstream's `_normalise_text`: `None` → `""`, a list → its truthy items' `str()` joined
    /// by spaces, a string as is, anything else `str()`.
    pub(crate) fn normalise_text(&self) -> String {
        match self {
            Self::None => String::new(),
            Self::List(items) => items
                .iter()
                .filter(|p| p.truthy())
                .map(Self::py_str)
                .collect::<Vec<_>>()
                .join(" "),
            other => other.py_str(),
        }
    }
}

/// Python's `repr(float)`: the shortest round-tripping digits, positional for decimal exponents
/// in `[-4, 16)` (with `.0` for integral values), else scientific with a two-digit exponent.
pub(crate) fn float_repr(x: f64) -> String {
    if x.is_nan() {
        return "nan".to_owned();
    }
    if x.is_infinite() {
        return if x > 0.0 { "inf" } else { "-inf" }.to_owned();
    }
    let sci = format!("{x:e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let (sign, mantissa) = mantissa.strip_prefix('-').map_or(("", mantissa), |m| ("-", m));
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let point = exp + 1; // digits before the decimal point
    if !(-4 < point && point <= 16) {
        let tail = if digits.len() > 1 {
            format!(".{}", &digits[1..])
        } else {
            String::new()
        };
        let exp_sign = if exp < 0 { '-' } else { '+' };
        return format!("{sign}{}{tail}e{exp_sign}{:02}", &digits[..1], exp.abs());
    }
    let body = if point <= 0 {
        format!("0.{}{digits}", "0".repeat(point.unsigned_abs() as usize))
    } else {
        let point = point as usize;
        if digits.len() <= point {
            format!("{digits}{}.0", "0".repeat(point - digits.len()))
        } else {
            format!("{}.{}", &digits[..point], &digits[point..])
        }
    };
    format!("{sign}{body}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_print_like_python_repr() {
        for (x, expected) in [
            (0.5, "0.5"),
            (1.0, "1.0"),
            (-2.25, "-2.25"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (1.5e-7, "1.5e-07"),
            (1e16, "1e+16"),
            (1234567890123456.0, "1234567890123456.0"),
            (f64::from(0.1f32), "0.10000000149011612"),
            (0.0, "0.0"),
        ] {
            assert_eq!(float_repr(x), expected, "{x}");
        }
    }

    #[test]
    fn normalise_text_joins_truthy_list_items() {
        let list = PyValue::List(vec![
            PyValue::Str("a".into()),
            PyValue::Str(String::new()),
            PyValue::None,
            PyValue::Int("0".into()),
            PyValue::Float(0.5),
            PyValue::Bool(true),
        ]);
        assert_eq!(list.normalise_text(), "a 0.5 True");
        assert_eq!(PyValue::None.normalise_text(), "");
        assert!(!PyValue::List(vec![]).truthy());
        assert_eq!(
            PyValue::List(vec![PyValue::List(vec![PyValue::Str("x".into())])]).normalise_text(),
            "['x']"
        );
    }
}
