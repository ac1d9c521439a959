//! Turns one expression's result into a verdict: `true` passes; `false`, any other value, or an
//! evaluation error fails, with a message that shows the operands' actual values.

use crate::eval::{Compiled, Scope};
use crate::report::Explanation;
use crate::values;
use serde_json::{Value as Json, json};
use testmesh_plugin_sdk::Verdict;

/// Judges one compiled expression in `scope`. `custom` is the check's own failure message, shown
/// instead of the generated one, with the details appended.
pub fn judge(compiled: &Compiled, scope: &Scope, custom: Option<&str>) -> Verdict {
    let source = compiled.source.as_str();
    let (detail, actual) = match scope.run(&compiled.program) {
        // Operands are only evaluated on failure: passing checks are the hot path.
        Ok(cel::Value::Bool(true)) => return Verdict::pass(format!("`{source}` is true"), Json::Null),
        Ok(cel::Value::Bool(false)) => {
            let explanation = Explanation::of(source, &compiled.ast, scope);
            let detail = match custom {
                Some(_) => explanation.values(),
                None => explanation.failure_message(source),
            };
            (detail, explanation.actual())
        }
        Ok(other) => {
            let value = values::to_json(&other);
            let detail =
                format!("`{source}` returned {} {}, not a boolean", values::type_name(&other), values::show(&value));
            (detail, json!({ source: value }))
        }
        Err(error) => {
            let explanation = Explanation::of(source, &compiled.ast, scope);
            let values = explanation.values();
            let mut detail = format!("`{source}` could not be evaluated: {error}");
            if !values.is_empty() {
                detail = format!("{detail}; {values}");
            }
            (detail, explanation.actual())
        }
    };
    let message = match custom {
        Some(custom) if detail.is_empty() => custom.to_string(),
        Some(custom) => format!("{custom} ({detail})"),
        None => detail,
    };
    Verdict::fail(message, actual)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval;

    fn judge_on(source: &str, subject: Json, custom: Option<&str>) -> Verdict {
        let Ok(compiled) = eval::compile(source) else { panic!("`{source}` does not compile") };
        let scope = Scope::new(&subject, [compiled.program.as_ref()]);
        judge(&compiled, &scope, custom)
    }

    #[test]
    fn true_passes_without_computing_operands() {
        let verdict = judge_on("status == 200", json!({"status": 200}), None);
        assert_eq!(verdict, Verdict::pass("`status == 200` is true", Json::Null));
    }

    #[test]
    fn false_fails_with_the_operands() {
        let verdict = judge_on("status == 201", json!({"status": 404}), None);
        assert_eq!(verdict, Verdict::fail("expected `status == 201` but status is 404", json!({"status": 404})));
    }

    #[test]
    fn a_custom_message_gets_the_values_appended() {
        let verdict = judge_on("duration_ms < 500", json!({"duration_ms": 812}), Some("too slow"));
        assert_eq!(verdict.message, "too slow (duration_ms is 812)");
        let verdict = judge_on("false", json!({}), Some("never"));
        assert_eq!(verdict.message, "never");
    }

    #[test]
    fn a_non_boolean_result_fails_with_its_type_and_value() {
        let verdict = judge_on("body.count", json!({"body": {"count": 5}}), None);
        assert_eq!(verdict, Verdict::fail("`body.count` returned int 5, not a boolean", json!({"body.count": 5})));
    }

    #[test]
    fn an_evaluation_error_is_a_failed_verdict_with_cel_text() {
        let verdict = judge_on("body.missing == 1", json!({"body": {"id": 1}}), None);
        assert!(!verdict.passed);
        assert_eq!(
            verdict.message,
            r#"`body.missing == 1` could not be evaluated: No such key: missing; body is {"id":1}"#
        );
        assert_eq!(verdict.actual, json!({"body": {"id": 1}}));
        let verdict = judge_on("status + 'x' == 1", json!({"status": 1}), None);
        assert!(verdict.message.starts_with("`status + 'x' == 1` could not be evaluated: "), "{}", verdict.message);
    }
}
