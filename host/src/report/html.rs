//! The HTML report: one self-contained `index.html` — inline CSS, no script, nothing fetched — that
//! a CI job keeps as an artifact and anyone opens from disk, with a summary table and every step's
//! verdict, assertions, error, config, output and logs.
//!
//! Everything that comes from a flow or a plugin is escaped: a response body holding `<script>` is
//! shown, never run.

use super::{Summary, escape_markup, log_text, millis, uncarried_run_error};
use crate::runner::{RunResult, StepResult};
use serde_json::Value;
use std::path::{Path, PathBuf};

/// Writes the HTML report of `results` as `index.html` in `dir` (created when missing) and returns
/// the file's path, so that the CLI can print where to open it.
pub fn html(results: &[RunResult], dir: &Path) -> std::io::Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    let path = dir.join("index.html");
    std::fs::write(&path, render(results))?;
    Ok(path)
}

/// The page's style: status colours on badges and on each step's left border, light and dark.
const STYLE: &str = "\
:root { color-scheme: light dark; --fg: #1f2328; --bg: #ffffff; --muted: #59636e; --line: #d1d9e0; --panel: #f6f8fa;
  --passed: #1a7f37; --failed: #cf222e; --error: #bc4c00; --timeout: #8250df; --skipped: #6e7781; --cancelled: #6e7781; }
