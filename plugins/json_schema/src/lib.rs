//! The built-in `json_schema` assertion: validates the step's output, or a part of it chosen with a
//! JSONPath, against a JSON Schema.
//!
//! By default the subject's `body` is validated (the whole subject when it has none). The draft is
//! taken from the schema's `$schema` (2020-12 when absent), `format` is asserted, and remote `$ref`s
//! are not fetched: assertions have no network access.

pub mod schema;
pub mod target;

use serde::Deserialize;
use serde_json_path::JsonPath;
use target::Selection;
use testmesh_plugin_sdk::{Assertion, Context, Descriptor, Error, Value, Verdict, json};

/// One check's configuration.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The JSON Schema (an object or a boolean).
    pub schema: Value,
    /// An RFC 9535 JSONPath into the subject choosing what to validate (`$.body.items[*]`).
    #[serde(default)]
    pub path: Option<String>,
}

/// The `json_schema` assertion plugin.
pub struct JsonSchema;

impl Assertion for JsonSchema {
    type Config = Config;

    fn describe() -> Descriptor {
        Descriptor::new("json_schema", "0.1.0", "Validates the step's output (or a JSONPath selection of it) against a JSON Schema")
            .config_schema(json!({
                "$schema": "https://json-schema.org/draft/2020-12/schema",
                "type": "object",
                "properties": {
                    "schema": {
                        "type": ["object", "boolean"],
                        "description": "The JSON Schema to validate against; the draft follows `$schema` (2020-12 by default) and `format` is asserted."
                    },
                    "path": {
                        "type": "string",
                        "minLength": 1,
                        "description": "An RFC 9535 JSONPath into the step's output choosing the value to validate (default: `body`, or the whole output when it has none). Several matches are validated as a list."
                    }
                },
                "required": ["schema"],
                "additionalProperties": false
            }))
            .output_schema(json!({ "description": "The value that was validated." }))
    }

    fn check(ctx: &Context, subject: &Value, config: Config) -> Result<Verdict, Error> {
        let verdicts = Self::check_all(ctx, subject, vec![config])?;
        verdicts.into_iter().next().ok_or_else(|| Error::failed("no verdict was produced"))
    }

    /// Overridden only to know each check's index, so that configuration errors point at it.
    fn check_all(_ctx: &Context, subject: &Value, configs: Vec<Config>) -> Result<Vec<Verdict>, Error> {
        configs.iter().enumerate().map(|(index, config)| check_one(subject, config, index)).collect()
    }
}

/// Judges one check, the `index`-th of the call.
fn check_one(subject: &Value, config: &Config, index: usize) -> Result<Verdict, Error> {
    let validator = schema::compile(&config.schema)
        .map_err(|e| Error::config(format!("/{index}/schema{}", e.pointer), e.message))?;
    let target = match &config.path {
        None => target::default_target(subject),
        Some(text) => {
            let path = JsonPath::parse(text)
                .map_err(|e| Error::config(format!("/{index}/path"), format!("not a valid JSONPath: {e}")))?;
            match target::select(subject, &path, text) {
                Selection::Found(target) => target,
                Selection::Nothing => {
                    return Ok(Verdict::fail(format!("`{text}` matched nothing in the step's output"), Value::Null));
                }
            }
        }
    };
    let (listed, more) = schema::violations(&validator, &target.value);
    if listed.is_empty() {
        return Ok(Verdict::pass(format!("{} matches the schema", target.name), target.value));
    }
    let count = listed.len() + more;
    let mut message =
        format!("{} does not match the schema ({count} error{}):", target.name, if count == 1 { "" } else { "s" });
    for line in &listed {
        message.push_str("\n  ");
        message.push_str(line);
    }
    if more > 0 {
        message.push_str(&format!("\n  … and {more} more"));
    }
    Ok(Verdict::fail(message, target.value))
}

testmesh_plugin_sdk::export_assertion!(JsonSchema);

#[cfg(test)]
mod tests {
    use super::*;

    fn check(subject: &Value, configs: Vec<Value>) -> Result<Vec<Verdict>, Error> {
        let configs = configs
            .into_iter()
            .map(|c| Error::parse_config::<Config>(&c.to_string()))
            .collect::<Result<Vec<_>, _>>()?;
        JsonSchema::check_all(&Context::default(), subject, configs)
    }

