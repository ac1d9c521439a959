//! JUnit XML, the test-report format every CI server reads (GitLab's test reports, Jenkins' JUnit
//! plugin, GitHub's test-reporter actions): a run becomes a `<testsuite>` named after its flow, and
//! each step result a `<testcase>`, so that a failed assertion shows in the merge request like a
//! failed unit test.
//!
//! The dialect is the common one (Ant's, as Jenkins and GitLab parse it): `<failure>` for a test
//! that ran and did not hold, `<error>` for one that could not run to a verdict, `<skipped>`, and
//! `<system-out>` for what the plugins logged. `file` and `line` attributes point at the step in its
//! flow file, which GitLab and the GitHub reporters use to link to the source.

use super::{escape_markup, log_text, uncarried_run_error};
use crate::runner::{RunResult, StepResult, StepStatus};

/// Renders `results` as one JUnit XML document: a `<testsuites>` with the totals, a `<testsuite>`
/// per run and a `<testcase>` per step result (plus a case named `run` when the run failed for a
/// reason no step carries, such as its flow timeout), so that CI servers show every step's verdict.
pub fn junit(results: &[RunResult]) -> String {
    let suites: Vec<Suite<'_>> = results.iter().map(Suite::of).collect();
    let mut totals = Tally::default();
    let mut duration_ms = 0.0;
    for suite in &suites {
        totals.add(&suite.tally);
        duration_ms += suite.run.duration_ms;
    }

    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    out.push_str(&format!(
        "<testsuites name=\"testmesh\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\" time=\"{}\">\n",
        totals.tests,
        totals.failures,
        totals.errors,
        totals.skipped,
        seconds(duration_ms)
    ));
    for suite in &suites {
        suite.write(&mut out);
    }
    out.push_str("</testsuites>\n");
    out
}

/// How many cases ended which way, for the counts on `<testsuite>` and `<testsuites>`.
#[derive(Debug, Default)]
struct Tally {
    tests: usize,
    failures: usize,
    errors: usize,
    skipped: usize,
}

impl Tally {
    fn add(&mut self, other: &Tally) {
        self.tests += other.tests;
        self.failures += other.failures;
        self.errors += other.errors;
        self.skipped += other.skipped;
    }

    fn count(&mut self, outcome: &Outcome) {
        self.tests += 1;
        match outcome {
            Outcome::Passed => {}
            Outcome::Failure { .. } => self.failures += 1,
            Outcome::Error { .. } => self.errors += 1,
            Outcome::Skipped { .. } => self.skipped += 1,
        }
    }
}

/// How one case ended, with the texts its element carries.
#[derive(Debug)]
enum Outcome {
    Passed,
    Failure { message: String, details: String },
    Error { kind: &'static str, message: String, details: String },
    Skipped { message: String },
}

/// One `<testcase>`.
#[derive(Debug)]
struct Case {
    name: String,
    duration_ms: f64,
    file: Option<String>,
    line: u32,
    outcome: Outcome,
    system_out: String,
}

/// One `<testsuite>`: a run and its cases.
#[derive(Debug)]
struct Suite<'a> {
    run: &'a RunResult,
    cases: Vec<Case>,
    tally: Tally,
}

impl<'a> Suite<'a> {
    fn of(run: &'a RunResult) -> Self {
        let mut cases: Vec<Case> = run.steps.iter().map(|step| step_case(run, step)).collect();
        if let Some(error) = uncarried_run_error(run) {
            let kind = run.status.as_str();
            cases.push(Case {
                name: "run".to_owned(),
                duration_ms: 0.0,
                file: run.source.clone(),
                line: 0,
                outcome: Outcome::Error {
                    kind: if kind == "passed" { "error" } else { kind },
                    message: error.to_owned(),
                    details: format!("run {} ended {}: {error}", run.run_id, run.status.as_str()),
                },
                system_out: String::new(),
            });
        }
        let mut tally = Tally::default();
        for case in &cases {
            tally.count(&case.outcome);
        }
        Suite { run, cases, tally }
    }

