//! The built-in `expr` assertion: each check is a CEL expression over the step's output, with the
//! infix spellings of TestMesh's expr-lang accepted too (`body.name contains "a"`, `and`, `not`,
//! `len(x)`, `nil`).
//!
//! Every top-level key of the subject is a variable (`status`, `body`, `headers`, `duration_ms`,
//! `rows`, `response`, `vars`, `steps`, …). A check passes when its expression evaluates to `true`;
//! on failure the message shows the values of the expression's operands.
//!
//! The host sends all of a step's expressions in one call; compiled programs are cached for the life
//! of the instance (see [`eval`]).

pub mod eval;
pub mod report;
/// The parser and CEL translation, shared with the host's flow validation.
pub use testmesh_expr_syntax as translate;
pub mod values;
pub mod verdict;

use serde::Deserialize;
use testmesh_plugin_sdk::{Assertion, Context, Descriptor, Error, Value, Verdict, json};

/// One check's configuration.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The expression, in CEL or with expr-lang's spellings.
    pub expr: String,
    /// A message shown instead of the generated one when the check fails (the actual values are
    /// appended to it).
    #[serde(default)]
    pub message: Option<String>,
}

/// The `expr` assertion plugin.
pub struct Expr;

impl Assertion for Expr {
    type Config = Config;

    fn describe() -> Descriptor {
        Descriptor::new("expr", "0.1.0", "Checks that a CEL expression (expr-lang spellings accepted) is true of the step's output")
            .config_schema(json!({
                "$schema": "https://json-schema.org/draft/2020-12/schema",
                "type": "object",
                "properties": {
                    "expr": {
                        "type": "string",
                        "minLength": 1,
                        "description": "A CEL expression that must evaluate to true, e.g. `status == 200`; expr-lang's `contains`, `startsWith`, `endsWith`, `matches`, `and`, `or`, `not`, `not in`, `len(x)` and `nil` are accepted."
                    },
                    "message": {
                        "type": "string",
                        "description": "Shown instead of the generated message when the check fails; the actual values are appended."
                    }
                },
                "required": ["expr"],
                "additionalProperties": false
            }))
            .output_schema(json!({
                "description": "On failure: the source text of each operand mapped to its value (`{\"status\": 404}`); null on success.",
                "type": ["object", "null"]
            }))
    }

    fn check(ctx: &Context, subject: &Value, config: Config) -> Result<Verdict, Error> {
        let verdicts = Self::check_all(ctx, subject, vec![config])?;
        verdicts.into_iter().next().ok_or_else(|| Error::failed("no verdict was produced"))
    }

