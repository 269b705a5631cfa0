//! Training log records: the console dict lines of upstream (Python dict repr, in insertion
//! order) and the `log_history` JSONL with Hugging Face key names.

use provence_config::python_float_repr;
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
