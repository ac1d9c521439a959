//! The server's storage: flows and their versions, runs and step results, environments, API keys and
//! the audit log behind one object-safe [`Store`] trait, with a PostgreSQL and a SQLite
//! implementation that behave the same.
//!
//! [`open`] picks the implementation from the database URL and runs the migrations of
//! `migrations/postgres` or `migrations/sqlite`. Both implementations share one body of SQL (the
//! `sql_store!` macro below): only how timestamps are stored differs (`TIMESTAMPTZ` in PostgreSQL,
//! integer microseconds in SQLite), so keeping them in step is a matter of keeping the two migration
//! files in step.

pub mod model;
#[macro_use]
mod sql;
#[macro_use]
mod sql_plugins;
#[macro_use]
mod sql_schedules;
mod postgres;
mod sqlite;

pub use model::*;
pub use postgres::PostgresStore;
pub use sqlite::SqliteStore;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Why a storage operation failed, in terms the API maps to status codes (404, 409, 412, 400, 500).
///
/// Messages never carry SQL text; [`StoreError::Database`] carries the driver's message for logs,
/// which the API must log rather than show.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// The record does not exist (or was deleted).
    #[error("not found")]
    NotFound,
    /// The write would break a uniqueness rule or a state rule (e.g. a run that already finished).
    #[error("conflict: {0}")]
    Conflict(String),
    /// An update named a version that is no longer the current one.
    #[error("precondition failed: the current version is {current_version}")]
    PreconditionFailed {
        /// The version the caller should have named.
        current_version: i64,
    },
    /// The caller's input cannot be used (a malformed cursor, an unsupported URL scheme, …).
    #[error("invalid input: {0}")]
    Invalid(String),
    /// The database failed; the text is the driver's message, for logs only.
    #[error("database error: {0}")]
    Database(String),
}

impl From<sqlx::Error> for StoreError {
    fn from(error: sqlx::Error) -> Self {
        match &error {
            sqlx::Error::RowNotFound => StoreError::NotFound,
            sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict("already exists".into()),
            _ => StoreError::Database(error.to_string()),
        }
    }
}

impl From<sqlx::migrate::MigrateError> for StoreError {
    fn from(error: sqlx::migrate::MigrateError) -> Self {
        StoreError::Database(format!("migration failed: {error}"))
    }
}

/// The result type of every [`Store`] method.
pub type StoreResult<'a, T> = BoxFuture<'a, Result<T, StoreError>>;

/// Everything the server stores, behind one object-safe trait so that the API, the scheduler and the
/// workers hold an `Arc<dyn Store>` and never know which database is underneath.
///
/// Lists are newest first and paged with an opaque cursor; ids are prefixed random strings
/// (`flw_…`, `run_…`).
pub trait Store: PluginStore + ScheduleStore + Send + Sync {
    /// `"postgres"` or `"sqlite"`, for logs and `/health`.
    fn backend(&self) -> &'static str;

