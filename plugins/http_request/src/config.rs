//! What a step's `config` for `http_request` may say, deserialised with serde.
//!
//! The spellings are ours and TestMesh's: `body` (any JSON, or a raw string) sits beside our `json`
//! and `form`, and `params` is accepted for `query`.

use serde::Deserialize;
use serde::de::{Deserializer, Error as _};
use serde_json::Value;
use std::collections::BTreeMap;
use std::time::Duration;

/// The configuration of one `http_request` step.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// HTTP method, any case (`get` is sent as `GET`).
    #[serde(default = "default_method")]
    pub method: String,
    /// Absolute `http://` or `https://` URL.
    pub url: String,
    /// Request headers, name → value.
    #[serde(default)]
    pub headers: BTreeMap<String, HeaderValue>,
    /// Query parameters appended to `url`; a list value repeats the parameter.
    #[serde(default, alias = "params")]
    pub query: BTreeMap<String, Scalars>,
    /// A JSON body (`null` included); sets `content-type: application/json` unless given.
    #[serde(default, deserialize_with = "present")]
    pub json: Option<Value>,
    /// A form body, sent as `application/x-www-form-urlencoded`.
    #[serde(default)]
    pub form: Option<BTreeMap<String, Scalars>>,
    /// TestMesh's body: a string is sent as it is, anything else as JSON.
    #[serde(default, deserialize_with = "present")]
    pub body: Option<Value>,
    /// Credentials that set the `Authorization` header.
    #[serde(default)]
    pub auth: Option<Auth>,
    /// Limit for the whole exchange, redirects included; never beyond the step's own deadline.
    #[serde(default, with = "testmesh_plugin_sdk::duration::option")]
    pub timeout: Option<Duration>,
    /// Whether to follow 301, 302, 303, 307 and 308 responses.
    #[serde(default = "default_true")]
    pub follow_redirects: bool,
    /// How many redirects to follow before giving up.
    #[serde(default = "default_max_redirects")]
    pub max_redirects: u32,
}

/// Credentials for the `Authorization` header.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
pub enum Auth {
    /// `Authorization: Basic base64(username:password)`.
    Basic {
        /// The user name.
        username: String,
        /// The password; empty when absent.
        #[serde(default)]
        password: String,
    },
    /// `Authorization: Bearer <token>`.
    Bearer {
        /// The token, sent as it is.
        token: String,
    },
}

/// A header value given as a string, number or boolean, kept as text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderValue(pub String);

impl<'de> Deserialize<'de> for HeaderValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        scalar_text(&value).map(HeaderValue).ok_or_else(|| {
            D::Error::custom(format!("a header value must be a string, number or boolean, found {value}"))
        })
    }
}

/// A query or form value: one scalar, or a list of them (the parameter is repeated).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scalars(pub Vec<String>);

impl<'de> Deserialize<'de> for Scalars {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        let items = match &value {
            Value::Array(items) => items.iter().map(scalar_text).collect::<Option<Vec<_>>>(),
            other => scalar_text(other).map(|text| vec![text]),
        };
        items.map(Scalars).ok_or_else(|| {
            D::Error::custom(format!("expected a string, number or boolean, or a list of them; found {value}"))
        })
    }
}

/// Strings as they are, numbers and booleans as JSON writes them; `None` for anything else.
fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Deserialises a field that may be JSON `null`: present → `Some(value)`, absent → `None` (with
/// `#[serde(default)]`).
fn present<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(deserializer).map(Some)
}

fn default_method() -> String {
    "GET".to_string()
}

fn default_true() -> bool {
    true
}

fn default_max_redirects() -> u32 {
    10
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use testmesh_plugin_sdk::Error;

    fn parse(config: Value) -> Result<Config, Error> {
        Error::parse_config(&config.to_string())
    }

    #[test]
    fn defaults() {
        let c = parse(json!({"url": "http://x/"})).expect("valid");
        assert_eq!(c.method, "GET");
        assert!(c.follow_redirects);
        assert_eq!(c.max_redirects, 10);
        assert_eq!((c.json, c.body, c.form, c.auth, c.timeout), (None, None, None, None, None));
    }

    #[test]
    fn json_null_is_a_body() {
        let c = parse(json!({"url": "http://x/", "json": null})).expect("valid");
        assert_eq!(c.json, Some(Value::Null));
    }

    #[test]
    fn scalars_and_lists() {
        let c = parse(json!({"url": "u", "params": {"a": 1, "b": [true, "x"]}, "headers": {"X-N": 5}})).expect("valid");
        assert_eq!(c.query["a"], Scalars(vec!["1".into()]));
        assert_eq!(c.query["b"], Scalars(vec!["true".into(), "x".into()]));
        assert_eq!(c.headers["X-N"], HeaderValue("5".into()));
    }

    #[test]
    fn errors_point_at_the_field() {
        let err = parse(json!({"url": "u", "query": {"a": {"b": 1}}})).expect_err("object");
        assert!(matches!(&err, Error::InvalidConfig { path, .. } if path == "/query/a"), "{err:?}");
        let err = parse(json!({"url": "u", "headers": {"A": null}})).expect_err("null");
        assert!(matches!(&err, Error::InvalidConfig { path, .. } if path == "/headers/A"), "{err:?}");
        let err = parse(json!({"url": "u", "timeout": "soon"})).expect_err("duration");
        assert!(matches!(&err, Error::InvalidConfig { path, .. } if path == "/timeout"), "{err:?}");
        let err = parse(json!({"url": "u", "follow_redirect": false})).expect_err("typo");
        assert!(matches!(&err, Error::InvalidConfig { message, .. } if message.contains("follow_redirect")), "{err:?}");
        let err = parse(json!({"method": "GET"})).expect_err("no url");
        assert!(matches!(&err, Error::InvalidConfig { message, .. } if message.contains("url")), "{err:?}");
    }

    #[test]
    fn auth_variants() {
        let c = parse(json!({"url": "u", "auth": {"type": "basic", "username": "a"}})).expect("valid");
        assert_eq!(c.auth, Some(Auth::Basic { username: "a".into(), password: String::new() }));
        let c = parse(json!({"url": "u", "auth": {"type": "bearer", "token": "t"}})).expect("valid");
        assert_eq!(c.auth, Some(Auth::Bearer { token: "t".into() }));
        let err = parse(json!({"url": "u", "auth": {"type": "bearer", "token": "t", "x": 1}})).expect_err("unknown");
        assert!(matches!(&err, Error::InvalidConfig { path, .. } if path.starts_with("/auth")), "{err:?}");
        let err = parse(json!({"url": "u", "auth": {"type": "oauth2"}})).expect_err("variant");
        assert!(matches!(&err, Error::InvalidConfig { path, .. } if path.starts_with("/auth")), "{err:?}");
    }
}
