//! Judging: a step's assertions and the conditions of `when`, `if` and `retry.until`, all through
//! assertion plugins — expressions through the built-in `expr` (one call per step for all of its
//! expressions), `use:` assertions through their plugin (one call per plugin per step, with every
//! check for it).

use super::expression;
use super::result::AssertionResult;
use super::run::{Place, Run};
use crate::flow::{Assertion, Expr, Span};
use crate::sandbox::{AssertionInput, CallContext, CallOptions, Limits, PluginKind, Verdict};
use serde_json::{Value, json};

/// What one judge call needs to know about the step it judges for.
pub(crate) struct Judged<'a> {
    pub step_path: &'a str,
    pub attempt: u32,
}

fn options(run: &Run<'_>, place: &Place) -> CallOptions {
    let mut deadline = run.runner.options.default_step_timeout;
    if let Some(outer) = place.deadline {
        deadline = deadline.min(outer.at.saturating_duration_since(std::time::Instant::now()));
    }
    CallOptions {
        limits: Limits { deadline, ..run.runner.options.limits },
        fresh_instance: false,
        cancel: Some(place.cancel.clone()),
    }
}

fn context(run: &Run<'_>, place: &Place, judged: &Judged<'_>) -> CallContext {
    CallContext {
        run_id: run.run_id.clone(),
        flow_name: place.flow.name.clone(),
        step_id: judged.step_path.to_string(),
        attempt: judged.attempt,
    }
}

/// Judges expressions (with their custom messages) against the names of `place` and a step's
/// `output`; one verdict per expression, or why the `expr` plugin could not judge.
pub(crate) async fn expressions(
    run: &Run<'_>,
    place: &Place,
    judged: &Judged<'_>,
    items: &[(&str, Option<&str>)],
    output: Option<&Value>,
) -> Result<Vec<Verdict>, String> {
    let expr = run.expr_plugin().await?;
    let texts: Vec<&str> = items.iter().map(|(text, _)| *text).collect();
    let subject = expression::subject(&run.identifiers, &texts, output, &place.frame);
    let checks: Vec<Value> = items
        .iter()
        .map(|(text, message)| match message {
            Some(message) => json!({"expr": text, "message": message}),
            None => json!({"expr": text}),
        })
        .collect();
    let context = context(run, place, judged);
    let input = AssertionInput { context: &context, subject: &subject, checks: &checks };
    let report = run.session.check(&expr.plugin, &expr.grants, input, &options(run, place)).await;
    report.result.map_err(|e| e.to_string())
}

/// Judges one condition (`when`, `if`, `retry.until`): whether it holds and the verdict's message,
/// or an error when it could not be evaluated (an unknown name, a type error) — which is not the
/// same as false.
pub(crate) async fn condition(
    run: &Run<'_>,
    place: &Place,
    expr: &Expr,
    output: Option<&Value>,
) -> Result<(bool, String), String> {
    let judged = Judged { step_path: "condition", attempt: 1 };
    let verdicts = expressions(run, place, &judged, &[(expr.text.as_str(), None)], output).await?;
    let Some(verdict) = verdicts.into_iter().next() else {
        return Err("the expr plugin returned no verdict".into());
    };
    if !verdict.passed && verdict.message.contains("could not be evaluated") {
        return Err(verdict.message);
    }
    Ok((verdict.passed, verdict.message))
}

/// Judges every assertion of a step against its output, in the order written. A plugin that cannot
/// judge fails its assertions with the reason.
pub(crate) async fn assertions(
    run: &Run<'_>,
    place: &Place,
    judged: &Judged<'_>,
    assertions: &[Assertion],
    output: &Value,
) -> Vec<AssertionResult> {
    let mut results: Vec<Option<AssertionResult>> = vec![None; assertions.len()];
    let expressions_at: Vec<usize> =
        (0..assertions.len()).filter(|i| matches!(assertions[*i], Assertion::Expr { .. })).collect();
    if !expressions_at.is_empty() {
        let items: Vec<(&str, Option<&str>)> = expressions_at
            .iter()
            .filter_map(|i| match &assertions[*i] {
                Assertion::Expr { expr, message } => Some((expr.text.as_str(), message.as_deref())),
                Assertion::Plugin { .. } => None,
            })
            .collect();
        let verdicts = expressions(run, place, judged, &items, Some(output)).await;
        for (n, at) in expressions_at.iter().enumerate() {
            let Assertion::Expr { expr, .. } = &assertions[*at] else { continue };
            results[*at] = Some(to_result(expr.text.clone(), expr.span, verdicts.as_ref().map(|v| &v[n])));
        }
    }
    // `use:` assertions, one call per plugin with all of its checks, in order of first use.
    let mut plugins: Vec<&str> = Vec::new();
    for assertion in assertions {
        if let Assertion::Plugin { plugin, .. } = assertion
            && !plugins.contains(&plugin.name.as_str())
        {
            plugins.push(&plugin.name);
        }
    }
    let subject = if plugins.is_empty() { String::new() } else { output.to_string() };
    for name in plugins {
        let at: Vec<usize> = (0..assertions.len())
            .filter(|i| matches!(&assertions[*i], Assertion::Plugin { plugin, .. } if plugin.name == name))
            .collect();
        let verdicts = judge_with_plugin(run, place, judged, assertions, &at, &subject).await;
        for (n, i) in at.iter().enumerate() {
            let Assertion::Plugin { plugin, span, .. } = &assertions[*i] else { continue };
            let label = format!("use: {plugin}");
            results[*i] = Some(to_result(label, *span, verdicts.as_ref().map(|v| &v[n])));
        }
    }
    results.into_iter().flatten().collect()
}

async fn judge_with_plugin(
    run: &Run<'_>,
    place: &Place,
    judged: &Judged<'_>,
    assertions: &[Assertion],
    at: &[usize],
    subject: &str,
) -> Result<Vec<Verdict>, String> {
    let mut checks = Vec::with_capacity(at.len());
    let mut reference = None;
    for i in at {
        let Assertion::Plugin { plugin, with, .. } = &assertions[*i] else { continue };
        reference = Some(plugin);
        let rendered = run
            .render_context(place)
            .render_value(&with.value)
            .map_err(|errors| format!("`with` of `use: {plugin}` (line {}): {errors}", with.span.line))?;
        run.add_masks(rendered.secrets);
        checks.push(rendered.value);
    }
    let Some(reference) = reference else { return Ok(Vec::new()) };
    let resolved = run.runner.registry.resolve(reference, PluginKind::Assertion).await.map_err(|e| e.to_string())?;
    let context = context(run, place, judged);
    let input = AssertionInput { context: &context, subject, checks: &checks };
    let report = run.session.check(&resolved.plugin, &resolved.grants, input, &options(run, place)).await;
    report.result.map_err(|e| format!("assertion plugin `{reference}` failed: {e}"))
}

fn to_result(assertion: String, span: Span, verdict: Result<&Verdict, &String>) -> AssertionResult {
    match verdict {
        Ok(verdict) => AssertionResult {
            assertion,
            passed: verdict.passed,
            message: verdict.message.clone(),
            actual: verdict.actual.clone(),
            span,
        },
        Err(error) => AssertionResult { assertion, passed: false, message: error.clone(), actual: Value::Null, span },
    }
}