    /// Creates a flow at version 1; [`StoreError::Conflict`] when a live flow has the same name.
    fn create_flow(&self, flow: NewFlow) -> StoreResult<'_, FlowRecord>;
    /// A live flow by id.
    fn get_flow<'a>(&'a self, id: &'a str) -> StoreResult<'a, FlowRecord>;
    /// A live flow by name.
    fn get_flow_by_name<'a>(&'a self, name: &'a str) -> StoreResult<'a, FlowRecord>;
    /// Live flows matching `filter`, newest first.
    fn list_flows(&self, filter: FlowFilter) -> StoreResult<'_, Page<FlowRecord>>;
    /// Makes a new version of a flow. With `expected_version`, fails with
    /// [`StoreError::PreconditionFailed`] unless it is the current version (optimistic locking for
    /// `If-Match`); a rename onto a taken name is a [`StoreError::Conflict`].
    fn update_flow<'a>(
        &'a self,
        id: &'a str,
        expected_version: Option<i64>,
        flow: NewFlow,
    ) -> StoreResult<'a, FlowRecord>;
    /// Deletes a flow (softly: its versions stay, so that its runs still read and queued runs can
    /// still load their pinned version); its name becomes free.
    fn delete_flow<'a>(&'a self, id: &'a str) -> StoreResult<'a, ()>;
    /// Every version of a flow, newest first.
    fn flow_versions<'a>(&'a self, id: &'a str) -> StoreResult<'a, Vec<FlowVersion>>;
    /// One version of a flow, also when the flow was deleted since (a queued run pins it).
    fn flow_version<'a>(&'a self, id: &'a str, version: i64) -> StoreResult<'a, FlowVersion>;

    /// Records a run, `queued`.
    fn create_run(&self, run: NewRun) -> StoreResult<'_, RunRecord>;
    /// A run by id.
    fn get_run<'a>(&'a self, id: &'a str) -> StoreResult<'a, RunRecord>;
    /// Runs matching `filter`, newest first.
    fn list_runs(&self, filter: RunFilter) -> StoreResult<'_, Page<RunRecord>>;
    /// Moves a run to `status`, setting `started_at` on `running` and `finished_at` on a final
    /// status ([`FINAL_RUN_STATUSES`]); `error`, when given, replaces the run's error. A finished
    /// run never changes again: [`StoreError::Conflict`].
    fn set_run_status<'a>(&'a self, id: &'a str, status: &'a str, error: Option<&'a str>)
    -> StoreResult<'a, RunRecord>;
    /// Ends a run with a final `status` and its result JSON; [`StoreError::Conflict`] when it had
    /// already finished (e.g. it was cancelled meanwhile).
    fn finish_run<'a>(&'a self, id: &'a str, status: &'a str, result: Value) -> StoreResult<'a, RunRecord>;
    /// Claims a run for `owner` (a worker) for `lease`: a `queued` run, or a `running` one whose
    /// lease expired (its worker died). Returns the new attempt number — the fencing token every
    /// later write of this execution carries — or `None` when the run is not claimable (another
    /// worker holds it, or it finished).
    fn claim_run<'a>(&'a self, id: &'a str, owner: &'a str, lease: std::time::Duration)
    -> StoreResult<'a, Option<i64>>;
    /// Extends the lease of execution `attempt` of a run, and tells whether someone asked to
    /// cancel it; [`LeaseState::Lost`] when that execution lost the run (it was reclaimed, or
    /// finished).
    fn renew_run_lease<'a>(
        &'a self,
        id: &'a str,
        attempt: i64,
        lease: std::time::Duration,
    ) -> StoreResult<'a, LeaseState>;
    /// Ends execution `attempt` of a run with a final `status` and its result; `false` when that
    /// execution no longer owns the run (a stale worker's write is a no-op).
    fn finish_claimed_run<'a>(
        &'a self,
        id: &'a str,
        attempt: i64,
        status: &'a str,
        result: Value,
    ) -> StoreResult<'a, bool>;
    /// Stores one step result; writing the same (run, path, attempt) again replaces it in place
    /// (a worker may re-deliver after a crash).
    fn put_step_result<'a>(&'a self, run_id: &'a str, step: StepRow) -> StoreResult<'a, ()>;
    /// A run's step results in the order they were first stored.
    fn step_results<'a>(&'a self, run_id: &'a str) -> StoreResult<'a, Vec<StepRow>>;
    /// Stores a batch of a run's progress in one transaction: an event per item, and the step
    /// result of every finished step (as [`put_step_result`](Self::put_step_result)).
    fn record_step_events<'a>(&'a self, run_id: &'a str, events: Vec<StepEvent>) -> StoreResult<'a, ()>;
    /// A run's events after `seq` `after` (0: from the start), oldest first, at most `limit`. The
    /// store writes `run.started` when a worker claims the run and `run.finished` when it ends,
    /// whoever ends it; the worker writes the step events.
    fn run_events<'a>(&'a self, run_id: &'a str, after: i64, limit: i64) -> StoreResult<'a, Vec<RunEventRecord>>;
    /// Asks to cancel a run: a queued run ends `cancelled` at once; a running one is marked, and its
    /// worker sees the mark at its next lease renewal ([`LeaseState::CancelRequested`]), stops the
    /// run (teardown runs) and ends it `cancelled`. [`StoreError::Conflict`] when it has finished.
    fn request_cancel<'a>(&'a self, id: &'a str) -> StoreResult<'a, RunRecord>;
    /// Unfinished runs whose job may have been lost: queued and last enqueued before
    /// `enqueued_before`, or running with an expired lease (their worker died). Oldest first.
    fn stale_runs(&self, enqueued_before: DateTime<Utc>, limit: i64) -> StoreResult<'_, Vec<String>>;
    /// Records that jobs for these runs were (re-)enqueued now.
    fn mark_enqueued<'a>(&'a self, ids: &'a [String]) -> StoreResult<'a, ()>;
    /// How many runs there are per status, for `/metrics`.
    fn run_counts(&self) -> StoreResult<'_, Vec<(String, i64)>>;
    /// Checks that the database answers, for `/ready`.
    fn ping(&self) -> StoreResult<'_, ()>;

    /// Creates or replaces an environment: its variables and all of its secrets.
    fn put_environment<'a>(
        &'a self,
        name: &'a str,
        vars: Map<String, Value>,
        secrets: BTreeMap<String, String>,
    ) -> StoreResult<'a, EnvironmentRecord>;
    /// An environment with the names of its secrets, never their values.
    fn get_environment<'a>(&'a self, name: &'a str) -> StoreResult<'a, EnvironmentRecord>;
    /// An environment's secret values, for the worker that runs a flow with it — never for the API.
    fn environment_secrets<'a>(&'a self, name: &'a str) -> StoreResult<'a, BTreeMap<String, String>>;
    /// Every environment, by name.
    fn list_environments(&self) -> StoreResult<'_, Vec<EnvironmentRecord>>;
    /// Deletes an environment and its secrets.
    fn delete_environment<'a>(&'a self, name: &'a str) -> StoreResult<'a, ()>;

    /// Makes a key; returns its record and the plaintext `tm_<id>_<secret>`, which is shown once and
    /// not kept (only its SHA-256 digest is).
    fn create_api_key(&self, key: NewKey) -> StoreResult<'_, (ApiKeyRecord, String)>;
    /// The record of a plaintext key if it is one of ours, not revoked and not expired; `None`
    /// otherwise, malformed keys included.
    fn verify_api_key<'a>(&'a self, plaintext: &'a str) -> StoreResult<'a, Option<ApiKeyRecord>>;
    /// Every key, revoked ones too, newest first.
    fn list_api_keys(&self) -> StoreResult<'_, Vec<ApiKeyRecord>>;
    /// Revokes a key (again is fine).
    fn revoke_api_key<'a>(&'a self, id: &'a str) -> StoreResult<'a, ()>;
    /// How many keys were ever made, revoked ones included: the server makes a first admin key only
    /// when there has never been one.
    fn count_api_keys(&self) -> StoreResult<'_, i64>;

    /// Appends to the audit log.
    fn audit(&self, entry: AuditEntry) -> StoreResult<'_, ()>;
    /// The latest audit entries, newest first (`limit` as for pages).
    fn list_audit(&self, limit: Option<i64>) -> StoreResult<'_, Vec<AuditRecord>>;
}

