//! The built-in `redis` action, run in the real sandbox against a real Redis: each command's output,
//! expiries, the raw `command` form, TestMesh's `action: redis.<operation>` form, errors and grants.
//! Every key of a test starts with a random prefix and is deleted when the test ends.

mod common;

use common::{context, grants, load, redis_url, run, sandbox};
use serde_json::{Value, json};
use std::sync::Arc;
use testmesh::sandbox::{ActionInput, CallError, CallOptions, Grants, Plugin, Sandbox, Session};

/// The plugin, a session, `redis:*` and a key prefix of one test; its keys are deleted on drop.
struct Redis {
    url: String,
    prefix: String,
    _sandbox: Sandbox,
    plugin: Arc<Plugin>,
    session: Session,
    grants: Arc<Grants>,
}

impl Redis {
    /// `None` (the test is skipped) when Redis is down outside CI.
    async fn new() -> Option<Redis> {
        let url = redis_url().await?;
        let sandbox = sandbox();
        let plugin = load(&sandbox, "redis").await;
        let session = sandbox.session();
        let prefix = format!("testmesh-test:{}:", uuid::Uuid::new_v4().simple());
        Some(Redis { url, prefix, _sandbox: sandbox, plugin, session, grants: grants(&["redis:*"]) })
    }

    fn key(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }

    /// Runs `command` with `fields` (the server's `url` is added).
    async fn call(&self, command: &str, fields: Value) -> Result<Value, CallError> {
        let mut config = fields;
        config["url"] = json!(self.url);
        config["command"] = json!(command);
        run(&self.session, &self.plugin, &self.grants, config, &CallOptions::default()).await.result
    }

    async fn ok(&self, command: &str, fields: Value) -> Value {
        let description = format!("{command} {fields}");
        self.call(command, fields).await.unwrap_or_else(|e| panic!("{description}: {e}"))
    }

    /// Runs TestMesh's `action: redis.<operation>` form: the command comes as the operation.
    async fn operation(&self, operation: &str, fields: Value) -> Result<Value, CallError> {
        let mut config = fields;
        config["url"] = json!(self.url);
        let context = context();
        let input = ActionInput { context: &context, operation: Some(operation), config: &config };
        self.session.run_action(&self.plugin, &self.grants, input, &CallOptions::default()).await.result
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let Ok(client) = redis::Client::open(self.url.as_str()) else { return };
        let Ok(mut connection) = client.get_connection() else { return };
        let keys: Vec<String> =
            redis::cmd("KEYS").arg(format!("{}*", self.prefix)).query(&mut connection).unwrap_or_default();
        if !keys.is_empty() {
            let _: redis::RedisResult<i64> = redis::cmd("DEL").arg(&keys).query(&mut connection);
        }
    }
}

#[tokio::test]
async fn set_then_get_returns_the_value_and_its_ttl() {
    let Some(r) = Redis::new().await else { return };
    let key = r.key("greeting");
    let set = r.ok("set", json!({"key": key, "value": "hello", "ttl": 60})).await;
    assert_eq!(set, json!({"command": "set", "result": "OK", "ok": true}));

    let got = r.ok("get", json!({"key": key})).await;
    assert_eq!(got, json!({"command": "get", "result": "hello", "value": "hello", "exists": true, "json": null}));

    let ttl = r.ok("ttl", json!({"key": key})).await;
    let seconds = ttl["ttl"].as_i64().expect("ttl is a number");
    assert!((1..=60).contains(&seconds), "ttl {seconds}");
    assert_eq!(ttl["exists"], true);
}

#[tokio::test]
async fn set_json_value_is_stored_as_json_text_and_parsed_on_get() {
    let Some(r) = Redis::new().await else { return };
    let key = r.key("user");
    r.ok("set", json!({"key": key, "value": {"id": 7, "roles": ["admin"]}})).await;
    let got = r.ok("get", json!({"key": key})).await;
    assert_eq!(got["value"], "{\"id\":7,\"roles\":[\"admin\"]}");
    assert_eq!(got["json"], json!({"id": 7, "roles": ["admin"]}));

    r.ok("set", json!({"key": key, "value": 42})).await;
    assert_eq!(r.ok("get", json!({"key": key})).await["value"], "42");
}

