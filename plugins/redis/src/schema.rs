//! What `describe` says about `redis`: its config and output schemas.

use crate::command::ALL;
use serde_json::{Value, json};

/// JSON Schema (draft 2020-12) of the step's `config`.
pub fn config() -> Value {
    let commands: Vec<String> =
        ALL.iter().flat_map(|(_, name)| [name.to_string(), name.to_ascii_uppercase()]).collect();
    let expiry = json!({
        "description": "Expiry for set/expire: a number of seconds, or a duration string (500ms, 10s, 1m).",
        "anyOf": [{ "type": "number", "exclusiveMinimum": 0 }, { "type": "string" }]
    });
    let number_or_text = json!({ "type": ["integer", "string"] });
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "redis",
        "type": "object",
        "additionalProperties": false,
        "properties": {
            "url": { "type": "string", "default": "redis://127.0.0.1:6379", "description": "Server URL: redis://[user:password@]host:port[/db] or rediss://…" },
            "host": { "type": "string", "description": "TestMesh: server host (instead of url)." },
            "port": number_or_text,
            "db": number_or_text,
            "username": { "type": "string" },
            "password": { "type": "string" },
            "command": { "enum": commands, "description": "The command; or use `action: redis.<command>`. `command` sends `args` as they are." },
            "key": { "type": "string" },
            "keys": { "type": "array", "items": { "type": "string" }, "description": "More keys, for del and exists." },
            "value": { "description": "Value for set, hset, lpush; JSON-encoded unless a string." },
            "values": { "type": "array", "description": "Values for lpush." },
            "field": { "type": "string", "description": "Hash field, for hget and hset." },
            "fields": { "type": "object", "description": "Field → value pairs, for hset and xadd." },
            "ttl": expiry,
            "seconds": expiry,
            "id": { "type": "string", "default": "*", "description": "Stream entry id for xadd." },
            "start": { "type": "integer", "default": 0 },
            "stop": { "type": "integer", "default": -1 },
            "args": { "type": "array", "items": { "type": ["string", "number", "boolean"] },
                      "description": "The whole command for `command`: [\"HDEL\", \"k\", \"f\"]." }
        },
        "not": { "anyOf": [{ "required": ["url", "host"] }, { "required": ["url", "port"] }, { "required": ["ttl", "seconds"] }] }
    })
}

/// JSON Schema of the output.
pub fn output() -> Value {
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "required": ["result", "command"],
        "properties": {
            "result": { "description": "The raw reply: nil → null, integers → numbers, strings, arrays, maps → objects." },
            "command": { "type": "string" },
            "value": { "description": "get/hget: the string or null; incr: the new number; hgetall: an object; lrange: a list." },
            "json": { "description": "get/hget: the value parsed as JSON, or null when it is not JSON." },
            "exists": { "type": "boolean", "description": "get, hget, exists, ttl: whether the key (or field) exists." },
            "count": { "type": "integer", "description": "exists: how many of the keys exist." },
            "ttl": { "type": "integer", "description": "ttl: seconds left; -1 without expiry, -2 when the key is missing." },
            "ok": { "type": "boolean", "description": "set: whether the server answered OK." },
            "deleted": { "type": "integer", "description": "del: keys removed." },
            "applied": { "type": "boolean", "description": "expire: whether the expiry was set." },
            "added": { "type": "integer", "description": "hset: fields added." },
            "length": { "type": "integer", "description": "lpush: the list's new length." },
            "id": { "type": "string", "description": "xadd: the new entry's id." }
        }
    })
}
