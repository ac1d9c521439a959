//! The SQLite [`Store`](super::Store): the zero-configuration set-up of `testmesh serve`, one file,
//! WAL journal (readers do not block the writer), foreign keys on, and a busy timeout so that
//! concurrent writers wait instead of failing. Timestamps are integer microseconds since the Unix
//! epoch (sortable, exact), JSON is text.

use chrono::{DateTime, Utc};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow, SqliteSynchronous,
};
use std::str::FromStr;
use std::time::Duration;

/// A [`Store`](super::Store) on a SQLite database file (or in memory).
pub struct SqliteStore {
    pool: SqlitePool,
}

impl SqliteStore {
    /// Opens `url` (`sqlite://path?mode=rwc`, `sqlite::memory:`) and runs the migrations of
    /// `migrations/sqlite`.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::from_str(url)?
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        let in_memory = url.contains(":memory:") || url.contains("mode=memory");
        let pool = if in_memory {
            // Every connection to `:memory:` is a database of its own: keep exactly one, forever.
            SqlitePoolOptions::new().max_connections(1).idle_timeout(None).max_lifetime(None)
        } else {
            SqlitePoolOptions::new().max_connections(8)
        }
        .connect_with(options)
        .await?;
        sqlx::migrate!("../migrations/sqlite").run(&pool).await?;
        Ok(SqliteStore { pool })
    }
}

/// A timestamp as stored: microseconds since the Unix epoch.
fn ts(at: DateTime<Utc>) -> i64 {
    at.timestamp_micros()
}

/// An optional timestamp as stored.
fn opt_ts(at: Option<DateTime<Utc>>) -> Option<i64> {
    at.map(ts)
}

/// Reads microseconds back into a timestamp.
fn from_micros(micros: i64) -> Result<DateTime<Utc>, StoreError> {
    DateTime::from_timestamp_micros(micros).ok_or_else(|| StoreError::Database("timestamp out of range".into()))
}

/// A `NOT NULL` timestamp column.
fn get_ts(row: &SqliteRow, column: &str) -> Result<DateTime<Utc>, StoreError> {
    from_micros(row.try_get(column)?)
}

/// A nullable timestamp column.
fn get_opt_ts(row: &SqliteRow, column: &str) -> Result<Option<DateTime<Utc>>, StoreError> {
    row.try_get::<Option<i64>, _>(column)?.map(from_micros).transpose()
}

sql_store!(SqliteStore, SqliteRow, "sqlite");
sql_plugin_store!(SqliteStore, SqliteRow);
sql_schedule_store!(SqliteStore, SqliteRow);
