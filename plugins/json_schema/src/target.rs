//! Chooses the value a check validates: the subject's `body` by default, or what a JSONPath selects.

use serde_json::Value;
use serde_json_path::JsonPath;

/// The value a check validates, and how a message names it.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    /// How messages name the value: `body`, `the subject` or the JSONPath.
    pub name: String,
    /// The value.
    pub value: Value,
}

/// What a check's `path` selected.
#[derive(Debug, Clone, PartialEq)]
pub enum Selection {
    /// The value to validate.
    Found(Target),
    /// The path matched nothing (the check fails).
    Nothing,
}

/// The default target: the subject's `body` when it has one, else the whole subject.
pub fn default_target(subject: &Value) -> Target {
    match subject.get("body") {
        Some(body) => Target { name: "body".to_string(), value: body.clone() },
        None => Target { name: "the subject".to_string(), value: subject.clone() },
    }
}

/// Selects with an RFC 9535 JSONPath. A path that matches nothing in the subject is tried against
/// its `body`, as output captures do (TestMesh writes `$.id` for `$.body.id`). One match is
/// validated as it is; several are validated as a list.
pub fn select(subject: &Value, path: &JsonPath, text: &str) -> Selection {
    let mut matches = path.query(subject).all();
    if matches.is_empty()
        && let Some(body) = subject.get("body")
    {
        matches = path.query(body).all();
    }
    let name = format!("`{text}`");
    match matches.as_slice() {
        [] => Selection::Nothing,
        [one] => Selection::Found(Target { name, value: (*one).clone() }),
        several => Selection::Found(Target {
            name: format!("{name} ({} matches)", several.len()),
            value: Value::Array(several.iter().map(|v| (*v).clone()).collect()),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn path(text: &str) -> JsonPath {
        JsonPath::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    #[test]
    fn the_body_is_the_default_target() {
        assert_eq!(default_target(&json!({"status": 200, "body": [1]})).value, json!([1]));
        assert_eq!(
            default_target(&json!({"rows": []})),
            Target { name: "the subject".into(), value: json!({"rows": []}) }
        );
    }

    #[test]
    fn one_match_is_validated_as_it_is_and_several_as_a_list() {
        let subject = json!({"body": {"items": [{"id": 1}, {"id": 2}]}});
        assert_eq!(
            select(&subject, &path("$.body.items[0]"), "$.body.items[0]"),
            Selection::Found(Target { name: "`$.body.items[0]`".into(), value: json!({"id": 1}) })
        );
        assert_eq!(
            select(&subject, &path("$.body.items[*].id"), "$.body.items[*].id"),
            Selection::Found(Target { name: "`$.body.items[*].id` (2 matches)".into(), value: json!([1, 2]) })
        );
    }

    #[test]
    fn a_body_relative_path_falls_back_to_the_body() {
        let subject = json!({"body": {"id": 7}});
        assert!(matches!(select(&subject, &path("$.id"), "$.id"), Selection::Found(t) if t.value == json!(7)));
        assert_eq!(select(&subject, &path("$.nope"), "$.nope"), Selection::Nothing);
    }
}
