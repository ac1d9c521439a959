//! The runner's own control steps, whose nested steps really run: `for_each` (with `concurrency`),
//! `parallel` (with `max_concurrent` and `fail_fast`), `if`/`then`/`else`, and `run_flow` (another
//! flow as a step, its captures as the step's output, cycles refused).
//!
//! Concurrency is cooperative within the run's task: plugin calls are asynchronous, so iterations
//! and branches interleave while they wait on the network; nothing here spawns.

use super::result::{StepResult, StepStatus};
use super::run::{self, FlowContext, ListOutcome, Place, Run, StepDataOut, humantime};
use super::scope::Frame;
use crate::flow::template::Rendered;
use crate::flow::{ForEachItems, RangeBound, SpannedValue, Step, StepKind};
use futures::StreamExt;
use serde_json::{Map, Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use tokio_util::sync::CancellationToken;

/// Runs a control step into `result`.
pub(crate) async fn run(run: &Run<'_>, place: &Place, step: &Step, result: &mut StepResult) -> StepDataOut {
    result.attempts = 1;
    let place = match step.timeout {
        Some(timeout) => place.with_deadline(timeout, false),
        None => place.clone(),
    };
    let place = &place;
    match &step.kind {
        StepKind::Action { .. } => None,
        StepKind::ForEach { items, as_name, index_name, concurrency, steps } => {
            let items = match resolve_items(run, place, items) {
                Ok(items) => items,
                Err(error) => {
                    result.status = StepStatus::Error;
                    result.error = Some(format!("for_each: {error}"));
                    return None;
                }
            };
            for_each(run, place, step, items, as_name, index_name, *concurrency, steps, result).await
        }
        StepKind::Parallel { max_concurrent, fail_fast, branches } => {
            parallel(run, place, step, *max_concurrent, *fail_fast, branches, result).await
        }
        StepKind::If { condition, then_steps, else_steps } => {
            let holds = match super::judge::condition(run, place, condition, None).await {
                Ok((holds, _)) => holds,
                Err(error) => {
                    result.status = StepStatus::Error;
                    result.error = Some(format!("`if: {}` could not be judged: {error}", condition.text));
                    return None;
                }
            };
            let (branch, steps) = if holds { ("then", then_steps) } else { ("else", else_steps) };
            let inner = Place { prefix: format!("{}{}/", place.prefix, step.id), ..place.clone() };
            let outcome = run.run_steps(&inner, steps, true).await;
            conclude(place, &outcome, result);
            Some(run::step_data(json!({"condition": holds, "branch": branch})))
        }
        StepKind::RunFlow { flow, with } => run_flow(run, place, step, flow, with, result).await,
    }
}

/// Sets a control step's status from what its nested steps came to.
fn conclude(place: &Place, outcome: &ListOutcome, result: &mut StepResult) {
    if let Some(first) = outcome.failed.first() {
        result.status = StepStatus::Failed;
        let more = outcome.failed.len() - 1;
        result.error = Some(if more == 0 {
            format!("step `{first}` failed")
        } else {
            format!("step `{first}` and {more} other(s) failed")
        });
    } else if let Some(super::run::Stop::Deadline(deadline)) = &outcome.stopped {
        result.status = StepStatus::Timeout;
        result.error = Some(format!("the timeout of {} expired", humantime(deadline.length)));
    } else if place.cancel.is_cancelled() {
        result.status = StepStatus::Cancelled;
        result.error = Some("cancelled".into());
    }
}

fn resolve_items(run: &Run<'_>, place: &Place, items: &ForEachItems) -> Result<Vec<Value>, String> {
    let context = run.render_context(place);
    let noted = |rendered: Rendered<Value>| {
        run.add_masks(rendered.secrets);
        rendered.value
    };
    match items {
        ForEachItems::Template(expr) => {
            let value = context.render_str(&expr.text).map(noted).map_err(|e| e.to_string())?;
            match value {
                Value::Array(items) => Ok(items),
                Value::Object(map) => {
                    Ok(map.into_iter().map(|(key, value)| json!({"key": key, "value": value})).collect())
                }
                other => Err(format!("`{}` is {}, not a list", expr.text, type_name(&other))),
            }
        }
        ForEachItems::List(list) => match context.render_value(&list.value).map(noted).map_err(|e| e.to_string())? {
            Value::Array(items) => Ok(items),
            other => Err(format!("the items are {}, not a list", type_name(&other))),
        },
        ForEachItems::Range { from, to, .. } => {
            let bound = |bound: &RangeBound| -> Result<i64, String> {
                match bound {
                    RangeBound::Number(n) => Ok(*n),
                    RangeBound::Template(expr) => {
                        let value = context.render_str(&expr.text).map(noted).map_err(|e| e.to_string())?;
                        match &value {
                            Value::Number(n) if n.is_i64() => Ok(n.as_i64().unwrap_or_default()),
                            Value::String(s) => {
                                s.trim().parse().map_err(|_| format!("`{}` is \"{s}\", not a whole number", expr.text))
                            }
                            other => Err(format!("`{}` is {}, not a whole number", expr.text, type_name(other))),
                        }
                    }
                }
            };
            let (from, to) = (bound(from)?, bound(to)?);
            if to.saturating_sub(from) > 100_000 {
                return Err(format!("the range {from}..{to} has more than 100000 items"));
            }
            Ok((from..=to).map(Value::from).collect())
        }
    }
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

#[allow(clippy::too_many_arguments)]
async fn for_each(
    run: &Run<'_>,
    place: &Place,
    step: &Step,
    items: Vec<Value>,
    as_name: &str,
    index_name: &str,
    concurrency: u32,
    steps: &[Step],
    result: &mut StepResult,
) -> StepDataOut {
    let total = items.len();
    let stop = AtomicBool::new(false);
    let fail_fast = place.flow.fail_fast;
    let iterations: Vec<_> = items
        .into_iter()
        .enumerate()
        .map(|(index, item)| {
            let iteration = Iteration { as_name, index_name, index, item, fail_fast, stop: &stop };
            iteration.run(run, place, step, steps)
        })
        .collect();
    let iterations = futures::stream::iter(iterations).buffer_unordered(concurrency.max(1) as usize);
    let outcomes: Vec<Option<ListOutcome>> = iterations.collect().await;
    let ran = outcomes.iter().flatten().count();
    let mut merged = ListOutcome::default();
    let mut failed_iterations = 0;
    for outcome in outcomes.into_iter().flatten() {
        if !outcome.failed.is_empty() {
            failed_iterations += 1;
        }
        merged.failed.extend(outcome.failed);
        if merged.stopped.is_none() {
            merged.stopped = outcome.stopped;
        }
    }
    conclude(place, &merged, result);
    if ran < total
        && let Some(error) = &mut result.error
    {
        error.push_str(&format!("; {} of {total} iterations not run", total - ran));
    }
    Some(run::step_data(json!({"iterations": total, "ran": ran, "failed": failed_iterations})))
}

async fn parallel(
    run: &Run<'_>,
    place: &Place,
    step: &Step,
    max_concurrent: Option<u32>,
    fail_fast: bool,
    branches: &[Vec<Step>],
    result: &mut StepResult,
) -> StepDataOut {
    // Branches share a token of their own: a failed branch under `fail_fast` stops the others
    // without cancelling the run.
    let cancel = place.cancel.child_token();
    let cancel = &cancel;
    let limit = max_concurrent.map(|m| m.max(1) as usize).unwrap_or(branches.len().max(1));
    let total = branches.len();
    let running: Vec<_> = branches
        .iter()
        .enumerate()
        .map(|(index, steps)| branch(run, place, step, index, steps, cancel, fail_fast))
        .collect();
    let outcomes: Vec<ListOutcome> = futures::stream::iter(running).buffer_unordered(limit).collect().await;
    let failed_branches = outcomes.iter().filter(|o| !o.failed.is_empty()).count();
    let mut merged = ListOutcome::default();
    for outcome in outcomes {
        merged.failed.extend(outcome.failed);
    }
    conclude(place, &merged, result);
    Some(run::step_data(json!({"branches": total, "failed": failed_branches})))
}

/// One iteration of a `for_each`.
struct Iteration<'a> {
    as_name: &'a str,
    index_name: &'a str,
    index: usize,
    item: Value,
    fail_fast: bool,
    stop: &'a AtomicBool,
}

impl Iteration<'_> {
    /// Runs the iteration's steps in a frame of its own (with the item and index bound) and hands
    /// its captures up; `None` when an earlier failure stopped the loop before it started.
    async fn run(self, run: &Run<'_>, place: &Place, step: &Step, steps: &[Step]) -> Option<ListOutcome> {
        if self.stop.load(Ordering::Relaxed) {
            return None;
        }
        let mut locals = Map::new();
        locals.insert(self.as_name.to_string(), self.item);
        locals.insert(self.index_name.to_string(), Value::from(self.index));
        let frame = Frame::child(&place.frame, locals);
        let prefix = format!("{}{}[{}]/", place.prefix, step.id, self.index);
        let inner = Place { frame: frame.clone(), prefix, ..place.clone() };
        let outcome = run.run_steps(&inner, steps, true).await;
        frame.merge_into_parent();
        if !outcome.failed.is_empty() && self.fail_fast {
            self.stop.store(true, Ordering::Relaxed);
        }
        Some(outcome)
    }
}

