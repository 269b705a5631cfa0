//! A small JSON-schema check for the OpenAPI document's schemas (the subset utoipa emits:
//! `$ref`, `type` (one or a list), `properties`, `required`, `items`, `anyOf`, `oneOf`,
//! `allOf`, `enum`, `minimum`, `maximum`, `additionalProperties`).
//!
//! Stricter than JSON schema in one way: an object schema that lists `properties` is closed
//! unless it says `additionalProperties`, so a field the server sends but the document does
//! not describe is an error.

use serde_json::{Map, Value};

/// Checks `value` against `schema`, resolving `$ref`s in `doc`; the error names the JSON path.
pub fn validate(doc: &Value, schema: &Value, value: &Value) -> Result<(), String> {
    check(doc, schema, value, "$")
}

fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> Result<&'a Value, String> {
    match schema.get("$ref").and_then(Value::as_str) {
        Some(reference) => {
            let pointer = reference
                .strip_prefix('#')
                .ok_or_else(|| format!("unsupported $ref {reference}"))?;
            let target = doc
                .pointer(pointer)
                .ok_or_else(|| format!("dangling $ref {reference}"))?;
            resolve(doc, target)
        }
        None => Ok(schema),
    }
}

fn type_matches(ty: &str, value: &Value) -> bool {
    match ty {
        "null" => value.is_null(),
        "boolean" => value.is_boolean(),
        "string" => value.is_string(),
        "number" => value.is_number(),
        "integer" => value.is_u64() || value.is_i64(),
        "array" => value.is_array(),
        "object" => value.is_object(),
        _ => false,
    }
}

fn check(doc: &Value, schema: &Value, value: &Value, at: &str) -> Result<(), String> {
    let schema = resolve(doc, schema)?;
    if let Some(all) = schema.get("allOf").and_then(Value::as_array) {
        for s in all {
            check(doc, s, value, at)?;
        }
    }
    if let Some(any) = schema.get("anyOf").and_then(Value::as_array) {
        let errors: Vec<String> = any.iter().filter_map(|s| check(doc, s, value, at).err()).collect();
        if errors.len() == any.len() {
            return Err(format!("{at}: matches no anyOf branch: {errors:?}"));
        }
    }
    if let Some(one) = schema.get("oneOf").and_then(Value::as_array) {
        let matched = one.iter().filter(|s| check(doc, s, value, at).is_ok()).count();
        if matched != 1 {
            return Err(format!("{at}: matches {matched} oneOf branches of {one:?}: {value}"));
        }
    }
    if let Some(ty) = schema.get("type") {
        let types: Vec<&str> = match ty {
            Value::String(t) => vec![t.as_str()],
            Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
            _ => return Err(format!("{at}: bad type {ty}")),
        };
        if !types.iter().any(|t| type_matches(t, value)) {
            return Err(format!("{at}: {value} is not {types:?}"));
        }
    }
    if let Some(options) = schema.get("enum").and_then(Value::as_array)
        && !options.contains(value)
    {
        return Err(format!("{at}: {value} not in {options:?}"));
    }
    if let Some(number) = value.as_f64() {
        let bound = |key: &str| schema.get(key).and_then(Value::as_f64);
        if bound("minimum").is_some_and(|m| number < m) || bound("maximum").is_some_and(|m| number > m) {
            return Err(format!("{at}: {number} out of bounds"));
        }
    }
    match value {
        Value::Array(items) => match schema.get("items") {
            Some(item_schema) => items
                .iter()
                .enumerate()
                .try_for_each(|(i, item)| check(doc, item_schema, item, &format!("{at}[{i}]"))),
            None => Ok(()),
        },
        Value::Object(object) => check_object(doc, schema, object, at),
        _ => Ok(()),
    }
}

fn check_object(doc: &Value, schema: &Value, object: &Map<String, Value>, at: &str) -> Result<(), String> {
    let properties = schema.get("properties").and_then(Value::as_object);
    for name in schema.get("required").and_then(Value::as_array).into_iter().flatten() {
        let name = name.as_str().unwrap_or_default();
        if !object.contains_key(name) {
            return Err(format!("{at}: required field {name:?} missing"));
        }
    }
    let additional = schema.get("additionalProperties");
    for (name, field) in object {
        let at = format!("{at}.{name}");
        match (properties.and_then(|p| p.get(name)), additional) {
            (Some(s), _) => check(doc, s, field, &at)?,
            (None, Some(Value::Bool(false))) => return Err(format!("{at}: not allowed")),
            (None, Some(Value::Bool(true))) => {}
            (None, Some(s)) => check(doc, s, field, &at)?,
            // Closed unless open: an undocumented field is drift.
            (None, None) if properties.is_some() => return Err(format!("{at}: not in the schema")),
            (None, None) => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_check_can_fail() {
        let doc = json!({"components": {"schemas": {"R": {"type": "object", "required": ["a"],
            "properties": {"a": {"type": "integer", "minimum": 0}, "b": {"type": ["string", "null"]}}}}}});
        let r = json!({"$ref": "#/components/schemas/R"});
        assert!(validate(&doc, &r, &json!({"a": 1, "b": null})).is_ok());
        assert!(validate(&doc, &r, &json!({"a": 1, "b": "x"})).is_ok());
        assert!(validate(&doc, &r, &json!({"b": "x"})).is_err());
        assert!(validate(&doc, &r, &json!({"a": -1})).is_err());
        assert!(validate(&doc, &r, &json!({"a": 1.5})).is_err());
        assert!(validate(&doc, &r, &json!({"a": 1, "c": 2})).is_err());
        let any = json!({"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]});
        assert!(validate(&doc, &any, &json!(["x"])).is_ok());
        assert!(validate(&doc, &any, &json!([1])).is_err());
    }
}
