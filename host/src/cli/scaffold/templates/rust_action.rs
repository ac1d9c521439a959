//! {{name}}: a testmesh action written in Rust. `describe` tells testmesh what the plugin is and
//! which config it takes; `run` does the work and returns the step's output as a JSON object.

wit_bindgen::generate!({ world: "action", path: "wit" });

// The world's own types (`Descriptor`, `PluginError`, `ActionCall`) are generated at the top level.
use serde_json::{Value, json};
use testmesh::plugin::log::write;
use testmesh::plugin::types::{ConfigProblem, Level, PluginKind};

struct Plugin;

impl Guest for Plugin {
    fn describe() -> Descriptor {
        Descriptor {
            name: "{{name}}".into(),
            version: "0.1.0".into(),
            kind: PluginKind::Action,
            summary: "Greets someone (replace with what your action does)".into(),
            config_schema: json!({
                "type": "object",
                "required": ["name"],
                "additionalProperties": false,
                "properties": { "name": { "type": "string", "description": "Who to greet." } }
            })
            .to_string(),
            output_schema: json!({ "type": "object", "properties": { "message": { "type": "string" } } }).to_string(),
            aliases: vec![],
            operations: vec![],
            // Ask for `http`, `sql`, `redis` or `env` here, with the reason an administrator reads.
            capabilities: vec![],
        }
    }

    fn run(call: ActionCall) -> Result<String, PluginError> {
        let config: Value = serde_json::from_str(&call.config).map_err(|e| PluginError::Failed(e.to_string()))?;
        let Some(name) = config.get("name").and_then(Value::as_str) else {
            return Err(PluginError::InvalidConfig(ConfigProblem {
                path: "/name".into(),
                message: "name is required".into(),
            }));
        };
        write(Level::Info, &format!("greeting {name} in step {}", call.context.step_id));
        Ok(json!({ "message": format!("hello, {name}") }).to_string())
    }
}

export!(Plugin);
