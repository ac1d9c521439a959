//! Turns a step's configuration into the first request to send: method, final URL with its query,
//! headers (auth and content type included) and the encoded body.

use crate::config::{Auth, Config, Scalars};
use crate::url::{Parts, append_query, encode_component};
use serde_json::Value;
use std::collections::BTreeMap;
use testmesh_plugin_sdk::Error;

/// A request ready to be sent, and the starting point of every redirect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prepared {
    /// Upper-case method.
    pub method: String,
    /// Where the request goes.
    pub url: Parts,
    /// Header names and values, in order.
    pub headers: Vec<(String, String)>,
    /// The encoded body, empty for none.
    pub body: Vec<u8>,
}

impl Prepared {
    /// Builds the first request from the configuration, reporting mistakes at their config path.
    pub fn from_config(config: &Config) -> Result<Prepared, Error> {
        let method = check_method(&config.method)?;
        let mut url = Parts::parse(&config.url).map_err(|message| Error::config("/url", message))?;
        append_query(&mut url, &pairs(&config.query));

        let mut headers: Vec<(String, String)> =
            config.headers.iter().map(|(name, value)| (name.clone(), value.0.clone())).collect();
        if let Some(auth) = &config.auth {
            if has_header(&headers, "authorization") {
                return Err(Error::config("/auth", "`auth` and an `Authorization` header both set it: keep one"));
            }
            headers.push(("authorization".to_string(), authorization(auth)));
        }

        let (body, content_type) = encode_body(config)?;
        if let Some(content_type) = content_type
            && !has_header(&headers, "content-type")
        {
            headers.push(("content-type".to_string(), content_type.to_string()));
        }
        Ok(Prepared { method, url, headers, body })
    }

