//! Explains an expression that did not hold by evaluating its parts separately, so that a failure
//! shows what was really there: ``expected `status == 201` but status is 404``.
//!
//! - A comparison or word operator (`==`, `<`, `in`, `contains`, …) shows both operands, literals
//!   left out.
//! - An `&&` chain points at its first false conjunct and explains that one.
//! - An `||` chain explains each alternative.
//! - Anything else (`!x`, a call, a macro) shows the variables and member paths it reads.
//!
//! A part that cannot be evaluated (a missing key, a macro's iteration variable) is replaced by the
//! longest prefix of its path that can (`body` when `body.email` is missing), or left out.

use crate::eval::Scope;
use crate::translate::{BinaryOp, Expr, ExprKind};
use crate::values;
use serde_json::Value as Json;

/// What a failed expression looked at.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Explanation {
    /// The source text of the `&&` conjunct that was false, when the expression is such a chain.
    pub failed_part: Option<String>,
    /// Each operand's source text and value, in the order they appear.
    pub operands: Vec<(String, Json)>,
}

impl Explanation {
    /// Explains why `ast` (parsed from `source`) did not evaluate to `true` in `scope`.
    pub fn of(source: &str, ast: &Expr, scope: &Scope) -> Self {
        let mut explanation = Explanation::default();
        explanation.explain(source, ast, scope, true);
        explanation
    }

    fn explain(&mut self, source: &str, ast: &Expr, scope: &Scope, top: bool) {
        match &ast.kind {
            ExprKind::Binary { op: BinaryOp::And, .. } => {
                let mut conjuncts = Vec::new();
                flatten(ast, BinaryOp::And, &mut conjuncts);
                let results: Vec<Option<cel::Value>> = conjuncts.iter().map(|c| scope.evaluate(c).ok()).collect();
                let culprit = results
                    .iter()
                    .position(|r| *r == Some(cel::Value::Bool(false)))
                    .or_else(|| results.iter().position(|r| *r != Some(cel::Value::Bool(true))));
                match culprit.map(|i| conjuncts[i]) {
                    Some(part) => {
                        if top {
                            self.failed_part = Some(part.source_text(source).to_string());
                        }
                        self.explain(source, part, scope, false);
                    }
                    None => self.paths(source, ast, scope),
                }
            }
            ExprKind::Binary { op: BinaryOp::Or, .. } => {
                let mut alternatives = Vec::new();
                flatten(ast, BinaryOp::Or, &mut alternatives);
                for alternative in alternatives {
                    self.explain(source, alternative, scope, false);
                }
            }
            ExprKind::Binary { op, left, right } if op.is_comparison() => {
                self.operand(source, left, scope);
                self.operand(source, right, scope);
            }
            _ => self.paths(source, ast, scope),
        }
    }

    /// Records an operand's value; when it cannot be evaluated, the values it is built from.
    fn operand(&mut self, source: &str, expr: &Expr, scope: &Scope) {
        if expr.is_constant() {
            return;
        }
        match scope.evaluate(expr) {
            Ok(value) => self.record(expr.source_text(source), values::to_json(&value)),
            Err(_) if is_path(expr) => self.path_prefix(source, expr, scope),
            Err(_) => self.paths(source, expr, scope),
        }
    }

    /// Records the value of every variable and member path `expr` reads.
    fn paths(&mut self, source: &str, expr: &Expr, scope: &Scope) {
        let mut paths = Vec::new();
        collect_paths(expr, &mut paths);
        for path in paths {
            self.path_prefix(source, path, scope);
        }
    }

    /// Records the value of `path`, or of its longest prefix that can be evaluated.
    fn path_prefix(&mut self, source: &str, path: &Expr, scope: &Scope) {
        let mut current = path;
        loop {
            if let Ok(value) = scope.evaluate(current) {
                self.record(current.source_text(source), values::to_json(&value));
                return;
            }
            match &current.kind {
                ExprKind::Member { target, .. } | ExprKind::Index { target, .. } => current = target,
                _ => return,
            }
        }
    }

    fn record(&mut self, text: &str, value: Json) {
        if !self.operands.iter().any(|(known, _)| known == text) {
            self.operands.push((text.to_string(), value));
        }
    }

    /// The operands as prose: `status is 404 and body.name is "bob"`; empty when there are none.
    pub fn values(&self) -> String {
        let parts: Vec<String> =
            self.operands.iter().map(|(text, value)| format!("{text} is {}", values::show(value))).collect();
        parts.join(" and ")
    }

