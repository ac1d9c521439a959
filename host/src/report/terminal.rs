//! What people read in a terminal, in Hurl's style: a failure is shown where it is written — file,
//! line and column, the source line with a caret under the assertion, the actual values — then one
//! line per run and a closing summary, so that a red CI log says what to fix without opening a
//! report.
//!
//! Colours are ANSI escapes, on only when the caller says so (a terminal, not `NO_COLOR`): the
//! writers never look at the environment themselves.

use super::{millis, only_repeats_nested_failure, uncarried_run_error};
use crate::flow::Span;
use crate::runner::{Phase, RunResult, RunStatus, StepResult, StepStatus};
use std::time::Duration;

/// Renders every failure of a run as a Hurl-style block pointing at its source — one per failed
/// assertion, one per step that errored or timed out (tolerated failures too, marked
/// `(on_error: continue)`), and one for a run-level error no step carries — separated by blank
/// lines; empty when nothing failed.
///
/// `sources` gives the text of a flow file: it is called with a step's `flow` (`None` for the run's
/// own file) at most once per file; when it returns `None` the blocks show no source line but still
/// say where to look.
pub fn failure(result: &RunResult, sources: &dyn Fn(Option<&str>) -> Option<String>, color: bool) -> String {
    let paint = Paint(color);
    let mut cache: Vec<(Option<&str>, Option<String>)> = Vec::new();
    let mut blocks = Vec::new();
    for step in &result.steps {
        if !step.status.is_failure() || only_repeats_nested_failure(result, step) {
            continue;
        }
        let key = step.flow.as_deref();
        let index = match cache.iter().position(|(k, _)| *k == key) {
            Some(index) => index,
            None => {
                cache.push((key, sources(key)));
                cache.len() - 1
            }
        };
        let source = cache[index].1.as_deref();
        for block in step_blocks(result, step) {
            blocks.push(block.render(source, &paint));
        }
    }
    if let Some(error) = uncarried_run_error(result) {
        let kind = match result.status {
            RunStatus::Timeout => "flow timeout",
            RunStatus::Cancelled => "run cancelled",
            RunStatus::Failed => "run failed",
            _ => "run error",
        };
        let block = Block {
            kind: kind.to_owned(),
            file: result.source.clone().unwrap_or_else(|| result.flow.clone()),
            span: Span::default(),
            underline: String::new(),
            shown: None,
            message: error.to_owned(),
            note: None,
        };
        blocks.push(block.render(None, &paint));
    }
    blocks.join("\n")
}

/// Renders the closing summary of a set of runs, like Hurl's: a `FAILED` line per run that did not
/// pass, then how many flows ran, passed and failed, the step counts and the wall-clock time, so the
/// end of a CI log answers "did it pass, and what broke".
pub fn summary(results: &[RunResult], wall: Duration, color: bool) -> String {
    let paint = Paint(color);
    let mut out = String::new();
    for run in results.iter().filter(|run| run.status.is_final() && run.status != RunStatus::Passed) {
        let failed =
            run.steps.iter().filter(|step| step.fails_run() && !only_repeats_nested_failure(run, step)).count();
        let mut why = Vec::new();
        if failed > 0 {
            why.push(format!("{failed} failed step{}", plural(failed)));
        }
        if run.status != RunStatus::Failed || failed == 0 {
            why.push(run.status.as_str().to_owned());
        }
        let name = clean(run.source.as_deref().unwrap_or(&run.flow));
        out.push_str(&format!("{}  {name} ({})\n", paint.red_bold("FAILED"), why.join(", ")));
    }

    let total = results.len();
    let executed = results.iter().filter(|run| run.status.is_final()).count();
    let succeeded = results.iter().filter(|run| run.status == RunStatus::Passed).count();
    let failed = executed - succeeded;
    let mut steps = (0, 0, 0);
    for run in results {
        let counts = run.counts();
        steps = (steps.0 + counts.passed, steps.1 + counts.failed, steps.2 + counts.skipped);
    }
    out.push_str(&"-".repeat(80));
    out.push('\n');
    out.push_str(&format!("Executed flows:  {executed} ({:.1}%)\n", percent(executed, total)));
    out.push_str(&format!("Succeeded flows: {succeeded} ({:.1}%)\n", percent(succeeded, total)));
    let failed_line = format!("{failed} ({:.1}%)", percent(failed, total));
    out.push_str(&format!(
        "Failed flows:    {}\n",
        if failed > 0 { paint.red_bold(&failed_line) } else { failed_line }
    ));
    out.push_str(&format!("Steps:           {} passed, {} failed, {} skipped\n", steps.0, steps.1, steps.2));
    out.push_str(&format!("Duration:        {} ms\n", wall.as_millis()));
    out
}

