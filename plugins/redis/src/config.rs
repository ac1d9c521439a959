//! What a step's `config` for `redis` may say, and the server URL it names: `url`, or TestMesh's
//! `host`/`port`/`db`/`password`.

use serde::Deserialize;
use serde::de::{Deserializer, Error as _};
use serde_json::{Map, Value};
use std::time::Duration;
use testmesh_plugin_sdk::{Error, duration};

/// The server used when the step names none.
pub const DEFAULT_URL: &str = "redis://127.0.0.1:6379";

/// The configuration of one `redis` step.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Server URL (`redis://host:6379/0`, `rediss://…`).
    pub url: Option<String>,
    /// TestMesh: server host name.
    pub host: Option<String>,
    /// TestMesh: server port.
    #[serde(default, deserialize_with = "lenient_number")]
    pub port: Option<u16>,
    /// TestMesh: database number.
    #[serde(default, deserialize_with = "lenient_number")]
    pub db: Option<u32>,
    /// ACL user name (Redis 6+).
    pub username: Option<String>,
    /// TestMesh: server password.
    pub password: Option<String>,
    /// The command (`get`, `set`, …); TestMesh's `action: redis.get` gives it as the operation instead.
    pub command: Option<String>,
    /// The key the command works on.
    pub key: Option<String>,
    /// Several keys, for `del` and `exists`.
    pub keys: Option<Vec<String>>,
    /// The value for `set`, `hset`, `lpush`; not a string → JSON-encoded.
    #[serde(default, deserialize_with = "present")]
    pub value: Option<Value>,
    /// Several values, for `lpush`.
    pub values: Option<Vec<Value>>,
    /// The hash field, for `hget` and `hset`.
    pub field: Option<String>,
    /// Field → value pairs, for `hset` and `xadd`.
    pub fields: Option<Map<String, Value>>,
    /// Expiry for `set` and `expire`: a number of seconds, or a duration string (`500ms`, `1m`).
    #[serde(default, deserialize_with = "expiry")]
    pub ttl: Option<Duration>,
    /// Same as `ttl`.
    #[serde(default, deserialize_with = "expiry")]
    pub seconds: Option<Duration>,
    /// The stream entry id for `xadd` (default `*`).
    pub id: Option<String>,
    /// First index for `lrange` (default 0).
    pub start: Option<i64>,
    /// Last index for `lrange`, inclusive (default -1, the end).
    pub stop: Option<i64>,
    /// The whole command for `command`: `["PING"]`, `["HDEL", "k", "f"]`.
    #[serde(default, deserialize_with = "scalar_list")]
    pub args: Option<Vec<String>>,
}

impl Config {
    /// The server URL: `url`, or one built from `host`, `port`, `db`, `username` and `password`, or
    /// [`DEFAULT_URL`].
    pub fn server_url(&self) -> Result<String, Error> {
        let parts = [
            ("host", self.host.is_some()),
            ("port", self.port.is_some()),
            ("db", self.db.is_some()),
            ("username", self.username.is_some()),
            ("password", self.password.is_some()),
        ];
        let first_part = parts.iter().find(|(_, set)| *set).map(|(name, _)| *name);
        match (&self.url, first_part) {
            (Some(_), Some(part)) => Err(Error::config(
                format!("/{part}"),
                format!("give either `url` or `{part}` (with host, port, db, password), not both"),
            )),
            (Some(url), None) if url.trim().is_empty() => {
                Err(Error::config("/url", "empty url: give redis://host:6379"))
            }
            (Some(url), None) => Ok(url.trim().to_string()),
            (None, None) => Ok(DEFAULT_URL.to_string()),
            (None, Some(_)) => Ok(self.built_url()),
        }
    }

    /// `redis://[user][:password@]host:port[/db]` from TestMesh's separate keys.
    fn built_url(&self) -> String {
        let host = self.host.as_deref().map(str::trim).filter(|h| !h.is_empty()).unwrap_or("127.0.0.1");
        let host = if host.contains(':') && !host.starts_with('[') { format!("[{host}]") } else { host.to_string() };
        let credentials = match (&self.username, &self.password) {
            (None, None) => String::new(),
            (user, password) => {
                let user = user.as_deref().map(encode).unwrap_or_default();
                let password = password.as_deref().map(|p| format!(":{}", encode(p))).unwrap_or_default();
                format!("{user}{password}@")
            }
        };
        let db = self.db.map(|db| format!("/{db}")).unwrap_or_default();
        format!("redis://{credentials}{host}:{}{db}", self.port.unwrap_or(6379))
    }
}

/// Percent-encodes a URL user name or password.
fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => char::from(b).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Deserialises a field that may be JSON `null`: present → `Some(value)`.
fn present<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(deserializer).map(Some)
}

