//! Shapes a Redis reply into the step's output: always `result` and `command`, plus the keys that make
//! sense for the command (`value`, `exists`, `ttl`, …).

use crate::command::Command;
use serde_json::{Map, Value, json};

/// The step's output for `reply` to `command`.
pub fn output(command: Command, reply: Value) -> Value {
    let mut out = Map::new();
    match command {
        Command::Get | Command::Hget => {
            out.insert("exists".into(), json!(!reply.is_null()));
            out.insert("json".into(), parsed_json(&reply));
            out.insert("value".into(), reply.clone());
        }
        Command::Set => {
            out.insert("ok".into(), json!(reply == json!("OK")));
        }
        Command::Del => {
            out.insert("deleted".into(), reply.clone());
        }
        Command::Exists => {
            out.insert("exists".into(), json!(reply.as_i64().is_some_and(|n| n > 0)));
            out.insert("count".into(), reply.clone());
        }
        Command::Expire => {
            out.insert("applied".into(), json!(reply == json!(1)));
        }
        Command::Ttl => {
            out.insert("exists".into(), json!(reply != json!(-2)));
            out.insert("ttl".into(), reply.clone());
        }
        Command::Incr | Command::Lrange => {
            out.insert("value".into(), reply.clone());
        }
        Command::Hgetall => {
            out.insert("value".into(), Value::Object(hash(&reply)));
        }
        Command::Hset => {
            out.insert("added".into(), reply.clone());
        }
        Command::Lpush => {
            out.insert("length".into(), reply.clone());
        }
        Command::Xadd => {
            out.insert("id".into(), reply.clone());
        }
        Command::Raw => {}
    }
    out.insert("command".into(), json!(command.name()));
    out.insert("result".into(), reply);
    Value::Object(out)
}

/// A `HGETALL` reply as an object: RESP3 servers answer with a map, RESP2 with `[f1, v1, f2, v2, …]`.
fn hash(reply: &Value) -> Map<String, Value> {
    match reply {
        Value::Object(map) => map.clone(),
        Value::Array(items) => items
            .chunks(2)
            .filter_map(|pair| match pair {
                [field, value] => Some((crate::command::encode(field), value.clone())),
                _ => None,
            })
            .collect(),
        _ => Map::new(),
    }
}

/// A string reply parsed as JSON, when it is JSON; `null` otherwise.
fn parsed_json(reply: &Value) -> Value {
    reply.as_str().and_then(|s| serde_json::from_str(s).ok()).unwrap_or(Value::Null)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn get_reports_value_and_existence() {
        assert_eq!(
            output(Command::Get, json!("{\"a\":1}")),
            json!({"command": "get", "result": "{\"a\":1}", "value": "{\"a\":1}", "exists": true, "json": {"a": 1}})
        );
        assert_eq!(
            output(Command::Get, Value::Null),
            json!({"command": "get", "result": null, "value": null, "exists": false, "json": null})
        );
        assert_eq!(output(Command::Hget, json!("plain"))["json"], Value::Null);
    }

    #[test]
    fn counters_and_flags() {
        assert_eq!(output(Command::Set, json!("OK"))["ok"], json!(true));
        assert_eq!(output(Command::Set, Value::Null)["ok"], json!(false));
        assert_eq!(output(Command::Del, json!(2))["deleted"], json!(2));
        let exists = output(Command::Exists, json!(0));
        assert_eq!((exists["exists"].clone(), exists["count"].clone()), (json!(false), json!(0)));
        assert_eq!(output(Command::Exists, json!(3))["exists"], json!(true));
        assert_eq!(output(Command::Expire, json!(1))["applied"], json!(true));
        let ttl = output(Command::Ttl, json!(-2));
        assert_eq!((ttl["ttl"].clone(), ttl["exists"].clone()), (json!(-2), json!(false)));
        assert_eq!(output(Command::Ttl, json!(-1))["exists"], json!(true));
        assert_eq!(output(Command::Incr, json!(5))["value"], json!(5));
        assert_eq!(output(Command::Hset, json!(1))["added"], json!(1));
        assert_eq!(output(Command::Lpush, json!(4))["length"], json!(4));
        assert_eq!(output(Command::Xadd, json!("1-0"))["id"], json!("1-0"));
        assert_eq!(output(Command::Raw, json!("PONG")), json!({"command": "command", "result": "PONG"}));
    }

    #[test]
    fn hashes_and_lists() {
        assert_eq!(output(Command::Hgetall, json!(["a", "1", "b", "2"]))["value"], json!({"a": "1", "b": "2"}));
        assert_eq!(output(Command::Hgetall, json!({"a": "1"}))["value"], json!({"a": "1"}));
        assert_eq!(output(Command::Hgetall, json!([]))["value"], json!({}));
        assert_eq!(output(Command::Lrange, json!(["x", "y"]))["value"], json!(["x", "y"]));
    }
}