@media (prefers-color-scheme: dark) { :root { --fg: #e6edf3; --bg: #0d1117; --muted: #9198a1; --line: #3d444d;
  --panel: #151b23; --passed: #3fb950; --failed: #f85149; --error: #db6d28; --timeout: #ab7df8; } }
body { font: 14px/1.5 system-ui, -apple-system, \"Segoe UI\", sans-serif; color: var(--fg); background: var(--bg);
  margin: 0 auto; padding: 1.5rem; max-width: 72rem; }
h1 { font-size: 1.5rem; margin: 0 0 .25rem; }
h2 { font-size: 1.2rem; margin: 2rem 0 .25rem; }
code, pre { font: 12.5px/1.45 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
pre { background: var(--panel); border: 1px solid var(--line); border-radius: 6px; padding: .5rem .75rem;
  overflow-x: auto; white-space: pre-wrap; word-break: break-word; margin: .25rem 0; }
a { color: inherit; }
.muted, .meta { color: var(--muted); }
table { border-collapse: collapse; width: 100%; margin: 1rem 0; }
th, td { text-align: left; padding: .35rem .6rem; border-bottom: 1px solid var(--line); }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
.badge { display: inline-block; min-width: 4.5rem; text-align: center; border-radius: 1rem; padding: 0 .5rem;
  color: #fff; font-size: 12px; font-weight: 600; background: var(--skipped); }
.s-passed .badge, .badge.s-passed { background: var(--passed); }
.s-failed .badge, .badge.s-failed { background: var(--failed); }
.s-error .badge, .badge.s-error { background: var(--error); }
.s-timeout .badge, .badge.s-timeout { background: var(--timeout); }
.step { border: 1px solid var(--line); border-left: 4px solid var(--skipped); border-radius: 6px; padding: .5rem .75rem;
  margin: .5rem 0; }
.step.s-passed { border-left-color: var(--passed); }
.step.s-failed { border-left-color: var(--failed); }
.step.s-error { border-left-color: var(--error); }
.step.s-timeout { border-left-color: var(--timeout); }
.step-head { display: flex; flex-wrap: wrap; gap: .5rem; align-items: baseline; }
.step-head .right { margin-left: auto; }
.error { color: var(--failed); white-space: pre-wrap; margin: .35rem 0; }
ul.assertions { list-style: none; padding: 0; margin: .35rem 0; }
ul.assertions li { margin: .15rem 0; }
ul.assertions .ok { color: var(--passed); }
ul.assertions .ko { color: var(--failed); font-weight: 600; }
details { margin: .25rem 0; }
summary { cursor: pointer; color: var(--muted); }
";

/// The whole page.
fn render(results: &[RunResult]) -> String {
    let summary = Summary::of(results);
    let mut out = String::from("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    out.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    out.push_str("<title>testmesh report</title>\n<style>\n");
    out.push_str(STYLE);
    out.push_str("</style>\n</head>\n<body>\n<h1>testmesh report</h1>\n");
    out.push_str(&format!(
        "<p class=\"meta\">{} flow{}: {} passed, {} failed · steps: {} passed, {} failed, {} skipped · {}</p>\n",
        summary.flows,
        if summary.flows == 1 { "" } else { "s" },
        summary.passed,
        summary.failed,
        summary.steps.passed,
        summary.steps.failed,
        summary.steps.skipped,
        millis(summary.duration_ms)
    ));

    out.push_str("<table class=\"summary\">\n<thead><tr><th>Flow</th><th>Source</th><th>Status</th>");
    out.push_str("<th>Passed</th><th>Failed</th><th>Skipped</th><th>Duration</th></tr></thead>\n<tbody>\n");
    for (index, run) in results.iter().enumerate() {
        let counts = run.counts();
        out.push_str(&format!(
            "<tr class=\"s-{status}\"><td><a href=\"#run-{n}\">{flow}</a></td><td><code>{source}</code></td>\
             <td><span class=\"badge\">{status}</span></td><td class=\"n\">{}</td><td class=\"n\">{}</td>\
             <td class=\"n\">{}</td><td class=\"n\">{}</td></tr>\n",
            counts.passed,
            counts.failed,
            counts.skipped,
            millis(run.duration_ms),
            status = run.status.as_str(),
            n = index + 1,
            flow = escape(&run.flow),
            source = escape(run.source.as_deref().unwrap_or("")),
        ));
    }
    out.push_str("</tbody>\n</table>\n");

    for (index, run) in results.iter().enumerate() {
        write_run(&mut out, index + 1, run);
    }
    out.push_str("</body>\n</html>\n");
    out
}

/// One run's section: a heading with its status, where it came from, its own error, then its steps.
fn write_run(out: &mut String, number: usize, run: &RunResult) {
    let status = run.status.as_str();
    out.push_str(&format!(
        "<section class=\"run s-{status}\" id=\"run-{number}\">\n<h2><span class=\"badge\">{status}</span> {}</h2>\n",
        escape(&run.flow)
    ));
    let mut meta = Vec::new();
    if let Some(source) = &run.source {
        meta.push(format!("<code>{}</code>", escape(source)));
    }
    meta.push(format!("run <code>{}</code>", escape(&run.run_id)));
    meta.push(format!("started {}", run.started_at.format("%Y-%m-%d %H:%M:%S UTC")));
    meta.push(millis(run.duration_ms));
    out.push_str(&format!("<p class=\"meta\">{}</p>\n", meta.join(" · ")));
    if let Some(error) = uncarried_run_error(run) {
        out.push_str(&format!("<p class=\"error\">{}</p>\n", escape(error)));
    }
    for step in &run.steps {
        write_step(out, step);
    }
    if !run.outputs.is_empty() {
        write_details(out, "Outputs", &pretty(&Value::Object(run.outputs.clone())));
    }
    out.push_str("</section>\n");
}

/// One step: its verdict line, error, assertions, and the collapsed config, output, captures, logs.
fn write_step(out: &mut String, step: &StepResult) {
    let status = step.status.as_str();
    out.push_str(&format!(
        "<div class=\"step s-{status}\">\n<div class=\"step-head\"><span class=\"badge\">{status}</span>"
    ));
    out.push_str(&format!(" <span class=\"muted\">{}</span>", step.phase.as_str()));
    out.push_str(&format!(" <code><b>{}</b></code>", escape(&step.path)));
    if let Some(name) = &step.name {
        out.push_str(&format!(" <span>{}</span>", escape(name)));
    }
    out.push_str(&format!(" <code class=\"muted\">{}</code>", escape(&step.action)));
    if step.continue_on_error {
        out.push_str(" <span class=\"muted\">on_error: continue</span>");
    }
    let attempts = if step.attempts > 1 { format!("{} attempts · ", step.attempts) } else { String::new() };
    let line = if step.span.line > 0 { format!(" · line {}", step.span.line) } else { String::new() };
    out.push_str(&format!(" <span class=\"right muted\">{attempts}{}{line}</span></div>\n", millis(step.duration_ms)));
    if let Some(flow) = &step.flow {
        out.push_str(&format!("<p class=\"meta\">in <code>{}</code></p>\n", escape(flow)));
    }
    if let Some(error) = &step.error {
        let class = if step.status.is_failure() { "error" } else { "meta" };
        out.push_str(&format!("<p class=\"{class}\">{}</p>\n", escape(error)));
    }
    if !step.assertions.is_empty() {
        out.push_str("<ul class=\"assertions\">\n");
        for assertion in &step.assertions {
            let (class, mark) = if assertion.passed { ("ok", "✓") } else { ("ko", "✗") };
            out.push_str(&format!(
                "<li><span class=\"{class}\">{mark}</span> <code>{}</code>",
                escape(&assertion.assertion)
            ));
            if assertion.span.line > 0 {
                out.push_str(&format!(" <span class=\"muted\">(line {})</span>", assertion.span.line));
            }
            if !assertion.passed {
                out.push_str(&format!("<div class=\"error\">{}</div>", escape(&assertion.message)));
                if !assertion.actual.is_null() {
                    out.push_str(&format!("<pre>{}</pre>", escape(&pretty(&assertion.actual))));
                }
            }
            out.push_str("</li>\n");
        }
        out.push_str("</ul>\n");
    }
    if !step.config.is_null() {
        write_details(out, "Config", &pretty(&step.config));
    }
    if !step.output.is_null() {
        write_details(out, "Output", &pretty(&step.output));
    }
    if !step.captures.is_empty() {
        write_details(out, "Captures", &pretty(&Value::Object(step.captures.clone())));
    }
    if !step.logs.is_empty() {
        write_details(out, &format!("Logs ({})", step.logs.len()), &log_text(&step.logs));
    }
    out.push_str("</div>\n");
}

/// A collapsed block of preformatted text.
fn write_details(out: &mut String, title: &str, body: &str) {
    out.push_str(&format!("<details><summary>{}</summary><pre>{}</pre></details>\n", escape(title), escape(body)));
}

/// A JSON value indented for reading.
fn pretty(value: &Value) -> String {
    serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string())
}

/// Escapes text for HTML element content and double- or single-quoted attributes, dropping
/// characters a document cannot carry.
fn escape(value: &str) -> String {
    escape_markup(value, |c| match c {
        '"' => Some("&quot;"),
        '\'' => Some("&#39;"),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixtures::{crud, passing, timed_out};

    #[test]
    fn escapes_everything_from_flows_and_plugins() {
        let page = render(&[crud()]);
        assert!(!page.contains("<script"), "no script element, not even from the output");
        assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"), "{page}");
        assert!(page.contains("Create &lt;user&gt;"));
        assert!(page.contains("&lt;alice &amp; &#39;bob&#39;&gt;"));
        assert!(page.contains("[warn] bell  &amp; &lt;tag&gt;"));
        assert!(!page.contains('\u{0}') && !page.contains('\u{7}'));
        assert_eq!(escape("<a href=\"x\">'&'</a>"), "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
    }

    #[test]
    fn self_contained_page() {
        let page = render(&[crud(), passing("smoke"), timed_out()]);
        for external in ["<script", "<link", "src=", "http-equiv", "@import", "url("] {
            assert!(!page.contains(external), "{external} in the page");
        }
        assert!(page.starts_with("<!DOCTYPE html>\n"));
        assert!(page.ends_with("</html>\n"));
        assert_eq!(page.matches("<section ").count(), 3);
        assert_eq!(page.matches("<div class=\"step ").count(), 5 + 2 + 2);
        assert_eq!(page.matches("<details>").count(), page.matches("</details>").count());
    }

    #[test]
    fn shows_verdicts_failures_and_details() {
        let page = render(&[crud(), timed_out()]);
        assert!(page.contains("<div class=\"step s-failed\">"));
        assert!(page.contains("<div class=\"step s-error\">"));
        assert!(page.contains("<div class=\"step s-skipped\">"));
        assert!(page.contains("<span class=\"ko\">✗</span> <code>status == 201</code>"));
        assert!(page.contains("<div class=\"error\">expected `status == 201` but status is 500</div>"));
        assert!(page.contains("<span class=\"ok\">✓</span> <code>body.name == &quot;alice&quot;</code>"));
        assert!(page.contains("3 attempts · 1530 ms"));
        assert!(page.contains("<details><summary>Config</summary><pre>{\n  &quot;"));
        assert!(page.contains("  &quot;method&quot;: &quot;POST&quot;,\n"));
        assert!(page.contains("<details><summary>Logs (2)</summary>"));
        assert!(page.contains("<p class=\"error\">the flow&#39;s timeout (5s) expired</p>"));
        assert!(page.contains("<a href=\"#run-2\">slow flow</a>"));
    }

    #[test]
    fn writes_index_html_into_a_new_directory() {
        let dir = std::env::temp_dir().join(format!("testmesh-report-{}", std::process::id()));
        let path = html(&[passing("smoke")], &dir.join("nested")).expect("written");
        assert_eq!(path, dir.join("nested").join("index.html"));
        let page = std::fs::read_to_string(&path).expect("readable");
        assert!(page.contains("smoke"));
        std::fs::remove_dir_all(&dir).expect("cleaned up");
    }
}
