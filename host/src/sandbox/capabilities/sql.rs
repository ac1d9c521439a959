//! The `sql` capability: queries on PostgreSQL and SQLite connections the plugin was granted, through
//! pools the host keeps per connection URL (shared by every plugin call in the process).

use crate::sandbox::bindings::action::testmesh::plugin::sql;
use crate::sandbox::state::HostState;
use futures::TryStreamExt;
use serde_json::{Map, Value};
use sqlx::postgres::{PgPool, PgPoolOptions, PgRow};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePool, SqlitePoolOptions, SqliteRow};
use sqlx::{Column, Either, Executor, Row, TypeInfo, ValueRef};
use std::collections::HashMap;
use std::str::FromStr;
use std::time::Duration;
use wasmtime::component::{HasSelf, Linker};

/// Granted SQL connections, by URL pattern (`sql:*`, `sql:postgres://db:5432/*`,
/// `sql:sqlite:///var/lib/app/*`).
pub type SqlGrant = super::UrlGrant;

/// Connection pools by URL, created on first use.
#[derive(Default)]
pub(crate) struct SqlPools {
    pools: tokio::sync::Mutex<HashMap<String, Pool>>,
}

#[derive(Clone)]
enum Pool {
    Postgres(PgPool),
    Sqlite(SqlitePool),
}

impl SqlPools {
    async fn get(&self, url: &str) -> Result<Pool, String> {
        let mut pools = self.pools.lock().await;
        if let Some(pool) = pools.get(url) {
            return Ok(pool.clone());
        }
        let pool = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let pool = PgPoolOptions::new()
                .max_connections(4)
                .acquire_timeout(Duration::from_secs(10))
                .connect(url)
                .await
                .map_err(|e| e.to_string())?;
            Pool::Postgres(pool)
        } else if url.starts_with("sqlite:") {
            let options = SqliteConnectOptions::from_str(url).map_err(|e| e.to_string())?;
            // One connection: `sqlite::memory:` would otherwise be a different database per connection.
            let pool =
                SqlitePoolOptions::new().max_connections(1).connect_with(options).await.map_err(|e| e.to_string())?;
            Pool::Sqlite(pool)
        } else {
            return Err(format!(
                "unsupported connection `{}`: use postgres://… or sqlite:…",
                super::without_credentials(url)
            ));
        };
        pools.insert(url.to_string(), pool.clone());
        Ok(pool)
    }
}

pub(crate) fn link(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    sql::add_to_linker::<HostState, HasSelf<HostState>>(linker, |state| state)
}

impl sql::Host for HostState {
    async fn query(
        &mut self,
        connection: String,
        statement: String,
        params: String,
    ) -> wasmtime::Result<Result<sql::QueryResult, sql::Error>> {
        if !self.scope.grants.sql.allows(&connection) {
            let message = format!(
                "sql on {} is not granted to plugin {}",
                super::without_credentials(&connection),
                self.scope.plugin
            );
            self.scope.denials.record(message.clone());
            return Ok(Err(sql::Error::Denied(message)));
        }
        let params = match serde_json::from_str::<Value>(&params) {
            Ok(Value::Array(params)) => params,
            Ok(_) => return Ok(Err(sql::Error::Query("params must be a JSON array".into()))),
            Err(e) => return Ok(Err(sql::Error::Query(format!("params are not JSON: {e}")))),
        };
        let pool = match self.shared.sql.get(&connection).await {
            Ok(pool) => pool,
            Err(e) => return Ok(Err(sql::Error::Connection(e))),
        };
        let outcome = match pool {
            Pool::Postgres(pool) => run_postgres(&pool, &statement, params).await,
            Pool::Sqlite(pool) => run_sqlite(&pool, &statement, params).await,
        };
        Ok(outcome
            .map(|(rows, rows_affected)| sql::QueryResult { rows: Value::Array(rows).to_string(), rows_affected })
            .map_err(sql::Error::Query))
    }
}

