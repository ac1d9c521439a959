//! The `assert` action: TestMesh's `action: assert` step, which judges `assertions` against `data`
//! without calling anything. The flow parser moves the step's `config.assertions` into its
//! `assert` list; this action makes `data` the step's output, so those assertions see its keys at
//! top level (`a == 1` for `data: {a: 1}`).

use serde::Deserialize;
use testmesh_plugin_sdk::{Action, Context, Descriptor, Error, Value, json};

/// The `assert` action.
pub struct Assert;

/// The configuration of one `assert` step.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The value to judge: an object becomes the output as it is; anything else is the output's
    /// `value`.
    #[serde(default)]
    pub data: Value,
}

impl Action for Assert {
    type Config = Config;

    fn describe() -> Descriptor {
        Descriptor::new("assert", "0.1.0", "Makes `data` the step's output for its assertions to judge")
            .config_schema(json!({
                "$schema": "https://json-schema.org/draft/2020-12/schema",
                "title": "assert",
                "type": "object",
                "additionalProperties": false,
                "properties": {
                    "data": { "description": "The value to judge; an object's keys are names in the step's assertions." }
                }
            }))
            .output_schema(json!({
                "$schema": "https://json-schema.org/draft/2020-12/schema",
                "type": "object",
                "description": "`data` when it is an object, else `{value: data}`."
            }))
    }

    fn run(_ctx: &Context, config: Config) -> Result<Value, Error> {
        Ok(output(config.data))
    }
}

/// The output for `data`: itself when an object (assertions name its keys), else `{value: data}`.
fn output(data: Value) -> Value {
    match data {
        Value::Object(_) => data,
        other => json!({ "value": other }),
    }
}

testmesh_plugin_sdk::export_action!(Assert);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn objects_are_the_output_and_other_values_its_value() {
        assert_eq!(output(json!({"a": 1})), json!({"a": 1}));
        assert_eq!(output(json!([1, 2])), json!({"value": [1, 2]}));
        assert_eq!(output(Value::Null), json!({"value": null}));
    }
}