/// A number given as a number or as text (`"6379"`, what an environment variable interpolates to).
fn lenient_number<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: TryFrom<u64> + std::str::FromStr,
{
    let value = Value::deserialize(deserializer)?;
    let number = match &value {
        Value::Null => return Ok(None),
        Value::Number(n) => n.as_u64().and_then(|n| T::try_from(n).ok()),
        Value::String(s) => s.trim().parse::<T>().ok(),
        _ => None,
    };
    number.map(Some).ok_or_else(|| D::Error::custom(format!("expected a non-negative whole number, found {value}")))
}

/// An expiry: a number is seconds (Redis's unit and TestMesh's), a string a duration (`500ms`, `1m`).
fn expiry<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Duration>, D::Error> {
    let value = Value::deserialize(deserializer)?;
    let parsed = match &value {
        Value::Null => return Ok(None),
        Value::Number(n) => n
            .as_f64()
            .filter(|s| *s >= 0.0)
            .and_then(|s| Duration::try_from_secs_f64(s).ok())
            .ok_or_else(|| format!("expected a number of seconds or a duration such as 10s, found {value}")),
        Value::String(s) => duration::parse(s),
        _ => Err(format!("expected a number of seconds or a duration such as 10s, found {value}")),
    };
    parsed.map(Some).map_err(D::Error::custom)
}

/// A list of strings, numbers or booleans, kept as text.
fn scalar_list<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Vec<String>>, D::Error> {
    let value = Value::deserialize(deserializer)?;
    let items = match &value {
        Value::Null => return Ok(None),
        Value::Array(items) => items.iter().map(|item| match item {
            Value::String(s) => Some(s.clone()),
            Value::Number(_) | Value::Bool(_) => Some(item.to_string()),
            _ => None,
        }),
        _ => return Err(D::Error::custom(format!("expected a list of strings, found {value}"))),
    };
    items
        .collect::<Option<Vec<_>>>()
        .map(Some)
        .ok_or_else(|| D::Error::custom(format!("expected a list of strings, numbers or booleans, found {value}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(config: Value) -> Result<Config, Error> {
        Error::parse_config(&config.to_string())
    }

    #[test]
    fn default_server() {
        assert_eq!(parse(json!({})).and_then(|c| c.server_url()), Ok(DEFAULT_URL.to_string()));
        assert_eq!(
            parse(json!({"url": " redis://r:1/2 "})).and_then(|c| c.server_url()),
            Ok("redis://r:1/2".to_string())
        );
    }

    #[test]
    fn testmesh_host_and_port() {
        let url = |config| parse(config).and_then(|c| c.server_url());
        assert_eq!(url(json!({"host": "cache", "port": "6380"})), Ok("redis://cache:6380".to_string()));
        assert_eq!(url(json!({"port": 7000, "db": 2})), Ok("redis://127.0.0.1:7000/2".to_string()));
        assert_eq!(url(json!({"host": "h", "password": "p@ss word"})), Ok("redis://:p%40ss%20word@h:6379".to_string()));
        assert_eq!(url(json!({"host": "h", "username": "u", "password": "p"})), Ok("redis://u:p@h:6379".to_string()));
        assert_eq!(url(json!({"host": "::1"})), Ok("redis://[::1]:6379".to_string()));
        let err = url(json!({"url": "redis://x", "port": 1})).expect_err("both");
        assert!(matches!(err, Error::InvalidConfig { path, .. } if path == "/port"));
        let err = parse(json!({"port": "high"})).expect_err("port");
        assert!(matches!(err, Error::InvalidConfig { path, .. } if path == "/port"));
        let err = parse(json!({"port": 70000})).expect_err("port");
        assert!(matches!(err, Error::InvalidConfig { path, .. } if path == "/port"));
    }

    #[test]
    fn expiry_numbers_are_seconds_strings_are_durations() {
        let c = parse(json!({"ttl": 10, "seconds": "1500ms"})).expect("valid");
        assert_eq!((c.ttl, c.seconds), (Some(Duration::from_secs(10)), Some(Duration::from_millis(1500))));
        let err = parse(json!({"ttl": -1})).expect_err("negative");
        assert!(matches!(err, Error::InvalidConfig { path, .. } if path == "/ttl"));
    }

    #[test]
    fn values_and_args() {
        let c = parse(json!({"value": null, "args": ["SET", "k", 1, true]})).expect("valid");
        assert_eq!(c.value, Some(Value::Null));
        assert_eq!(c.args, Some(vec!["SET".into(), "k".into(), "1".into(), "true".into()]));
        let err = parse(json!({"args": ["a", {"b": 1}]})).expect_err("object");
        assert!(matches!(err, Error::InvalidConfig { path, .. } if path == "/args"));
        let err = parse(json!({"commnd": "get"})).expect_err("typo");
        assert!(matches!(err, Error::InvalidConfig { message, .. } if message.contains("commnd")));
    }
}
