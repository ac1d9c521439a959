//! The `log` action: writes a message into the step's log at a chosen level.

use serde::Deserialize;
use serde::de::{Deserializer, Error as _};
use testmesh_plugin_sdk::{Action, Context, Descriptor, Error, Value, json, log};

/// The `log` action.
pub struct Log;

/// The configuration of one `log` step.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// What to write: a string as it is, anything else JSON-encoded.
    pub message: Value,
    /// The level, `info` by default.
    #[serde(default)]
    pub level: Level,
}

/// The level a message is written at.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Level {
    /// Diagnostics.
    Debug,
    /// Normal progress.
    #[default]
    Info,
    /// Something surprising.
    Warn,
    /// Something failed.
    Error,
}

impl Level {
    /// The level's name as flows write it.
    pub fn name(self) -> &'static str {
        match self {
            Level::Debug => "debug",
            Level::Info => "info",
            Level::Warn => "warn",
            Level::Error => "error",
        }
    }
}

impl<'de> Deserialize<'de> for Level {
    /// Any case, and `warning` for `warn`.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        match text.trim().to_ascii_lowercase().as_str() {
            "debug" => Ok(Level::Debug),
            "info" => Ok(Level::Info),
            "warn" | "warning" => Ok(Level::Warn),
            "error" => Ok(Level::Error),
            _ => Err(D::Error::custom(format!("unknown level `{text}`: use debug, info, warn or error"))),
        }
    }
}

impl Action for Log {
    type Config = Config;

    fn describe() -> Descriptor {
        Descriptor::new("log", "0.1.0", "Writes a message into the step's log")
            .config_schema(json!({
                "$schema": "https://json-schema.org/draft/2020-12/schema",
                "title": "log",
                "type": "object",
                "additionalProperties": false,
                "required": ["message"],
                "properties": {
                    "message": { "description": "What to write: a string as it is, anything else JSON-encoded." },
                    "level": {
                        "enum": ["debug", "info", "warn", "error", "DEBUG", "INFO", "WARN", "ERROR", "warning", "WARNING"],
                        "default": "info"
                    }
                }
            }))
            .output_schema(json!({
                "$schema": "https://json-schema.org/draft/2020-12/schema",
                "type": "object",
                "required": ["message", "level", "logged"],
                "properties": {
                    "message": { "type": "string", "description": "The text written." },
                    "level": { "enum": ["debug", "info", "warn", "error"] },
                    "logged": { "const": true }
                }
            }))
    }

    fn run(_ctx: &Context, config: Config) -> Result<Value, Error> {
        let message = text(&config.message);
        match config.level {
            Level::Debug => log::debug(&message),
            Level::Info => log::info(&message),
            Level::Warn => log::warn(&message),
            Level::Error => log::error(&message),
        }
        Ok(json!({ "message": message, "level": config.level.name(), "logged": true }))
    }
}

/// A string as it is, anything else as JSON.
pub fn text(message: &Value) -> String {
    match message {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

testmesh_plugin_sdk::export_action!(Log);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_become_text() {
        assert_eq!(text(&json!("hello")), "hello");
        assert_eq!(text(&json!({"a": [1, null]})), r#"{"a":[1,null]}"#);
        assert_eq!(text(&json!(3.5)), "3.5");
        assert_eq!(text(&Value::Null), "null");
    }

    #[test]
    fn levels() {
        let parse = |config: Value| Error::parse_config::<Config>(&config.to_string());
        assert_eq!(parse(json!({"message": "m"})).map(|c| c.level), Ok(Level::Info));
        assert_eq!(parse(json!({"message": "m", "level": "WARNING"})).map(|c| c.level), Ok(Level::Warn));
        assert_eq!(parse(json!({"message": "m", "level": "debug"})).map(|c| c.level), Ok(Level::Debug));
        let err = parse(json!({"message": "m", "level": "loud"})).expect_err("unknown");
        assert!(
            matches!(&err, Error::InvalidConfig { path, message } if path == "/level" && message.contains("loud")),
            "{err:?}"
        );
        let err = parse(json!({"level": "info"})).expect_err("missing");
        assert!(matches!(&err, Error::InvalidConfig { message, .. } if message.contains("message")), "{err:?}");
    }
}
