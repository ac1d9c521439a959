//! Expressions (`assert`, `when`, `if`, `retry.until`) are judged by the built-in `expr` assertion
//! plugin; this module builds what it judges — the *subject*, whose top-level keys are the names an
//! expression sees — and asks it.
//!
//! Names in scope (FLOW-FORMAT "Expressions"): the step's output keys at top level, `response` (the
//! same object), the run's variables and captures, `item`/`index` in loops, and `steps.<id>`. Only
//! the names an expression actually mentions are put in the subject: CEL cannot reach a variable it
//! does not name, and copying every earlier step's output into every check would make a long flow
//! quadratic.

use super::scope::Frame;
use serde_json::{Map, Value};
use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use testmesh_expr_syntax::{Expr, ExprKind};

/// The top-level identifiers of expressions, parsed once per text and remembered for the run.
#[derive(Default)]
pub(crate) struct Identifiers {
    cache: Mutex<HashMap<String, Arc<[String]>>>,
}

impl Identifiers {
    /// The identifiers `text` mentions (empty when it does not parse: the plugin reports that).
    pub fn of(&self, text: &str) -> Arc<[String]> {
        let mut cache = self.cache.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(found) = cache.get(text) {
            return found.clone();
        }
        let mut names = BTreeSet::new();
        if let Ok(expr) = testmesh_expr_syntax::parse(text) {
            collect(&expr, &mut names);
        }
        let names: Arc<[String]> = names.into_iter().collect();
        cache.insert(text.to_string(), names.clone());
        names
    }
}

fn collect(expr: &Expr, names: &mut BTreeSet<String>) {
    if let ExprKind::Ident(name) = &expr.kind {
        names.insert(name.clone());
    }
    expr.children().for_each(|child| collect(child, names));
}

/// Builds the subject for `texts` (the expressions judged together) as JSON text: each mentioned
/// name from the step's `output` first, then `response`, then `steps`, then the frame.
pub(crate) fn subject(identifiers: &Identifiers, texts: &[&str], output: Option<&Value>, frame: &Frame) -> String {
    let mut subject = Map::new();
    let mut wants_steps = false;
    for text in texts {
        for name in identifiers.of(text).iter() {
            if subject.contains_key(name) {
                continue;
            }
            let from_output = output.and_then(|o| o.get(name));
            if let Some(value) = from_output {
                subject.insert(name.clone(), value.clone());
            } else if name == "response"
                && let Some(output) = output
            {
                subject.insert(name.clone(), output.clone());
            } else if name == "steps" {
                wants_steps = true;
            } else if let Some(value) = frame.value_of(name) {
                subject.insert(name.clone(), value);
            }
        }
    }
    if wants_steps {
        // `steps["create-user"]` names a step in a string: include every step whose id the text
        // mentions anywhere.
        let mut steps = Map::new();
        for id in frame.step_ids() {
            if texts.iter().any(|text| text.contains(id.as_str()))
                && let Some(step) = frame.step(&id)
            {
                steps.insert(id, step.view());
            }
        }
        subject.insert("steps".into(), Value::Object(steps));
    }
    Value::Object(subject).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runner::scope::StepData;
    use serde_json::json;

    #[test]
    fn only_mentioned_names_are_in_the_subject_and_output_wins() {
        let vars = json!({"status": "var", "BASE": "b", "unused": "x"});
        let Value::Object(vars) = vars else { unreachable!() };
        let frame = Frame::root(vars);
        frame.record_step("login", StepData { output: Arc::new(json!({"status": 200})), captures: Map::new() });
        frame.record_step("other", StepData { output: Arc::new(json!({"status": 500})), captures: Map::new() });
        let output = json!({"status": 201, "body": {"id": 1}});
        let identifiers = Identifiers::default();
        let text = subject(
            &identifiers,
            &["status == 201 && BASE != ''", "steps.login.status == 200 && response.body.id == 1"],
            Some(&output),
            &frame,
        );
        let parsed: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            parsed,
            json!({"status": 201, "BASE": "b", "response": output, "steps": {"login": {"status": 200}}})
        );
    }

    #[test]
    fn identifiers_include_macro_targets_and_arguments() {
        let identifiers = Identifiers::default();
        let names = identifiers.of("body.items.exists(i, i.id == wanted) && size(tags) > 0");
        assert!(names.contains(&"body".to_string()));
        assert!(names.contains(&"wanted".to_string()));
        assert!(names.contains(&"tags".to_string()));
    }
}
