//! The runner: executes a flow — setup, steps, teardown; actions and assertions through
//! [`sandbox`](crate::sandbox); retries, timeouts, captures and the control steps — with one
//! semantics for a laptop, CI and the server's workers (`design/FLOW-FORMAT.md` is the contract).
//!
//! It knows nothing of storage, HTTP or terminals: progress goes to an [`EventSink`], flows named by
//! `run_flow` and `env_file`s come from a [`FlowLoader`], plugins from a [`Registry`], and the
//! outcome is a [`RunResult`].
//!
//! Submodules: `run` (a run's shared state, phases and step lists), `action` (action steps: the
//! attempt loop, assertions, captures), `control` (`for_each`, `parallel`, `if`, `run_flow`),
//! `judge` (expressions through the `expr` plugin), `scope` (names in frames), `expression`
//! (subjects), `capture` (JSONPath), and the public `registry`, `loader`, `events`, `result`.

mod action;
mod capture;
mod check;
mod control;
mod events;
mod expression;
mod judge;
mod loader;
mod references;
mod registry;
mod result;
mod run;
mod scope;

pub use check::{check_configs, check_plugins, check_sub_flows, plugin_references};
pub use events::{EventSink, NoEvents, RunEvent};
pub use loader::{FileLoader, FlowLoader, LoadedFlow, NoLoader, parse_env_file};
pub(crate) use registry::version_matches;
pub use registry::{Registry, RegistryError, Resolved};
pub use result::{AssertionResult, Phase, RunResult, RunStatus, StepCounts, StepResult, StepStatus};

use crate::flow::Flow;
use crate::sandbox::Limits;
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// How runs are executed: limits that are the platform's choice, not the flow's.
#[derive(Debug, Clone)]
pub struct RunnerOptions {
    /// Deadline of one plugin call when the step sets no `timeout`.
    pub default_step_timeout: Duration,
    /// Limits of every plugin call (its `deadline` is replaced per call).
    pub limits: Limits,
    /// Outputs larger than this (as JSON) are replaced by a note and a preview in results; later
    /// steps still see the whole output.
    pub max_result_output_bytes: usize,
}

impl Default for RunnerOptions {
    fn default() -> Self {
        RunnerOptions {
            default_step_timeout: Duration::from_secs(30),
            limits: Limits::default(),
            max_result_output_bytes: 256 * 1024,
        }
    }
}

/// Executes flows. Cheap to clone; clones share the registry, loader and options.
#[derive(Clone)]
pub struct Runner {
    inner: Arc<RunnerInner>,
}

struct RunnerInner {
    registry: Arc<Registry>,
    loader: Arc<dyn FlowLoader>,
    options: RunnerOptions,
}

/// One run's inputs besides the flow: its identity, variables, secrets and how to stop it.
#[derive(Debug, Clone, Default)]
pub struct RunRequest {
    /// `${run.id}`, and the id events and results carry.
    pub run_id: String,
    /// Where the flow comes from (a file path, a stored flow's id): `run_flow` and `env_file` are
    /// resolved from it, and reports name it.
    pub origin: Option<String>,
    /// Variables of the environment chosen for the run (a server environment, `--env-file`): over
    /// the flow's `env`, under `vars`.
    pub environment: Map<String, Value>,
    /// Variables given with the run (`--var k=v`, the API body): over everything but captures.
    pub vars: Map<String, Value>,
    /// `${secret.NAME}` values; every one is masked in results, logs and events.
    pub secrets: BTreeMap<String, String>,
    /// Whether `${env.NAME}` may read the process environment (local runs only).
    pub allow_process_env: bool,
    /// Cancels the run: the running plugin call stops, teardown runs, the status is `cancelled`.
    pub cancel: CancellationToken,
}

impl Runner {
    /// A runner over `registry`'s plugins, finding sub-flows and env files with `loader`.
    pub fn new(registry: Arc<Registry>, loader: Arc<dyn FlowLoader>, options: RunnerOptions) -> Self {
        Runner { inner: Arc::new(RunnerInner { registry, loader, options }) }
    }

    /// The plugins this runner uses.
    pub fn registry(&self) -> &Arc<Registry> {
        &self.inner.registry
    }

    /// Runs `flow` to the end (teardown included) and returns what happened, reporting progress to
    /// `sink` as it goes. Never fails: problems are in the result's statuses and messages.
    pub async fn run(&self, flow: &Flow, request: RunRequest, sink: &dyn EventSink) -> RunResult {
        run::execute(&self.inner, flow, request, sink).await
    }
}