macro_rules! bind_json_params {
    ($query:expr, $params:expr, $null:expr) => {{
        let mut query = $query;
        for param in $params {
            query = match param {
                Value::Null => query.bind($null),
                Value::Bool(b) => query.bind(b),
                Value::Number(n) => match n.as_i64() {
                    Some(i) => query.bind(i),
                    None => query.bind(n.as_f64().unwrap_or(f64::NAN)),
                },
                Value::String(s) => query.bind(s),
                other => query.bind(sqlx::types::Json(other)),
            };
        }
        query
    }};
}

/// A NULL parameter of no declared type (OID 0): PostgreSQL infers it from the statement, so a JSON
/// `null` fits a column of any type, not only text ones.
struct UntypedNull;

impl sqlx::Type<sqlx::Postgres> for UntypedNull {
    fn type_info() -> sqlx::postgres::PgTypeInfo {
        sqlx::postgres::PgTypeInfo::with_oid(sqlx::postgres::types::Oid(0))
    }
}

impl sqlx::Encode<'_, sqlx::Postgres> for UntypedNull {
    fn encode_by_ref(
        &self,
        _buf: &mut sqlx::postgres::PgArgumentBuffer,
    ) -> Result<sqlx::encode::IsNull, sqlx::error::BoxDynError> {
        Ok(sqlx::encode::IsNull::Yes)
    }
}

async fn run_postgres(pool: &PgPool, statement: &str, params: Vec<Value>) -> Result<(Vec<Value>, u64), String> {
    // Not a cached prepared statement: its parameter types are those of the first call's values, and a
    // later call of the same text with values of other JSON types would be read with the wrong types.
    let query = sqlx::query(sqlx::AssertSqlSafe(statement.to_string())).persistent(false);
    let query = bind_json_params!(query, params, None::<UntypedNull>);
    let mut stream = pool.fetch_many(query);
    let (mut rows, mut affected) = (Vec::new(), 0);
    while let Some(item) = stream.try_next().await.map_err(|e| e.to_string())? {
        match item {
            Either::Left(done) => affected += done.rows_affected(),
            Either::Right(row) => rows.push(postgres_row(&row)),
        }
    }
    Ok((rows, affected))
}

async fn run_sqlite(pool: &SqlitePool, statement: &str, params: Vec<Value>) -> Result<(Vec<Value>, u64), String> {
    let query = bind_json_params!(sqlx::query(sqlx::AssertSqlSafe(statement.to_string())), params, None::<String>);
    let mut stream = pool.fetch_many(query);
    let (mut rows, mut affected) = (Vec::new(), 0);
    while let Some(item) = stream.try_next().await.map_err(|e| e.to_string())? {
        match item {
            Either::Left(done) => affected += done.rows_affected(),
            Either::Right(row) => rows.push(sqlite_row(&row)),
        }
    }
    Ok((rows, affected))
}

fn postgres_row(row: &PgRow) -> Value {
    let mut object = Map::new();
    for (index, column) in row.columns().iter().enumerate() {
        object.insert(column.name().to_string(), postgres_value(row, index, column.type_info().name()));
    }
    Value::Object(object)
}

