//! Checks of a flow against the plugins a run would use, before it runs: every `action` and `use`
//! names an installed plugin (with the closest names when it does not), so that a typo is an
//! invalid flow with its line and column rather than a step error halfway through a run.

use super::registry::Registry;
use crate::flow::{Assertion, Diagnostic, Flow, PluginRef, Severity, Step, StepKind};

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
