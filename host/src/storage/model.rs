//! The records the server keeps — flows and their versions, runs and step results, environments, API
//! keys, the audit log — as plain serde types shared by both [`Store`](super::Store) implementations
//! and by the API, which serialises them as they are.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::fmt;
use std::str::FromStr;

/// The default number of items of a list page, when the caller gives no limit.
pub const DEFAULT_PAGE_LIMIT: i64 = 50;
/// The largest page a caller can ask for, so that one request cannot read a whole table.
pub const MAX_PAGE_LIMIT: i64 = 500;

/// Run statuses after which a run never changes again; reaching one sets `finished_at`.
pub const FINAL_RUN_STATUSES: [&str; 5] = ["passed", "failed", "error", "cancelled", "timeout"];

/// One page of a list, newest first, with the opaque cursor of the next page (`None` on the last).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Page<T> {
    /// The items of this page.
    pub items: Vec<T>,
    /// Pass it back as `cursor` to get the next page; `None` when there is none.
    pub next_cursor: Option<String>,
}

/// A stored flow at its current version, as the API shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FlowRecord {
    /// `flw_…`, stable across versions.
    pub id: String,
    /// Unique among live flows.
    pub name: String,
    /// Free text for people.
    pub description: String,
    /// Labels to filter by (`?tag=`).
    pub tags: Vec<String>,
    /// The suite the flow belongs to, if any.
    pub suite: Option<String>,
    /// 1 at creation, +1 on every update; the `If-Match` precondition compares against it.
    pub version: i64,
    /// The YAML/JSON text as submitted, so that positions in error messages stay true.
    pub source: String,
    /// When the flow was created.
    pub created_at: DateTime<Utc>,
    /// When its current version was made.
    pub updated_at: DateTime<Utc>,
}

/// What a caller gives to create a flow or make a new version of it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct NewFlow {
    /// See [`FlowRecord::name`].
    pub name: String,
    /// See [`FlowRecord::description`].
    #[serde(default)]
    pub description: String,
    /// See [`FlowRecord::tags`].
    #[serde(default)]
    pub tags: Vec<String>,
    /// See [`FlowRecord::suite`].
    #[serde(default)]
    pub suite: Option<String>,
    /// See [`FlowRecord::source`].
    pub source: String,
}

/// The filters of `GET /flows`; every `None` matches everything.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FlowFilter {
    /// Only flows carrying this tag.
    pub tag: Option<String>,
    /// Only flows of this suite.
    pub suite: Option<String>,
    /// Only flows whose name or description contains this text (case-insensitive).
    pub q: Option<String>,
    /// Page size, default [`DEFAULT_PAGE_LIMIT`], at most [`MAX_PAGE_LIMIT`].
    pub limit: Option<i64>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// One version of a flow's history; runs pin the version they ran.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FlowVersion {
    /// The version number, from 1.
    pub version: i64,
    /// The flow's name at that version.
    pub name: String,
    /// The source text of that version.
    pub source: String,
    /// When that version was made.
    pub created_at: DateTime<Utc>,
}

/// A run of a flow: what was asked, where it stands, and its final result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    /// `run_…`.
    pub id: String,
    /// The stored flow that ran, if it was a stored one.
    pub flow_id: Option<String>,
    /// The version of that flow that ran.
    pub flow_version: Option<i64>,
    /// The flow's name, kept so that the run reads well after the flow is renamed or deleted.
    pub flow_name: String,
    /// `queued`, `running`, `passed`, `failed`, `error`, `cancelled` or `timeout`.
    pub status: String,
    /// The variables the run was started with.
    pub vars: Value,
    /// The environment the run was started with.
    pub environment: Option<String>,
    /// When the run was asked for.
    pub created_at: DateTime<Utc>,
    /// When a worker started it.
    pub started_at: Option<DateTime<Utc>>,
    /// When it reached a final status.
    pub finished_at: Option<DateTime<Utc>>,
    /// Why it ended in `error` (or was cancelled), for people.
    pub error: Option<String>,
    /// The final run result (the runner's `RunResult` as JSON).
    pub result: Option<Value>,
    /// How many times a worker has claimed the run: the fencing token of the current execution.
    #[serde(default)]
    pub attempt: i64,
}

