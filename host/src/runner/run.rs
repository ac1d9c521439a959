//! One run: its shared state (session, secrets to mask, results so far), the flow's phases —
//! setup, steps, teardown, which always runs — and lists of steps, which stop at a failure (when
//! the flow is `fail_fast`), at cancellation or at the flow's deadline, recording the steps they did
//! not reach as skipped.

use super::events::{EventSink, RunEvent};
use super::expression::Identifiers;
use super::registry::Resolved;
use super::result::{Phase, RunResult, RunStatus, StepResult, StepStatus};
use super::scope::{Frame, StepData};
use super::{RunRequest, RunnerInner, action, control, loader};
use crate::flow::template::{self, Env, MapScope, RenderContext};
use crate::flow::{Flow, PluginRef, Span, Step, StepKind};
use crate::sandbox::{PluginKind, Session};
use chrono::Utc;
use futures::future::BoxFuture;
use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::OnceCell;
use tokio_util::sync::CancellationToken;

/// The state every step of a run shares.
pub(crate) struct Run<'r> {
    pub runner: &'r RunnerInner,
    pub session: Session,
    pub run_id: String,
    pub secrets: BTreeMap<String, String>,
    pub environment: Map<String, Value>,
    pub allow_process_env: bool,
    pub identifiers: Identifiers,
    sink: &'r dyn EventSink,
    masks: Mutex<BTreeSet<String>>,
    results: Mutex<Vec<StepResult>>,
    flow_timed_out: AtomicBool,
    expr: OnceCell<Result<Resolved, String>>,
}

/// Which flow a list of steps belongs to (the run's own, or a sub-flow of `run_flow`).
pub(crate) struct FlowContext {
    /// The flow's name (`${flow.name}`).
    pub name: String,
    /// Where it came from (for `run_flow` and `env_file` it names in turn).
    pub origin: Option<String>,
    /// What results call its file: `None` for the run's own flow.
    pub label: Option<String>,
    /// Origins of the flows running it, outermost first, itself last: `run_flow` cycles.
    pub stack: Vec<String>,
    /// Whether lists stop at their first failed step.
    pub fail_fast: bool,
    /// Words of the flow that may name a step: only those steps' outputs are kept for later.
    pub referenced: std::collections::HashSet<String>,
}

/// A point in time a list of steps must finish by.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Deadline {
    /// When.
    pub at: Instant,
    /// Whether it is the run's flow `timeout` (its expiry makes the run `timeout`), rather than a
    /// control step's or a sub-flow's.
    pub is_flow: bool,
    /// How long it was, for messages.
    pub length: Duration,
}

/// Where a list of steps executes: its flow, its names, its place in result paths, how it is
/// stopped.
#[derive(Clone)]
pub(crate) struct Place {
    pub flow: Arc<FlowContext>,
    pub frame: Arc<Frame>,
    /// Prefix of the paths of the steps here: `each[2]/`, `login>`.
    pub prefix: String,
    pub phase: Phase,
    pub cancel: CancellationToken,
    pub deadline: Option<Deadline>,
}

impl Place {
    /// The earlier of this place's deadline and a new one of `length` from now.
    pub fn with_deadline(&self, length: Duration, is_flow: bool) -> Place {
        let at = Instant::now() + length;
        let deadline = match self.deadline {
            Some(outer) if outer.at <= at => outer,
            _ => Deadline { at, is_flow, length },
        };
        Place { deadline: Some(deadline), ..self.clone() }
    }

    /// Whether the deadline has passed.
    pub fn expired(&self) -> bool {
        self.deadline.is_some_and(|d| Instant::now() >= d.at)
    }
}

/// Why a list stopped before its end.
#[derive(Debug, Clone)]
pub(crate) enum Stop {
    Failed(String),
    Cancelled,
    Deadline(Deadline),
}

