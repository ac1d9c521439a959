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

/// Runs `statement` with positional `params` on the connection named by `connection` (a URL such as
/// `postgres://user@host/db` or `sqlite:///tmp/x.db`). The error text says whether the connection was
/// denied, unreachable or the statement rejected.
pub fn query(connection: &str, statement: &str, params: &[Value]) -> Result<QueryResult, String> {
    let params = Value::Array(params.to_vec()).to_string();
    match wit_sql::query(connection, statement, &params) {
        Ok(result) => {
            let rows = match serde_json::from_str::<Value>(&result.rows) {
                Ok(Value::Array(rows)) => rows,
                Ok(other) => return Err(format!("host returned rows that are not a list: {other}")),
                Err(e) => return Err(format!("host returned rows that are not JSON: {e}")),
            };
            Ok(QueryResult { rows, rows_affected: result.rows_affected })
        }
        Err(wit_sql::Error::Denied(m)) => Err(m),
        Err(wit_sql::Error::Connection(m)) => Err(format!("cannot connect: {m}")),
        Err(wit_sql::Error::Query(m)) => Err(format!("query failed: {m}")),
    }
}
