//! The `redis` capability: commands on the Redis servers the plugin was granted, over multiplexed
//! connections the host keeps per URL.

use crate::sandbox::bindings::action::testmesh::plugin::redis as wit_redis;
use crate::sandbox::state::HostState;
use redis::aio::MultiplexedConnection;
use serde_json::{Map, Value};
use std::collections::HashMap;
use wasmtime::component::{HasSelf, Linker};

/// Granted Redis servers by URL pattern (`redis:*`, `redis:redis://127.0.0.1:6379/*`).
pub type RedisGrant = super::UrlGrant;

/// Connections by URL, opened on first use.
#[derive(Default)]
pub(crate) struct RedisConnections {
    connections: tokio::sync::Mutex<HashMap<String, MultiplexedConnection>>,
}

impl RedisConnections {
    async fn get(&self, url: &str) -> Result<MultiplexedConnection, String> {
        let mut connections = self.connections.lock().await;
        if let Some(connection) = connections.get(url) {
            return Ok(connection.clone());
        }
        let client = redis::Client::open(url).map_err(|e| e.to_string())?;
        let connection = client.get_multiplexed_async_connection().await.map_err(|e| e.to_string())?;
        connections.insert(url.to_string(), connection.clone());
        Ok(connection)
    }

    async fn forget(&self, url: &str) {
        self.connections.lock().await.remove(url);
    }
}

pub(crate) fn link(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    wit_redis::add_to_linker::<HostState, HasSelf<HostState>>(linker, |state| state)
}

impl wit_redis::Host for HostState {
    async fn command(&mut self, url: String, args: Vec<String>) -> wasmtime::Result<Result<String, wit_redis::Error>> {
        if !self.scope.grants.redis.allows(&url) {
            let message =
                format!("redis on {} is not granted to plugin {}", super::without_credentials(&url), self.scope.plugin);
            self.scope.denials.record(message.clone());
            return Ok(Err(wit_redis::Error::Denied(message)));
        }
        let Some((name, rest)) = args.split_first() else {
            return Ok(Err(wit_redis::Error::Command("empty command".into())));
        };
        let mut connection = match self.shared.redis.get(&url).await {
            Ok(connection) => connection,
            Err(e) => return Ok(Err(wit_redis::Error::Connection(e))),
        };
        let reply: Result<redis::Value, redis::RedisError> =
            redis::cmd(name).arg(rest).query_async(&mut connection).await;
        Ok(match reply {
            Ok(value) => Ok(to_json(value).to_string()),
            Err(e) if e.is_io_error() || e.is_connection_dropped() => {
                self.shared.redis.forget(&url).await;
                Err(wit_redis::Error::Connection(e.to_string()))
            }
            Err(e) => Err(wit_redis::Error::Command(e.to_string())),
        })
    }
}

/// A Redis reply as JSON, as the WIT documents it.
fn to_json(value: redis::Value) -> Value {
    use redis::Value as R;
    match value {
        R::Nil => Value::Null,
        R::Int(i) => Value::from(i),
        R::BulkString(bytes) => Value::from(String::from_utf8_lossy(&bytes).into_owned()),
        R::Array(items) | R::Set(items) => Value::Array(items.into_iter().map(to_json).collect()),
        R::SimpleString(s) => Value::from(s),
        R::Okay => Value::from("OK"),
        R::Map(pairs) => Value::Object(
            pairs
                .into_iter()
                .map(|(k, v)| match to_json(k) {
                    Value::String(key) => (key, to_json(v)),
                    other => (other.to_string(), to_json(v)),
                })
                .collect::<Map<String, Value>>(),
        ),
        R::Attribute { data, .. } => to_json(*data),
        R::Double(f) => Value::from(f),
        R::Boolean(b) => Value::from(b),
        R::VerbatimString { text, .. } => Value::from(text),
        other => Value::from(format!("{other:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_map_to_json() {
        let reply = redis::Value::Array(vec![
            redis::Value::Nil,
            redis::Value::Int(3),
            redis::Value::BulkString(b"v".to_vec()),
            redis::Value::Okay,
        ]);
        assert_eq!(to_json(reply), serde_json::json!([null, 3, "v", "OK"]));
    }
}
