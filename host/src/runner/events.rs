//! Progress of a run as it happens, through a sink the caller provides: the terminal's progress
//! display, the server's SSE stream and its storage of step results all listen here. The runner
//! knows nothing of them.

use super::result::{Phase, RunResult, StepResult};

/// One thing that happened in a run.
#[derive(Debug, Clone, Copy)]
pub enum RunEvent<'a> {
    /// The run started (its variables are resolved; the first step is about to run).
    RunStarted {
        /// The run's id.
        run_id: &'a str,
        /// The flow's name.
        flow: &'a str,
    },
    /// A step started (once per step, not per attempt).
    StepStarted {
        /// The run's id.
        run_id: &'a str,
        /// The step's path in the run (see [`StepResult::path`]).
        path: &'a str,
        /// The step's id.
        id: &'a str,
        /// Its list.
        phase: Phase,
    },
    /// A step finished, with its result (nested steps finish before their control step).
    StepFinished {
        /// The run's id.
        run_id: &'a str,
        /// The result.
        result: &'a StepResult,
    },
    /// The run finished; its result is final.
    RunFinished {
        /// The result.
        result: &'a RunResult,
    },
}

/// Receives a run's events. Called from the run's tasks, possibly from several at once (parallel
/// branches), so it must be cheap and must not block: hand slow work to a channel.
pub trait EventSink: Send + Sync {
    /// Called for each event, in the order they happen within one branch of the run.
    fn event(&self, event: RunEvent<'_>);
}

/// A sink that drops every event, for callers that only want the final result.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoEvents;

impl EventSink for NoEvents {
    fn event(&self, _event: RunEvent<'_>) {}
}