    /// The operands as the verdict's `actual`: an object mapping each operand's source text to its
    /// value.
    pub fn actual(&self) -> Json {
        Json::Object(self.operands.iter().cloned().collect())
    }

    /// The failure message for the expression `source` that evaluated to `false`.
    pub fn failure_message(&self, source: &str) -> String {
        let values = self.values();
        match (&self.failed_part, values.is_empty()) {
            (Some(part), false) => format!("expected `{source}` but `{part}` is false: {values}"),
            (Some(part), true) => format!("expected `{source}` but `{part}` is false"),
            (None, false) => format!("expected `{source}` but {values}"),
            (None, true) => format!("expected `{source}` to be true but it is false"),
        }
    }
}

/// The operands of a chain of one associative operator (`a && b && c` → `[a, b, c]`).
fn flatten<'e>(expr: &'e Expr, op: BinaryOp, out: &mut Vec<&'e Expr>) {
    match &expr.kind {
        ExprKind::Binary { op: found, left, right } if *found == op => {
            flatten(left, op, out);
            flatten(right, op, out);
        }
        _ => out.push(expr),
    }
}

/// Whether `expr` is a variable followed by fields and constant indexes (`body.items[0].id`).
fn is_path(expr: &Expr) -> bool {
    match &expr.kind {
        ExprKind::Ident(_) => true,
        ExprKind::Member { target, .. } => is_path(target),
        ExprKind::Index { target, index, .. } => is_path(target) && index.is_constant(),
        _ => false,
    }
}

/// The maximal paths (see [`is_path`]) inside `expr`, in source order.
fn collect_paths<'e>(expr: &'e Expr, out: &mut Vec<&'e Expr>) {
    if is_path(expr) {
        out.push(expr);
        return;
    }
    expr.children().for_each(|child| collect_paths(child, out));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval;
    use serde_json::json;

    fn explain(source: &str, subject: Json) -> Explanation {
        let Ok(compiled) = eval::compile(source) else { panic!("`{source}` does not compile") };
        let scope = Scope::new(&subject, [compiled.program.as_ref()]);
        Explanation::of(source, &compiled.ast, &scope)
    }

    #[test]
    fn a_comparison_shows_its_non_literal_operands() {
        let e = explain("status == 201", json!({"status": 404}));
        assert_eq!(e.failure_message("status == 201"), "expected `status == 201` but status is 404");
        assert_eq!(e.actual(), json!({"status": 404}));
    }

    #[test]
    fn a_word_operator_shows_both_sides() {
        let source = r#"body.name contains prefix"#;
        let e = explain(source, json!({"body": {"name": "bob"}, "prefix": "al"}));
        assert_eq!(e.values(), r#"body.name is "bob" and prefix is "al""#);
    }

    #[test]
    fn an_and_chain_points_at_its_first_false_conjunct() {
        let source = "status == 200 and body.id == 7 && body.ok";
        let e = explain(source, json!({"status": 200, "body": {"id": 8, "ok": false}}));
        assert_eq!(e.failure_message(source), format!("expected `{source}` but `body.id == 7` is false: body.id is 8"));
        assert_eq!(e.actual(), json!({"body.id": 8}));
    }

    #[test]
    fn other_forms_show_the_paths_they_read() {
        let e = explain("!body.deleted", json!({"body": {"deleted": true}}));
        assert_eq!(e.failure_message("!body.deleted"), "expected `!body.deleted` but body.deleted is true");
        let e = explain("body.items.exists(i, i.id == 7)", json!({"body": {"items": [{"id": 1}]}}));
        assert_eq!(e.actual(), json!({"body.items": [{"id": 1}]}));
        let e = explain("a > 1 || len(b) == 2", json!({"a": 0, "b": [1]}));
        assert_eq!(e.actual(), json!({"a": 0, "len(b)": 1}));
    }

    #[test]
    fn a_missing_key_falls_back_to_the_longest_readable_prefix() {
        let e = explain(r#"body.email endsWith "@x.org""#, json!({"body": {"name": "al"}}));
        assert_eq!(e.actual(), json!({"body": {"name": "al"}}));
    }

    #[test]
    fn nothing_to_show_says_so_plainly() {
        let e = explain("1 == 2", json!({}));
        assert_eq!(e.failure_message("1 == 2"), "expected `1 == 2` to be true but it is false");
    }
}
