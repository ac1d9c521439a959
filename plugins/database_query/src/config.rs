//! What a step's `config` for `database_query` may say, in our spelling and TestMesh's.

use serde::Deserialize;
use serde_json::Value;
use std::time::Duration;
use testmesh_plugin_sdk::Error;

/// The configuration of one `database_query` step.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The connection URL (`postgres://…`, `sqlite:///…`); TestMesh's docs call it `connection_string`.
    #[serde(alias = "connection_string")]
    pub connection: String,
    /// The statement, with positional placeholders (`$1`, or `?` on SQLite).
    pub query: String,
    /// Values bound to the placeholders, in order.
    #[serde(default)]
    pub params: Vec<Value>,
    /// Keep at most this many rows in the output.
    #[serde(default)]
    pub max_rows: Option<usize>,
    /// Accepted for TestMesh compatibility; the step's own `timeout` bounds the query.
    #[serde(default, with = "testmesh_plugin_sdk::duration::option")]
    pub timeout: Option<Duration>,
}

impl Config {
    /// Checks what serde cannot: that the connection and the statement are not blank.
    pub fn validate(&self) -> Result<(), Error> {
        if self.connection.trim().is_empty() {
            return Err(Error::config("/connection", "empty connection: give a URL such as postgres://user@host/db"));
        }
        if self.query.trim().is_empty() {
            return Err(Error::config("/query", "empty query"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(config: Value) -> Result<Config, Error> {
        Error::parse_config::<Config>(&config.to_string()).and_then(|c| c.validate().map(|()| c))
    }

    #[test]
    fn accepts_testmesh_spelling() {
        let c = parse(json!({"connection_string": "postgres://db/x", "query": "SELECT 1", "timeout": "5s"}))
            .expect("valid");
        assert_eq!(c.connection, "postgres://db/x");
        assert_eq!(c.timeout, Some(Duration::from_secs(5)));
        assert!(c.params.is_empty());
    }

    #[test]
    fn reports_problems_at_their_field() {
        let err = parse(json!({"connection": "sqlite::memory:"})).expect_err("no query");
        assert!(matches!(&err, Error::InvalidConfig { message, .. } if message.contains("query")), "{err:?}");
        let err = parse(json!({"connection": " ", "query": "SELECT 1"})).expect_err("blank");
        assert!(matches!(&err, Error::InvalidConfig { path, .. } if path == "/connection"), "{err:?}");
        let err = parse(json!({"connection": "c", "query": "SELECT 1", "params": {"a": 1}})).expect_err("map");
        assert!(matches!(&err, Error::InvalidConfig { path, .. } if path == "/params"), "{err:?}");
        let err = parse(json!({"connection": "c", "query": "SELECT 1", "max_row": 1})).expect_err("typo");
        assert!(matches!(&err, Error::InvalidConfig { message, .. } if message.contains("max_row")), "{err:?}");
        let err = parse(json!({"connection": "c", "query": "SELECT 1", "max_rows": -1})).expect_err("negative");
        assert!(matches!(&err, Error::InvalidConfig { path, .. } if path == "/max_rows"), "{err:?}");
    }
}
