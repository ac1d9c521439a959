//! Checks of a flow against the plugins a run would use, before it runs: every `action` and `use`
//! names an installed plugin (with the closest names when it does not), and every action's config
//! matches the schema its plugin's `describe` gives — so that a typo is an invalid flow with its
//! line and column rather than a step error halfway through a run.

use super::registry::Registry;
use crate::flow::{Assertion, Diagnostic, Flow, PluginRef, Severity, SpannedValue, Step, StepKind};
use crate::sandbox::{AssertionInput, CallContext, CallOptions, PluginKind};
use serde_json::{Value, json};

/// Every reference to a plugin that is not installed, as diagnostics pointing at it. `text` is the
/// flow's source (for the snippet) and `file` its name in messages.
pub fn check_plugins(flow: &Flow, registry: &Registry, text: &str, file: &str) -> Vec<Diagnostic> {
    let mut diagnostics = Vec::new();
    let mut check = |reference: &PluginRef| {
        if registry.contains(&reference.name) {
            return;
        }
        let closest = registry.closest(&reference.name);
        let help = match closest.as_slice() {
            [] => Some(format!(
                "installed plugins: {}",
                registry.names().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ")
            )),
            [one] => Some(format!("did you mean `{one}`?")),
            many => Some(format!(
                "did you mean one of {}?",
                many.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ")
            )),
        };
        let span = reference.span;
        diagnostics.push(Diagnostic {
            severity: Severity::Error,
            file: file.to_string(),
            line: span.line,
            column: span.column,
            message: format!("plugin `{}` is not installed", reference.name),
            help,
            source_line: text.lines().nth(span.line.saturating_sub(1) as usize).map(str::to_string),
        });
    };
    for step in flow.setup.iter().chain(&flow.steps).chain(&flow.teardown) {
        walk(step, &mut check);
    }
    diagnostics
}

/// Every plugin reference of a flow (`action`s and `use:` assertions, nested steps included), e.g.
/// to tell which stored flows need a plugin version before it is removed.
pub fn plugin_references(flow: &Flow) -> Vec<PluginRef> {
    let mut references = Vec::new();
    let mut collect = |reference: &PluginRef| references.push(reference.clone());
    for step in flow.setup.iter().chain(&flow.steps).chain(&flow.teardown) {
        walk(step, &mut collect);
    }
    references
}

fn walk(step: &Step, check: &mut dyn FnMut(&PluginRef)) {
    match &step.kind {
        StepKind::Action { plugin, .. } => check(plugin),
        StepKind::ForEach { steps, .. } => steps.iter().for_each(|s| walk(s, check)),
        StepKind::Parallel { branches, .. } => branches.iter().flatten().for_each(|s| walk(s, check)),
        StepKind::If { then_steps, else_steps, .. } => then_steps.iter().chain(else_steps).for_each(|s| walk(s, check)),
        StepKind::RunFlow { .. } => {}
    }
    for assertion in &step.assert {
        if let Assertion::Plugin { plugin, .. } = assertion {
            check(plugin);
        }
    }
}