    fn check_all(_ctx: &Context, subject: &Value, configs: Vec<Config>) -> Result<Vec<Verdict>, Error> {
        let compiled = configs
            .iter()
            .enumerate()
            .map(|(index, config)| {
                eval::compile(&config.expr).map_err(|e| Error::config(format!("/{index}/expr"), e.to_string()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let scope = eval::Scope::new(subject, compiled.iter().map(|c| c.program.as_ref()));
        Ok(compiled
            .iter()
            .zip(&configs)
            .map(|(expression, config)| verdict::judge(expression, &scope, config.message.as_deref()))
            .collect())
    }
}

testmesh_plugin_sdk::export_assertion!(Expr);

#[cfg(test)]
mod tests {
    use super::*;

    fn check(subject: &Value, exprs: &[&str]) -> Result<Vec<Verdict>, Error> {
        let configs = exprs.iter().map(|e| Config { expr: e.to_string(), message: None }).collect();
        Expr::check_all(&Context::default(), subject, configs)
    }

    fn http_output() -> Value {
        let output = json!({
            "status": 200,
            "headers": {"content-type": "application/json; charset=utf-8", "x-request-id": "abc"},
            "body": {
                "name": "alice",
                "email": "alice@example.com",
                "items": [{"id": 7, "price": 9.5}, {"id": 8, "price": 12}],
                "deleted": false,
                "note": null
            },
            "duration_ms": 123,
            "url": "http://127.0.0.1:3000/users/1",
            "content_type": "application/json",
            "x": "present"
        });
        let mut subject = output.clone();
        subject["response"] = output;
        subject["vars"] = json!({"BASE": "http://127.0.0.1:3000"});
        subject["steps"] = json!({"login": {"status": 200, "body": {"token": "t"}}});
        subject
    }

    #[test]
    fn realistic_http_assertions_pass() {
        let exprs = [
            "status == 200",
            "body.items[0].id == 7",
            r#"headers["content-type"] contains "json""#,
            "len(body.items) > 0",
            "duration_ms < 500",
            r#"body.email endsWith "@example.com""#,
            r#"body.name matches "^a""#,
            "x != nil",
            "body.note == nil",
            r#"body.name startsWith "al" and not body.deleted"#,
            r#"status in [200, 201] && body.name not in ["bob"]"#,
            "body.items[1].price > body.items[0].price",
            "body.items.all(i, i.id > 0) && body.items.exists(i, i.price == 12)",
            "response.status == status && steps.login.body.token == 't'",
            r#"url.startsWith(vars.BASE)"#,
            "has(body.email) ? body.email.size() > 3 : false",
        ];
        let verdicts = check(&http_output(), &exprs).map_err(|e| e.to_string());
        let Ok(verdicts) = verdicts else { panic!("{verdicts:?}") };
        for (expr, verdict) in exprs.iter().zip(&verdicts) {
            assert!(verdict.passed, "{expr}: {}", verdict.message);
        }
    }

    #[test]
    fn one_verdict_per_check_in_order() {
        let verdicts = check(&http_output(), &["status == 200", "status == 201", "body"]).map_err(|e| e.to_string());
        let passed: Vec<bool> = verdicts.iter().flatten().map(|v| v.passed).collect();
        assert_eq!(passed, [true, false, false]);
    }

    #[test]
    fn failures_show_actual_values() {
        let Ok(verdicts) = check(
            &http_output(),
            &[
                "status == 201",
                r#"body.name contains "bob""#,
                "len(body.items) > 2",
                r#"headers["content-type"] == "text/plain""#,
            ],
        ) else {
            panic!("check failed")
        };
        let messages: Vec<&str> = verdicts.iter().map(|v| v.message.as_str()).collect();
        assert_eq!(
            messages,
            [
                "expected `status == 201` but status is 200",
                r#"expected `body.name contains "bob"` but body.name is "alice""#,
                "expected `len(body.items) > 2` but len(body.items) is 2",
                r#"expected `headers["content-type"] == "text/plain"` but headers["content-type"] is "application/json; charset=utf-8""#,
            ]
        );
        assert_eq!(verdicts[2].actual, json!({"len(body.items)": 2}));
    }

    #[test]
    fn evaluation_errors_fail_the_check_not_the_call() {
        let Ok(verdicts) = check(&http_output(), &["body.nope == 1", "status == 'x' + 1"]) else {
            panic!("check failed")
        };
        assert!(verdicts.iter().all(|v| !v.passed));
        assert!(verdicts[0].message.contains("No such key: nope"), "{}", verdicts[0].message);
        assert!(
            verdicts[1].message.starts_with("`status == 'x' + 1` could not be evaluated"),
            "{}",
            verdicts[1].message
        );
    }

    #[test]
    fn a_bad_expression_is_a_config_error_pointing_at_it() {
        let error = check(&http_output(), &["status == 200", "status == == 1"]);
        assert_eq!(
            error,
            Err(Error::config("/1/expr", "the expression does not parse: column 11: expected a value but found `==`"))
        );
    }

    #[test]
    fn unknown_config_fields_are_refused() {
        let error = Error::parse_config::<Config>(r#"{"expr": "true", "exp": 1}"#);
        assert!(matches!(error, Err(Error::InvalidConfig { .. })), "{error:?}");
    }

    #[test]
    fn the_descriptor_names_the_plugin_and_requires_expr() {
        let descriptor = Expr::describe();
        assert_eq!(descriptor.name, "expr");
        assert_eq!(descriptor.config_schema["required"], json!(["expr"]));
    }
}