    /// The value of header `name` (case-insensitive), if set.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// Whether `headers` sets `name`, ignoring case.
fn has_header(headers: &[(String, String)], name: &str) -> bool {
    headers.iter().any(|(k, _)| k.eq_ignore_ascii_case(name))
}

/// Upper-cases the method and checks that it is an HTTP token.
fn check_method(method: &str) -> Result<String, Error> {
    let valid =
        !method.is_empty() && method.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
    if valid {
        Ok(method.to_ascii_uppercase())
    } else {
        Err(Error::config("/method", format!("`{method}` is not an HTTP method (GET, POST, PUT, PATCH, DELETE, …)")))
    }
}

/// Flattens a name → scalars map into pairs, repeating names that have several values.
fn pairs(map: &BTreeMap<String, Scalars>) -> Vec<(String, String)> {
    map.iter().flat_map(|(name, values)| values.0.iter().map(move |value| (name.clone(), value.clone()))).collect()
}

/// The `Authorization` header value for `auth`.
fn authorization(auth: &Auth) -> String {
    match auth {
        Auth::Basic { username, password } => format!("Basic {}", base64(format!("{username}:{password}").as_bytes())),
        Auth::Bearer { token } => format!("Bearer {token}"),
    }
}

/// Encodes whichever of `json`, `form` and `body` is set (at most one may be) and says which content
/// type it implies.
pub fn encode_body(config: &Config) -> Result<(Vec<u8>, Option<&'static str>), Error> {
    let given: Vec<&str> =
        [("json", config.json.is_some()), ("form", config.form.is_some()), ("body", config.body.is_some())]
            .into_iter()
            .filter_map(|(name, set)| set.then_some(name))
            .collect();
    if given.len() > 1 {
        return Err(Error::config(
            format!("/{}", given[1]),
            format!("`{}` and `{}` both give a body: keep only one", given[0], given[1]),
        ));
    }
    if let Some(json) = &config.json {
        return Ok((json.to_string().into_bytes(), Some("application/json")));
    }
    if let Some(form) = &config.form {
        let encoded = pairs(form)
            .iter()
            .map(|(name, value)| format!("{}={}", encode_component(name, true), encode_component(value, true)))
            .collect::<Vec<_>>()
            .join("&");
        return Ok((encoded.into_bytes(), Some("application/x-www-form-urlencoded")));
    }
    match &config.body {
        None => Ok((Vec::new(), None)),
        Some(Value::String(text)) => {
            let looks_like_json = serde_json::from_str::<Value>(text).is_ok_and(|v| v.is_object() || v.is_array());
            let content_type = if looks_like_json { "application/json" } else { "text/plain; charset=utf-8" };
            Ok((text.clone().into_bytes(), Some(content_type)))
        }
        Some(other) => Ok((other.to_string().into_bytes(), Some("application/json"))),
    }
}

/// Standard base64 with padding (RFC 4648), for Basic credentials.
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], chunk.get(1).copied().unwrap_or(0), chunk.get(2).copied().unwrap_or(0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn prepare(config: Value) -> Result<Prepared, Error> {
        Prepared::from_config(&Error::parse_config::<Config>(&config.to_string())?)
    }

    fn body_text(p: &Prepared) -> &str {
        std::str::from_utf8(&p.body).expect("utf-8 body")
    }

    #[test]
    fn base64_matches_rfc_4648_vectors() {
        let vectors =
            [("", ""), ("f", "Zg=="), ("fo", "Zm8="), ("foo", "Zm9v"), ("foob", "Zm9vYg=="), ("fooba", "Zm9vYmE=")];
        for (input, expected) in vectors {
            assert_eq!(base64(input.as_bytes()), expected);
        }
    }

    #[test]
    fn method_url_and_query() {
        let p = prepare(json!({"method": "post", "url": "http://h/x?a=1", "query": {"b": [1, 2], "c d": "é"}}))
            .expect("valid");
        assert_eq!(p.method, "POST");
        assert_eq!(p.url.to_string(), "http://h/x?a=1&b=1&b=2&c%20d=%C3%A9");
        assert!(p.body.is_empty());
        assert_eq!(p.header("content-type"), None);
    }

    #[test]
    fn json_body_sets_content_type_unless_given() {
        let p = prepare(json!({"url": "http://h/", "json": {"name": "alice"}})).expect("valid");
        assert_eq!(body_text(&p), r#"{"name":"alice"}"#);
        assert_eq!(p.header("Content-Type"), Some("application/json"));
        let p =
            prepare(json!({"url": "http://h/", "json": [1], "headers": {"Content-Type": "application/vnd.x+json"}}))
                .expect("valid");
        assert_eq!(p.header("content-type"), Some("application/vnd.x+json"));
        assert_eq!(p.headers.len(), 1);
    }

    #[test]
    fn form_body_is_urlencoded() {
        let p = prepare(json!({"url": "http://h/", "form": {"user": "a b", "tags": ["x", "y&z"]}})).expect("valid");
        assert_eq!(body_text(&p), "tags=x&tags=y%26z&user=a+b");
        assert_eq!(p.header("content-type"), Some("application/x-www-form-urlencoded"));
    }

    #[test]
    fn testmesh_body_is_raw_text_or_json() {
        let p = prepare(json!({"url": "http://h/", "body": "hello"})).expect("valid");
        assert_eq!((body_text(&p), p.header("content-type")), ("hello", Some("text/plain; charset=utf-8")));
        let p = prepare(json!({"url": "http://h/", "body": "{\"a\":1}"})).expect("valid");
        assert_eq!((body_text(&p), p.header("content-type")), ("{\"a\":1}", Some("application/json")));
        let p = prepare(json!({"url": "http://h/", "body": {"a": [1, true]}})).expect("valid");
        assert_eq!((body_text(&p), p.header("content-type")), (r#"{"a":[1,true]}"#, Some("application/json")));
        let p = prepare(json!({"url": "http://h/", "body": 42})).expect("valid");
        assert_eq!(body_text(&p), "42");
    }

    #[test]
    fn only_one_body() {
        let err = prepare(json!({"url": "http://h/", "json": {}, "body": "x"})).expect_err("two bodies");
        assert_eq!(err, Error::config("/body", "`json` and `body` both give a body: keep only one"));
        let err = prepare(json!({"url": "http://h/", "form": {}, "json": null})).expect_err("two bodies");
        assert!(matches!(err, Error::InvalidConfig { path, .. } if path == "/form"));
    }

    #[test]
    fn auth_sets_authorization() {
        let p = prepare(
            json!({"url": "http://h/", "auth": {"type": "basic", "username": "Aladdin", "password": "open sesame"}}),
        )
        .expect("valid");
        assert_eq!(p.header("authorization"), Some("Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="));
        let p = prepare(json!({"url": "http://h/", "auth": {"type": "bearer", "token": "abc"}})).expect("valid");
        assert_eq!(p.header("authorization"), Some("Bearer abc"));
        let err = prepare(
            json!({"url": "http://h/", "auth": {"type": "bearer", "token": "abc"}, "headers": {"Authorization": "x"}}),
        )
        .expect_err("conflict");
        assert!(matches!(err, Error::InvalidConfig { path, .. } if path == "/auth"));
    }

    #[test]
    fn bad_method_and_url_are_config_errors() {
        let err = prepare(json!({"url": "http://h/", "method": "GE T"})).expect_err("method");
        assert!(matches!(err, Error::InvalidConfig { path, .. } if path == "/method"));
        let err = prepare(json!({"url": "/relative"})).expect_err("url");
        assert!(matches!(err, Error::InvalidConfig { path, .. } if path == "/url"));
    }
}