/// Renders one line for a finished run — `✓ name (source) 12 steps in 34 ms`, or `✗` with its status
/// and what failed — so that progress reads as a list while a batch of flows runs.
pub fn run_line(result: &RunResult, color: bool) -> String {
    let paint = Paint(color);
    let passed = result.status == RunStatus::Passed;
    let mut line = if passed { paint.green_bold("✓") } else { paint.red_bold("✗") };
    line.push(' ');
    line.push_str(&paint.bold(&clean(&result.flow)));
    if let Some(source) = result.source.as_deref().filter(|source| *source != result.flow) {
        line.push_str(&format!(" ({})", clean(source)));
    }
    if !passed {
        line.push_str(&format!(" {}:", paint.red_bold(result.status.as_str())));
    }
    let counts = result.counts();
    let steps = result.steps.len();
    line.push_str(&format!(" {steps} step{}", plural(steps)));
    let mut details = Vec::new();
    if counts.failed > 0 {
        details.push(format!("{} failed", counts.failed));
    }
    if counts.skipped > 0 {
        details.push(format!("{} skipped", counts.skipped));
    }
    if !details.is_empty() {
        line.push_str(&format!(" ({})", details.join(", ")));
    }
    line.push_str(&format!(" in {}", millis(result.duration_ms)));
    line
}

/// The blocks of one failed step: one per failed assertion, or one at the step itself.
fn step_blocks(run: &RunResult, step: &StepResult) -> Vec<Block> {
    let file = step.flow.clone().or_else(|| run.source.clone()).unwrap_or_else(|| run.flow.clone());
    let tolerated = if step.continue_on_error { " (on_error: continue)" } else { "" };
    let mut note = String::new();
    if step.phase != Phase::Main {
        note.push_str(step.phase.as_str());
        note.push(' ');
    }
    note.push_str(&format!("step {}", step.path));
    if let Some(name) = &step.name {
        note.push_str(&format!(" \"{name}\""));
    }
    note.push_str(&format!(" ({})", step.action));
    if step.attempts > 1 {
        note.push_str(&format!(", after {} attempts", step.attempts));
    }

    if step.status == StepStatus::Failed {
        let blocks: Vec<Block> = step
            .failed_assertions()
            .map(|assertion| Block {
                kind: format!("assertion failed{tolerated}"),
                file: file.clone(),
                span: assertion.span,
                underline: assertion.assertion.clone(),
                shown: Some(assertion.assertion.clone()),
                message: assertion.message.clone(),
                note: Some(note.clone()),
            })
            .collect();
        if !blocks.is_empty() {
            return blocks;
        }
    }
    let (kind, fallback) = match step.status {
        StepStatus::Timeout => ("timeout", "the step timed out"),
        StepStatus::Error => ("action error", "the action failed"),
        _ => ("step failed", "the step failed"),
    };
    // An error with a place of its own (a `${…}` in the config, a capture) points there.
    let (span, underline) = match step.error_span {
        Some(span) => (span, String::new()),
        None => (step.span, format!("id: {}", step.id)),
    };
    vec![Block {
        kind: format!("{kind}{tolerated}"),
        file,
        span,
        underline,
        shown: None,
        message: step.error.clone().unwrap_or_else(|| fallback.to_owned()),
        note: Some(note),
    }]
}

/// One failure, before rendering.
#[derive(Debug)]
struct Block {
    /// What went wrong, after `error: `.
    kind: String,
    /// The file shown after `-->`.
    file: String,
    /// Where; line 0 when unknown.
    span: Span,
    /// The text expected at the span, underlined in full when the source line has it there.
    underline: String,
    /// Shown (and underlined) in place of the source line when the source is not at hand.
    shown: Option<String>,
    /// The explanation, after the caret.
    message: String,
    /// A closing `= …` line.
    note: Option<String>,
}

