//! One output key's specification: a JSONPath query over the input, or a literal.
//!
//! A string starting with `$` is an RFC 9535 JSONPath (`$.user.name`, `$.items[*].id`); TestMesh's
//! shorthand `$field` means `$.field`. `$$` escapes a literal leading `$` (`$$5` is the text `$5`).
//! Anything else (other strings, numbers, objects, …) is a literal, copied as it is.

use serde_json::Value;
use serde_json_path::JsonPath;

/// What an output key is computed from.
#[derive(Debug)]
pub enum Spec {
    /// A query over the input.
    Path(JsonPath),
    /// A value copied as it is.
    Literal(Value),
}

impl Spec {
    /// Reads a specification, explaining a malformed JSONPath.
    pub fn parse(spec: &Value) -> Result<Spec, String> {
        let Some(text) = spec.as_str() else { return Ok(Spec::Literal(spec.clone())) };
        if let Some(literal) = text.strip_prefix("$$") {
            return Ok(Spec::Literal(Value::String(format!("${literal}"))));
        }
        let Some(after_dollar) = text.strip_prefix('$') else { return Ok(Spec::Literal(spec.clone())) };
        let shorthand = !(after_dollar.is_empty() || after_dollar.starts_with(['.', '[']));
        let expression = if shorthand { format!("$.{after_dollar}") } else { text.to_string() };
        JsonPath::parse(&expression).map(Spec::Path).map_err(|e| {
            let read_as = if shorthand { format!(" (read as `{expression}`)") } else { String::new() };
            format!("`{text}`{read_as} is not a valid JSONPath: {e}; start a literal text with `$$` to keep a `$`")
        })
    }

    /// The value for `input`: for a path, its single match, a list of several, or `null` for none.
    pub fn evaluate(&self, input: &Value) -> Value {
        match self {
            Spec::Literal(value) => value.clone(),
            Spec::Path(path) => {
                let mut matches = path.query(input).all();
                match matches.len() {
                    0 => Value::Null,
                    1 => matches.remove(0).clone(),
                    _ => Value::Array(matches.into_iter().cloned().collect()),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn eval(spec: Value, input: &Value) -> Value {
        Spec::parse(&spec).expect("valid spec").evaluate(input)
    }

    #[test]
    fn paths_and_shorthand() {
        let input = json!({"user": {"name": "alice", "tags": ["a", "b"]}, "items": [{"id": 1}, {"id": 2}], "n": 0});
        assert_eq!(eval(json!("$.user.name"), &input), json!("alice"));
        assert_eq!(eval(json!("$user.name"), &input), json!("alice"));
        assert_eq!(eval(json!("$n"), &input), json!(0));
        assert_eq!(eval(json!("$.items[*].id"), &input), json!([1, 2]));
        assert_eq!(eval(json!("$['user']['tags'][1]"), &input), json!("b"));
        assert_eq!(eval(json!("$.items[?@.id > 1].id"), &input), json!(2));
        assert_eq!(eval(json!("$.missing"), &input), Value::Null);
        assert_eq!(eval(json!("$"), &input), input);
    }

    #[test]
    fn literals() {
        let input = json!({"a": 1});
        assert_eq!(eval(json!("plain text"), &input), json!("plain text"));
        assert_eq!(eval(json!(42), &input), json!(42));
        assert_eq!(eval(json!({"$.a": "$.a"}), &input), json!({"$.a": "$.a"}));
        assert_eq!(eval(json!("$$5.00"), &input), json!("$5.00"));
    }

    #[test]
    fn malformed_paths_are_explained() {
        let err = Spec::parse(&json!("$.items[")).expect_err("malformed");
        assert!(err.contains("`$.items[` is not a valid JSONPath"), "{err}");
        let err = Spec::parse(&json!("$5.00")).expect_err("shorthand");
        assert!(err.contains("read as `$.5.00`") && err.contains("$$"), "{err}");
    }
}
