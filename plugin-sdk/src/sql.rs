//! SQL on the connections an administrator granted (the `sql` interface, actions only).

use crate::action::bindings::testmesh::plugin::sql as wit_sql;
use serde_json::Value;

/// Rows and affected-row count of one statement.
#[derive(Debug, Clone, PartialEq)]
pub struct QueryResult {
    /// The rows as JSON objects keyed by column name.
    pub rows: Vec<Value>,
    /// Rows changed by INSERT/UPDATE/DELETE.
    pub rows_affected: u64,
}

/// Why a statement did not run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SqlError {
    /// The plugin was not granted this connection (the text names it and the plugin).
    Denied(String),
    /// The database could not be reached, or refused the login.
    Connection(String),
    /// The database rejected the statement.
    Query(String),
    /// The host answered with something this SDK does not understand.
    Protocol(String),
}

impl std::fmt::Display for SqlError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SqlError::Denied(m) => f.write_str(m),
            SqlError::Connection(m) => write!(f, "cannot connect: {m}"),
            SqlError::Query(m) => write!(f, "query failed: {m}"),
            SqlError::Protocol(m) => write!(f, "unexpected answer from the host: {m}"),
        }
    }
}

impl std::error::Error for SqlError {}

/// Runs `statement` with positional `params` on the connection named by `connection` (a URL such as
/// `postgres://user@host/db` or `sqlite:///tmp/x.db`).
pub fn query(connection: &str, statement: &str, params: &[Value]) -> Result<QueryResult, SqlError> {
    let params = Value::Array(params.to_vec()).to_string();
    match wit_sql::query(connection, statement, &params) {
        Ok(result) => {
            let rows = match serde_json::from_str::<Value>(&result.rows) {
                Ok(Value::Array(rows)) => rows,
                Ok(other) => return Err(SqlError::Protocol(format!("rows that are not a list: {other}"))),
                Err(e) => return Err(SqlError::Protocol(format!("rows that are not JSON: {e}"))),
            };
            Ok(QueryResult { rows, rows_affected: result.rows_affected })
        }
        Err(wit_sql::Error::Denied(m)) => Err(SqlError::Denied(m)),
        Err(wit_sql::Error::Connection(m)) => Err(SqlError::Connection(m)),
        Err(wit_sql::Error::Query(m)) => Err(SqlError::Query(m)),
    }
}
