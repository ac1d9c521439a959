//! Which step outputs a flow can refer to later. A finished step's output is kept for later steps
//! only when its id appears somewhere a reference can be written — a template, an expression, a
//! `with` — so that a long flow's memory holds its results, not every response it received.
//!
//! The scan is deliberately coarse: every word of every string and expression counts (an id inside
//! a string literal, `steps["create-user"]`, is kept too). Missing a reference would break a
//! flow; keeping an unused output only costs memory.

use crate::flow::{Assertion, Flow, ForEachItems, RangeBound, Step, StepKind};
use serde_json::Value;
use std::collections::HashSet;

/// The words of a flow that may name a step: runs of `[A-Za-z0-9_-]` in its templates and
/// expressions.
pub(crate) fn words(flow: &Flow) -> HashSet<String> {
    let mut words = HashSet::new();
    for variable in &flow.env {
        value_words(&variable.value, &mut words);
    }
    for step in flow.setup.iter().chain(&flow.steps).chain(&flow.teardown) {
        step_words(step, &mut words);
    }
    words
}

fn step_words(step: &Step, words: &mut HashSet<String>) {
    if let Some(when) = &step.when {
        text_words(&when.text, words);
    }
    if let Some(until) = step.retry.as_ref().and_then(|r| r.until.as_ref()) {
        text_words(&until.text, words);
    }
    for assertion in &step.assert {
        match assertion {
            Assertion::Expr { expr, .. } => text_words(&expr.text, words),
            Assertion::Plugin { with, .. } => value_words(&with.value, words),
        }
    }
    match &step.kind {
        StepKind::Action { config, .. } => value_words(&config.value, words),
        StepKind::ForEach { items, steps, .. } => {
            match items {
                ForEachItems::Template(expr) => text_words(&expr.text, words),
                ForEachItems::List(list) => value_words(&list.value, words),
                ForEachItems::Range { from, to, .. } => {
                    for bound in [from, to] {
                        if let RangeBound::Template(expr) = bound {
                            text_words(&expr.text, words);
                        }
                    }
                }
            }
            steps.iter().for_each(|s| step_words(s, words));
        }
        StepKind::Parallel { branches, .. } => branches.iter().flatten().for_each(|s| step_words(s, words)),
        StepKind::If { condition, then_steps, else_steps } => {
            text_words(&condition.text, words);
            then_steps.iter().chain(else_steps).for_each(|s| step_words(s, words));
        }
        StepKind::RunFlow { with, .. } => value_words(&with.value, words),
    }
}

fn value_words(value: &Value, words: &mut HashSet<String>) {
    match value {
        Value::String(text) => text_words(text, words),
        Value::Array(items) => items.iter().for_each(|v| value_words(v, words)),
        Value::Object(map) => map.values().for_each(|v| value_words(v, words)),
        _ => {}
    }
}

fn text_words(text: &str, words: &mut HashSet<String>) {
    for word in text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-')) {
        if !word.is_empty() && !words.contains(word) {
            words.insert(word.to_string());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::words;
    use crate::flow::parse_flow;

    #[test]
    fn ids_used_in_templates_expressions_and_string_keys_are_found() {
        let flow = parse_flow(
            r#"
name: refs
steps:
  - id: create-user
    action: log
    config: { message: hi }
  - id: unused
    action: log
    config: { message: "${create-user.message}" }
  - id: check
    action: log
    config: { message: x }
    assert: [ 'steps["quoted-id"].status == 200' ]
"#,
            "refs.yaml",
        )
        .expect("flow");
        let words = words(&flow);
        assert!(words.contains("create-user"));
        assert!(words.contains("quoted-id"));
        assert!(!words.contains("unused"));
    }
}