impl Stop {
    fn reason(&self) -> String {
        match self {
            Stop::Failed(path) => format!("not run: step `{path}` failed"),
            Stop::Cancelled => "not run: the run was cancelled".into(),
            Stop::Deadline(d) if d.is_flow => {
                format!("not run: the flow's timeout of {} expired", humantime(d.length))
            }
            Stop::Deadline(d) => format!("not run: the enclosing timeout of {} expired", humantime(d.length)),
        }
    }
}

/// What a list needs to know of a step it ran (the result itself is stored with the run's).
#[derive(Debug, Clone)]
pub(crate) struct Finished {
    pub path: String,
    pub status: StepStatus,
    pub fails_run: bool,
}

/// What a list of steps came to.
#[derive(Debug, Clone, Default)]
pub(crate) struct ListOutcome {
    /// Paths of the steps whose failure fails the run.
    pub failed: Vec<String>,
    /// Why the list stopped early, if it did.
    pub stopped: Option<Stop>,
}

impl<'r> Run<'r> {
    /// Records a finished step: the result is masked, sent to the sink and stored; what the list
    /// running it needs to know is returned.
    pub fn finish(&self, mut result: StepResult) -> Finished {
        self.mask_result(&mut result);
        self.sink.event(RunEvent::StepFinished { run_id: &self.run_id, result: &result });
        let finished = Finished { fails_run: result.fails_run(), status: result.status, path: result.path.clone() };
        self.results.lock().unwrap_or_else(|p| p.into_inner()).push(result);
        finished
    }

    /// Tells the sink a step started.
    pub fn started(&self, path: &str, id: &str, phase: Phase) {
        self.sink.event(RunEvent::StepStarted { run_id: &self.run_id, path, id, phase });
    }

    /// Notes that a step stopped because the flow's deadline expired.
    pub fn flow_deadline_hit(&self) {
        self.flow_timed_out.store(true, Ordering::Relaxed);
    }

    /// Adds values to mask everywhere from now on.
    pub fn add_masks(&self, values: impl IntoIterator<Item = String>) {
        let mut masks = self.masks.lock().unwrap_or_else(|p| p.into_inner());
        masks.extend(values.into_iter().filter(|v| v.len() >= 3));
    }