#[tokio::test]
async fn get_of_a_missing_key_is_null_and_not_existing() {
    let Some(r) = Redis::new().await else { return };
    let got = r.ok("get", json!({"key": r.key("missing")})).await;
    assert_eq!(got, json!({"command": "get", "result": null, "value": null, "exists": false, "json": null}));
}

#[tokio::test]
async fn exists_counts_keys_and_del_removes_them() {
    let Some(r) = Redis::new().await else { return };
    let (a, b, missing) = (r.key("a"), r.key("b"), r.key("missing"));
    r.ok("set", json!({"key": a, "value": "1"})).await;
    r.ok("set", json!({"key": b, "value": "2"})).await;

    let exists = r.ok("exists", json!({"key": a, "keys": [b, missing]})).await;
    assert_eq!((exists["exists"].clone(), exists["count"].clone()), (json!(true), json!(2)));

    let deleted = r.ok("del", json!({"keys": [a, b, missing]})).await;
    assert_eq!(deleted, json!({"command": "del", "result": 2, "deleted": 2}));

    let exists = r.ok("exists", json!({"key": a})).await;
    assert_eq!((exists["exists"].clone(), exists["count"].clone()), (json!(false), json!(0)));
}

#[tokio::test]
async fn expire_sets_a_ttl_that_ttl_reports() {
    let Some(r) = Redis::new().await else { return };
    let key = r.key("session");
    r.ok("set", json!({"key": key, "value": "token"})).await;
    assert_eq!(r.ok("ttl", json!({"key": key})).await["ttl"], -1, "no expiry yet");

    let expired = r.ok("expire", json!({"key": key, "seconds": 100})).await;
    assert_eq!(expired, json!({"command": "expire", "result": 1, "applied": true}));
    let ttl = r.ok("ttl", json!({"key": key})).await["ttl"].as_i64().expect("ttl");
    assert!((1..=100).contains(&ttl), "ttl {ttl}");

    // A duration string with milliseconds uses PEXPIRE.
    assert_eq!(r.ok("expire", json!({"key": key, "ttl": "90500ms"})).await["applied"], true);
    let ttl = r.ok("ttl", json!({"key": key})).await["ttl"].as_i64().expect("ttl");
    assert!((1..=91).contains(&ttl), "ttl {ttl}");

    let missing = r.ok("expire", json!({"key": r.key("missing"), "ttl": 10})).await;
    assert_eq!(missing["applied"], false);
    let ttl = r.ok("ttl", json!({"key": r.key("missing")})).await;
    assert_eq!((ttl["ttl"].clone(), ttl["exists"].clone()), (json!(-2), json!(false)));
}

#[tokio::test]
async fn incr_counts_up_and_refuses_a_non_integer() {
    let Some(r) = Redis::new().await else { return };
    let key = r.key("counter");
    let mut values = Vec::new();
    for _ in 0..3 {
        values.push(r.ok("incr", json!({"key": key})).await["value"].clone());
    }
    assert_eq!(values, [json!(1), json!(2), json!(3)]);

    let text = r.key("text");
    r.ok("set", json!({"key": text, "value": "abc"})).await;
    let error = r.call("incr", json!({"key": text})).await.expect_err("not an integer");
    assert!(matches!(error, CallError::Failed(_)), "{error:?}");
    let message = error.to_string();
    assert!(message.starts_with(&format!("redis INCR {text} on {}: redis error:", r.url)), "{message}");
    assert!(message.contains("not an integer"), "{message}");
}

#[tokio::test]
async fn hash_fields_are_set_read_one_by_one_and_all_together() {
    let Some(r) = Redis::new().await else { return };
    let key = r.key("profile");
    let added = r.ok("hset", json!({"key": key, "fields": {"name": "alice", "age": 30}})).await;
    assert_eq!(added, json!({"command": "hset", "result": 2, "added": 2}));
    assert_eq!(r.ok("hset", json!({"key": key, "field": "city", "value": "Paris"})).await["added"], 1);
    assert_eq!(r.ok("hset", json!({"key": key, "field": "city", "value": "Lyon"})).await["added"], 0, "overwrite");

    let name = r.ok("hget", json!({"key": key, "field": "name"})).await;
    assert_eq!((name["value"].clone(), name["exists"].clone()), (json!("alice"), json!(true)));
    let age = r.ok("hget", json!({"key": key, "field": "age"})).await;
    assert_eq!((age["value"].clone(), age["json"].clone()), (json!("30"), json!(30)));
    let none = r.ok("hget", json!({"key": key, "field": "nope"})).await;
    assert_eq!((none["value"].clone(), none["exists"].clone()), (Value::Null, json!(false)));

    let all = r.ok("hgetall", json!({"key": key})).await;
    assert_eq!(all["value"], json!({"name": "alice", "age": "30", "city": "Lyon"}));
    assert_eq!(r.ok("hgetall", json!({"key": r.key("missing")})).await["value"], json!({}));
}

