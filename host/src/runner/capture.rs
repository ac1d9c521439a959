//! Captures (`output: {name: <JSONPath>}`): RFC 9535 JSONPath over a step's output, with TestMesh's
//! body-relative form as a fallback — a path that matches nothing in the output is tried against
//! `output.body`, so `$.id` captures the response body's `id`.
//!
//! A singular path (`$.body.id`, `$.items[0]`) captures one value; a path that can select several
//! (wildcards, `..`, filters, slices, unions) captures the list of what it selected, even when that
//! is one value, so that a flow's captures keep their type whatever the data.

use crate::flow::Capture;
use serde_json::Value;
use serde_json_path::JsonPath;

/// Why a capture found nothing (or could not be read).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum CaptureError {
    /// The path is not valid JSONPath (validation reports this before a run; kept for safety).
    #[error("capture `{name}`: `{path}` is not a valid JSONPath: {message}")]
    Invalid { name: String, path: String, message: String },
    /// Nothing in the output (nor its body) matched.
    #[error("capture `{name}`: `{path}` matched nothing in the output (its top-level keys: {keys})")]
    NoMatch { name: String, path: String, keys: String },
}

/// Evaluates one capture against a step's output.
pub(crate) fn capture(capture: &Capture, output: &Value) -> Result<Value, CaptureError> {
    let path = JsonPath::parse(&capture.path).map_err(|e| CaptureError::Invalid {
        name: capture.name.clone(),
        path: capture.path.clone(),
        message: e.to_string(),
    })?;
    let singular = is_singular(&capture.path);
    let select = |value: &Value| -> Option<Value> {
        let nodes = path.query(value);
        if nodes.is_empty() {
            return None;
        }
        if singular { nodes.first().cloned() } else { Some(Value::Array(nodes.all().into_iter().cloned().collect())) }
    };
    if let Some(found) = select(output) {
        return Ok(found);
    }
    if let Some(body) = output.get("body")
        && let Some(found) = select(body)
    {
        return Ok(found);
    }
    let keys = match output {
        Value::Object(map) if !map.is_empty() => map.keys().map(|k| format!("`{k}`")).collect::<Vec<_>>().join(", "),
        _ => "none".into(),
    };
    Err(CaptureError::NoMatch { name: capture.name.clone(), path: capture.path.clone(), keys })
}

/// Whether a JSONPath selects at most one node by its syntax alone (RFC 9535 "singular query"):
/// only names and indexes, no wildcard, descendant, filter, slice or union. Quoted names may hold
/// any character.
fn is_singular(path: &str) -> bool {
    let mut quote = None;
    let mut chars = path.chars().peekable();
    let mut previous = '\0';
    while let Some(c) = chars.next() {
        match quote {
            Some(q) => {
                if c == '\\' {
                    chars.next();
                } else if c == q {
                    quote = None;
                }
            }
            None => match c {
                '\'' | '"' => quote = Some(c),
                '*' | '?' | ':' | ',' => return false,
                '.' if previous == '.' => return false,
                _ => {}
            },
        }
        previous = c;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::Span;
    use serde_json::json;

    fn run(path: &str, output: &Value) -> Result<Value, CaptureError> {
        capture(&Capture { name: "x".into(), path: path.into(), span: Span::default() }, output)
    }

    #[test]
    fn singular_paths_capture_a_value_and_others_a_list() {
        let output = json!({"status": 200, "body": {"id": 7, "items": [{"n": 1}, {"n": 2}], "a.b": true}});
        assert_eq!(run("$.body.id", &output), Ok(json!(7)));
        assert_eq!(run("$.body.items[1].n", &output), Ok(json!(2)));
        assert_eq!(run("$.body['a.b']", &output), Ok(json!(true)));
        assert_eq!(run("$.body.items[*].n", &output), Ok(json!([1, 2])));
        assert_eq!(run("$..n", &output), Ok(json!([1, 2])));
        assert_eq!(run("$.body.items[?@.n > 1].n", &output), Ok(json!([2])));
    }

    #[test]
    fn a_path_that_misses_the_output_is_tried_on_the_body() {
        let output = json!({"status": 200, "body": {"id": 7}});
        assert_eq!(run("$.id", &output), Ok(json!(7)));
        assert_eq!(run("$.status", &output), Ok(json!(200)));
    }

    #[test]
    fn no_match_names_the_capture_and_the_keys() {
        let error = run("$.body.nope", &json!({"status": 200, "body": {}})).unwrap_err();
        assert_eq!(
            error.to_string(),
            "capture `x`: `$.body.nope` matched nothing in the output (its top-level keys: `body`, `status`)"
        );
    }
}