    fn masks(&self) -> BTreeSet<String> {
        self.masks.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// A render context over `place`'s names with the run's secrets and built-ins.
    pub fn render_context<'a>(&'a self, place: &'a Place) -> RenderContext<'a> {
        let env = if self.allow_process_env { Env::Process } else { Env::Forbidden };
        RenderContext::new(&*place.frame)
            .with_secrets(&self.secrets)
            .with_env(env)
            .with_run_id(&self.run_id)
            .with_flow_name(&place.flow.name)
    }

    /// The built-in `expr` assertion plugin, which judges every expression.
    pub async fn expr_plugin(&self) -> Result<Resolved, String> {
        self.expr
            .get_or_init(|| async {
                let reference =
                    PluginRef { name: "expr".into(), version: None, operation: None, span: Span::default() };
                self.runner.registry.resolve(&reference, PluginKind::Assertion).await.map_err(|e| e.to_string())
            })
            .await
            .clone()
    }

    fn mask_result(&self, result: &mut StepResult) {
        // Every step passes here: borrow the set under its lock rather than copying it.
        let masks = self.masks.lock().unwrap_or_else(|p| p.into_inner());
        if masks.is_empty() {
            return;
        }
        let masks = &*masks;
        mask_value(&mut result.config, masks);
        mask_value(&mut result.output, masks);
        result.captures.values_mut().for_each(|v| mask_value(v, masks));
        for assertion in &mut result.assertions {
            assertion.message = template::mask(&assertion.message, masks).into_owned();
            mask_value(&mut assertion.actual, masks);
        }
        for line in &mut result.logs {
            line.message = template::mask(&line.message, masks).into_owned();
        }
        if let Some(error) = &mut result.error {
            *error = template::mask(error, masks).into_owned();
        }
    }

    /// Runs `steps` in order in `place`. Stops at a failure when the flow is `fail_fast` (and
    /// `stop_on_failure`), at cancellation and at the deadline, recording the rest as skipped.
    pub fn run_steps<'a>(
        &'a self,
        place: &'a Place,
        steps: &'a [Step],
        stop_on_failure: bool,
    ) -> BoxFuture<'a, ListOutcome> {
        Box::pin(async move {
            let mut outcome = ListOutcome::default();
            for step in steps {
                if outcome.stopped.is_none() {
                    if place.cancel.is_cancelled() {
                        outcome.stopped = Some(Stop::Cancelled);
                    } else if place.expired()
                        && let Some(deadline) = place.deadline
                    {
                        if deadline.is_flow {
                            self.flow_deadline_hit();
                        }
                        outcome.stopped = Some(Stop::Deadline(deadline));
                    }
                }
                if let Some(stop) = &outcome.stopped {
                    self.skip(place, step, stop.reason());
                    continue;
                }
                let result = self.run_step(place, step).await;
                if result.fails_run {
                    outcome.failed.push(result.path.clone());
                    if stop_on_failure && place.flow.fail_fast {
                        outcome.stopped = Some(Stop::Failed(result.path.clone()));
                    }
                } else if result.status == StepStatus::Cancelled && outcome.stopped.is_none() {
                    outcome.stopped = Some(Stop::Cancelled);
                }
            }
            outcome
        })
    }

    /// Records `step` as skipped without running it.
    pub fn skip(&self, place: &Place, step: &Step, reason: String) {
        let mut result = new_result(place, step);
        result.status = StepStatus::Skipped;
        result.error = Some(reason);
        self.finish(result);
    }

    /// Runs one step of any kind: `disabled` and `when` first, then the action or control step;
    /// records its output for later steps and its result.
    pub async fn run_step(&self, place: &Place, step: &Step) -> Finished {
        let mut result = new_result(place, step);
        let started = Instant::now();
        self.started(&result.path, &step.id, place.phase);
        let data = if step.disabled {
            result.status = StepStatus::Skipped;
            result.error = Some("disabled".into());
            None
        } else {
            match self.check_when(place, step).await {
                Ok(None) => match &step.kind {
                    StepKind::Action { plugin, config } => {
                        action::run(self, place, step, plugin, config, &mut result).await
                    }
                    _ => {
                        let data = control::run(self, place, step, &mut result).await;
                        if let Some(data) = &data {
                            action::judge_control_output(self, place, step, &data.output, &mut result).await;
                        }
                        data
                    }
                },
                Ok(Some(reason)) => {
                    result.status = StepStatus::Skipped;
                    result.error = Some(reason);
                    None
                }
                Err(message) => {
                    result.status = StepStatus::Error;
                    result.error = Some(message);
                    None
                }
            }
        };
        if let Some(mut data) = data {
            if !result.captures.is_empty() {
                data.captures = result.captures.clone();
            }
            if !place.flow.referenced.contains(&step.id) {
                // Nothing in the flow can name this step: keep its captures, drop its output.
                data.output = Arc::new(Value::Null);
            }
            place.frame.record_step(&step.id, data);
        }
        result.duration_ms = started.elapsed().as_secs_f64() * 1000.0;
        self.finish(result)
    }

    /// `None` when the step should run; the reason to skip it when its `when` is false.
    async fn check_when(&self, place: &Place, step: &Step) -> Result<Option<String>, String> {
        let Some(when) = &step.when else { return Ok(None) };
        match super::judge::condition(self, place, when, None).await {
            Ok((true, _)) => Ok(None),
            Ok((false, message)) => Ok(Some(format!("when: {message}"))),
            Err(error) => Err(format!("`when: {}` could not be judged: {error}", when.text)),
        }
    }
}

/// A result for `step` in `place`, before it runs.
pub(crate) fn new_result(place: &Place, step: &Step) -> StepResult {
    StepResult {
        id: step.id.clone(),
        path: format!("{}{}", place.prefix, step.id),
        name: step.name.clone(),
        phase: place.phase,
        status: StepStatus::Passed,
        action: kind_label(&step.kind),
        attempts: 0,
        started_at: Utc::now(),
        duration_ms: 0.0,
        config: Value::Null,
        output: Value::Null,
        assertions: Vec::new(),
        captures: Map::new(),
        logs: Vec::new(),
        error: None,
        continue_on_error: step.on_error == crate::flow::OnError::Continue,
        span: step.span,
        error_span: None,
        flow: place.flow.label.clone(),
    }
}

