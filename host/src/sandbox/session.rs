//! Calling plugins: the instance pool of one run, deadlines, cancellation, and turning whatever the
//! guest did into an output or a [`CallError`].

use super::bindings::action::Action;
use super::bindings::action::testmesh::plugin::action_types;
use super::bindings::assertion::Assertion;
use super::bindings::assertion::testmesh::plugin::assertion_types;
use super::bindings::wit_types;
use super::error::CallError;
use super::limits::Limits;
use super::logs::LogLine;
use super::state::HostState;
use super::{Descriptor, Grants, LoadError, Plugin, PluginKind, Pre, Sandbox};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;
use wasmtime::{Store, UpdateDeadline};

/// Where a call comes from, passed to the plugin as its `call-context`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallContext {
    /// The run's id.
    pub run_id: String,
    /// The flow's name.
    pub flow_name: String,
    /// The step's id.
    pub step_id: String,
    /// 1-based attempt number.
    pub attempt: u32,
}

/// One action call.
#[derive(Debug, Clone, Copy)]
pub struct ActionInput<'a> {
    /// Where it comes from.
    pub context: &'a CallContext,
    /// The operation of `action: <plugin>.<operation>`.
    pub operation: Option<&'a str>,
    /// The interpolated step configuration.
    pub config: &'a Value,
}

/// One assertion call: every check of one plugin for one step, against one subject.
#[derive(Debug, Clone, Copy)]
pub struct AssertionInput<'a> {
    /// Where it comes from.
    pub context: &'a CallContext,
    /// The value to judge, already encoded as JSON (encode once per step, not once per check).
    pub subject: &'a str,
    /// One configuration per check.
    pub checks: &'a [Value],
}

/// How to call.
#[derive(Debug, Clone, Default)]
pub struct CallOptions {
    /// Memory, deadline, output and log limits.
    pub limits: Limits,
    /// Always start a fresh instance (and do not keep it): maximal isolation, at the cost of
    /// instantiation per call.
    pub fresh_instance: bool,
    /// Cancelling this token interrupts the call (the instance is discarded).
    pub cancel: Option<CancellationToken>,
}

/// An assertion's judgement on one check.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    /// Whether the check held.
    pub passed: bool,
    /// What was expected and found.
    pub message: String,
    /// The actual values looked at.
    pub actual: Value,
}

/// The outcome of a call with its log, whether it worked or not.
#[derive(Debug, Clone)]
pub struct CallReport<T> {
    /// The output, or why there is none.
    pub result: Result<T, CallError>,
    /// What the plugin logged (log interface, stdout, stderr) and what the host noted (denials).
    pub logs: Vec<LogLine>,
    /// Wall-clock time of the call, instantiation included.
    pub duration: Duration,
    /// Whether an instance left by an earlier call of this run was used.
    pub reused_instance: bool,
}

impl<T> CallReport<T> {
    /// A call that failed before the plugin ran (no instance could be had).
    fn before_the_call(error: CallError, started: Instant) -> Self {
        CallReport { result: Err(error), logs: Vec::new(), duration: started.elapsed(), reused_instance: false }
    }
}

/// The instance pool of one run: consecutive calls of a plugin reuse an idle instance of it (never one
/// of another run); an instance that trapped, hit a limit, timed out or was cancelled is dropped.
pub struct Session {
    sandbox: Sandbox,
    idle: Mutex<HashMap<String, Vec<Warm>>>,
}

struct Warm {
    store: Store<HostState>,
    instance: Instance,
    /// This instance's place among the sandbox's `max_instances`; freed when it is dropped.
    _slot: tokio::sync::OwnedSemaphorePermit,
}

/// Idle instances a session keeps per plugin: enough for a run's concurrent steps to reuse them,
/// few enough that idle runs do not hold the sandbox's instance slots.
const MAX_IDLE_PER_PLUGIN: usize = 8;

enum Instance {
    Action(Action),
    Assertion(Assertion),
}

enum Stopped {
    Timeout,
    Cancelled,
}

impl Session {
    pub(crate) fn new(sandbox: Sandbox) -> Self {
        Session { sandbox, idle: Mutex::default() }
    }

