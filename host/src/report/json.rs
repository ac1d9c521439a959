//! The JSON report: a versioned document with a summary and every run result as it serialises, for
//! scripts, dashboards and other tools — the same shape the server's API returns for a run, so that a
//! tool written against one reads the other.

use crate::runner::{RunResult, RunStatus, StepCounts};
use serde::Serialize;

/// The version of the document's shape, bumped when a field changes meaning or goes away (new fields
/// do not bump it), so that readers can refuse what they do not understand.
const VERSION: u32 = 1;

/// Totals over a set of runs: what a CI job or a dashboard shows first, and what decides the exit
/// code of `testmesh run`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Summary {
    /// Runs in the set.
    pub flows: usize,
    /// Runs that passed.
    pub passed: usize,
    /// Runs that did not pass (failed, error, timeout, cancelled — or not finished).
    pub failed: usize,
    /// Step results of all runs, by outcome (tolerated failures count as failed).
    pub steps: StepCounts,
    /// The runs' durations added up, in milliseconds (more than the wall time when runs overlapped).
    pub duration_ms: f64,
}

impl Summary {
    /// Totals over `results`, so that every report and the CLI count the same way.
    pub fn of(results: &[RunResult]) -> Self {
        let mut summary = Summary { flows: results.len(), ..Summary::default() };
        for run in results {
            if run.status == RunStatus::Passed {
                summary.passed += 1;
            } else {
                summary.failed += 1;
            }
            let counts = run.counts();
            summary.steps.passed += counts.passed;
            summary.steps.failed += counts.failed;
            summary.steps.skipped += counts.skipped;
            if run.duration_ms.is_finite() && run.duration_ms > 0.0 {
                summary.duration_ms += run.duration_ms;
            }
        }
        summary
    }
}

/// The document, borrowed from the results.
#[derive(Serialize)]
struct Document<'a> {
    version: u32,
    summary: Summary,
    runs: &'a [RunResult],
}

/// Renders `results` as a pretty-printed JSON document,
/// `{"version": 1, "summary": {…}, "runs": [RunResult, …]}`, so that tools get the whole result model
/// with totals up front.
pub fn json(results: &[RunResult]) -> String {
    let document = Document { version: VERSION, summary: Summary::of(results), runs: results };
    match serde_json::to_string_pretty(&document) {
        Ok(mut text) => {
            text.push('\n');
            text
        }
        // Cannot happen with these types (every map key is a string, non-finite numbers become
        // null); should it ever, the reader still gets a valid document that says what went wrong.
        Err(error) => {
            let fallback = serde_json::json!({ "version": VERSION, "error": error.to_string() });
            format!("{fallback:#}\n")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixtures::{crud, passing, timed_out};
    use serde_json::Value;

    #[test]
    fn document_has_version_summary_and_runs() {
        let results = [crud(), passing("smoke"), timed_out()];
        let text = json(&results);
        let document: Value = serde_json::from_str(&text).expect("valid JSON");
        assert_eq!(document["version"], 1);
        let summary = &document["summary"];
        assert_eq!(summary["flows"], 3);
        assert_eq!(summary["passed"], 1);
        assert_eq!(summary["failed"], 2);
        assert_eq!(summary["steps"], serde_json::json!({"passed": 4, "failed": 4, "skipped": 1}));
        assert_eq!(summary["duration_ms"], 1600.0 + 34.4 + 5001.0);
        assert_eq!(document["runs"].as_array().map(Vec::len), Some(3));
        assert_eq!(document["runs"][0]["steps"][0]["assertions"][0]["assertion"], "status == 201");
        assert!(text.contains("\n  \"summary\": {\n"), "pretty-printed");
    }

    #[test]
    fn runs_read_back_as_results() {
        let results = vec![crud(), timed_out()];
        let document: Value = serde_json::from_str(&json(&results)).expect("valid JSON");
        let runs: Vec<RunResult> = serde_json::from_value(document["runs"].clone()).expect("run results");
        assert_eq!(runs, results);
    }

    #[test]
    fn empty_input() {
        let document: Value = serde_json::from_str(&json(&[])).expect("valid JSON");
        assert_eq!(document["summary"]["flows"], 0);
        assert_eq!(document["runs"], serde_json::json!([]));
    }
}
