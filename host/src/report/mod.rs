//! Reports: writers over the run-result model ([`RunResult`] and its [`StepResult`]s), shared by the
//! CLI (`testmesh run --report …`) and the server, so that a run reads the same wherever it ran.
//!
//! - [`junit`]: JUnit XML in the dialect GitLab, Jenkins and GitHub's test reporters read — one
//!   `<testsuite>` per run, one `<testcase>` per step.
//! - [`json`]: a versioned JSON document (a [`Summary`] and the results as they serialise), for
//!   scripts and dashboards.
//! - [`html`]: one self-contained `index.html` (inline CSS, no script, nothing fetched) to attach to a
//!   CI job or open from disk.
//! - [`terminal`]: what people read in a terminal, in Hurl's style: a failure points at the flow file
//!   with the source line and a caret under the assertion, then a one-screen summary.
//!
//! Every writer is a function of the results only (the HTML one also writes its file), and its output
//! is deterministic: the same results give the same bytes, so reports diff and snapshot well.

mod html;
mod json;
mod junit;
pub mod terminal;

pub use html::html;
pub use json::{Summary, json};
pub use junit::junit;

use crate::runner::{RunResult, StepResult};
use crate::sandbox::{LogLevel, LogLine};

/// The actions that are the runner's own control steps: their failure is the failure of a nested
/// step, which is reported in its own right.
const CONTROL_ACTIONS: [&str; 4] = ["for_each", "parallel", "if", "run_flow"];

/// The run's own error when no step result says it already (a flow timeout that interrupted no step
/// with that message, a cancellation, a plugin that could not be loaded), so that reports show it
/// once: as a case of its own, not lost and not twice.
fn uncarried_run_error(run: &RunResult) -> Option<&str> {
    let error = run.error.as_deref()?.trim();
    if error.is_empty() {
        return None;
    }
    let carried = run.steps.iter().any(|step| step.error.as_deref().is_some_and(|e| e.trim() == error));
    (!carried).then_some(error)
}

/// Whether `step` is a control step whose failure only repeats that of a nested step reported in its
/// own right (so that the terminal shows the cause, not every level of nesting above it).
fn only_repeats_nested_failure(run: &RunResult, step: &StepResult) -> bool {
    if !CONTROL_ACTIONS.contains(&step.action.as_str()) || step.failed_assertions().next().is_some() {
        return false;
    }
    run.steps.iter().any(|other| {
        other.status.is_failure()
            && other.path.len() > step.path.len()
            && other.path.starts_with(&step.path)
            && matches!(other.path.as_bytes()[step.path.len()], b'/' | b'[' | b'>')
    })
}

/// The lower-case name of a log level, as `[level] message` lines show it.
fn level_name(level: LogLevel) -> &'static str {
    match level {
        LogLevel::Trace => "trace",
        LogLevel::Debug => "debug",
        LogLevel::Info => "info",
        LogLevel::Warn => "warn",
        LogLevel::Error => "error",
    }
}

/// A step's log as plain text, one `[level] message` line each.
fn log_text(logs: &[LogLine]) -> String {
    let mut text = String::new();
    for line in logs {
        text.push('[');
        text.push_str(level_name(line.level));
        text.push_str("] ");
        text.push_str(&line.message);
        text.push('\n');
    }
    text
}

/// Whether XML 1.0 allows `c` at all (its `Char` production): tab, newline, carriage return and
/// everything from space up, but the two non-characters U+FFFE and U+FFFF. HTML follows the same
/// rule in practice, so both writers drop what fails it (NUL, escape sequences a plugin printed).
fn allowed_in_markup(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// Escapes `value` for XML or HTML: drops what markup cannot carry, escapes `&`, `<` and `>`, and
/// writes any other character `extra` names as the reference it gives (quotes in attributes,
/// whitespace a parser would otherwise normalise). Every writer's escaping is this one loop.
fn escape_markup(value: &str, extra: impl Fn(char) -> Option<&'static str>) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars().filter(|&c| allowed_in_markup(c)) {
        match (c, extra(c)) {
            ('&', _) => out.push_str("&amp;"),
            ('<', _) => out.push_str("&lt;"),
            ('>', _) => out.push_str("&gt;"),
            (_, Some(reference)) => out.push_str(reference),
            (c, None) => out.push(c),
        }
    }
    out
}

