//! The second pass over a structurally valid flow: what can be checked without running it or knowing
//! the installed plugins — the syntax of every expression (`assert`, `when`, `if`, `retry.until`, with
//! the same parser the `expr` plugin uses), of every `${…}` template in configs, `with` blocks and
//! `env`, and of every capture's JSONPath. Problems point at the text that holds them.

use super::diagnostic::{Diagnostic, Severity};
use super::model::{Assertion, Expr, Flow, Span, SpannedValue, Step, StepKind};
use super::source::Source;
use super::template;

/// Every template and JSONPath problem of `flow`, in no particular order.
pub(crate) fn check(flow: &Flow, source: &Source) -> Vec<Diagnostic> {
    let mut diagnostics = Vec::new();
    for variable in &flow.env {
        if let Err(errors) = template::check_value(&variable.value) {
            for error in errors.iter() {
                let message = format!("in `env.{}`: {}", variable.name, error.message);
                diagnostics.push(source.diagnostic(Severity::Error, variable.span, message, error.help.clone()));
            }
        }
    }
    for step in flow.setup.iter().chain(&flow.steps).chain(&flow.teardown) {
        check_step(step, source, &mut diagnostics);
    }
    diagnostics
}

fn check_step(step: &Step, source: &Source, diagnostics: &mut Vec<Diagnostic>) {
    let expressions = step
        .assert
        .iter()
        .filter_map(|a| match a {
            Assertion::Expr { expr, .. } => Some(("assertion", expr)),
            Assertion::Plugin { .. } => None,
        })
        .chain(step.when.iter().map(|e| ("`when`", e)))
        .chain(step.retry.iter().filter_map(|r| r.until.as_ref()).map(|e| ("`retry.until`", e)))
        .chain(match &step.kind {
            StepKind::If { condition, .. } => Some(("`if`", condition)),
            _ => None,
        });
    for (what, expr) in expressions {
        check_expression(what, expr, &step.id, source, diagnostics);
    }
    if let Some(retry) = &step.retry
        && !matches!(step.kind, StepKind::Action { .. })
    {
        let message = format!("`retry` has no effect on a control step (`{}`)", step.id);
        let help = Some("retry the steps inside it, or move the retried work into a sub-flow's step".to_string());
        diagnostics.push(source.diagnostic(Severity::Warning, retry.span, message, help));
    }
    match &step.kind {
        StepKind::Action { config, .. } => check_templates(config, &step.id, "config", source, diagnostics),
        StepKind::RunFlow { with, .. } => check_templates(with, &step.id, "with", source, diagnostics),
        StepKind::ForEach { steps, .. } => steps.iter().for_each(|s| check_step(s, source, diagnostics)),
        StepKind::Parallel { branches, .. } => {
            branches.iter().flatten().for_each(|s| check_step(s, source, diagnostics));
        }
        StepKind::If { then_steps, else_steps, .. } => {
            then_steps.iter().chain(else_steps).for_each(|s| check_step(s, source, diagnostics));
        }
    }
    for assertion in &step.assert {
        if let Assertion::Plugin { with, .. } = assertion {
            check_templates(with, &step.id, "with", source, diagnostics);
        }
    }
    for capture in &step.output {
        if capture.path.starts_with('$')
            && let Err(e) = serde_json_path::JsonPath::parse(&capture.path)
        {
            diagnostics.push(source.diagnostic(
                Severity::Error,
                capture.span,
                format!("output `{}` of step `{}` is not a valid JSONPath: {e}", capture.name, step.id),
                Some("captures use RFC 9535 JSONPath, e.g. `$.body.items[0].id`".into()),
            ));
        }
    }
}

fn check_expression(what: &str, expr: &Expr, step: &str, source: &Source, out: &mut Vec<Diagnostic>) {
    if let Err(e) = testmesh_expr_syntax::parse(&expr.text) {
        // The expression starts at its span, after the opening quote when it is quoted.
        let quoted = matches!(source.char_at(expr.span), Some('"' | '\''));
        let column = expr.span.column + u32::from(quoted) + e.column.saturating_sub(1) as u32;
        let message = format!("{what} of step `{step}` does not parse: {}", e.message);
        let help = Some(format!("in `{}`", expr.text));
        out.push(source.diagnostic(Severity::Error, Span::new(expr.span.line, column), message, help));
    }
}