/// One branch of a `parallel`, in a frame of its own; a failure under `fail_fast` cancels the
/// branches' shared token.
async fn branch(
    run: &Run<'_>,
    place: &Place,
    step: &Step,
    index: usize,
    steps: &[Step],
    cancel: &CancellationToken,
    fail_fast: bool,
) -> ListOutcome {
    let frame = Frame::child(&place.frame, Map::new());
    let inner = Place {
        frame: frame.clone(),
        prefix: format!("{}{}/{}/", place.prefix, step.id, index + 1),
        cancel: cancel.clone(),
        ..place.clone()
    };
    let outcome = run.run_steps(&inner, steps, true).await;
    frame.merge_into_parent();
    if !outcome.failed.is_empty() && fail_fast {
        cancel.cancel();
    }
    outcome
}

async fn run_flow(
    run: &Run<'_>,
    place: &Place,
    step: &Step,
    reference: &str,
    with: &SpannedValue,
    result: &mut StepResult,
) -> StepDataOut {
    let fail = |result: &mut StepResult, error: String| {
        result.status = StepStatus::Error;
        result.error = Some(error);
        None
    };
    let loaded = match run.runner.loader.load_flow(reference, place.flow.origin.as_deref()) {
        Ok(loaded) => loaded,
        Err(error) => return fail(result, error),
    };
    if place.flow.stack.contains(&loaded.origin) {
        let mut chain = place.flow.stack.clone();
        chain.push(loaded.origin.clone());
        return fail(result, format!("run_flow cycle: {}", chain.join(" → ")));
    }
    if place.flow.stack.len() >= 16 {
        return fail(result, "run_flow nests more than 16 flows deep".into());
    }
    let inputs = match run.render_context(place).render_value(&with.value) {
        Ok(rendered) => {
            run.add_masks(rendered.secrets);
            rendered.value
        }
        Err(errors) => return fail(result, format!("run_flow `with` (line {}): {errors}", with.span.line)),
    };
    let inputs = match inputs {
        Value::Object(map) => map,
        Value::Null => Map::new(),
        other => return fail(result, format!("run_flow `with` is {}, not an object", type_name(&other))),
    };
    let sub = loaded.flow;
    let vars = match run::resolve_vars(run, &sub, Some(&loaded.origin), &inputs, &sub.name) {
        Ok(vars) => vars,
        Err(error) => return fail(result, format!("sub-flow `{}`: {error}", sub.name)),
    };
    let mut stack = place.flow.stack.clone();
    stack.push(loaded.origin.clone());
    let context = FlowContext {
        name: sub.name.clone(),
        origin: Some(loaded.origin.clone()),
        label: Some(loaded.origin.clone()),
        stack,
        fail_fast: sub.fail_fast,
        referenced: super::references::words(&sub),
    };
    let frame = Frame::root(vars);
    let mut inner = Place {
        flow: Arc::new(context),
        frame: frame.clone(),
        prefix: format!("{}{}>", place.prefix, step.id),
        ..place.clone()
    };
    if let Some(timeout) = sub.timeout {
        inner = inner.with_deadline(timeout, false);
    }
    let failed = run::run_phases(run, &sub, &inner).await;
    let outcome = ListOutcome { failed, stopped: None };
    conclude(place, &outcome, result);
    if let Some(error) = &mut result.error {
        *error = format!("sub-flow `{}`: {error}", sub.name);
    }
    let outputs = Value::Object(frame.captured());
    result.output = outputs.clone();
    Some(run::step_data(outputs))
}