/// A duration in milliseconds as whole milliseconds for people (`34 ms`); negative or non-finite
/// values (a clock gone wrong) show as 0.
fn millis(duration_ms: f64) -> String {
    if duration_ms.is_finite() && duration_ms > 0.0 { format!("{duration_ms:.0} ms") } else { "0 ms".to_owned() }
}

#[cfg(test)]
pub(crate) mod fixtures {
    //! Results built by hand for the writers' tests: one flow with every kind of step outcome.

    use crate::flow::Span;
    use crate::runner::{AssertionResult, Phase, RunResult, RunStatus, StepResult, StepStatus};
    use crate::sandbox::{LogLevel, LogLine, LogSource};
    use chrono::{DateTime, TimeZone, Utc};
    use serde_json::json;

    /// A fixed instant, so that reports are the same on every run of the tests.
    pub fn at(seconds: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_767_225_600 + seconds, 0).single().unwrap_or_default()
    }

    /// A passed step with nothing in it.
    pub fn step(path: &str, status: StepStatus) -> StepResult {
        StepResult {
            id: path.rsplit(['/', '>']).next().unwrap_or(path).to_owned(),
            path: path.to_owned(),
            name: None,
            phase: Phase::Main,
            status,
            action: "http_request".to_owned(),
            attempts: u32::from(status != StepStatus::Skipped),
            started_at: at(0),
            duration_ms: 12.5,
            config: serde_json::Value::Null,
            output: serde_json::Value::Null,
            assertions: Vec::new(),
            captures: Default::default(),
            logs: Vec::new(),
            error: None,
            continue_on_error: false,
            span: Span::new(1, 3),
            error_span: None,
            flow: None,
        }
    }

    /// An assertion verdict.
    pub fn assertion(text: &str, passed: bool, message: &str, line: u32, column: u32) -> AssertionResult {
        AssertionResult {
            assertion: text.to_owned(),
            passed,
            message: message.to_owned(),
            actual: serde_json::Value::Null,
            span: Span::new(line, column),
        }
    }

    /// The flow file `crud.yaml` the `crud` run's spans point into.
    pub const CRUD_YAML: &str = "\
name: crud
steps:
  - id: create_user
    action: http_request
    config:
      method: POST
      url: ${BASE}/users
      json: { name: \"<alice & 'bob'>\" }
    retry: { max_attempts: 3 }
    output:
      user_id: $.body.id
    assert:
      - status == 201
      - body.name == \"alice\"
  - id: fetch
    action: http_request
    config: { url: \"${BASE}/users/${user_id}\" }
  - id: tolerated
    action: http_request
    on_error: continue
    config: { url: \"${BASE}/flaky\" }
    assert:
      - status == 200
teardown:
  - id: cleanup
    action: database_query
";

    /// A failed run of `crud.yaml`: a failed assertion after retries, an action error, a tolerated
    /// failure, a skipped step and a passing teardown — with text that needs escaping everywhere.
    pub fn crud() -> RunResult {
        let mut create = step("create_user", StepStatus::Failed);
        create.name = Some("Create <user>".to_owned());
        create.attempts = 3;
        create.duration_ms = 1530.25;
        create.span = Span::new(3, 5);
        create.config = json!({"method": "POST", "url": "http://api/users", "json": {"name": "<alice & 'bob'>"}});
        create.output = json!({"status": 500, "body": {"error": "<script>alert(1)</script>"}});
        create.assertions = vec![
            assertion("status == 201", false, "expected `status == 201` but status is 500", 13, 9),
            assertion("body.name == \"alice\"", true, "body.name == \"alice\"", 14, 9),
        ];
        create.logs = vec![
            LogLine { level: LogLevel::Info, source: LogSource::Plugin, message: "POST http://api/users".to_owned() },
            LogLine { level: LogLevel::Warn, source: LogSource::Stderr, message: "bell \u{7} & <tag>".to_owned() },
        ];
        create.error = Some("1 of 2 assertions failed".to_owned());

        let mut fetch = step("fetch", StepStatus::Error);
        fetch.span = Span::new(15, 5);
        fetch.error = Some("connection refused: http://api/users/\u{0}1 \"quoted\"".to_owned());

        let mut tolerated = step("tolerated", StepStatus::Failed);
        tolerated.continue_on_error = true;
        tolerated.span = Span::new(18, 5);
        tolerated.assertions =
            vec![assertion("status == 200", false, "expected `status == 200` but status is 503", 23, 9)];
        tolerated.error = Some("1 of 1 assertions failed".to_owned());

        let mut skipped = step("later", StepStatus::Skipped);
        skipped.error = Some("not reached: an earlier step failed (fail_fast)".to_owned());
        skipped.duration_ms = 0.0;

        let mut cleanup = step("cleanup", StepStatus::Passed);
        cleanup.phase = Phase::Teardown;
        cleanup.action = "database_query".to_owned();
        cleanup.span = Span::new(25, 5);

        RunResult {
            run_id: "run-1".to_owned(),
            flow: "crud".to_owned(),
            source: Some("examples/crud.yaml".to_owned()),
            status: RunStatus::Failed,
            started_at: at(0),
            duration_ms: 1600.0,
            steps: vec![create, fetch, tolerated, skipped, cleanup],
            outputs: Default::default(),
            error: None,
        }
    }

    /// A passed run of two steps.
    pub fn passing(name: &str) -> RunResult {
        RunResult {
            run_id: format!("run-{name}"),
            flow: name.to_owned(),
            source: Some(format!("flows/{name}.yaml")),
            status: RunStatus::Passed,
            started_at: at(60),
            duration_ms: 34.4,
            steps: vec![step("a", StepStatus::Passed), step("b", StepStatus::Passed)],
            outputs: Default::default(),
            error: None,
        }
    }

    /// A run stopped by its flow timeout while a step ran, with the cause only at run level.
    pub fn timed_out() -> RunResult {
        let mut slow = step("slow", StepStatus::Timeout);
        slow.error = Some("interrupted after 5s".to_owned());
        slow.span = Span::new(4, 5);
        RunResult {
            run_id: "run-t".to_owned(),
            flow: "slow flow".to_owned(),
            source: None,
            status: RunStatus::Timeout,
            started_at: at(120),
            duration_ms: 5001.0,
            steps: vec![step("fast", StepStatus::Passed), slow],
            outputs: Default::default(),
            error: Some("the flow's timeout (5s) expired".to_owned()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::fixtures::{crud, step, timed_out};
    use super::*;
    use crate::runner::StepStatus;

    #[test]
    fn run_error_is_reported_once() {
        assert_eq!(uncarried_run_error(&timed_out()), Some("the flow's timeout (5s) expired"));
        let mut carried = timed_out();
        carried.steps[1].error = carried.error.clone();
        assert_eq!(uncarried_run_error(&carried), None);
        assert_eq!(uncarried_run_error(&crud()), None);
    }

    #[test]
    fn control_step_failure_defers_to_the_nested_step() {
        let mut run = crud();
        let mut each = step("each", StepStatus::Failed);
        each.action = "for_each".to_owned();
        let mut nested = step("each[1]/get", StepStatus::Error);
        nested.error = Some("boom".to_owned());
        run.steps = vec![nested, each.clone()];
        assert!(only_repeats_nested_failure(&run, &each));
        run.steps[0].path = "eachother".to_owned();
        assert!(!only_repeats_nested_failure(&run, &each));
        assert!(!only_repeats_nested_failure(&run, &run.steps[0].clone()));
    }

    #[test]
    fn durations_for_people() {
        assert_eq!(millis(33.6), "34 ms");
        assert_eq!(millis(f64::NAN), "0 ms");
        assert_eq!(millis(-1.0), "0 ms");
    }
}
