//! Redis commands on the servers an administrator granted (the `redis` interface, actions only).

use crate::action::bindings::testmesh::plugin::redis as wit_redis;
use serde_json::Value;

/// Why a command did not run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RedisError {
    /// The plugin was not granted this server (the text names it and the plugin).
    Denied(String),
    /// The server could not be reached.
    Connection(String),
    /// The server answered with an error reply (`WRONGTYPE …`).
    Command(String),
    /// The host answered with something this SDK does not understand.
    Protocol(String),
}

impl std::fmt::Display for RedisError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RedisError::Denied(m) => f.write_str(m),
            RedisError::Connection(m) => write!(f, "cannot connect: {m}"),
            RedisError::Command(m) => write!(f, "redis error: {m}"),
            RedisError::Protocol(m) => write!(f, "unexpected answer from the host: {m}"),
        }
    }
}

impl std::error::Error for RedisError {}

/// Sends one command (`["GET", "key"]`) to the server at `url` and returns its reply as JSON.
pub fn command<S: AsRef<str>>(url: &str, args: &[S]) -> Result<Value, RedisError> {
    let args: Vec<String> = args.iter().map(|a| a.as_ref().to_string()).collect();
    match wit_redis::command(url, &args) {
        Ok(reply) => {
            serde_json::from_str(&reply).map_err(|e| RedisError::Protocol(format!("a reply that is not JSON: {e}")))
        }
        Err(wit_redis::Error::Denied(m)) => Err(RedisError::Denied(m)),
        Err(wit_redis::Error::Connection(m)) => Err(RedisError::Connection(m)),
        Err(wit_redis::Error::Command(m)) => Err(RedisError::Command(m)),
    }
}
