//! The result model of a run: what happened to every step, as `design/FLOW-FORMAT.md` ("Results")
//! lists it. Reports (JUnit, JSON, HTML, the terminal summary), storage and events are all written
//! from these types, so they are plain data, serialisable both ways.

use crate::flow::Span;
use crate::sandbox::LogLine;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// How a run ended (or where it is).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunStatus {
    /// Waiting for a worker (server runs only).
    Queued,
    /// In progress.
    Running,
    /// Every step passed, was skipped, or failed under `on_error: continue`.
    Passed,
    /// A step failed (an assertion, an action error, a step timeout).
    Failed,
    /// The platform, not the test, went wrong (a plugin that cannot be loaded, an unreadable file).
    Error,
    /// Cancelled by the caller; teardown ran.
    Cancelled,
    /// The flow's own `timeout` expired; teardown ran.
    Timeout,
}

impl RunStatus {
    /// Whether the run has ended.
    pub fn is_final(self) -> bool {
        !matches!(self, RunStatus::Queued | RunStatus::Running)
    }

    /// The lower-case name used in reports and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Queued => "queued",
            RunStatus::Running => "running",
            RunStatus::Passed => "passed",
            RunStatus::Failed => "failed",
            RunStatus::Error => "error",
            RunStatus::Cancelled => "cancelled",
            RunStatus::Timeout => "timeout",
        }
    }
}

/// How a step ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StepStatus {
    /// The action ran and every assertion held (for a control step: every nested step passed).
    Passed,
    /// An assertion did not hold, or `retry.until` never held, or a nested step failed.
    Failed,
    /// The step could not do its work: the action failed, its config did not render, a plugin is
    /// missing or crashed.
    Error,
    /// `when` was false, the step is `disabled`, or it was not reached (an earlier step failed
    /// under `fail_fast`).
    Skipped,
    /// The step's `timeout` (or the flow's) interrupted it.
    Timeout,
    /// The run was cancelled while the step ran (or a failed parallel branch stopped it).
    Cancelled,
}

impl StepStatus {
    /// Whether the step counts as a failure of the flow (unless it is marked `on_error: continue`).
    pub fn is_failure(self) -> bool {
        matches!(self, StepStatus::Failed | StepStatus::Error | StepStatus::Timeout)
    }

    /// The lower-case name used in reports and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            StepStatus::Passed => "passed",
            StepStatus::Failed => "failed",
            StepStatus::Error => "error",
            StepStatus::Skipped => "skipped",
            StepStatus::Timeout => "timeout",
            StepStatus::Cancelled => "cancelled",
        }
    }
}

/// Which list of the flow a step belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    /// `setup`.
    Setup,
    /// `steps`.
    Main,
    /// `teardown`.
    Teardown,
}

impl Phase {
    /// The name of the list in the flow file.
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Setup => "setup",
            Phase::Main => "steps",
            Phase::Teardown => "teardown",
        }
    }
}

/// The verdict of one assertion of a step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AssertionResult {
    /// What was checked, as written: the expression, or `use: <plugin>`.
    pub assertion: String,
    /// Whether it held.
    pub passed: bool,
    /// Why it failed (with the operands' actual values), or what it checked.
    pub message: String,
    /// The value judged, when the plugin reported one.
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub actual: Value,
    /// Where the assertion is written in the flow file.
    pub span: Span,
}

/// What happened to one step (or one execution of a nested step: each `for_each` iteration gives
/// its nested steps a result of their own).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepResult {
    /// The step's id as written (or generated: `step_3`).
    pub id: String,
    /// Where in the run the step executed: its id, prefixed by the control steps around it —
    /// `each_user[2]/get_user`, `both/1/ping`, `login>fetch_token` (a sub-flow's step).
    pub path: String,
    /// The step's display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Which list of the flow it is in.
    pub phase: Phase,
    /// How it ended.
    pub status: StepStatus,
    /// What it ran: a plugin reference (`http_request`, `redis.get`) or a control step
    /// (`for_each`, `parallel`, `if`, `run_flow`).
    pub action: String,
    /// Attempts made (0 when skipped).
    pub attempts: u32,
    /// When the step started.
    pub started_at: DateTime<Utc>,
    /// How long it took, retries and their pauses included, in milliseconds.
    pub duration_ms: f64,
    /// The config of the last attempt after interpolation, secrets masked.
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub config: Value,
    /// The action's output of the last attempt, secrets masked; replaced by a note when larger than
    /// the run's output cap.
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub output: Value,
    /// Every assertion's verdict, of the last attempt.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub assertions: Vec<AssertionResult>,
    /// Values captured (`output:`), secrets masked.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub captures: Map<String, Value>,
    /// Lines the plugins wrote, the last attempt's, secrets masked.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub logs: Vec<LogLine>,
    /// Why the step did not pass (or was skipped), in one paragraph.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Whether its failure is tolerated (`on_error: continue`).
    #[serde(default)]
    pub continue_on_error: bool,
    /// Where the step is written.
    pub span: Span,
    /// Where the step's error is, when it has a place of its own: the config value whose `${…}`
    /// did not resolve, the capture that matched nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_span: Option<Span>,
    /// Which flow file the step is written in, when it is not the run's own flow (a sub-flow's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flow: Option<String>,
}

impl StepResult {
    /// Whether this step fails the run: a failure not tolerated by `on_error: continue`.
    pub fn fails_run(&self) -> bool {
        self.status.is_failure() && !self.continue_on_error
    }

    /// The failed assertions.
    pub fn failed_assertions(&self) -> impl Iterator<Item = &AssertionResult> {
        self.assertions.iter().filter(|a| !a.passed)
    }
}

/// What happened to one run of a flow.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunResult {
    /// The run's id (`${run.id}`).
    pub run_id: String,
    /// The flow's name.
    pub flow: String,
    /// The flow's file or stored id, as the caller named it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// How the run ended.
    pub status: RunStatus,
    /// When it started.
    pub started_at: DateTime<Utc>,
    /// How long it took, teardown included, in milliseconds.
    pub duration_ms: f64,
    /// Every step executed or skipped, in the order they finished (nested steps before the
    /// control step holding them).
    pub steps: Vec<StepResult>,
    /// The values captured by the run's steps (a sub-flow's outputs), secrets masked.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub outputs: Map<String, Value>,
    /// Why the run did not pass, in one sentence, when the steps do not say it (a flow timeout, a
    /// cancellation, a platform error).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl RunResult {
    /// Counts of steps per status, for summaries: (passed, failed (failed+error+timeout), skipped).
    pub fn counts(&self) -> StepCounts {
        let mut counts = StepCounts::default();
        for step in &self.steps {
            match step.status {
                StepStatus::Passed => counts.passed += 1,
                StepStatus::Skipped | StepStatus::Cancelled => counts.skipped += 1,
                StepStatus::Failed | StepStatus::Error | StepStatus::Timeout => counts.failed += 1,
            }
        }
        counts
    }
}

/// Step counts of a run, by outcome.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepCounts {
    /// Passed steps.
    pub passed: usize,
    /// Failed, errored or timed-out steps (tolerated ones included).
    pub failed: usize,
    /// Skipped or cancelled steps.
    pub skipped: usize,
}