/// Installed plugins: versions with their grants and components, by name and by digest. A part of
/// every [`Store`], apart because the API's admin routes and the workers' plugin loading are its
/// only users.
pub trait PluginStore: Send + Sync {
    /// Stores a plugin version. Installing the same component again under the same name and version
    /// is not an error: it returns the stored record and `false` (nothing new). A different
    /// component under a name and version already installed is a [`StoreError::Conflict`].
    fn install_plugin(&self, plugin: NewPlugin) -> StoreResult<'_, (PluginRecord, bool)>;
    /// Every installed plugin version, by name, newest version first within a name.
    fn list_plugins(&self) -> StoreResult<'_, Vec<PluginRecord>>;
    /// One plugin version.
    fn get_plugin<'a>(&'a self, name: &'a str, version: &'a str) -> StoreResult<'a, PluginRecord>;
    /// The component whose sha256 is `digest` (workers load plugins by digest).
    fn plugin_component<'a>(&'a self, digest: &'a str) -> StoreResult<'a, Vec<u8>>;
    /// Changes a version's grants or enabled flag.
    fn update_plugin<'a>(
        &'a self,
        name: &'a str,
        version: &'a str,
        patch: PluginPatch,
    ) -> StoreResult<'a, PluginRecord>;
    /// Removes a plugin version (the caller checks that no flow still needs it).
    fn delete_plugin<'a>(&'a self, name: &'a str, version: &'a str) -> StoreResult<'a, ()>;
}