#[tokio::test]
async fn hgetall_is_an_object_over_resp3_too() {
    let Some(r) = Redis::new().await else { return };
    let key = r.key("resp3");
    r.ok("hset", json!({"key": key, "fields": {"a": "1", "b": "2"}})).await;
    let config =
        json!({"url": format!("{}/?protocol=resp3", r.url.trim_end_matches('/')), "command": "hgetall", "key": key});
    let output =
        run(&r.session, &r.plugin, &r.grants, config, &CallOptions::default()).await.result.expect("RESP3 connection");
    assert_eq!(output["value"], json!({"a": "1", "b": "2"}));
}

#[tokio::test]
async fn lpush_prepends_and_lrange_reads_ranges() {
    let Some(r) = Redis::new().await else { return };
    let key = r.key("queue");
    let pushed = r.ok("lpush", json!({"key": key, "values": ["a", "b", "c"]})).await;
    assert_eq!(pushed, json!({"command": "lpush", "result": 3, "length": 3}));
    assert_eq!(r.ok("lpush", json!({"key": key, "value": {"job": 1}})).await["length"], 4);

    let all = r.ok("lrange", json!({"key": key})).await;
    assert_eq!(all["value"], json!(["{\"job\":1}", "c", "b", "a"]));
    let middle = r.ok("lrange", json!({"key": key, "start": 1, "stop": 2})).await;
    assert_eq!(middle["value"], json!(["c", "b"]));
    assert_eq!(r.ok("lrange", json!({"key": r.key("missing")})).await["value"], json!([]));
}

#[tokio::test]
async fn xadd_appends_stream_entries_and_returns_their_ids() {
    let Some(r) = Redis::new().await else { return };
    let key = r.key("events");
    let explicit = r.ok("xadd", json!({"key": key, "id": "1-1", "fields": {"event": "signup", "user": "alice"}})).await;
    assert_eq!(explicit, json!({"command": "xadd", "result": "1-1", "id": "1-1"}));

    let generated = r.ok("xadd", json!({"key": key, "field": "event", "value": "login"})).await;
    let id = generated["id"].as_str().expect("id");
    let (millis, sequence) = id.split_once('-').expect("<ms>-<seq>");
    assert!(millis.parse::<u64>().is_ok() && sequence.parse::<u64>().is_ok(), "{id}");

    let entries = r.ok("command", json!({"args": ["XRANGE", key, "-", "+"]})).await;
    assert_eq!(entries["result"], json!([["1-1", ["event", "signup", "user", "alice"]], [id, ["event", "login"]]]));
    assert_eq!(r.ok("command", json!({"args": ["XLEN", key]})).await["result"], 2);
}

#[tokio::test]
async fn raw_command_sends_args_as_they_are() {
    let Some(r) = Redis::new().await else { return };
    assert_eq!(r.ok("command", json!({"args": ["PING"]})).await, json!({"command": "command", "result": "PONG"}));
    let key = r.key("raw");
    assert_eq!(r.ok("command", json!({"args": ["SET", key, 5, "NX"]})).await["result"], "OK");
    assert_eq!(r.ok("command", json!({"args": ["SET", key, 6, "NX"]})).await["result"], Value::Null, "NX refused");
    assert_eq!(r.ok("command", json!({"args": ["INCRBY", key, 10]})).await["result"], 15);
    assert_eq!(r.ok("command", json!({"args": ["MGET", key, r.key("missing")]})).await["result"], json!(["15", null]));

    let error = r.call("command", json!({"args": ["NOSUCHCOMMAND", "x"]})).await.expect_err("unknown command");
    assert!(error.to_string().contains("unknown command"), "{error}");
}

