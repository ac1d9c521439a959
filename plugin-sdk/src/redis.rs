//! Redis commands on the servers an administrator granted (the `redis` interface, actions only).

use crate::action::bindings::testmesh::plugin::redis as wit_redis;
use serde_json::Value;

/// Sends one command (`["GET", "key"]`) to the server at `url` and returns its reply as JSON.
/// The error text says whether the server was denied, unreachable or answered with an error.
pub fn command<S: AsRef<str>>(url: &str, args: &[S]) -> Result<Value, String> {
    let args: Vec<String> = args.iter().map(|a| a.as_ref().to_string()).collect();
    match wit_redis::command(url, &args) {
        Ok(reply) => serde_json::from_str(&reply).map_err(|e| format!("host returned a reply that is not JSON: {e}")),
        Err(wit_redis::Error::Denied(m)) => Err(m),
        Err(wit_redis::Error::Connection(m)) => Err(format!("cannot connect: {m}")),
        Err(wit_redis::Error::Command(m)) => Err(format!("redis error: {m}")),
    }
}