impl Block {
    fn render(&self, source: Option<&str>, paint: &Paint) -> String {
        let line_text =
            source.filter(|_| self.span.line > 0).and_then(|text| text.lines().nth(self.span.line as usize - 1));
        let number = self.span.line.to_string();
        let width = number.len();
        let pad = " ".repeat(width + 1);
        let bar = paint.blue_bold(&format!("{pad} |"));
        let mut out = format!("{}{}\n", paint.red_bold("error"), paint.bold(&format!(": {}", self.kind)));
        let file = clean(&self.file);
        let location =
            if self.span.line > 0 { format!("{file}:{}:{}", self.span.line, self.span.column) } else { file };
        out.push_str(&format!("{pad}{} {location}\n", paint.blue_bold("-->")));
        out.push_str(&bar);
        out.push('\n');

        let message = clean(&self.message);
        let message: Vec<&str> = message.lines().collect();
        match (line_text, self.shown.as_deref().map(clean)) {
            (Some(text), _) => {
                let previous = (self.span.line > 1)
                    .then(|| source.and_then(|s| s.lines().nth(self.span.line as usize - 2)))
                    .flatten()
                    .filter(|previous| !previous.trim().is_empty());
                if let Some(previous) = previous {
                    let gutter = format!(" {:>width$} |", self.span.line - 1);
                    out.push_str(&format!("{} {previous}\n", paint.blue_bold(&gutter)));
                }
                let gutter = paint.blue_bold(&format!(" {number} |"));
                if text.is_empty() {
                    out.push_str(&format!("{gutter}\n"));
                } else {
                    out.push_str(&format!("{gutter} {text}\n"));
                }
                // Tabs before the column are copied so that the caret lines up whatever a tab's width.
                let indent: String = text
                    .chars()
                    .chain(std::iter::repeat(' '))
                    .take(self.span.column.saturating_sub(1) as usize)
                    .map(|c| if c == '\t' { '\t' } else { ' ' })
                    .collect();
                let carets = underline_width(text, self.span.column, &self.underline);
                self.write_caret(&mut out, &bar, &indent, carets, &message, paint);
            }
            (None, Some(shown)) => {
                out.push_str(&format!("{bar} {shown}\n"));
                self.write_caret(&mut out, &bar, "", shown.chars().count().max(1), &message, paint);
            }
            (None, None) => {
                for line in &message {
                    push_gutter_line(&mut out, &bar, line);
                }
            }
        }
        out.push_str(&bar);
        out.push('\n');
        if let Some(note) = &self.note {
            out.push_str(&format!("{} {}\n", paint.blue_bold(&format!("{pad} =")), clean(note)));
        }
        out
    }

    /// The caret line, the message's first line after the carets and the others aligned with it.
    fn write_caret(&self, out: &mut String, bar: &str, indent: &str, carets: usize, message: &[&str], paint: &Paint) {
        let first = message.first().copied().unwrap_or("");
        let label = if first.is_empty() { "^".repeat(carets) } else { format!("{} {first}", "^".repeat(carets)) };
        out.push_str(&format!("{bar} {indent}{}\n", paint.red_bold(&label)));
        let align = format!("{indent}{}", " ".repeat(carets + 1));
        for line in message.iter().skip(1) {
            if line.is_empty() {
                push_gutter_line(out, bar, "");
            } else {
                out.push_str(&format!("{bar} {align}{}\n", paint.red_bold(line)));
            }
        }
    }
}

/// A gutter line with text, without trailing spaces when the text is empty.
fn push_gutter_line(out: &mut String, bar: &str, text: &str) {
    out.push_str(bar);
    if !text.is_empty() {
        out.push(' ');
        out.push_str(text);
    }
    out.push('\n');
}