#[tokio::test]
async fn testmesh_operation_form_chooses_the_command() {
    let Some(r) = Redis::new().await else { return };
    let key = r.key("op");
    let set = r.operation("set", json!({"key": key, "value": "from-operation"})).await.expect("redis.set");
    assert_eq!(set["ok"], true);
    let got = r.operation("get", json!({"key": key})).await.expect("redis.get");
    assert_eq!((got["command"].clone(), got["value"].clone()), (json!("get"), json!("from-operation")));
    let same = r.operation("GET", json!({"key": key, "command": "get"})).await.expect("agreeing command");
    assert_eq!(same["value"], "from-operation");

    match r.operation("get", json!({"key": key, "command": "set", "value": "x"})).await {
        Err(CallError::InvalidConfig { path, message }) => {
            assert_eq!(path, "/command");
            assert!(message.contains("contradicts the operation of `action: redis.get`"), "{message}");
        }
        other => panic!("expected InvalidConfig, got {other:?}"),
    }
    match r.operation("flushall", json!({})).await {
        Err(CallError::InvalidConfig { path, message }) => {
            assert_eq!(path, "", "the operation is not in the config");
            assert!(message.contains("unknown command `flushall`"), "{message}");
        }
        other => panic!("expected InvalidConfig, got {other:?}"),
    }
    assert_eq!(r.ok("get", json!({"key": key})).await["value"], "from-operation", "nothing else was written");
}

#[tokio::test]
async fn invalid_config_points_at_the_field() {
    let Some(r) = Redis::new().await else { return };
    let cases = [
        ("get", json!({}), "/key", "needs a `key`"),
        ("get", json!({"key": "k", "value": "v"}), "/value", "does not use `value`"),
        ("set", json!({"key": "k"}), "/value", "needs a `value`"),
        ("set", json!({"key": "k", "value": "v", "ttl": 1, "seconds": 1}), "/seconds", "keep one"),
        ("expire", json!({"key": "k"}), "/ttl", "needs `ttl`"),
        ("command", json!({"args": []}), "/args", "needs `args`"),
        ("nope", json!({}), "/command", "unknown command `nope`"),
    ];
    for (command, fields, expected_path, expected_text) in cases {
        let description = format!("{command} {fields}");
        match r.call(command, fields).await {
            Err(CallError::InvalidConfig { path, message }) => {
                assert_eq!(path, expected_path, "{description}");
                assert!(message.contains(expected_text), "{description}: {message}");
            }
            other => panic!("{description}: expected InvalidConfig, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn redis_without_a_grant_is_denied_without_showing_the_password() {
    let sandbox = sandbox();
    let plugin = load(&sandbox, "redis").await;
    let config = json!({"url": "redis://:hunter2-pw@127.0.0.1:6379/0", "command": "get", "key": "k"});
    let report = run(&sandbox.session(), &plugin, &grants(&["sql:*", "http:*"]), config, &CallOptions::default()).await;
    let error = report.result.expect_err("not granted");
    assert!(matches!(error, CallError::Failed(_)), "{error:?}");
    let text = error.to_string();
    assert!(text.contains("redis on redis://127.0.0.1:6379/0 is not granted to plugin redis@0.1.0"), "{text}");
    assert!(text.starts_with("redis GET k on redis://:***@127.0.0.1:6379/0: "), "{text}");
    assert!(!text.contains("hunter2-pw"), "the password leaked: {text}");
    assert!(report.logs.iter().any(|l| l.message.contains("not granted")), "denial not logged");
}

#[tokio::test]
async fn unreachable_server_fails_with_a_connection_error() {
    let sandbox = sandbox();
    let plugin = load(&sandbox, "redis").await;
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("address").port();
    let config = json!({"host": "127.0.0.1", "port": port, "command": "command", "args": ["PING"]});
    let error = run(&sandbox.session(), &plugin, &grants(&["redis:*"]), config, &CallOptions::default())
        .await
        .result
        .expect_err("nothing listens");
    let text = error.to_string();
    assert!(text.starts_with(&format!("redis PING on redis://127.0.0.1:{port}: cannot connect")), "{text}");
}
