//! Converts between JSON (what the host sends and expects back) and CEL values, and renders values
//! for failure messages.

use cel::objects::{Key, Map};
use serde_json::Value as Json;
use std::collections::HashMap;
use std::sync::Arc;

/// The longest rendering of a value in a message; the `actual` field keeps the whole value.
const MAX_SHOWN: usize = 200;

/// A JSON value as a CEL value: integers stay ints (`uint` beyond `i64`), other numbers become
/// doubles, objects become maps with string keys.
pub fn to_cel(json: &Json) -> cel::Value {
    match json {
        Json::Null => cel::Value::Null,
        Json::Bool(b) => cel::Value::Bool(*b),
        Json::Number(n) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => cel::Value::Int(i),
            (None, Some(u)) => cel::Value::UInt(u),
            (None, None) => cel::Value::Float(n.as_f64().unwrap_or(f64::NAN)),
        },
        Json::String(s) => cel::Value::String(Arc::new(s.clone())),
        Json::Array(items) => cel::Value::List(Arc::new(items.iter().map(to_cel).collect())),
        Json::Object(fields) => {
            let map: HashMap<Key, cel::Value> =
                fields.iter().map(|(k, v)| (Key::String(Arc::new(k.clone())), to_cel(v))).collect();
            cel::Value::Map(Map { map: Arc::new(map) })
        }
    }
}

/// A CEL value as JSON, for the verdict's `actual`. Values JSON cannot hold are rendered as text:
/// non-finite doubles, bytes (as UTF-8, lossily), timestamps (RFC 3339), durations, types.
pub fn to_json(value: &cel::Value) -> Json {
    match value {
        cel::Value::Null => Json::Null,
        cel::Value::Bool(b) => Json::Bool(*b),
        cel::Value::Int(i) => Json::from(*i),
        cel::Value::UInt(u) => Json::from(*u),
        cel::Value::Float(f) => {
            serde_json::Number::from_f64(*f).map_or_else(|| Json::String(f.to_string()), Json::Number)
        }
        cel::Value::String(s) => Json::String(s.as_str().to_string()),
        cel::Value::Bytes(b) => Json::String(String::from_utf8_lossy(b).into_owned()),
        cel::Value::List(items) => Json::Array(items.iter().map(to_json).collect()),
        cel::Value::Map(map) => {
            let mut entries: Vec<(String, Json)> = map.map.iter().map(|(k, v)| (key_text(k), to_json(v))).collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Json::Object(entries.into_iter().collect())
        }
        cel::Value::Timestamp(t) => Json::String(t.to_rfc3339()),
        cel::Value::Duration(d) => Json::String(format!("{}s", d.as_seconds_f64())),
        other => Json::String(format!("{other:?}")),
    }
}

fn key_text(key: &Key) -> String {
    match key {
        Key::String(s) => s.as_str().to_string(),
        other => other.to_string(),
    }
}

/// CEL's name for the value's type (`int`, `string`, `map`, …).
pub fn type_name(value: &cel::Value) -> String {
    value.type_of().to_string()
}

/// A JSON value as compact text for a message, shortened past [`MAX_SHOWN`] characters.
pub fn show(json: &Json) -> String {
    let text = json.to_string();
    match text.char_indices().nth(MAX_SHOWN) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn json_round_trips_through_cel() {
        let value = json!({"a": [1, -2, 2.5, "x", null, true], "b": {"c": 18446744073709551615u64}});
        assert_eq!(to_json(&to_cel(&value)), value);
    }

    #[test]
    fn integers_stay_ints_and_other_numbers_are_doubles() {
        assert_eq!(to_cel(&json!(7)), cel::Value::Int(7));
        assert_eq!(to_cel(&json!(7.5)), cel::Value::Float(7.5));
        assert_eq!(type_name(&to_cel(&json!({}))), "map");
    }

    #[test]
    fn long_values_are_shortened_in_messages() {
        let shown = show(&json!("x".repeat(500)));
        assert_eq!(shown.chars().count(), MAX_SHOWN + 1);
        assert!(shown.ends_with('…'));
        assert_eq!(show(&json!({"a": 1})), r#"{"a":1}"#);
    }
}
