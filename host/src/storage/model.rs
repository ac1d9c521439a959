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
    /// The flow's source for an ad-hoc run (`POST /runs`), which has no stored flow.
    #[serde(default)]
    pub source: Option<String>,
    /// When someone asked to cancel the run while it was running; its worker stops it (teardown
    /// runs) and ends it `cancelled`.
    #[serde(default)]
    pub cancel_requested_at: Option<DateTime<Utc>>,
    /// The schedule that fired the run, if a schedule did.
    #[serde(default)]
    pub schedule_id: Option<String>,
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
    /// See [`RunRecord::source`].
    #[serde(default)]
    pub source: Option<String>,
    /// See [`RunRecord::schedule_id`].
    #[serde(default)]
    pub schedule_id: Option<String>,
}

/// Where a worker's hold on a run stands after a lease renewal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LeaseState {
    /// The lease was extended; carry on.
    Held,
    /// The lease was extended, and someone asked to cancel the run: stop it, run teardown, end it
    /// `cancelled`.
    CancelRequested,
    /// This execution no longer owns the run (it was reclaimed or finished): stop, store nothing.
    Lost,
}

/// Progress of a run that its worker stores as it goes: each becomes an event of the run's log, and
/// a finished step also its step result.
#[derive(Debug, Clone, PartialEq)]
pub enum StepEvent {
    /// A step started (`step.started`).
    Started {
        /// The step's path in the run (as [`StepRow::path`]).
        path: String,
        /// The step's id.
        id: String,
        /// `setup`, `steps` or `teardown`.
        phase: String,
    },
    /// A step finished (`step.finished`), with its result.
    Finished(StepRow),
}

/// One entry of a run's event log, as `GET /runs/{id}/events` sends it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunEventRecord {
    /// Increasing within a run: the SSE event id that `Last-Event-ID` resumes after.
    pub seq: i64,
    /// `run.started`, `step.started`, `step.finished` or `run.finished`.
    pub kind: String,
    /// The event's payload.
    pub data: Value,
    /// When it was recorded.
    pub at: DateTime<Utc>,
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
    /// Only runs fired by this schedule.
    #[serde(default)]
    pub schedule_id: Option<String>,
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

/// An installed plugin version, without its component (read that by digest).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PluginRecord {
    /// The name flows use (from its `describe`).
    pub name: String,
    /// Its version (from its `describe`); a name has any number of versions.
    pub version: String,
    /// `action` or `assertion`.
    pub kind: String,
    /// sha256 of the component, lower-case hex: its identity; workers fetch it by digest.
    pub digest: String,
    /// Size of the component in bytes.
    pub size: i64,
    /// What `describe` said (schemas, capabilities asked for, aliases, …).
    pub descriptor: Value,
    /// The capabilities an admin granted, as `testmesh plugin call --grant` spells them.
    pub grants: Vec<String>,
    /// Whether flows may use this version.
    pub enabled: bool,
    /// When it was installed.
    pub created_at: DateTime<Utc>,
    /// When its grants or enabled flag last changed.
    pub updated_at: DateTime<Utc>,
}

/// What installing a plugin stores.
#[derive(Debug, Clone, PartialEq)]
pub struct NewPlugin {
    /// See [`PluginRecord::name`].
    pub name: String,
    /// See [`PluginRecord::version`].
    pub version: String,
    /// See [`PluginRecord::kind`].
    pub kind: String,
    /// See [`PluginRecord::digest`].
    pub digest: String,
    /// The component's bytes.
    pub component: Vec<u8>,
    /// See [`PluginRecord::descriptor`].
    pub descriptor: Value,
    /// See [`PluginRecord::grants`].
    pub grants: Vec<String>,
}

/// A change to an installed plugin version; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PluginPatch {
    /// Replaces the grants.
    pub grants: Option<Vec<String>>,
    /// Enables or disables the version.
    pub enabled: Option<bool>,
}

/// A cron schedule of a stored flow.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScheduleRecord {
    /// `sch_…`.
    pub id: String,
    /// The flow it runs (its current version at each fire).
    pub flow_id: String,
    /// Free text for people.
    pub description: String,
    /// Five-field cron expression (or `@daily` and friends).
    pub cron: String,
    /// IANA time zone the expression is read in.
    pub timezone: String,
    /// Variables of its runs.
    pub vars: Map<String, Value>,
    /// Environment of its runs.
    pub environment: Option<String>,
    /// `allow`, `forbid` or `replace`: what a fire does while an earlier run is unfinished.
    pub overlap: String,
    /// `latest`, `all` or `none`: what happens to fire times missed while no scheduler ran.
    pub catch_up: String,
    /// How late a missed fire may still happen.
    pub catch_up_window_seconds: i64,
    /// Whether it fires.
    pub enabled: bool,
    /// The next fire time not yet examined.
    pub next_fire_at: Option<DateTime<Utc>>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it was last changed.
    pub updated_at: DateTime<Utc>,
}

/// What creating or replacing a schedule stores.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewSchedule {
    /// See [`ScheduleRecord::flow_id`].
    pub flow_id: String,
    /// See [`ScheduleRecord::description`].
    pub description: String,
    /// See [`ScheduleRecord::cron`].
    pub cron: String,
    /// See [`ScheduleRecord::timezone`].
    pub timezone: String,
    /// See [`ScheduleRecord::vars`].
    pub vars: Map<String, Value>,
    /// See [`ScheduleRecord::environment`].
    pub environment: Option<String>,
    /// See [`ScheduleRecord::overlap`].
    pub overlap: String,
    /// See [`ScheduleRecord::catch_up`].
    pub catch_up: String,
    /// See [`ScheduleRecord::catch_up_window_seconds`].
    pub catch_up_window_seconds: i64,
    /// See [`ScheduleRecord::enabled`].
    pub enabled: bool,
    /// See [`ScheduleRecord::next_fire_at`].
    pub next_fire_at: Option<DateTime<Utc>>,
}

/// One claimed fire time of a schedule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FireRecord {
    /// The nominal fire time (UTC).
    pub fire_time: DateTime<Utc>,
    /// The run it started, if it started one.
    pub run_id: Option<String>,
    /// `started`, `skipped`, `missed` or `triggered`.
    pub outcome: String,
    /// When a scheduler claimed it.
    pub claimed_at: DateTime<Utc>,
}
