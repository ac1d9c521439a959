//! What `describe` says about `database_query`: its config and output schemas.

use serde_json::{Value, json};
use testmesh_plugin_sdk::duration;

/// JSON Schema (draft 2020-12) of the step's `config`.
pub fn config() -> Value {
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "database_query",
        "type": "object",
        "additionalProperties": false,
        "required": ["query"],
        "oneOf": [{ "required": ["connection"] }, { "required": ["connection_string"] }],
        "properties": {
            "connection": { "type": "string", "description": "Connection URL: postgres://user@host:5432/db, sqlite:///path/to/file.db or sqlite::memory:." },
            "connection_string": { "type": "string", "description": "TestMesh's spelling of `connection`." },
            "query": { "type": "string", "description": "One SQL statement; positional parameters $1, $2, … (or ? on SQLite)." },
            "params": { "type": "array", "description": "Values for the positional parameters, in order." },
            "max_rows": { "type": "integer", "minimum": 0, "description": "Keep at most this many rows in the output." },
            "timeout": duration::json_schema("Accepted for TestMesh compatibility; the step's `timeout` bounds the query.")
        }
    })
}

/// JSON Schema of the output.
pub fn output() -> Value {
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "required": ["rows", "row_count", "first_row", "rows_affected", "query_type", "truncated"],
        "properties": {
            "rows": { "type": "array", "items": { "type": "object" }, "description": "The rows, keyed by column name." },
            "row_count": { "type": "integer", "description": "Rows in `rows`." },
            "first_row": { "type": ["object", "null"], "description": "The first row, or null when there is none." },
            "rows_affected": { "type": "integer", "description": "Rows changed by INSERT, UPDATE or DELETE." },
            "query_type": { "enum": ["select", "insert", "update", "delete", "other"] },
            "truncated": { "type": "boolean", "description": "Whether `max_rows` dropped rows." }
        }
    })
}
