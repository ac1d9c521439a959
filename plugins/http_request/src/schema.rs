//! What `describe` says about `http_request`: its config and output schemas.

use serde_json::{Value, json};
use testmesh_plugin_sdk::duration;

/// JSON Schema (draft 2020-12) of the step's `config`.
pub fn config() -> Value {
    let scalar = json!({ "type": ["string", "number", "boolean"] });
    let scalars = json!({ "anyOf": [scalar, { "type": "array", "items": scalar }] });
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "http_request",
        "type": "object",
        "required": ["url"],
        "additionalProperties": false,
        "properties": {
            "method": { "type": "string", "default": "GET", "description": "HTTP method, any case.",
                        "examples": ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"] },
            "url": { "type": "string", "description": "Absolute http:// or https:// URL." },
            "headers": { "type": "object", "additionalProperties": scalar, "description": "Request headers, name → value." },
            "query": { "type": "object", "additionalProperties": scalars,
                       "description": "Query parameters appended to the URL, percent-encoded; a list repeats the parameter." },
            "params": { "type": "object", "additionalProperties": scalars, "description": "Same as `query`." },
            "json": { "description": "A JSON body; sets content-type application/json unless given." },
            "form": { "type": "object", "additionalProperties": scalars,
                      "description": "A form body, sent as application/x-www-form-urlencoded." },
            "body": { "description": "TestMesh's body: a string is sent as it is, anything else JSON-encoded." },
            "auth": {
                "oneOf": [
                    { "type": "object", "additionalProperties": false, "required": ["type", "username"],
                      "properties": { "type": { "const": "basic" }, "username": { "type": "string" }, "password": { "type": "string" } } },
                    { "type": "object", "additionalProperties": false, "required": ["type", "token"],
                      "properties": { "type": { "const": "bearer" }, "token": { "type": "string" } } }
                ],
                "description": "Sets the Authorization header."
            },
            "timeout": duration::json_schema("Limit for the whole exchange, redirects included (default 30s, never beyond the step's timeout)."),
            "follow_redirects": { "type": "boolean", "default": true, "description": "Follow 301, 302, 303, 307 and 308." },
            "max_redirects": { "type": "integer", "minimum": 0, "default": 10 }
        },
        "not": { "anyOf": [
            { "required": ["json", "form"] }, { "required": ["json", "body"] }, { "required": ["form", "body"] },
            { "required": ["query", "params"] }
        ] }
    })
}

/// JSON Schema of the output.
pub fn output() -> Value {
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "required": ["status", "headers", "body", "duration_ms", "url", "content_type", "redirects"],
        "properties": {
            "status": { "type": "integer", "description": "Status code of the final response." },
            "headers": { "type": "object", "additionalProperties": { "type": "string" },
                         "description": "Lower-case names; repeated headers joined with \", \"." },
            "body": { "description": "Parsed JSON when the content type is JSON and it parses; otherwise text (\"\" when empty)." },
            "duration_ms": { "type": "integer", "description": "The whole exchange, redirects included." },
            "url": { "type": "string", "description": "The final URL, after redirects." },
            "content_type": { "type": ["string", "null"] },
            "redirects": { "type": "integer", "description": "Redirects followed." }
        }
    })
}
