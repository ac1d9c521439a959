//! The `delay` action: waits for a duration, within the time the step has left.

use serde::Deserialize;
use std::time::{Duration, Instant};
use testmesh_plugin_sdk::{Action, Context, Descriptor, Error, Value, duration, json};

/// The `delay` action.
pub struct Delay;

/// The configuration of one `delay` step.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// How long to wait: milliseconds, or a duration string (`250ms`, `1m30s`).
    #[serde(with = "testmesh_plugin_sdk::duration")]
    pub duration: Duration,
}

impl Action for Delay {
    type Config = Config;

    fn describe() -> Descriptor {
        Descriptor::new("delay", "0.1.0", "Waits for a duration")
            .config_schema(json!({
                "$schema": "https://json-schema.org/draft/2020-12/schema",
                "title": "delay",
                "type": "object",
                "additionalProperties": false,
                "required": ["duration"],
                "properties": { "duration": duration::json_schema("How long to wait.") }
            }))
            .output_schema(json!({
                "$schema": "https://json-schema.org/draft/2020-12/schema",
                "type": "object",
                "required": ["duration_ms", "duration", "completed"],
                "properties": {
                    "duration_ms": { "type": "integer", "description": "Milliseconds actually waited." },
                    "duration": { "type": "string", "description": "The requested duration, as text (TestMesh)." },
                    "completed": { "const": true }
                }
            }))
    }

    fn run(ctx: &Context, config: Config) -> Result<Value, Error> {
        check_fits(config.duration, ctx.time_left())?;
        let started = Instant::now();
        std::thread::sleep(config.duration);
        Ok(output(config.duration, started.elapsed()))
    }
}

/// Refuses a delay the step's deadline would cut short.
pub fn check_fits(wanted: Duration, time_left: Duration) -> Result<(), Error> {
    if wanted > time_left {
        return Err(Error::failed(format!(
            "cannot wait {}: only {} are left before the step's timeout; raise the step's `timeout`",
            duration::format(wanted),
            duration::format(time_left)
        )));
    }
    Ok(())
}

/// The step's output after waiting `actual` for a requested `wanted`.
pub fn output(wanted: Duration, actual: Duration) -> Value {
    json!({
        "duration_ms": u64::try_from(actual.as_millis()).unwrap_or(u64::MAX),
        "duration": duration::format(wanted),
        "completed": true,
    })
}

testmesh_plugin_sdk::export_action!(Delay);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_numbers_and_strings() {
        let c: Config = Error::parse_config(r#"{"duration": 250}"#).expect("valid");
        assert_eq!(c.duration, Duration::from_millis(250));
        let c: Config = Error::parse_config(r#"{"duration": "1m30s"}"#).expect("valid");
        assert_eq!(c.duration, Duration::from_secs(90));
        let err = Error::parse_config::<Config>(r#"{"duration": "later"}"#).expect_err("invalid");
        assert!(matches!(err, Error::InvalidConfig { path, .. } if path == "/duration"));
        let err = Error::parse_config::<Config>("{}").expect_err("missing");
        assert!(matches!(err, Error::InvalidConfig { message, .. } if message.contains("duration")));
    }

    #[test]
    fn refuses_delays_beyond_the_deadline() {
        assert_eq!(check_fits(Duration::from_secs(1), Duration::from_secs(2)), Ok(()));
        let err = check_fits(Duration::from_secs(60), Duration::from_millis(9500)).expect_err("too long");
        assert_eq!(
            err,
            Error::failed("cannot wait 1m: only 9.5s are left before the step's timeout; raise the step's `timeout`")
        );
    }

    #[test]
    fn output_shape() {
        assert_eq!(
            output(Duration::from_millis(1500), Duration::from_micros(1_500_900)),
            json!({"duration_ms": 1500, "duration": "1.5s", "completed": true})
        );
    }

    #[test]
    fn run_sleeps() {
        let ctx = Context { deadline_ms: 10_000, ..Context::default() };
        let out = Delay::run(&ctx, Config { duration: Duration::from_millis(20) }).expect("runs");
        assert!(out["duration_ms"].as_u64().is_some_and(|ms| ms >= 20), "{out}");
    }
}
