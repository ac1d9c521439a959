//! The `transform` action: builds new values from an input with JSONPath queries and literals, so that
//! later steps and assertions can use them by name.

pub mod spec;

use serde::Deserialize;
use serde_json::Map;
use spec::Spec;
use testmesh_plugin_sdk::{Action, Context, Descriptor, Error, Value, json};

/// The `transform` action.
pub struct Transform;

/// The configuration of one `transform` step.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The value queried; a string holding JSON is parsed first (what `${step.body}` often gives).
    #[serde(default)]
    pub input: Value,
    /// Output key → specification (see [`spec`]).
    #[serde(default)]
    pub transforms: Option<Map<String, Value>>,
    /// Another name for `transforms`.
    #[serde(default)]
    pub mapping: Option<Map<String, Value>>,
}

impl Config {
    /// The specifications with the name the step gave them under (`transforms` or `mapping`).
    fn specs(&self) -> Result<(&'static str, &Map<String, Value>), Error> {
        match (&self.transforms, &self.mapping) {
            (Some(_), Some(_)) => {
                Err(Error::config("/mapping", "`mapping` is another name for `transforms`: keep one"))
            }
            (Some(transforms), None) => Ok(("transforms", transforms)),
            (None, Some(mapping)) => Ok(("mapping", mapping)),
            (None, None) => {
                Err(Error::config("/transforms", "missing `transforms`: a map of output key → JSONPath or value"))
            }
        }
    }
}

impl Action for Transform {
    type Config = Config;

    fn describe() -> Descriptor {
        Descriptor::new("transform", "0.1.0", "Builds new values from an input with JSONPath queries and literals")
            .config_schema(json!({
                "$schema": "https://json-schema.org/draft/2020-12/schema",
                "title": "transform",
                "type": "object",
                "additionalProperties": false,
                "properties": {
                    "input": { "description": "The value queried; a string holding JSON is parsed first." },
                    "transforms": { "type": "object", "description": "Output key → RFC 9535 JSONPath over `input` ($.a.b, or TestMesh's $a.b), or a literal value. $$ starts a literal text with $." },
                    "mapping": { "type": "object", "description": "Another name for `transforms`." }
                },
                "oneOf": [{ "required": ["transforms"] }, { "required": ["mapping"] }]
            }))
            .output_schema(json!({
                "$schema": "https://json-schema.org/draft/2020-12/schema",
                "type": "object",
                "description": "One key per transform: a path's single match, a list of several matches, null for none, or the literal."
            }))
    }

    fn run(_ctx: &Context, config: Config) -> Result<Value, Error> {
        transform(&config)
    }
}

/// Computes every output key of `config`, reporting a malformed path at `/transforms/<key>`.
pub fn transform(config: &Config) -> Result<Value, Error> {
    let (field, specs) = config.specs()?;
    let input = parse_embedded_json(&config.input);
    let mut output = Map::new();
    for (key, spec) in specs {
        let spec =
            Spec::parse(spec).map_err(|message| Error::config(format!("/{field}/{}", pointer_token(key)), message))?;
        output.insert(key.clone(), spec.evaluate(&input));
    }
    Ok(Value::Object(output))
}

/// A string holding an object or array is parsed; any other value is used as it is.
fn parse_embedded_json(input: &Value) -> Value {
    match input {
        Value::String(text) => match serde_json::from_str::<Value>(text) {
            Ok(parsed @ (Value::Object(_) | Value::Array(_))) => parsed,
            _ => input.clone(),
        },
        other => other.clone(),
    }
}

/// A map key as a JSON Pointer token (`~` → `~0`, `/` → `~1`).
fn pointer_token(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

testmesh_plugin_sdk::export_action!(Transform);

#[cfg(test)]
mod tests {
    use super::*;

    fn run(config: Value) -> Result<Value, Error> {
        transform(&Error::parse_config::<Config>(&config.to_string())?)
    }

    #[test]
    fn builds_new_keys() {
        let out = run(json!({
            "input": {"user": {"id": 7, "roles": ["a", "b"]}},
            "transforms": {"id": "$.user.id", "roles": "$user.roles[*]", "source": "api", "n": 1, "none": "$.x"}
        }))
        .expect("valid");
        assert_eq!(out, json!({"id": 7, "roles": ["a", "b"], "source": "api", "n": 1, "none": null}));
    }

    #[test]
    fn string_input_holding_json_is_parsed() {
        let out = run(json!({"input": "{\"a\": {\"b\": 2}}", "mapping": {"b": "$.a.b"}})).expect("valid");
        assert_eq!(out, json!({"b": 2}));
        let out = run(json!({"input": "just text", "mapping": {"all": "$"}})).expect("valid");
        assert_eq!(out, json!({"all": "just text"}));
    }

    #[test]
    fn malformed_path_points_at_its_key() {
        let err = run(json!({"input": {}, "transforms": {"a/b": "$.x[", "ok": "$.y"}})).expect_err("malformed");
        assert!(matches!(&err, Error::InvalidConfig { path, .. } if path == "/transforms/a~1b"), "{err:?}");
        let err = run(json!({"input": {}, "mapping": {"k": "$["}})).expect_err("malformed");
        assert!(matches!(&err, Error::InvalidConfig { path, .. } if path == "/mapping/k"), "{err:?}");
    }

    #[test]
    fn transforms_are_required_once() {
        let err = run(json!({"input": {}})).expect_err("missing");
        assert!(matches!(&err, Error::InvalidConfig { path, .. } if path == "/transforms"), "{err:?}");
        let err = run(json!({"transforms": {}, "mapping": {}})).expect_err("both");
        assert!(matches!(&err, Error::InvalidConfig { path, .. } if path == "/mapping"), "{err:?}");
        let err = run(json!({"transforms": {}, "inputs": {}})).expect_err("typo");
        assert!(matches!(&err, Error::InvalidConfig { message, .. } if message.contains("inputs")), "{err:?}");
    }
}
