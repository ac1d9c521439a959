//! The `redis` action: runs one Redis command (`get`, `set`, `hset`, `xadd`, … or any command through
//! `command`) on a server the administrator granted. TestMesh's `action: redis.get` form works too.

pub mod command;
pub mod config;
pub mod output;
mod schema;

use command::{ALL, Command};
use config::Config;
use testmesh_plugin_sdk::{Action, Context, Descriptor, Error, Value, redact, redis};

/// The `redis` action.
pub struct Redis;

impl Action for Redis {
    type Config = Config;

    fn describe() -> Descriptor {
        let operations: Vec<&str> = ALL.iter().map(|(_, name)| *name).collect();
        Descriptor::new("redis", "0.1.0", "Runs one Redis command and returns its reply")
            .config_schema(schema::config())
            .output_schema(schema::output())
            .operations(&operations)
            .capability(
                "redis",
                "Runs the commands that flows give, on the Redis servers named in their steps' config.",
            )
    }

    fn run(ctx: &Context, config: Config) -> Result<Value, Error> {
        let command = Command::choose(config.command.as_deref(), ctx.operation.as_deref())?;
        let args = command.args(&config)?;
        let url = config.server_url()?;
        let reply = redis::command(&url, &args).map_err(|message| {
            Error::failed(format!("redis {} on {}: {message}", describe_args(&args), redact::connection(&url)))
        })?;
        Ok(output::output(command, reply))
    }
}

/// The command and its first argument (usually the key) for error messages; values are left out.
fn describe_args(args: &[String]) -> String {
    args.iter().take(2).cloned().collect::<Vec<_>>().join(" ")
}

testmesh_plugin_sdk::export_action!(Redis);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describes_itself() {
        let d = Redis::describe();
        assert_eq!((d.name.as_str(), d.version.as_str()), ("redis", "0.1.0"));
        assert!(d.operations.iter().any(|o| o == "get") && d.operations.iter().any(|o| o == "xadd"));
        assert_eq!(d.capabilities[0].capability, "redis");
    }

    #[test]
    fn error_messages_leave_values_out() {
        assert_eq!(describe_args(&["SET".into(), "k".into(), "secret".into()]), "SET k");
    }
}