    /// Calls an action plugin's `run`.
    pub async fn run_action(
        &self,
        plugin: &Arc<Plugin>,
        grants: &Arc<Grants>,
        input: ActionInput<'_>,
        options: &CallOptions,
    ) -> CallReport<Value> {
        let started = Instant::now();
        let deadline = started + options.limits.deadline;
        let (mut warm, reused) = match self.acquire(plugin, grants, options, deadline).await {
            Ok(acquired) => acquired,
            Err(e) => return CallReport::before_the_call(e, started),
        };
        let call = action_types::ActionCall {
            context: wit_context(input.context, deadline),
            operation: input.operation.map(str::to_string),
            config: input.config.to_string(),
        };
        let outcome = match &warm.instance {
            Instance::Action(action) => {
                guard(action.call_run(&mut warm.store, &call), deadline, options.cancel.as_ref()).await
            }
            Instance::Assertion(_) => Ok(Ok(Err(wit_types::PluginError::Failed(format!(
                "{} is an assertion plugin, not an action",
                plugin.label()
            ))))),
        };
        let limit = options.limits.output_bytes;
        let result = self.settle(&mut warm, outcome, options).and_then(|text| {
            check_size(text.len(), limit)?;
            parse_output(&text)
        });
        self.finish(plugin, warm, result, options, started, reused)
    }

    /// Calls an assertion plugin's `check` with all of a step's checks for it.
    pub async fn check(
        &self,
        plugin: &Arc<Plugin>,
        grants: &Arc<Grants>,
        input: AssertionInput<'_>,
        options: &CallOptions,
    ) -> CallReport<Vec<Verdict>> {
        let started = Instant::now();
        let deadline = started + options.limits.deadline;
        let (mut warm, reused) = match self.acquire(plugin, grants, options, deadline).await {
            Ok(acquired) => acquired,
            Err(e) => return CallReport::before_the_call(e, started),
        };
        let call = assertion_types::AssertionCall {
            context: wit_context(input.context, deadline),
            subject: input.subject.to_string(),
            checks: input.checks.iter().map(Value::to_string).collect(),
        };
        let outcome = match &warm.instance {
            Instance::Assertion(assertion) => {
                guard(assertion.call_check(&mut warm.store, &call), deadline, options.cancel.as_ref()).await
            }
            Instance::Action(_) => Ok(Ok(Err(wit_types::PluginError::Failed(format!(
                "{} is an action plugin, not an assertion",
                plugin.label()
            ))))),
        };
        let expected = input.checks.len();
        let result = self.settle(&mut warm, outcome, options).and_then(|verdicts| {
            let size: usize = verdicts.iter().map(|v| v.message.len() + v.actual.len()).sum();
            check_size(size, options.limits.output_bytes)?;
            if verdicts.len() != expected {
                return Err(CallError::InvalidOutput(format!(
                    "{} verdicts for {expected} checks; `check` must return one verdict per check",
                    verdicts.len()
                )));
            }
            verdicts
                .into_iter()
                .map(|v| {
                    let actual = serde_json::from_str(&v.actual)
                        .map_err(|e| CallError::InvalidOutput(format!("verdict `actual` is not JSON: {e}")))?;
                    Ok(Verdict { passed: v.passed, message: v.message, actual })
                })
                .collect()
        });
        self.finish(plugin, warm, result, options, started, reused)
    }

    /// An idle instance of `plugin` from this run, or a new one.
    async fn acquire(
        &self,
        plugin: &Arc<Plugin>,
        grants: &Arc<Grants>,
        options: &CallOptions,
        deadline: Instant,
    ) -> Result<(Warm, bool), CallError> {
        let memory = options.limits.memory_bytes.min(self.sandbox.inner.config.max_memory_bytes);
        if !options.fresh_instance {
            // An instance keeps the grants it was created with (its environment is fixed then): reuse
            // only one created for the same grants, or a call would get another call's capabilities.
            let reused = self.idle.lock().unwrap_or_else(|p| p.into_inner()).get_mut(&plugin.digest).and_then(|idle| {
                let same = |warm: &Warm| {
                    let had = &warm.store.data().scope.grants;
                    Arc::ptr_eq(had, grants) || **had == **grants
                };
                idle.iter().rposition(same).map(|index| idle.remove(index))
            });
            if let Some(mut warm) = reused {
                warm.store.data_mut().begin_call(deadline, memory, options.limits.log_bytes);
                warm.store.set_epoch_deadline(1);
                return Ok((warm, true));
            }
        }
        let warm = instantiate(
            &self.sandbox,
            plugin.label.clone(),
            &plugin.pre,
            grants.clone(),
            memory,
            options.limits.log_bytes,
            deadline,
        )
        .await?;
        Ok((warm, false))
    }