fn postgres_value(row: &PgRow, index: usize, type_name: &str) -> Value {
    fn get<'r, T: sqlx::Decode<'r, sqlx::Postgres> + sqlx::Type<sqlx::Postgres>>(
        row: &'r PgRow,
        index: usize,
    ) -> Result<Option<T>, sqlx::Error> {
        row.try_get::<Option<T>, _>(index)
    }
    let value = match type_name {
        "BOOL" => get::<bool>(row, index).map(|v| v.map(Value::from)),
        "INT2" => get::<i16>(row, index).map(|v| v.map(Value::from)),
        "INT4" => get::<i32>(row, index).map(|v| v.map(Value::from)),
        "INT8" => get::<i64>(row, index).map(|v| v.map(Value::from)),
        "OID" => get::<sqlx::postgres::types::Oid>(row, index).map(|v| v.map(|o| Value::from(o.0))),
        "FLOAT4" => get::<f32>(row, index).map(|v| v.map(|f| Value::from(f as f64))),
        "FLOAT8" => get::<f64>(row, index).map(|v| v.map(Value::from)),
        "NUMERIC" => get::<sqlx::types::BigDecimal>(row, index).map(|v| v.map(|d| number_from_text(&d.to_string()))),
        "JSON" | "JSONB" => get::<sqlx::types::JsonValue>(row, index),
        "UUID" => get::<sqlx::types::Uuid>(row, index).map(|v| v.map(|u| Value::from(u.to_string()))),
        "TIMESTAMPTZ" => {
            get::<chrono::DateTime<chrono::Utc>>(row, index).map(|v| v.map(|t| Value::from(t.to_rfc3339())))
        }
        "TIMESTAMP" => get::<chrono::NaiveDateTime>(row, index)
            .map(|v| v.map(|t| Value::from(t.format("%Y-%m-%dT%H:%M:%S%.f").to_string()))),
        "DATE" => get::<chrono::NaiveDate>(row, index).map(|v| v.map(|d| Value::from(d.to_string()))),
        "TIME" => get::<chrono::NaiveTime>(row, index).map(|v| v.map(|t| Value::from(t.to_string()))),
        "BYTEA" => get::<Vec<u8>>(row, index).map(|v| v.map(|b| Value::from(base64(&b)))),
        "TEXT[]" | "VARCHAR[]" => get::<Vec<String>>(row, index).map(|v| v.map(Value::from)),
        "INT4[]" => get::<Vec<i32>>(row, index).map(|v| v.map(Value::from)),
        "INT8[]" => get::<Vec<i64>>(row, index).map(|v| v.map(Value::from)),
        _ => get::<String>(row, index).map(|v| v.map(Value::from)),
    };
    match value {
        Ok(Some(value)) => value,
        Ok(None) => Value::Null,
        Err(_) => Value::from(format!("<column of type {type_name} cannot be shown; cast it to text in the query>")),
    }
}

fn sqlite_row(row: &SqliteRow) -> Value {
    let mut object = Map::new();
    for (index, column) in row.columns().iter().enumerate() {
        object.insert(column.name().to_string(), sqlite_value(row, index));
    }
    Value::Object(object)
}

/// SQLite is dynamically typed: the value's own storage class decides, not the declared column type.
fn sqlite_value(row: &SqliteRow, index: usize) -> Value {
    let storage = match row.try_get_raw(index) {
        Ok(raw) if raw.is_null() => return Value::Null,
        Ok(raw) => raw.type_info().name().to_string(),
        Err(e) => return Value::from(format!("<unreadable: {e}>")),
    };
    let value = match storage.as_str() {
        "INTEGER" => row.try_get::<i64, _>(index).map(Value::from),
        "REAL" => row.try_get::<f64, _>(index).map(Value::from),
        "BLOB" => row.try_get::<Vec<u8>, _>(index).map(|b| Value::from(base64(&b))),
        _ => row.try_get::<String, _>(index).map(Value::from),
    };
    value.unwrap_or_else(|e| Value::from(format!("<unreadable: {e}>")))
}

/// A decimal's text as a JSON number: an integer when it is one, else the nearest float.
fn number_from_text(text: &str) -> Value {
    if let Ok(i) = text.parse::<i64>() {
        return Value::from(i);
    }
    text.parse::<f64>().map(Value::from).unwrap_or_else(|_| Value::from(text))
}

fn base64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_become_numbers() {
        assert_eq!(number_from_text("42"), Value::from(42));
        assert_eq!(number_from_text("12.50"), Value::from(12.5));
    }
}