/// Every step config (and `use:` assertion `with`) that its plugin's `describe` schema rejects, as diagnostics pointing at the
/// offending value. The schema is checked by the built-in `json_schema` plugin. Values written as
/// templates (`${…}`) are only known at run time, so violations at (or under) a templated string
/// are not reported; a missing required key or an unknown key still is.
///
/// Plugins that are not installed are left to [`check_plugins`]; without `json_schema` nothing is
/// checked.
pub async fn check_configs(flow: &Flow, registry: &Registry, text: &str, file: &str) -> Vec<Diagnostic> {
    let mut steps = Vec::new();
    for step in flow.setup.iter().chain(&flow.steps).chain(&flow.teardown) {
        collect_actions(step, &mut steps);
    }
    if steps.is_empty() {
        return Vec::new();
    }
    let validator_ref =
        PluginRef { name: "json_schema".into(), version: None, operation: None, span: Default::default() };
    let Ok(validator) = registry.resolve(&validator_ref, PluginKind::Assertion).await else { return Vec::new() };
    let session = registry.sandbox().session();
    let context =
        CallContext { run_id: "validate".into(), flow_name: flow.name.clone(), step_id: String::new(), attempt: 1 };
    // One `json_schema` call per plugin, over its distinct configs: a flow of a thousand steps
    // checks in one call what it would check in a thousand.
    let mut plugins: Vec<&str> = steps.iter().map(|(plugin, _)| plugin.name.as_str()).collect();
    plugins.sort_unstable();
    plugins.dedup();
    let mut diagnostics = Vec::new();
    for name in plugins {
        let Ok(plugin) = registry.get(name).await else { continue };
        let schema = &plugin.descriptor.config_schema;
        if !schema.is_object() || schema.as_object().is_some_and(|o| o.is_empty()) {
            continue;
        }
        let mut distinct: Vec<&Value> = Vec::new();
        for (_, config) in steps.iter().filter(|(p, _)| p.name == name) {
            if !distinct.contains(&&config.value) {
                distinct.push(&config.value);
            }
        }
        let subject = Value::Array(distinct.iter().map(|v| (*v).clone()).collect()).to_string();
        let checks: Vec<Value> =
            (0..distinct.len()).map(|i| json!({"schema": schema, "path": format!("$[{i}]")})).collect();
        let input = AssertionInput { context: &context, subject: &subject, checks: &checks };
        let report = session.check(&validator.plugin, &validator.grants, input, &CallOptions::default()).await;
        let Ok(verdicts) = report.result else { continue };
        for (verdict, config_value) in verdicts.iter().zip(&distinct) {
            if verdict.passed {
                continue;
            }
            for (plugin_ref, config) in steps.iter().filter(|(p, c)| p.name == name && &c.value == *config_value) {
                diagnostics.extend(violations(&verdict.message, plugin_ref, config, schema, text, file));
            }
        }
    }
    diagnostics
}

/// Diagnostics for the violations a `json_schema` verdict lists (one per line after the first:
/// `<pointer>: <problem>`), except those at or under a templated value.
fn violations(
    message: &str,
    plugin_ref: &PluginRef,
    config: &SpannedValue,
    schema: &Value,
    text: &str,
    file: &str,
) -> Vec<Diagnostic> {
    let templated = templated_pointers(&config.value);
    let mut diagnostics = Vec::new();
    for line in message.lines().skip(1) {
        let line = line.trim();
        let Some((location, problem)) = line.split_once(": ") else { continue };
        let pointer = if location == "(root)" { "" } else { location };
        let under_template = templated.iter().any(|t| pointer == t || pointer.starts_with(&format!("{t}/")));
        if under_template || line.starts_with('…') {
            continue;
        }
        // An unknown key is reported at its object; point at the key itself.
        let unexpected = problem
            .strip_prefix("Additional properties are not allowed (")
            .and_then(|rest| rest.split('\'').nth(1))
            .map(|key| format!("{pointer}/{key}"));
        let pointer = unexpected.as_deref().unwrap_or(pointer);
        let span = config.span_at(pointer);
        let at = if pointer.is_empty() { String::new() } else { format!(" at `{pointer}`") };
        diagnostics.push(Diagnostic {
            severity: Severity::Error,
            file: file.to_string(),
            line: span.line,
            column: span.column,
            message: format!("config of `{}`{at}: {problem}", plugin_ref.name),
            help: accepted_keys(schema).map(|keys| format!("`{}` accepts {keys}", plugin_ref.name)),
            source_line: text.lines().nth(span.line.saturating_sub(1) as usize).map(str::to_string),
        });
    }
    diagnostics
}