    fn write(&self, out: &mut String) {
        let run = self.run;
        out.push_str(&format!(
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\" time=\"{}\" timestamp=\"{}\"",
            attr(&run.flow),
            self.tally.tests,
            self.tally.failures,
            self.tally.errors,
            self.tally.skipped,
            seconds(run.duration_ms),
            run.started_at.format("%Y-%m-%dT%H:%M:%S"),
        ));
        if let Some(source) = &run.source {
            out.push_str(&format!(" file=\"{}\"", attr(source)));
        }
        out.push_str(">\n    <properties>\n");
        let mut properties = vec![("run_id", run.run_id.as_str()), ("status", run.status.as_str())];
        if let Some(source) = &run.source {
            properties.push(("source", source));
        }
        if let Some(error) = &run.error {
            properties.push(("error", error));
        }
        for (name, value) in properties {
            out.push_str(&format!("      <property name=\"{name}\" value=\"{}\"/>\n", attr(value)));
        }
        out.push_str("    </properties>\n");
        for case in &self.cases {
            case.write(&run.flow, out);
        }
        out.push_str("  </testsuite>\n");
    }
}

impl Case {
    fn write(&self, classname: &str, out: &mut String) {
        out.push_str(&format!(
            "    <testcase classname=\"{}\" name=\"{}\" time=\"{}\"",
            attr(classname),
            attr(&self.name),
            seconds(self.duration_ms)
        ));
        if let Some(file) = &self.file {
            out.push_str(&format!(" file=\"{}\"", attr(file)));
        }
        if self.line > 0 {
            out.push_str(&format!(" line=\"{}\"", self.line));
        }
        if matches!(self.outcome, Outcome::Passed) && self.system_out.is_empty() {
            out.push_str("/>\n");
            return;
        }
        out.push_str(">\n");
        match &self.outcome {
            Outcome::Passed => {}
            Outcome::Failure { message, details } => out.push_str(&format!(
                "      <failure message=\"{}\" type=\"assertion\">{}</failure>\n",
                attr(message),
                text(details)
            )),
            Outcome::Error { kind, message, details } => out.push_str(&format!(
                "      <error message=\"{}\" type=\"{kind}\">{}</error>\n",
                attr(message),
                text(details)
            )),
            Outcome::Skipped { message } => out.push_str(&format!("      <skipped message=\"{}\"/>\n", attr(message))),
        }
        if !self.system_out.is_empty() {
            out.push_str(&format!("      <system-out>{}</system-out>\n", text(&self.system_out)));
        }
        out.push_str("    </testcase>\n");
    }
}

/// The case of one step result: named `<phase>/<path>` (`steps/create_user`, `teardown/cleanup`) so
/// that a step id repeated in setup and teardown stays two cases.
fn step_case(run: &RunResult, step: &StepResult) -> Case {
    let tolerated = if step.continue_on_error { " (on_error: continue)" } else { "" };
    let outcome = match step.status {
        StepStatus::Passed => Outcome::Passed,
        StepStatus::Failed => {
            let failed: Vec<_> = step.failed_assertions().collect();
            let message = match failed.as_slice() {
                [one] => one.message.clone(),
                [] => step.error.clone().unwrap_or_else(|| "step failed".to_owned()),
                many => format!("{} assertions failed", many.len()),
            };
            Outcome::Failure { message: format!("{message}{tolerated}"), details: details(run, step) }
        }
        StepStatus::Error | StepStatus::Timeout => {
            let (kind, fallback) = if step.status == StepStatus::Timeout {
                ("timeout", "step timed out")
            } else {
                ("error", "step error")
            };
            let message = step.error.as_deref().unwrap_or(fallback);
            Outcome::Error { kind, message: format!("{message}{tolerated}"), details: details(run, step) }
        }
        StepStatus::Skipped | StepStatus::Cancelled => {
            Outcome::Skipped { message: step.error.clone().unwrap_or_else(|| step.status.as_str().to_owned()) }
        }
    };
    Case {
        name: format!("{}/{}", step.phase.as_str(), step.path),
        duration_ms: step.duration_ms,
        file: step.flow.clone().or_else(|| run.source.clone()),
        line: step.span.line,
        outcome,
        system_out: log_text(&step.logs),
    }
}