/// Cron schedules and the fire times claimed for them. A part of every [`Store`]; the scheduler of
/// every server replica uses it, and the claim of a fire time is what makes a tick fire once.
pub trait ScheduleStore: Send + Sync {
    /// Stores a schedule; [`StoreError::Invalid`] when its flow does not exist.
    fn create_schedule(&self, schedule: NewSchedule) -> StoreResult<'_, ScheduleRecord>;
    /// A schedule by id.
    fn get_schedule<'a>(&'a self, id: &'a str) -> StoreResult<'a, ScheduleRecord>;
    /// Every schedule, newest first.
    fn list_schedules(&self) -> StoreResult<'_, Vec<ScheduleRecord>>;
    /// Replaces a schedule (its fire history stays).
    fn update_schedule<'a>(&'a self, id: &'a str, schedule: NewSchedule) -> StoreResult<'a, ScheduleRecord>;
    /// Deletes a schedule and its fire history (its runs stay).
    fn delete_schedule<'a>(&'a self, id: &'a str) -> StoreResult<'a, ()>;
    /// Enabled schedules whose next fire time is at or before `now`, most overdue first.
    fn due_schedules(&self, now: DateTime<Utc>, limit: i64) -> StoreResult<'_, Vec<ScheduleRecord>>;
    /// Moves a schedule's next fire time forward (never back: another replica may be ahead).
    fn advance_schedule<'a>(&'a self, id: &'a str, next_fire_at: Option<DateTime<Utc>>) -> StoreResult<'a, ()>;
    /// Claims one fire time of a schedule, with `outcome`, and creates `run` for it in the same
    /// transaction. `None` when the fire time was claimed already (by another replica); otherwise
    /// the run made, if one was asked for.
    fn claim_fire<'a>(
        &'a self,
        schedule_id: &'a str,
        fire_time: DateTime<Utc>,
        outcome: &'a str,
        run: Option<NewRun>,
    ) -> StoreResult<'a, Option<Option<RunRecord>>>;
    /// The latest claimed fire times of a schedule, newest first.
    fn schedule_fires<'a>(&'a self, schedule_id: &'a str, limit: i64) -> StoreResult<'a, Vec<FireRecord>>;
    /// The ids of a schedule's runs that have not finished, oldest first (for its overlap policy).
    fn unfinished_schedule_runs<'a>(&'a self, schedule_id: &'a str) -> StoreResult<'a, Vec<String>>;
}

/// Connects to the database of `url` and brings its schema up to date.
///
/// `postgres://…` and `postgresql://…` select PostgreSQL; `sqlite://path?mode=rwc` (or
/// `sqlite:path`) and `sqlite::memory:` select SQLite. Running it again on a migrated database is a
/// no-op.
pub async fn open(url: &str) -> Result<Arc<dyn Store>, StoreError> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Arc::new(PostgresStore::connect(url).await?))
    } else if url.starts_with("sqlite:") {
        Ok(Arc::new(SqliteStore::connect(url).await?))
    } else {
        // Not echoing the URL: it may hold a password.
        Err(StoreError::Invalid("unsupported database URL: expected postgres://, postgresql:// or sqlite:".into()))
    }
}

/// Now, truncated to microseconds: both databases keep microseconds, so a record reads back equal
/// to what was written.
fn now() -> DateTime<Utc> {
    let now = Utc::now();
    DateTime::from_timestamp_micros(now.timestamp_micros()).unwrap_or(now)
}

/// A new random id with a type prefix, e.g. `flw_3f2a…`.
fn new_id(prefix: &str) -> String {
    format!("{prefix}_{}", uuid::Uuid::new_v4().simple())
}

/// The page size for a requested limit.
fn page_limit(limit: Option<i64>) -> i64 {
    limit.unwrap_or(DEFAULT_PAGE_LIMIT).clamp(1, MAX_PAGE_LIMIT)
}

/// The opaque cursor that resumes a newest-first list after the item (`created_at`, `id`).
fn encode_cursor(created_at: DateTime<Utc>, id: &str) -> String {
    URL_SAFE_NO_PAD.encode(format!("{}|{id}", created_at.timestamp_micros()))
}