    /// Turns the guest's answer (or its trap, or the guard's verdict) into the call's result.
    fn settle<T>(
        &self,
        warm: &mut Warm,
        outcome: Result<wasmtime::Result<Result<T, wit_types::PluginError>>, Stopped>,
        options: &CallOptions,
    ) -> Result<T, CallError> {
        let state = warm.store.data();
        match outcome {
            Ok(Ok(Ok(value))) => Ok(value),
            Ok(Ok(Err(wit_types::PluginError::InvalidConfig(problem)))) => {
                Err(CallError::InvalidConfig { path: problem.path, message: problem.message })
            }
            Ok(Ok(Err(wit_types::PluginError::Failed(message)))) => {
                let denials = state.scope.denials.take();
                if denials.is_empty() || denials.iter().any(|d| message.contains(d.as_str())) {
                    Err(CallError::Failed(message))
                } else {
                    Err(CallError::Failed(format!("{message} ({})", denials.join("; "))))
                }
            }
            Ok(Err(trap)) => Err(CallError::from_trap(
                trap,
                state.limiter.hit,
                &state.scope.log,
                self.sandbox.inner.config.wasm_stack_bytes as u64,
                options.limits.deadline,
            )),
            Err(Stopped::Timeout) => Err(CallError::Timeout { deadline: options.limits.deadline }),
            Err(Stopped::Cancelled) => Err(CallError::Cancelled),
        }
    }

    fn finish<T>(
        &self,
        plugin: &Arc<Plugin>,
        warm: Warm,
        result: Result<T, CallError>,
        options: &CallOptions,
        started: Instant,
        reused_instance: bool,
    ) -> CallReport<T> {
        let logs = warm.store.data().scope.log.take();
        let keep = !options.fresh_instance && !result.as_ref().is_err_and(CallError::poisons_instance);
        if keep {
            let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
            let instances = idle.entry(plugin.digest.clone()).or_default();
            if instances.len() < MAX_IDLE_PER_PLUGIN {
                instances.push(warm);
            }
        }
        let duration = started.elapsed();
        if let Some(observer) = self.sandbox.inner.observer.get() {
            observer.call_finished(&plugin.descriptor.name, duration, result.is_ok());
        }
        CallReport { result, logs, duration, reused_instance }
    }
}

/// Creates a store and an instance of `pre`, under the call's deadline (a component's start code runs
/// during instantiation).
async fn instantiate(
    sandbox: &Sandbox,
    label: Arc<str>,
    pre: &Pre,
    grants: Arc<Grants>,
    memory: u64,
    log_bytes: usize,
    deadline: Instant,
) -> Result<Warm, CallError> {
    let mut state = HostState::new(label, grants, sandbox.inner.shared.clone(), memory);
    // Admission: at most `max_instances` live at once across every session; a call waits for a
    // slot until its deadline rather than failing as soon as the sandbox is busy.
    let wait = deadline.saturating_duration_since(Instant::now());
    let slot = match tokio::time::timeout(wait, sandbox.inner.slots.clone().acquire_owned()).await {
        Ok(Ok(slot)) => slot,
        Ok(Err(_)) => return Err(CallError::Instantiate("the sandbox is shutting down".into())),
        Err(_) => {
            return Err(CallError::Instantiate(format!(
                "all {} plugin instances were busy until the deadline",
                sandbox.inner.config.max_instances
            )));
        }
    };
    state.begin_call(deadline, memory, log_bytes);
    let mut store = Store::new(&sandbox.inner.engine, state);
    store.limiter(|state| &mut state.limiter);
    store.epoch_deadline_callback(|ctx| {
        if Instant::now() >= ctx.data().scope.deadline {
            Ok(UpdateDeadline::Interrupt)
        } else {
            // Yield so that a timer or cancellation can end a guest that never returns on its own.
            Ok(UpdateDeadline::Yield(1))
        }
    });
    store.set_epoch_deadline(1);
    let instance = match pre {
        Pre::Action(pre) => {
            guard(pre.instantiate_async(&mut store), deadline, None).await.map(|r| r.map(Instance::Action))
        }
        Pre::Assertion(pre) => {
            guard(pre.instantiate_async(&mut store), deadline, None).await.map(|r| r.map(Instance::Assertion))
        }
    };
    match instance {
        Ok(Ok(instance)) => Ok(Warm { store, instance, _slot: slot }),
        Ok(Err(e)) => Err(CallError::Instantiate(format!("{e:#}"))),
        Err(_) => Err(CallError::Instantiate("instantiation did not finish before the deadline".into())),
    }
}