/// The body of a `<failure>` or `<error>`: every failed assertion with its message and position, the
/// step's error, its action and attempts — what someone reading the CI page needs to start fixing.
fn details(run: &RunResult, step: &StepResult) -> String {
    let file = step.flow.as_deref().or(run.source.as_deref()).unwrap_or(&run.flow);
    let mut lines = Vec::new();
    for assertion in step.failed_assertions() {
        lines.push(format!("assert `{}`: {}", assertion.assertion, assertion.message));
        if assertion.span.line > 0 {
            lines.push(format!("  at {file}:{}:{}", assertion.span.line, assertion.span.column));
        }
    }
    if let Some(error) = &step.error {
        lines.push(format!("error: {error}"));
    }
    let mut about = format!("step {} ({})", step.path, step.action);
    if let Some(name) = &step.name {
        about = format!("step {} \"{name}\" ({})", step.path, step.action);
    }
    if step.attempts > 1 {
        about.push_str(&format!(", after {} attempts", step.attempts));
    }
    if step.span.line > 0 {
        about.push_str(&format!(", at {file}:{}:{}", step.span.line, step.span.column));
    }
    lines.push(about);
    if step.continue_on_error {
        lines.push("on_error: continue: this failure does not fail the run".to_owned());
    }
    lines.join("\n")
}

/// Milliseconds as the seconds JUnit wants, with millisecond precision (`1.530`); a negative or
/// non-finite duration shows as 0 so the document stays valid for strict parsers.
fn seconds(duration_ms: f64) -> String {
    let duration_ms = if duration_ms.is_finite() && duration_ms > 0.0 { duration_ms } else { 0.0 };
    format!("{:.3}", duration_ms / 1000.0)
}

/// Escapes `value` for an attribute in double quotes. Characters XML cannot carry (NUL, escape
/// sequences a plugin printed) are dropped; whitespace other than space is written as a character
/// reference, since a parser would otherwise normalise it to a space.
fn attr(value: &str) -> String {
    escape_markup(value, |c| match c {
        '"' => Some("&quot;"),
        '\'' => Some("&apos;"),
        '\n' => Some("&#10;"),
        '\r' => Some("&#13;"),
        '\t' => Some("&#9;"),
        _ => None,
    })
}