    fn user_schema() -> Value {
        json!({
            "type": "object",
            "required": ["id", "email"],
            "properties": {"id": {"type": "integer"}, "email": {"type": "string", "format": "email"}}
        })
    }

    #[test]
    fn a_matching_body_passes() {
        let subject = json!({"status": 201, "body": {"id": 7, "email": "a@example.com"}});
        let verdicts = check(&subject, vec![json!({"schema": user_schema()})]);
        assert_eq!(
            verdicts,
            Ok(vec![Verdict::pass("body matches the schema", json!({"id": 7, "email": "a@example.com"}))])
        );
    }

    #[test]
    fn violations_are_listed_with_their_instance_path() {
        let subject = json!({"body": {"id": "x", "email": "nope"}});
        let Ok(verdicts) = check(&subject, vec![json!({"schema": user_schema()})]) else { panic!("check failed") };
        assert!(!verdicts[0].passed);
        let message = &verdicts[0].message;
        assert!(message.starts_with("body does not match the schema (2 errors):\n  "), "{message}");
        assert!(message.contains(r#"/email: "nope" is not a "email""#), "{message}");
        assert!(verdicts[0].message.contains(r#"/id: "x" is not of type "integer""#), "{}", verdicts[0].message);
        assert_eq!(verdicts[0].actual, json!({"id": "x", "email": "nope"}));
    }

    #[test]
    fn more_than_ten_violations_are_counted() {
        let subject = json!({"body": vec![json!("a"); 12]});
        let Ok(verdicts) = check(&subject, vec![json!({"schema": {"items": {"type": "integer"}}})]) else {
            panic!("check failed")
        };
        assert!(verdicts[0].message.starts_with("body does not match the schema (12 errors):"));
        assert!(verdicts[0].message.ends_with("\n  … and 2 more"), "{}", verdicts[0].message);
    }

    #[test]
    fn a_path_selects_what_is_validated() {
        let subject = json!({"body": {"items": [{"id": 1}, {"id": "2"}]}});
        let schema = json!({"type": "array", "items": {"type": "integer"}});
        let Ok(verdicts) = check(&subject, vec![json!({"schema": schema, "path": "$.body.items[*].id"})]) else {
            panic!("check failed")
        };
        assert_eq!(
            verdicts[0].message,
            "`$.body.items[*].id` (2 matches) does not match the schema (1 error):\n  /1: \"2\" is not of type \"integer\""
        );
        assert_eq!(verdicts[0].actual, json!([1, "2"]));
    }

    #[test]
    fn a_path_matching_nothing_fails_the_check() {
        let Ok(verdicts) = check(&json!({"body": {}}), vec![json!({"schema": true, "path": "$.body.missing"})]) else {
            panic!("check failed")
        };
        assert_eq!(verdicts, vec![Verdict::fail("`$.body.missing` matched nothing in the step's output", Value::Null)]);
    }

    #[test]
    fn without_a_body_the_whole_subject_is_validated() {
        let subject = json!({"rows": [], "row_count": 0});
        let schema = json!({"required": ["rows"], "properties": {"row_count": {"const": 0}}});
        let verdicts = check(&subject, vec![json!({"schema": schema})]);
        assert!(matches!(verdicts.as_deref(), Ok([v]) if v.passed && v.message == "the subject matches the schema"));
    }

    #[test]
    fn configuration_errors_point_at_the_check() {
        let subject = json!({"body": {}});
        let bad_schema = check(&subject, vec![json!({"schema": true}), json!({"schema": {"minimum": "zero"}})]);
        assert!(
            matches!(&bad_schema, Err(Error::InvalidConfig { path, .. }) if path == "/1/schema/minimum"),
            "{bad_schema:?}"
        );
        let bad_path = check(&subject, vec![json!({"schema": true, "path": "$[?"})]);
        assert!(matches!(&bad_path, Err(Error::InvalidConfig { path, .. }) if path == "/0/path"), "{bad_path:?}");
        let not_a_schema = check(&subject, vec![json!({"schema": 3})]);
        assert!(matches!(&not_a_schema, Err(Error::InvalidConfig { path, .. }) if path == "/0/schema"));
        let unknown = check(&subject, vec![json!({"schema": true, "paths": "$"})]);
        assert!(matches!(&unknown, Err(Error::InvalidConfig { .. })));
    }
}
