//! Training log records: the console dict lines of upstream (Python dict repr, in insertion
//! order) and the `log_history` JSONL with Hugging Face key names.

use serde_json::{Map, Number, Value};

/// One log record (`{'loss': ..., 'step': ...}`), keys kept in insertion order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LogRecord {
    entries: Vec<(String, LogValue)>,
}

/// A value in a log record.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum LogValue {
    /// A float (losses, learning rate, epoch, ...).
    Float(f64),
    /// An integer (step, counts).
    Int(i64),
}

impl LogRecord {
    /// An empty record.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends (or replaces) a float entry.
    pub fn float(mut self, key: &str, value: f64) -> Self {
        self.set(key, LogValue::Float(value));
        self
    }

    /// Appends (or replaces) an integer entry.
    pub fn int(mut self, key: &str, value: i64) -> Self {
        self.set(key, LogValue::Int(value));
        self
    }

    fn set(&mut self, key: &str, value: LogValue) {
        match self.entries.iter_mut().find(|(k, _)| k == key) {
            Some(slot) => slot.1 = value,
            None => self.entries.push((key.to_string(), value)),
        }
    }

    /// The value of `key`, if present.
    pub fn get(&self, key: &str) -> Option<LogValue> {
        self.entries.iter().find(|(k, _)| k == key).map(|(_, v)| *v)
    }

    /// The entries in insertion order.
    pub fn entries(&self) -> &[(String, LogValue)] {
        &self.entries
    }

    /// The record as upstream prints it: a Python dict repr, e.g.
    /// `{'loss': 0.4167, 'learning_rate': 2.76e-07, 'step': 181}`.
    pub fn to_python_repr(&self) -> String {
        let parts: Vec<String> = self
            .entries
            .iter()
            .map(|(k, v)| {
                let value = match v {
                    LogValue::Float(f) => python_float_repr(*f),
                    LogValue::Int(i) => i.to_string(),
                };
                format!("'{k}': {value}")
            })
            .collect();
        format!("{{{}}}", parts.join(", "))
    }

    /// The record as a JSON object (for `log_history` and `trainer_state.json`); non-finite
    /// floats become strings, as JSON has no NaN.
    pub fn to_json(&self) -> Map<String, Value> {
        self.entries
            .iter()
            .map(|(k, v)| {
                let value = match v {
                    LogValue::Int(i) => Value::Number((*i).into()),
                    LogValue::Float(f) => Number::from_f64(*f)
                        .map(Value::Number)
                        .unwrap_or_else(|| Value::String(python_float_repr(*f))),
                };
                (k.clone(), value)
            })
            .collect()
    }
}

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

/// Python's `round(x, ndigits)` for the values upstream rounds (`loss` to 4, `epoch` to 2):
/// round-half-even on the decimal representation.
pub fn python_round(x: f64, ndigits: i32) -> f64 {
    if !x.is_finite() {
        return x;
    }
    let text = format!("{:.*}", ndigits as usize, x); // Rust rounds the exact binary value half-even
    text.parse().unwrap_or(x)
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
    fn record_renders_like_upstream() {
        let record = LogRecord::new()
            .float("loss", python_round(0.41666, 4))
            .float("learning_rate", 2.76e-07)
            .int("step", 181)
            .float("epoch", python_round(181.0 * 16.0 / 3000.0, 2));
        assert_eq!(
            record.to_python_repr(),
            "{'loss': 0.4167, 'learning_rate': 2.76e-07, 'step': 181, 'epoch': 0.97}"
        );
        let json = serde_json::to_string(&record.to_json()).unwrap();
        assert_eq!(
            json,
            r#"{"epoch":0.97,"learning_rate":2.76e-7,"loss":0.4167,"step":181}"#
        );
    }
}