/// How many carets go under `text` from 1-based `column`: the whole of `expected` when the line has
/// it there (bare or quoted, as YAML may write an expression), else one.
fn underline_width(text: &str, column: u32, expected: &str) -> usize {
    if expected.is_empty() || column == 0 {
        return 1;
    }
    let rest: String = text.chars().skip(column as usize - 1).collect();
    let width = expected.chars().count();
    if rest.starts_with(expected) {
        return width;
    }
    for quote in ['"', '\''] {
        let quoted = rest.strip_prefix(quote).and_then(|r| r.strip_prefix(expected));
        if quoted.is_some_and(|after| after.starts_with(quote)) {
            return width + 2;
        }
    }
    1
}

/// `text` with control characters (other than newline and tab) written as `\u{…}` escapes, so that
/// a plugin's message cannot move the cursor, change colours or ring the bell in someone's terminal.
fn clean(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() && c != '\n' && c != '\t' {
            out.push_str(&format!("\\u{{{:x}}}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    out
}

/// `s` when `n` is not one.
fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// `part` as a percentage of `whole` (0 when there is no whole).
fn percent(part: usize, whole: usize) -> f64 {
    if whole == 0 { 0.0 } else { part as f64 * 100.0 / whole as f64 }
}

/// ANSI styling, or none.
struct Paint(bool);

impl Paint {
    fn style(&self, code: &str, text: &str) -> String {
        if self.0 { format!("\x1b[{code}m{text}\x1b[0m") } else { text.to_owned() }
    }

    fn bold(&self, text: &str) -> String {
        self.style("1", text)
    }

    fn red_bold(&self, text: &str) -> String {
        self.style("1;31", text)
    }

    fn green_bold(&self, text: &str) -> String {
        self.style("1;32", text)
    }

    fn blue_bold(&self, text: &str) -> String {
        self.style("1;34", text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixtures::{CRUD_YAML, crud, passing, step, timed_out};

    fn crud_source(flow: Option<&str>) -> Option<String> {
        flow.is_none().then(|| CRUD_YAML.to_owned())
    }

    #[test]
    fn caret_under_the_failed_assertion_with_its_message() {
        let out = failure(&crud(), &crud_source, false);
        let expected = "\
error: assertion failed
   --> examples/crud.yaml:13:9
    |
 12 |     assert:
 13 |       - status == 201
    |         ^^^^^^^^^^^^^ expected `status == 201` but status is 500
    |
    = step create_user \"Create <user>\" (http_request), after 3 attempts
";
        assert!(out.starts_with(expected), "{out}");
        let caret_line = out.lines().nth(5).unwrap_or_default();
        let source_line = out.lines().nth(4).unwrap_or_default();
        assert_eq!(caret_line.find('^'), source_line.find("status"), "caret under column 9");
    }

    #[test]
    fn one_block_per_failure_including_tolerated_and_errors() {
        let out = failure(&crud(), &crud_source, false);
        assert_eq!(out.matches("\nerror: ").count() + 1, 3, "{out}");
        assert!(out.contains("error: action error\n   --> examples/crud.yaml:15:5\n"), "{out}");
        assert!(out.contains(" 15 |   - id: fetch\n    |     ^^^^^^^^^ connection refused"), "{out}");
        assert!(out.contains("error: assertion failed (on_error: continue)\n   --> examples/crud.yaml:23:9\n"));
        assert!(!out.contains("later"), "skipped steps are not failures");
    }

    #[test]
    fn failure_snapshot() {
        insta::assert_snapshot!(failure(&crud(), &crud_source, false));
    }

    #[test]
    fn without_the_source_the_expression_is_shown_instead() {
        let out = failure(&crud(), &|_| None, false);
        assert!(out.starts_with(
            "error: assertion failed\n   --> examples/crud.yaml:13:9\n    |\n    | status == 201\n    \
             | ^^^^^^^^^^^^^ expected `status == 201` but status is 500\n    |\n"
        ));
        assert!(out.contains("    |\n    | connection refused: http://api/users/\\u{0}1 \"quoted\"\n    |\n"), "{out}");
    }

    #[test]
    fn sources_are_read_once_per_file() {
        let calls = std::cell::Cell::new(0);
        let count = |flow: Option<&str>| {
            calls.set(calls.get() + 1);
            crud_source(flow)
        };
        failure(&crud(), &count, false);
        assert_eq!(calls.get(), 1);
    }

    #[test]
    fn quoted_expressions_tabs_and_multiline_messages() {
        assert_eq!(underline_width("  - \"a == 1\"  ", 5, "a == 1"), 8);
        assert_eq!(underline_width("  - 'a == 1'", 5, "a == 1"), 8);
        assert_eq!(underline_width("  - { expr: x }", 5, "a == 1"), 1);
        assert_eq!(underline_width("short", 40, "a"), 1);

        let mut run = crud();
        run.steps.truncate(1);
        run.steps[0].assertions[0].message = "first\n\nthird".to_owned();
        run.steps[0].assertions[0].span = Span::new(2, 2);
        let out = failure(&run, &|_| Some("x:\n\t- status == 201\n".to_owned()), false);
        assert!(out.contains(" 2 | \t- status == 201\n   | \t^ first\n   |\n   | \t  third\n"), "{out}");
    }

    #[test]
    fn run_level_error_and_nested_failures() {
        let out = failure(&timed_out(), &|_| None, false);
        assert!(out.contains("error: timeout\n  --> slow flow:4:5\n"), "{out}");
        assert!(
            out.ends_with("error: flow timeout\n  --> slow flow\n   |\n   | the flow's timeout (5s) expired\n   |\n")
        );

        let mut run = passing("p");
        run.status = RunStatus::Failed;
        let mut nested = step("each[0]/get", StepStatus::Error);
        nested.flow = Some("sub.yaml".to_owned());
        let mut each = step("each", StepStatus::Failed);
        each.action = "for_each".to_owned();
        run.steps = vec![nested, each];
        let files = std::cell::RefCell::new(Vec::new());
        let out = failure(
            &run,
            &|flow| {
                files.borrow_mut().push(flow.map(str::to_owned));
                None
            },
            false,
        );
        assert_eq!(out.matches("error: ").count(), 1, "{out}");
        assert!(out.contains("--> sub.yaml:1:3"));
        assert_eq!(*files.borrow(), vec![Some("sub.yaml".to_owned())]);
    }

    #[test]
    fn colours_only_when_asked() {
        let plain = failure(&crud(), &crud_source, false);
        assert!(!plain.contains('\x1b'));
        let coloured = failure(&crud(), &crud_source, true);
        assert!(coloured.starts_with("\x1b[1;31merror\x1b[0m\x1b[1m: assertion failed\x1b[0m\n"), "{coloured}");
        assert!(coloured.contains("\x1b[1;34m 13 |\x1b[0m       - status == 201\n"), "{coloured}");
        assert!(!summary(&[crud()], Duration::ZERO, false).contains('\x1b'));
        assert!(!run_line(&crud(), false).contains('\x1b'));
        assert!(run_line(&crud(), true).starts_with("\x1b[1;31m✗\x1b[0m"));
    }

    #[test]
    fn summary_counts_and_percentages() {
        let mut results: Vec<RunResult> = (0..11).map(|i| passing(&format!("ok{i}"))).collect();
        results.push(crud());
        let out = summary(&results, Duration::from_millis(1234), false);
        let expected = format!(
            "FAILED  examples/crud.yaml (2 failed steps)\n{}\n\
             Executed flows:  12 (100.0%)\n\
             Succeeded flows: 11 (91.7%)\n\
             Failed flows:    1 (8.3%)\n\
             Steps:           23 passed, 3 failed, 1 skipped\n\
             Duration:        1234 ms\n",
            "-".repeat(80)
        );
        assert_eq!(out, expected);

        let out = summary(&[timed_out()], Duration::ZERO, false);
        assert!(out.starts_with("FAILED  slow flow (1 failed step, timeout)\n"), "{out}");
        assert!(summary(&[], Duration::ZERO, false).contains("Executed flows:  0 (0.0%)\n"));
    }

    #[test]
    fn one_line_per_run() {
        assert_eq!(run_line(&passing("smoke"), false), "✓ smoke (flows/smoke.yaml) 2 steps in 34 ms");
        assert_eq!(
            run_line(&crud(), false),
            "✗ crud (examples/crud.yaml) failed: 5 steps (3 failed, 1 skipped) in 1600 ms"
        );
        assert_eq!(run_line(&timed_out(), false), "✗ slow flow timeout: 2 steps (1 failed) in 5001 ms");
    }
}