/// The (`created_at`, `id`) of a cursor made by [`encode_cursor`].
fn decode_cursor(cursor: &str) -> Result<(DateTime<Utc>, String), StoreError> {
    let invalid = || StoreError::Invalid("invalid cursor".into());
    let bytes = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| invalid())?;
    let text = String::from_utf8(bytes).map_err(|_| invalid())?;
    let (micros, id) = text.split_once('|').ok_or_else(invalid)?;
    let micros: i64 = micros.parse().map_err(|_| invalid())?;
    let at = DateTime::from_timestamp_micros(micros).ok_or_else(invalid)?;
    Ok((at, id.to_string()))
}

/// Splits a fetched `limit + 1` rows into a page: the extra row only says there is a next page.
fn into_page<T>(mut items: Vec<T>, limit: i64, key: impl Fn(&T) -> (DateTime<Utc>, &str)) -> Page<T> {
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    if items.len() > limit {
        items.truncate(limit);
        let next_cursor = items.last().map(|last| {
            let (at, id) = key(last);
            encode_cursor(at, id)
        });
        Page { items, next_cursor }
    } else {
        Page { items, next_cursor: None }
    }
}

/// The `LIKE` pattern matching text that contains `q`, case-insensitively (the column is lowered
/// too), with `\` escaping the pattern characters the user typed.
fn contains_pattern(q: &str) -> String {
    let mut pattern = String::from("%");
    for c in q.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

/// Tags without duplicates, in their first order.
fn unique_tags(tags: &[String]) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    tags.iter().filter(|tag| seen.insert(tag.as_str())).cloned().collect()
}

/// The prefix of every API key, so that secret scanners and people recognise one.
const KEY_PREFIX: &str = "tm_";

/// A new key: its id (16 hex digits) and its plaintext `tm_<id>_<secret>` with a 192-bit secret.
fn generate_key() -> (String, String) {
    let id = hex::encode(rand::random::<[u8; 8]>());
    let secret = hex::encode(rand::random::<[u8; 24]>());
    let plaintext = format!("{KEY_PREFIX}{id}_{secret}");
    (id, plaintext)
}

/// The key id of a well-formed plaintext key.
fn parse_key_id(plaintext: &str) -> Option<&str> {
    let rest = plaintext.strip_prefix(KEY_PREFIX)?;
    let (id, secret) = rest.split_once('_')?;
    let is_hex = |s: &str| s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    (id.len() == 16 && is_hex(id) && secret.len() == 48 && is_hex(secret)).then_some(id)
}

/// The stored digest of a plaintext key (hex SHA-256).
fn key_digest(plaintext: &str) -> String {
    hex::encode(Sha256::digest(plaintext.as_bytes()))
}

/// Compares two byte strings in time that depends only on their lengths, so that a timing
/// measurement tells an attacker nothing about how much of a digest they guessed.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let difference = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(difference) == 0
}

/// When a lease of `lease` taken at `now` ends (far in the future for an absurd lease rather than an
/// overflow).
fn lease_end(now: DateTime<Utc>, lease: std::time::Duration) -> DateTime<Utc> {
    chrono::Duration::from_std(lease).ok().and_then(|d| now.checked_add_signed(d)).unwrap_or(DateTime::<Utc>::MAX_UTC)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_round_trips() {
        let at = now();
        let cursor = encode_cursor(at, "flw_1");
        assert_eq!(decode_cursor(&cursor), Ok((at, "flw_1".to_string())));
        assert!(matches!(decode_cursor("not a cursor!"), Err(StoreError::Invalid(_))));
    }

    #[test]
    fn keys_parse_and_compare() {
        let (id, plaintext) = generate_key();
        assert_eq!(parse_key_id(&plaintext), Some(id.as_str()));
        assert_eq!(parse_key_id("tm_abc_def"), None);
        assert_eq!(parse_key_id("bearer"), None);
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }

    #[test]
    fn like_pattern_escapes_wildcards() {
        assert_eq!(contains_pattern("A_b%"), "%a\\_b\\%%");
    }

    #[test]
    fn roles_are_ordered_and_parse() {
        assert!(Role::Viewer < Role::Runner && Role::Runner < Role::Editor && Role::Editor < Role::Admin);
        for role in [Role::Viewer, Role::Runner, Role::Editor, Role::Admin] {
            assert_eq!(role.as_str().parse::<Role>(), Ok(role));
        }
        assert!("root".parse::<Role>().is_err());
    }
}