fn kind_label(kind: &StepKind) -> String {
    match kind {
        StepKind::Action { plugin, .. } => plugin.to_string(),
        StepKind::ForEach { .. } => "for_each".into(),
        StepKind::Parallel { .. } => "parallel".into(),
        StepKind::If { .. } => "if".into(),
        StepKind::RunFlow { .. } => "run_flow".into(),
    }
}

/// Replaces secrets in every string of `value`.
pub(crate) fn mask_value(value: &mut Value, masks: &BTreeSet<String>) {
    match value {
        Value::String(text) => {
            if let std::borrow::Cow::Owned(masked) = template::mask(text, masks) {
                *text = masked;
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| mask_value(v, masks)),
        Value::Object(map) => map.values_mut().for_each(|v| mask_value(v, masks)),
        _ => {}
    }
}

/// A duration as people write it in flows: `250ms`, `10s`, `1.5s`, `2m`.
pub(crate) fn humantime(duration: Duration) -> String {
    let ms = duration.as_millis();
    if ms < 1000 {
        format!("{ms}ms")
    } else if ms.is_multiple_of(60_000) {
        format!("{}m", ms / 60_000)
    } else if ms.is_multiple_of(1000) {
        format!("{}s", ms / 1000)
    } else {
        format!("{:.1}s", duration.as_secs_f64())
    }
}

/// Resolves a flow's variables in precedence order: `env_file` < `env` < the run's environment <
/// the run's variables. `env` values are templates, rendered once, in file order; one overridden by
/// the caller is not rendered at all.
pub(crate) fn resolve_vars(
    run: &Run<'_>,
    flow: &Flow,
    origin: Option<&str>,
    vars: &Map<String, Value>,
    flow_name: &str,
) -> Result<Map<String, Value>, String> {
    let mut resolved = Map::new();
    if let Some(path) = &flow.env_file {
        let text = run.runner.loader.read_env_file(path, origin)?;
        let pairs = loader::parse_env_file(&text).map_err(|e| format!("env_file {path}: {e}"))?;
        resolved.extend(pairs.into_iter().map(|(k, v)| (k, Value::String(v))));
    }
    let outer = |resolved: &Map<String, Value>| {
        let mut all = resolved.clone();
        all.extend(run.environment.clone());
        all.extend(vars.clone());
        all
    };
    for variable in &flow.env {
        if vars.contains_key(&variable.name) || run.environment.contains_key(&variable.name) {
            continue;
        }
        let scope = MapScope::new(outer(&resolved));
        let env = if run.allow_process_env { Env::Process } else { Env::Forbidden };
        let context = RenderContext::new(&scope)
            .with_secrets(&run.secrets)
            .with_env(env)
            .with_run_id(&run.run_id)
            .with_flow_name(flow_name);
        let rendered = context
            .render_value(&variable.value)
            .map_err(|errors| format!("env `{}` (line {}): {errors}", variable.name, variable.span.line))?;
        run.add_masks(rendered.secrets);
        resolved.insert(variable.name.clone(), rendered.value);
    }
    Ok(outer(&resolved))
}

/// Runs a flow's phases in `frame`: setup, then the main steps when setup passed, then teardown,
/// always, with its own (never cancelled) token and no flow deadline.
pub(crate) async fn run_phases(run: &Run<'_>, flow: &Flow, place: &Place) -> Vec<String> {
    let mut failed = Vec::new();
    let setup_place = Place { phase: Phase::Setup, ..place.clone() };
    let setup = run.run_steps(&setup_place, &flow.setup, true).await;
    failed.extend(setup.failed.iter().cloned());
    let main_place = Place { phase: Phase::Main, ..place.clone() };
    match setup.failed.first().map(|path| Stop::Failed(path.clone())).or(setup.stopped) {
        Some(stop) => {
            let reason = match &stop {
                Stop::Failed(path) => format!("not run: setup step `{path}` failed"),
                other => other.reason(),
            };
            for step in &flow.steps {
                run.skip(&main_place, step, reason.clone());
            }
        }
        None => {
            let main = run.run_steps(&main_place, &flow.steps, true).await;
            failed.extend(main.failed);
        }
    }
    let teardown_place =
        Place { phase: Phase::Teardown, cancel: CancellationToken::new(), deadline: None, ..place.clone() };
    let teardown = run.run_steps(&teardown_place, &flow.teardown, false).await;
    failed.extend(teardown.failed);
    failed
}

/// Executes a whole run (see [`super::Runner::run`]).
pub(crate) async fn execute(runner: &RunnerInner, flow: &Flow, request: RunRequest, sink: &dyn EventSink) -> RunResult {
    let started_at = Utc::now();
    let started = Instant::now();
    let run = Run {
        runner,
        session: runner.registry.sandbox().session(),
        run_id: request.run_id.clone(),
        secrets: request.secrets.clone(),
        environment: request.environment.clone(),
        allow_process_env: request.allow_process_env,
        identifiers: Identifiers::default(),
        sink,
        masks: Mutex::new(request.secrets.values().filter(|v| v.len() >= 3).cloned().collect()),
        results: Mutex::default(),
        flow_timed_out: AtomicBool::new(false),
        expr: OnceCell::new(),
    };
    sink.event(RunEvent::RunStarted { run_id: &run.run_id, flow: &flow.name });
    let mut result = RunResult {
        run_id: run.run_id.clone(),
        flow: flow.name.clone(),
        source: request.origin.clone(),
        status: RunStatus::Running,
        started_at,
        duration_ms: 0.0,
        steps: Vec::new(),
        outputs: Map::new(),
        error: None,
    };
    match resolve_vars(&run, flow, request.origin.as_deref(), &request.vars, &flow.name) {
        Err(error) => {
            result.status = RunStatus::Error;
            result.error = Some(error);
        }
        Ok(vars) => {
            let context = FlowContext {
                name: flow.name.clone(),
                origin: request.origin.clone(),
                label: None,
                stack: request.origin.iter().cloned().collect(),
                fail_fast: flow.fail_fast,
                referenced: super::references::words(flow),
            };
            let frame = Frame::root(vars);
            let mut place = Place {
                flow: Arc::new(context),
                frame: frame.clone(),
                prefix: String::new(),
                phase: Phase::Main,
                cancel: request.cancel.clone(),
                deadline: None,
            };
            if let Some(timeout) = flow.timeout {
                place = place.with_deadline(timeout, true);
            }
            let failed = run_phases(&run, flow, &place).await;
            let masks = run.masks();
            result.outputs = frame.captured();
            result.outputs.values_mut().for_each(|v| mask_value(v, &masks));
            result.status = if request.cancel.is_cancelled() {
                result.error = Some("the run was cancelled; teardown ran".into());
                RunStatus::Cancelled
            } else if run.flow_timed_out.load(Ordering::Relaxed) {
                let length = flow.timeout.map(humantime).unwrap_or_default();
                result.error = Some(format!("the flow's timeout of {length} expired; teardown ran"));
                RunStatus::Timeout
            } else if failed.is_empty() {
                RunStatus::Passed
            } else {
                RunStatus::Failed
            };
        }
    }
    result.steps = std::mem::take(&mut *run.results.lock().unwrap_or_else(|p| p.into_inner()));
    result.duration_ms = started.elapsed().as_secs_f64() * 1000.0;
    sink.event(RunEvent::RunFinished { result: &result });
    result
}

/// Records what a finished step left for later steps (its output; captures are added by
/// [`Run::run_step`]).
pub(crate) fn step_data(output: Value) -> StepData {
    StepData { output: Arc::new(output), captures: Map::new() }
}

/// What a step leaves for later steps, if anything (a skipped or failed-before-running step leaves
/// nothing).
pub(crate) type StepDataOut = Option<StepData>;
