//! Hugging Face `datasets` features of an Arrow schema, in the two forms `datasets` writes them:
//! the JSON of `dataset_info.json` and of the `huggingface` schema metadata
//! (`{"dtype": "string", "_type": "Value"}`, `{"feature": …, "_type": "Sequence"}`), and the YAML
//! of a dataset card's `dataset_info.features` (`dtype: string`, `sequence: int64`).

use arrow_schema::{DataType, Schema};
use serde::ser::{SerializeMap, Serializer};

use crate::error::DatasetError;

/// One feature: a scalar `Value`, a `Sequence` of a feature, or a struct of named features.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Feature {
    Value(&'static str),
    Sequence(Box<Feature>),
    Struct(Vec<(String, Feature)>),
}

/// `datasets`' dtype name of a scalar Arrow type.
fn dtype(dt: &DataType) -> Option<&'static str> {
    Some(match dt {
        DataType::Null => "null",
        DataType::Boolean => "bool",
        DataType::Int8 => "int8",
        DataType::Int16 => "int16",
        DataType::Int32 => "int32",
        DataType::Int64 => "int64",
        DataType::UInt8 => "uint8",
        DataType::UInt16 => "uint16",
        DataType::UInt32 => "uint32",
        DataType::UInt64 => "uint64",
        DataType::Float16 => "float16",
        DataType::Float32 => "float32",
        DataType::Float64 => "float64",
        DataType::Utf8 | DataType::Utf8View => "string",
        DataType::LargeUtf8 => "large_string",
        DataType::Binary | DataType::BinaryView => "binary",
        DataType::LargeBinary => "large_binary",
        _ => return None,
    })
}

/// The feature of `dt`, or the (innermost) Arrow type that has none.
fn feature(dt: &DataType) -> Result<Feature, String> {
    if let Some(name) = dtype(dt) {
        return Ok(Feature::Value(name));
    }
    match dt {
        DataType::List(f) | DataType::LargeList(f) | DataType::FixedSizeList(f, _) => {
            Ok(Feature::Sequence(Box::new(feature(f.data_type())?)))
        }
        DataType::Struct(fields) => fields
            .iter()
            .map(|f| Ok((f.name().clone(), feature(f.data_type())?)))
            .collect::<Result<_, String>>()
            .map(Feature::Struct),
        other => Err(other.to_string()),
    }
}

/// Every column of `schema` with its feature.
fn schema_features(schema: &Schema) -> Result<Vec<(String, Feature)>, DatasetError> {
    schema
        .fields()
        .iter()
        .map(|f| {
            feature(f.data_type())
                .map(|feature| (f.name().clone(), feature))
                .map_err(|found| DatasetError::NoFeature {
                    column: f.name().clone(),
                    found,
                })
        })
        .collect()
}

impl serde::Serialize for Feature {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Feature::Value(dtype) => {
                let mut map = serializer.serialize_map(Some(2))?;
                map.serialize_entry("dtype", dtype)?;
                map.serialize_entry("_type", "Value")?;
                map.end()
            }
            Feature::Sequence(inner) => {
                let mut map = serializer.serialize_map(Some(2))?;
                map.serialize_entry("feature", inner)?;
                map.serialize_entry("_type", "Sequence")?;
                map.end()
            }
            Feature::Struct(fields) => serialize_fields(fields, serializer),
        }
    }
}

/// Named features as a JSON object, in order (a `serde_json::Map` would sort the keys).
fn serialize_fields<S: Serializer>(fields: &[(String, Feature)], serializer: S) -> Result<S::Ok, S::Error> {
    let mut map = serializer.serialize_map(Some(fields.len()))?;
    for (name, feature) in fields {
        map.serialize_entry(name, feature)?;
    }
    map.end()
}

/// The features of a schema, serialised as `datasets` writes them, columns in order.
#[derive(Debug, Clone, PartialEq)]
pub struct HfFeatures(Vec<(String, Feature)>);

impl serde::Serialize for HfFeatures {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serialize_fields(&self.0, serializer)
    }
}

/// The `features` of `schema` as `dataset_info.json` holds them (serialise it; column order
/// kept).
pub fn hf_features(schema: &Schema) -> Result<HfFeatures, DatasetError> {
    schema_features(schema).map(HfFeatures)
}

