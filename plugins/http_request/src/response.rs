//! Shapes a response into the step's output: headers joined by name, the content type, and a body that
//! is parsed JSON when the response says it is JSON, text otherwise.

use serde_json::{Map, Value, json};

/// The step's output for a final response.
pub struct Exchange<'a> {
    /// Status code of the final response.
    pub status: u16,
    /// Header names and values as received.
    pub headers: &'a [(String, String)],
    /// The whole body.
    pub body: &'a [u8],
    /// The URL that gave the final response.
    pub url: String,
    /// Milliseconds from the first request to the end of the last body.
    pub duration_ms: u64,
    /// Redirects followed.
    pub redirects: u32,
}

impl Exchange<'_> {
    /// The output object assertions and captures see.
    pub fn to_output(&self) -> Value {
        let headers = join_headers(self.headers);
        let content_type = headers.get("content-type").and_then(Value::as_str).map(str::to_string);
        json!({
            "status": self.status,
            "headers": headers,
            "body": decode_body(content_type.as_deref(), self.body),
            "duration_ms": self.duration_ms,
            "url": self.url,
            "content_type": content_type,
            "redirects": self.redirects,
        })
    }
}

/// Lower-cases header names and joins the values of a repeated header with `", "`.
pub fn join_headers(headers: &[(String, String)]) -> Map<String, Value> {
    let mut joined: Map<String, Value> = Map::new();
    for (name, value) in headers {
        match joined.get_mut(&name.to_ascii_lowercase()) {
            Some(Value::String(existing)) => {
                existing.push_str(", ");
                existing.push_str(value);
            }
            _ => {
                joined.insert(name.to_ascii_lowercase(), Value::String(value.clone()));
            }
        }
    }
    joined
}

/// Whether a content type is JSON: `application/json` or any `…+json`, parameters ignored.
pub fn is_json(content_type: &str) -> bool {
    let media_type = content_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    media_type == "application/json" || media_type.ends_with("+json")
}

/// The body as JSON when the content type is JSON (or absent) and it parses, otherwise as text with
/// invalid UTF-8 replaced; an empty body is `""`.
pub fn decode_body(content_type: Option<&str>, body: &[u8]) -> Value {
    if body.is_empty() {
        return Value::String(String::new());
    }
    let try_json = match content_type {
        Some(content_type) => is_json(content_type),
        // Without a content type, only an object or array is taken as JSON: a bare `42` or `"x"` stays text.
        None => matches!(body.iter().find(|b| !b.is_ascii_whitespace()), Some(b'{' | b'[')),
    };
    if try_json && let Ok(value) = serde_json::from_slice::<Value>(body) {
        return value;
    }
    Value::String(String::from_utf8_lossy(body).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn repeated_headers_are_joined() {
        let headers = join_headers(&pairs(&[("Set-Cookie", "a=1"), ("x-id", "7"), ("set-cookie", "b=2")]));
        assert_eq!(Value::Object(headers), json!({"set-cookie": "a=1, b=2", "x-id": "7"}));
    }

    #[test]
    fn json_content_types() {
        for yes in [
            "application/json",
            "Application/JSON; charset=utf-8",
            "application/problem+json",
            " application/vnd.api+json ",
        ] {
            assert!(is_json(yes), "{yes}");
        }
        for no in ["text/plain", "application/jsonp", "text/json-ish", ""] {
            assert!(!is_json(no), "{no}");
        }
    }

    #[test]
    fn bodies() {
        assert_eq!(decode_body(Some("application/json"), br#"{"id": 1}"#), json!({"id": 1}));
        assert_eq!(decode_body(Some("application/json"), b"not json"), json!("not json"));
        assert_eq!(decode_body(Some("text/plain"), br#"{"id": 1}"#), json!(r#"{"id": 1}"#));
        assert_eq!(decode_body(Some("application/json"), b""), json!(""));
        assert_eq!(decode_body(None, b" [1, 2]"), json!([1, 2]));
        assert_eq!(decode_body(None, b"42"), json!("42"));
        assert_eq!(decode_body(Some("text/plain"), b"caf\xc3\xa9 \xff"), json!("café \u{fffd}"));
    }

    #[test]
    fn output_shape() {
        let headers = pairs(&[("Content-Type", "application/json"), ("X-A", "1")]);
        let exchange = Exchange {
            status: 201,
            headers: &headers,
            body: br#"{"ok":true}"#,
            url: "http://h/x".into(),
            duration_ms: 12,
            redirects: 1,
        };
        assert_eq!(
            exchange.to_output(),
            json!({
                "status": 201,
                "headers": {"content-type": "application/json", "x-a": "1"},
                "body": {"ok": true},
                "duration_ms": 12,
                "url": "http://h/x",
                "content_type": "application/json",
                "redirects": 1
            })
        );
        let empty =
            Exchange { status: 204, headers: &[], body: b"", url: "http://h/".into(), duration_ms: 0, redirects: 0 };
        let output = empty.to_output();
        assert_eq!((output["body"].clone(), output["content_type"].clone()), (json!(""), Value::Null));
    }
}