/// What a caller gives to create a run; it starts `queued`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct NewRun {
    /// See [`RunRecord::flow_id`].
    pub flow_id: Option<String>,
    /// See [`RunRecord::flow_version`].
    pub flow_version: Option<i64>,
    /// See [`RunRecord::flow_name`].
    pub flow_name: String,
    /// See [`RunRecord::vars`].
    pub vars: Value,
    /// See [`RunRecord::environment`].
    pub environment: Option<String>,
}

/// The filters of `GET /runs`; every `None` matches everything.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RunFilter {
    /// Only runs of this flow.
    pub flow_id: Option<String>,
    /// Only runs with this status.
    pub status: Option<String>,
    /// Only runs created at or after this time.
    pub since: Option<DateTime<Utc>>,
    /// Page size, default [`DEFAULT_PAGE_LIMIT`], at most [`MAX_PAGE_LIMIT`].
    pub limit: Option<i64>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// The result of one attempt of one step, stored as the run goes so that a watcher sees progress.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepRow {
    /// Where the step sits in the flow (e.g. `steps[2]` or `setup[0].steps[1]`).
    pub path: String,
    /// The attempt number (the step's `attempts`), from 1; a row is unique per (run, path, attempt).
    pub attempt: i64,
    /// `setup`, `steps` or `teardown`.
    pub phase: String,
    /// The step's status.
    pub status: String,
    /// The step result as JSON (captures, verdicts, timings).
    pub result: Value,
}

/// A named set of variables (and secrets) runs can be started with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EnvironmentRecord {
    /// Unique name.
    pub name: String,
    /// The plain variables.
    pub vars: Map<String, Value>,
    /// The names of its secrets, sorted; the values are never part of this record.
    pub secret_names: Vec<String>,
    /// When it was last written.
    pub updated_at: DateTime<Utc>,
}

/// What a key may do; each role includes the ones before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Read anything but secrets.
    Viewer,
    /// Start and cancel runs — what CI gets.
    Runner,
    /// Write flows, schedules and environments.
    Editor,
    /// Install plugins, manage keys.
    Admin,
}

impl Role {
    /// The name used in the API, the CLI and the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Runner => "runner",
            Role::Editor => "editor",
            Role::Admin => "admin",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error of parsing a [`Role`] from text that names none.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown role `{0}` (expected viewer, runner, editor or admin)")]
pub struct UnknownRole(pub String);

impl FromStr for Role {
    type Err = UnknownRole;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "viewer" => Ok(Role::Viewer),
            "runner" => Ok(Role::Runner),
            "editor" => Ok(Role::Editor),
            "admin" => Ok(Role::Admin),
            other => Err(UnknownRole(other.to_string())),
        }
    }
}

/// What a caller gives to create an API key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewKey {
    /// The key's role.
    pub role: Role,
    /// Free text: who or what uses it.
    #[serde(default)]
    pub description: String,
    /// After this time the key no longer verifies.
    #[serde(default)]
    pub expires_at: Option<DateTime<Utc>>,
}

/// A stored API key, without its secret (only a digest of it is kept).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApiKeyRecord {
    /// The key id, the middle part of `tm_<id>_<secret>`; safe to show and to log.
    pub id: String,
    /// What the key may do.
    pub role: Role,
    /// See [`NewKey::description`].
    pub description: String,
    /// When it was made.
    pub created_at: DateTime<Utc>,
    /// See [`NewKey::expires_at`].
    pub expires_at: Option<DateTime<Utc>>,
    /// When it was revoked; a revoked key no longer verifies.
    pub revoked_at: Option<DateTime<Utc>>,
}

/// What a caller records in the audit log: who did what to what.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// The key that acted, `None` for the server itself or the CLI against the database.
    pub actor_key_id: Option<String>,
    /// E.g. `flow.create`, `key.revoke`.
    pub action: String,
    /// The id or name acted upon.
    pub target: String,
    /// Anything else worth keeping (never secrets).
    pub detail: Value,
}

/// A stored audit entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditRecord {
    /// Increasing with time.
    pub seq: i64,
    /// When it was recorded.
    pub at: DateTime<Utc>,
    /// See [`AuditEntry::actor_key_id`].
    pub actor_key_id: Option<String>,
    /// See [`AuditEntry::action`].
    pub action: String,
    /// See [`AuditEntry::target`].
    pub target: String,
    /// See [`AuditEntry::detail`].
    pub detail: Value,
}
