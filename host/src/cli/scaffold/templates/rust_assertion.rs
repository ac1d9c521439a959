//! {{name}}: a testmesh assertion written in Rust. The host sends the step's output (`subject`) and
//! one config per check; `check` returns one verdict per check, in order.

wit_bindgen::generate!({ world: "assertion", path: "wit" });

// The world's own types (`Descriptor`, `PluginError`, `AssertionCall`, `Verdict`) are generated at
// the top level.
use serde_json::{Value, json};
use testmesh::plugin::types::{ConfigProblem, PluginKind};

struct Plugin;

impl Guest for Plugin {
    fn describe() -> Descriptor {
        Descriptor {
            name: "{{name}}".into(),
            version: "0.1.0".into(),
            kind: PluginKind::Assertion,
            summary: "Checks that a field of the output equals a value (replace with your check)".into(),
            config_schema: json!({
                "type": "object",
                "required": ["path", "equals"],
                "additionalProperties": false,
                "properties": {
                    "path": { "type": "string", "description": "Dotted path in the output (`body.id`)." },
                    "equals": { "description": "The value expected there." }
                }
            })
            .to_string(),
            output_schema: "{}".into(),
            aliases: vec![],
            operations: vec![],
            capabilities: vec![],
        }
    }

    fn check(call: AssertionCall) -> Result<Vec<Verdict>, PluginError> {
        let subject: Value = serde_json::from_str(&call.subject).map_err(|e| PluginError::Failed(e.to_string()))?;
        let mut verdicts = Vec::new();
        for (index, text) in call.checks.iter().enumerate() {
            let config: Value = serde_json::from_str(text).map_err(|e| PluginError::Failed(e.to_string()))?;
            let Some(path) = config.get("path").and_then(Value::as_str) else {
                return Err(PluginError::InvalidConfig(ConfigProblem {
                    path: format!("/{index}/path"),
                    message: "path is required".into(),
                }));
            };
            let expected = config.get("equals").cloned().unwrap_or(Value::Null);
            let actual = path.split('.').try_fold(&subject, |value, key| match value {
                Value::Array(items) => key.parse::<usize>().ok().and_then(|i| items.get(i)),
                other => other.get(key),
            });
            let passed = actual == Some(&expected);
            let message = match actual {
                _ if passed => format!("{path} is {expected}"),
                Some(found) => format!("{path}: expected {expected}, found {found}"),
                None => format!("{path}: not found"),
            };
            verdicts.push(Verdict { passed, message, actual: json!({ path: actual }).to_string() });
        }
        Ok(verdicts)
    }
}

export!(Plugin);