/// Calls the plugin's `describe` on a fresh instance with no grants.
pub(crate) async fn describe(sandbox: &Sandbox, pre: &Pre, digest: &str) -> Result<Descriptor, LoadError> {
    let deadline = Instant::now() + Duration::from_secs(10);
    let limits = Limits::default();
    let label: Arc<str> = format!("sha256:{}", &digest[..12]).into();
    let mut warm = instantiate(sandbox, label, pre, Arc::default(), limits.memory_bytes, limits.log_bytes, deadline)
        .await
        .map_err(|e| LoadError::Describe(e.to_string()))?;
    let described = match &warm.instance {
        Instance::Action(action) => guard(action.call_describe(&mut warm.store), deadline, None).await,
        Instance::Assertion(assertion) => guard(assertion.call_describe(&mut warm.store), deadline, None).await,
    };
    let d = match described {
        Ok(Ok(d)) => d,
        Ok(Err(trap)) => {
            let state = warm.store.data();
            let cause = CallError::from_trap(trap, state.limiter.hit, &state.scope.log, 0, Duration::from_secs(10));
            return Err(LoadError::Describe(cause.to_string()));
        }
        Err(_) => return Err(LoadError::Describe("it did not return within 10s".into())),
    };
    let schema = |what: &str, text: &str| -> Result<Value, LoadError> {
        serde_json::from_str(text).map_err(|e| LoadError::Describe(format!("{what} is not JSON: {e}")))
    };
    Ok(Descriptor {
        config_schema: schema("config-schema", &d.config_schema)?,
        output_schema: schema("output-schema", &d.output_schema)?,
        name: d.name,
        version: d.version,
        kind: match d.kind {
            wit_types::PluginKind::Action => PluginKind::Action,
            wit_types::PluginKind::Assertion => PluginKind::Assertion,
        },
        summary: d.summary,
        aliases: d.aliases,
        operations: d.operations,
        capabilities: d
            .capabilities
            .into_iter()
            .map(|c| super::CapabilityRequest { capability: c.capability, reason: c.reason })
            .collect(),
    })
}

fn wit_context(context: &CallContext, deadline: Instant) -> wit_types::CallContext {
    wit_types::CallContext {
        run_id: context.run_id.clone(),
        flow_name: context.flow_name.clone(),
        step_id: context.step_id.clone(),
        attempt: context.attempt,
        deadline_ms: deadline.saturating_duration_since(Instant::now()).as_millis() as u64,
    }
}

/// Runs `future` until it finishes, the deadline passes, or `cancel` fires. The epoch callback makes a
/// busy guest yield every tick, so this also ends guests stuck in a loop; a guest waiting on host I/O
/// is ended by the timer.
async fn guard<F: Future>(
    future: F,
    deadline: Instant,
    cancel: Option<&CancellationToken>,
) -> Result<F::Output, Stopped> {
    let cancelled = async {
        match cancel {
            Some(token) => token.cancelled().await,
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        output = future => Ok(output),
        _ = tokio::time::sleep_until(deadline.into()) => Err(Stopped::Timeout),
        _ = cancelled => Err(Stopped::Cancelled),
    }
}

fn check_size(size: usize, limit: usize) -> Result<(), CallError> {
    if size > limit { Err(CallError::OutputLimit { size: size as u64, limit: limit as u64 }) } else { Ok(()) }
}

/// An action's output must be a JSON object: its keys are what assertions and captures see.
fn parse_output(text: &str) -> Result<Value, CallError> {
    match serde_json::from_str::<Value>(text) {
        Ok(value @ Value::Object(_)) => Ok(value),
        Ok(other) => Err(CallError::InvalidOutput(format!(
            "the output must be a JSON object, got {}",
            match other {
                Value::Array(_) => "an array",
                Value::String(_) => "a string",
                Value::Number(_) => "a number",
                Value::Bool(_) => "a boolean",
                _ => "null",
            }
        ))),
        Err(e) => {
            let preview: String = text.chars().take(60).collect();
            Err(CallError::InvalidOutput(format!("it is not JSON ({e}); it starts with {preview:?}")))
        }
    }
}