/// A YAML scalar for a column name: plain when YAML reads it back as the same string, else
/// double-quoted (JSON escaping is valid YAML).
fn yaml_key(name: &str) -> String {
    let plain = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '_' | '.' | '-'))
        && !name.starts_with(['-', '.'])
        && name.parse::<f64>().is_err()
        && !matches!(
            name.to_ascii_lowercase().as_str(),
            "true" | "false" | "yes" | "no" | "on" | "off" | "null" | "y" | "n"
        );
    if plain {
        name.to_owned()
    } else {
        serde_json::Value::from(name).to_string()
    }
}

/// Appends the body of `feature` below a key (`dtype: x`, `sequence: …` or `struct:` + fields)
/// at `indent` spaces.
fn yaml_body(feature: &Feature, indent: usize, out: &mut String) {
    let pad = " ".repeat(indent);
    match feature {
        Feature::Value(dtype) => out.push_str(&format!("{pad}dtype: {dtype}\n")),
        Feature::Sequence(inner) => yaml_sequence(inner, indent, out),
        Feature::Struct(fields) => {
            out.push_str(&format!("{pad}struct:\n"));
            yaml_fields(fields, indent, out);
        }
    }
}

/// `sequence: <inner>` as `datasets` simplifies it (`sequence: int64`, nested `sequence:` maps,
/// a list of fields for a sequence of structs).
fn yaml_sequence(inner: &Feature, indent: usize, out: &mut String) {
    let pad = " ".repeat(indent);
    match inner {
        Feature::Value(dtype) => out.push_str(&format!("{pad}sequence: {dtype}\n")),
        Feature::Sequence(next) => {
            out.push_str(&format!("{pad}sequence:\n"));
            yaml_sequence(next, indent + 2, out);
        }
        Feature::Struct(fields) => {
            out.push_str(&format!("{pad}sequence:\n"));
            yaml_fields(fields, indent + 2, out);
        }
    }
}

fn yaml_fields(fields: &[(String, Feature)], indent: usize, out: &mut String) {
    let pad = " ".repeat(indent);
    for (name, feature) in fields {
        out.push_str(&format!("{pad}- name: {}\n", yaml_key(name)));
        yaml_body(feature, indent + 2, out);
    }
}

/// The `features:` list of a dataset card's `dataset_info` for `schema`, each line indented by
/// `indent` spaces (as `datasets` writes cards: `- name: id` / `dtype: string`).
pub fn card_features_yaml(schema: &Schema, indent: usize) -> Result<String, DatasetError> {
    let fields = schema_features(schema)?;
    let mut out = String::new();
    yaml_fields(&fields, indent, &mut out);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_schema::Field;
    use serde_json::json;
    use std::sync::Arc;

    fn list(dt: DataType) -> DataType {
        DataType::List(Arc::new(Field::new("item", dt, true)))
    }

    fn schema() -> Schema {
        Schema::new(vec![
            Field::new("id", DataType::Utf8, true),
            Field::new("context_spans", list(list(list(DataType::Int64))), true),
            Field::new("teacher_scores.x", list(DataType::Float64), true),
        ])
    }

    #[test]
    fn json_matches_datasets_dataset_info() {
        let text = serde_json::to_string(&hf_features(&schema()).unwrap()).unwrap();
        assert!(
            text.starts_with("{\"id\":{\"dtype\":\"string\",\"_type\":\"Value\"},\"context_spans\""),
            "{text}"
        );
        let features: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(features["id"], json!({"dtype": "string", "_type": "Value"}));
        assert_eq!(
            features["context_spans"]["feature"]["feature"]["feature"],
            json!({"dtype": "int64", "_type": "Value"})
        );
    }

    #[test]
    fn yaml_matches_datasets_card() {
        let yaml = card_features_yaml(&schema(), 2).unwrap();
        assert_eq!(
            yaml,
            "  - name: id\n    dtype: string\n  - name: context_spans\n    sequence:\n      sequence:\n        \
             sequence: int64\n  - name: teacher_scores.x\n    sequence: float64\n"
        );
        assert_eq!(yaml_key("true"), "\"true\"");
        assert_eq!(yaml_key("a b"), "\"a b\"");
    }

    #[test]
    fn unsupported_types_name_the_column() {
        let s = Schema::new(vec![Field::new("d", DataType::Date32, true)]);
        let message = hf_features(&s).unwrap_err().to_string();
        assert!(message.contains("\"d\"") && message.contains("Date32"), "{message}");
    }
}