/// The top-level keys a config schema declares, for help texts.
fn accepted_keys(schema: &Value) -> Option<String> {
    let properties = schema.get("properties")?.as_object()?;
    let keys: Vec<String> = properties.keys().map(|k| format!("`{k}`")).collect();
    (!keys.is_empty()).then(|| keys.join(", "))
}

/// Every plugin config of `step` and the steps inside it: actions' `config` and `use:` assertions'
/// `with`.
fn collect_actions<'f>(step: &'f Step, out: &mut Vec<(&'f PluginRef, &'f SpannedValue)>) {
    for assertion in &step.assert {
        if let Assertion::Plugin { plugin, with, .. } = assertion {
            out.push((plugin, with));
        }
    }
    match &step.kind {
        StepKind::Action { plugin, config } => out.push((plugin, config)),
        StepKind::ForEach { steps, .. } => steps.iter().for_each(|s| collect_actions(s, out)),
        StepKind::Parallel { branches, .. } => branches.iter().flatten().for_each(|s| collect_actions(s, out)),
        StepKind::If { then_steps, else_steps, .. } => {
            then_steps.iter().chain(else_steps).for_each(|s| collect_actions(s, out))
        }
        StepKind::RunFlow { .. } => {}
    }
}

/// JSON pointers of the strings in `value` that hold a template placeholder.
fn templated_pointers(value: &Value) -> Vec<String> {
    fn walk(value: &Value, pointer: &mut String, out: &mut Vec<String>) {
        match value {
            Value::String(text) if text.contains("${") || text.contains("{{") => out.push(pointer.clone()),
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    let len = pointer.len();
                    pointer.push_str(&format!("/{i}"));
                    walk(item, pointer, out);
                    pointer.truncate(len);
                }
            }
            Value::Object(map) => {
                for (key, item) in map {
                    let len = pointer.len();
                    pointer.push('/');
                    pointer.push_str(&key.replace('~', "~0").replace('/', "~1"));
                    walk(item, pointer, out);
                    pointer.truncate(len);
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(value, &mut String::new(), &mut out);
    out
}

/// Every `run_flow` whose flow cannot be found or is invalid, as diagnostics pointing at the step.
/// `origin` is the flow's own origin (its file), from which references are resolved.
pub fn check_sub_flows(
    flow: &Flow,
    loader: &dyn super::FlowLoader,
    origin: Option<&str>,
    text: &str,
    file: &str,
) -> Vec<Diagnostic> {
    fn walk<'f>(step: &'f Step, out: &mut Vec<&'f Step>) {
        match &step.kind {
            StepKind::RunFlow { .. } => out.push(step),
            StepKind::ForEach { steps, .. } => steps.iter().for_each(|s| walk(s, out)),
            StepKind::Parallel { branches, .. } => branches.iter().flatten().for_each(|s| walk(s, out)),
            StepKind::If { then_steps, else_steps, .. } => {
                then_steps.iter().chain(else_steps).for_each(|s| walk(s, out))
            }
            StepKind::Action { .. } => {}
        }
    }
    let mut steps = Vec::new();
    for step in flow.setup.iter().chain(&flow.steps).chain(&flow.teardown) {
        walk(step, &mut steps);
    }
    let mut diagnostics = Vec::new();
    for step in steps {
        let StepKind::RunFlow { flow: reference, .. } = &step.kind else { continue };
        if reference.contains("${") || reference.contains("{{") {
            continue;
        }
        if let Err(error) = loader.load_flow(reference, origin) {
            let (message, detail) = match error.split_once('\n') {
                Some((first, rest)) => (first.to_string(), Some(rest.to_string())),
                None => (error, None),
            };
            diagnostics.push(Diagnostic {
                severity: Severity::Error,
                file: file.to_string(),
                line: step.span.line,
                column: step.span.column,
                message: format!("run_flow: {message}"),
                help: detail,
                source_line: text.lines().nth(step.span.line.saturating_sub(1) as usize).map(str::to_string),
            });
        }
    }
    diagnostics
}
