//! JSON and JSONL loaders for fixtures, panicking with the file's path.

use serde_json::Value;
use std::path::Path;

/// The text of `path`.
pub fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// `path` parsed as JSON.
pub fn load(path: &Path) -> Value {
    parse(path)
}

/// `path` parsed as JSON into `T`.
pub fn parse<T: serde::de::DeserializeOwned>(path: &Path) -> T {
    serde_json::from_str(&read(path)).unwrap_or_else(|e| panic!("parsing {}: {e}", path.display()))
}

/// Every line of `path` parsed as JSON into `T`; a failure names the file and line.
pub fn load_jsonl<T: serde::de::DeserializeOwned>(path: &Path) -> Vec<T> {
    read(path)
        .lines()
        .enumerate()
        .map(|(i, line)| {
            serde_json::from_str(line).unwrap_or_else(|e| panic!("{}: line {}: {e}", path.display(), i + 1))
        })
        .collect()
}

/// A JSON array of numbers as f32.
pub fn floats(v: &Value) -> Vec<f32> {
    v.as_array()
        .unwrap_or_else(|| panic!("not an array: {v}"))
        .iter()
        .map(|x| x.as_f64().unwrap_or_else(|| panic!("not a number: {x}")) as f32)
        .collect()
}

/// A JSON array of non-negative integers as usize.
pub fn usizes(v: &Value) -> Vec<usize> {
    v.as_array()
        .unwrap_or_else(|| panic!("not an array: {v}"))
        .iter()
        .map(|x| x.as_u64().unwrap_or_else(|| panic!("not a non-negative integer: {x}")) as usize)
        .collect()
}

/// A JSON array of integers as i64.
pub fn i64s(v: &Value) -> Vec<i64> {
    v.as_array()
        .unwrap_or_else(|| panic!("not an array: {v}"))
        .iter()
        .map(|x| x.as_i64().unwrap_or_else(|| panic!("not an integer: {x}")))
        .collect()
}