fn check_templates(value: &SpannedValue, step: &str, block: &str, source: &Source, out: &mut Vec<Diagnostic>) {
    let Err(errors) = template::check_value(&value.value) else { return };
    for error in errors.iter() {
        let span = value.span_at(&error.pointer);
        let place = if error.pointer.is_empty() { String::new() } else { format!(" at `{}`", error.pointer) };
        let message = format!("in the {block} of step `{step}`{place}: {}", error.message);
        out.push(source.diagnostic(Severity::Error, span, message, error.help.clone()));
    }
}

#[cfg(test)]
mod tests {
    use crate::flow::check_flow;

    fn errors(text: &str) -> Vec<String> {
        let (flow, diagnostics) = check_flow(text, "lint.yaml");
        assert!(flow.is_none(), "expected errors");
        diagnostics.errors().map(|d| format!("{}:{}: {}", d.line, d.column, d.message)).collect()
    }

    #[test]
    fn an_unclosed_placeholder_in_a_config_points_at_its_string() {
        let found =
            errors("name: t\nsteps:\n  - id: get\n    action: http\n    config:\n      url: \"${base/users\"\n");
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].starts_with("6:"), "{found:?}");
        assert!(found[0].contains("step `get` at `/url`"), "{found:?}");
    }

    #[test]
    fn every_template_problem_of_a_flow_is_reported() {
        let text = "name: t\nenv:\n  BASE: ${nope(}\nsteps:\n  - id: a\n    action: log\n    config: { message: '${uuid(1, 2, 3)' }\n  - id: b\n    run_flow: other\n    with: { user: '${' }\n";
        let found = errors(text);
        assert_eq!(found.len(), 3, "{found:?}");
        assert!(found.iter().any(|e| e.contains("env.BASE")), "{found:?}");
        assert!(found.iter().any(|e| e.contains("step `a`")), "{found:?}");
        assert!(found.iter().any(|e| e.contains("with of step `b`")), "{found:?}");
    }

    #[test]
    fn a_capture_with_an_invalid_jsonpath_is_an_error() {
        let found = errors(
            "name: t\nsteps:\n  - id: get\n    action: http\n    config: { url: x }\n    output:\n      id: $.items[\n",
        );
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].contains("output `id` of step `get` is not a valid JSONPath"), "{found:?}");
    }

    #[test]
    fn expressions_that_do_not_parse_are_reported_at_their_column() {
        let text = "name: t\nsteps:\n  - id: get\n    action: http\n    config: { url: x }\n    when: ready ==\n    assert:\n      - status == 200\n      - \"body.name contains\"\n      - { expr: 'len(body.items) > ', message: m }\n    retry: { until: 'status ==== 1' }\n";
        let found = errors(text);
        assert_eq!(found.len(), 4, "{found:?}");
        assert!(
            found.iter().any(|e| e.starts_with("6:") && e.contains("`when` of step `get` does not parse")),
            "{found:?}"
        );
        assert!(found.iter().any(|e| e.starts_with("9:") && e.contains("assertion of step `get`")), "{found:?}");
        assert!(found.iter().any(|e| e.contains("`retry.until`")), "{found:?}");
    }

    #[test]
    fn valid_templates_and_paths_pass() {
        let text = "name: t\nenv:\n  BASE: http://127.0.0.1\nsteps:\n  - id: get\n    action: http\n    config: { url: '${BASE}/users/${user_id:-1}', headers: { x-id: '{{ uuid() }}' } }\n    assert: [status == 200, body.email endsWith \"@x.io\" and not (len(body.items) == 0)]\n    output:\n      id: $.body.items[0].id\n      name: body.name\n";
        let (flow, diagnostics) = check_flow(text, "ok.yaml");
        assert!(flow.is_some(), "{diagnostics}");
    }
}
