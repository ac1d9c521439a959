//! The PostgreSQL [`Store`](super::Store): the distributed set-up, shared by any number of API
//! replicas and workers. Timestamps are `TIMESTAMPTZ`, JSON is `JSONB`.

use chrono::{DateTime, Utc};
use sqlx::postgres::{PgPool, PgPoolOptions, PgRow};

/// A [`Store`](super::Store) on a PostgreSQL database.
pub struct PostgresStore {
    pool: PgPool,
}

impl PostgresStore {
    /// Connects to `url` (`postgres://…`) and runs the migrations of `migrations/postgres`.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let pool = PgPoolOptions::new().max_connections(16).connect(url).await?;
        sqlx::migrate!("../migrations/postgres").run(&pool).await?;
        Ok(PostgresStore { pool })
    }
}

/// A timestamp as bound to a `TIMESTAMPTZ` parameter.
fn ts(at: DateTime<Utc>) -> DateTime<Utc> {
    at
}

/// An optional timestamp as bound to a `TIMESTAMPTZ` parameter.
fn opt_ts(at: Option<DateTime<Utc>>) -> Option<DateTime<Utc>> {
    at
}

/// A `TIMESTAMPTZ NOT NULL` column.
fn get_ts(row: &PgRow, column: &str) -> Result<DateTime<Utc>, StoreError> {
    Ok(row.try_get(column)?)
}

/// A nullable `TIMESTAMPTZ` column.
fn get_opt_ts(row: &PgRow, column: &str) -> Result<Option<DateTime<Utc>>, StoreError> {
    Ok(row.try_get(column)?)
}

sql_store!(PostgresStore, PgRow, "postgres");
sql_plugin_store!(PostgresStore, PgRow);
sql_schedule_store!(PostgresStore, PgRow);