/// Escapes `value` for element content, dropping characters XML cannot carry.
fn text(value: &str) -> String {
    escape_markup(value, |c| (c == '\r').then_some("&#13;"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::allowed_in_markup;
    use crate::report::fixtures::{crud, passing, step, timed_out};

    /// A minimal well-formedness check: every tag closes in order, every `&` starts a known entity
    /// or a character reference, no raw `<` in text or attributes, no character XML forbids.
    /// Returns the names of the elements in document order.
    fn check_well_formed(xml: &str) -> Vec<String> {
        assert!(xml.chars().all(allowed_in_markup), "character XML 1.0 forbids");
        let body = xml.strip_prefix("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n").expect("XML declaration");
        let mut stack: Vec<String> = Vec::new();
        let mut names = Vec::new();
        let mut rest = body;
        while let Some(start) = rest.find('<') {
            check_text(&rest[..start]);
            let end = rest[start..].find('>').expect("unclosed tag") + start;
            let tag = &rest[start + 1..end];
            assert!(!tag.contains('<'), "raw < inside a tag: {tag}");
            if let Some(name) = tag.strip_prefix('/') {
                assert_eq!(stack.pop().as_deref(), Some(name), "mismatched close tag");
            } else {
                let self_closing = tag.ends_with('/');
                let tag = tag.trim_end_matches('/');
                let name = tag.split_whitespace().next().expect("tag name").to_owned();
                check_attributes(&tag[name.len()..]);
                names.push(name.clone());
                if !self_closing {
                    stack.push(name);
                }
            }
            rest = &rest[end + 1..];
        }
        assert!(rest.trim().is_empty(), "text after the root element");
        assert!(stack.is_empty(), "unclosed elements: {stack:?}");
        names
    }

    fn check_text(text: &str) {
        let mut rest = text;
        while let Some(amp) = rest.find('&') {
            let end = rest[amp..].find(';').expect("unterminated entity") + amp;
            let entity = &rest[amp + 1..end];
            assert!(
                ["amp", "lt", "gt", "quot", "apos"].contains(&entity)
                    || entity.strip_prefix('#').is_some_and(|n| n.parse::<u32>().is_ok()),
                "unknown entity &{entity};"
            );
            rest = &rest[end + 1..];
        }
    }

    fn check_attributes(attributes: &str) {
        let mut rest = attributes.trim();
        while !rest.is_empty() {
            let (name, value) = rest.split_once("=\"").expect("attribute with a double-quoted value");
            assert!(!name.trim().is_empty() && !name.contains(char::is_whitespace), "attribute name {name:?}");
            let close = value.find('"').expect("closing quote");
            let value = &value[..close];
            assert!(!value.contains(['\n', '\t', '\'']), "raw whitespace or quote in attribute: {value:?}");
            check_text(value);
            rest = rest[name.len() + 2 + close + 1..].trim_start();
        }
    }

    #[test]
    fn one_case_per_step_in_well_formed_xml() {
        let results = [crud(), passing("smoke")];
        let xml = junit(&results);
        let names = check_well_formed(&xml);
        let cases = names.iter().filter(|n| *n == "testcase").count();
        assert_eq!(cases, results.iter().map(|r| r.steps.len()).sum::<usize>());
        assert_eq!(names.iter().filter(|n| *n == "testsuite").count(), 2);
        assert!(xml.contains(
            "<testsuites name=\"testmesh\" tests=\"7\" failures=\"2\" errors=\"1\" skipped=\"1\" time=\"1.634\">"
        ));
    }

    #[test]
    fn escapes_markup_quotes_and_drops_control_characters() {
        let xml = junit(&[crud()]);
        check_well_formed(&xml);
        assert!(xml.contains("message=\"connection refused: http://api/users/1 &quot;quoted&quot;\""), "{xml}");
        assert!(xml.contains("[warn] bell  &amp; &lt;tag&gt;"), "{xml}");
        assert!(xml.contains("name=\"steps/create_user\""));
        assert!(!xml.contains('\u{0}') && !xml.contains('\u{7}'));
        assert_eq!(attr("<&\"'>\n"), "&lt;&amp;&quot;&apos;&gt;&#10;");
        assert_eq!(text("a\u{1}\u{8}b\u{b}\u{fffe}<&>\t\n"), "ab&lt;&amp;&gt;\t\n");
    }

    #[test]
    fn tolerated_failure_says_so() {
        let xml = junit(&[crud()]);
        assert!(xml.contains(
            "<failure message=\"expected `status == 200` but status is 503 (on_error: continue)\" type=\"assertion\">"
        ));
    }

    #[test]
    fn run_level_error_gets_a_case_of_its_own() {
        let xml = junit(&[timed_out()]);
        check_well_formed(&xml);
        assert!(xml.contains("<testcase classname=\"slow flow\" name=\"run\" time=\"0.000\">"), "{xml}");
        assert!(xml.contains("<error message=\"the flow&apos;s timeout (5s) expired\" type=\"timeout\">"), "{xml}");
        assert!(xml.contains("<error message=\"interrupted after 5s\" type=\"timeout\">"), "{xml}");
        assert!(xml.contains("tests=\"3\" failures=\"0\" errors=\"2\" skipped=\"0\""), "{xml}");
    }

    #[test]
    fn skipped_and_cancelled_steps_are_skipped_cases() {
        let mut run = passing("p");
        run.steps.push(step("c", StepStatus::Cancelled));
        let xml = junit(&[run]);
        assert!(xml.contains("<skipped message=\"cancelled\"/>"), "{xml}");
        assert!(xml.contains("skipped=\"1\""));
    }

    #[test]
    fn empty_input_is_an_empty_document() {
        let xml = junit(&[]);
        check_well_formed(&xml);
        assert!(xml.contains("tests=\"0\" failures=\"0\" errors=\"0\" skipped=\"0\" time=\"0.000\""));
    }

    #[test]
    fn representative_report() {
        insta::assert_snapshot!(junit(&[crud()]));
    }
}
