//! Routes without state: a health check, a slow endpoint for timeout examples, and an echo that
//! shows flows exactly what their `http_request` step sent.

use crate::ApiError;
use axum::Json;
use axum::body::Bytes;
use axum::extract::Query;
use axum::extract::rejection::QueryRejection;
use axum::http::{HeaderMap, Method, Uri};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use std::time::Duration;

/// The longest `GET /slow` sleeps, so that a typo cannot hold a connection for hours.
pub const MAX_SLOW_MS: u64 = 60_000;

/// `GET /health` → `200 {"status": "ok"}`.
pub async fn health() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// The query of `GET /slow`.
#[derive(Debug, Default, Deserialize)]
pub struct SlowParams {
    /// Milliseconds to wait (default 100, at most [`MAX_SLOW_MS`]).
    pub ms: Option<u64>,
}

/// `GET /slow?ms=N` → waits N ms, then `200 {"slept_ms": N}`: a response that a step's `timeout`
/// can be shorter than.
pub async fn slow(query: Result<Query<SlowParams>, QueryRejection>) -> Result<Json<Value>, ApiError> {
    let Query(params) = query?;
    let ms = params.ms.unwrap_or(100).min(MAX_SLOW_MS);
    tokio::time::sleep(Duration::from_millis(ms)).await;
    Ok(Json(json!({ "slept_ms": ms })))
}

/// `GET /echo` and `POST /echo` → `200 {"method", "path", "query", "headers", "body"}`: the query
/// parameters as an object (the last value of a repeated one), the headers with lower-case names
/// (repeated ones joined with `", "`), and the body parsed as JSON when it is JSON, as text
/// otherwise, `null` when empty.
pub async fn echo(
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    query: Result<Query<BTreeMap<String, String>>, QueryRejection>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let Query(query) = query?;
    let mut echoed_headers = Map::new();
    for (name, value) in &headers {
        let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
        match echoed_headers.get_mut(name.as_str()) {
            Some(Value::String(existing)) => {
                existing.push_str(", ");
                existing.push_str(&value);
            }
            _ => {
                echoed_headers.insert(name.as_str().to_string(), Value::String(value));
            }
        }
    }
    let body = if body.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&body).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&body).into_owned()))
    };
    Ok(Json(json!({
        "method": method.as_str(),
        "path": uri.path(),
        "query": query,
        "headers": echoed_headers,
        "body": body,
    })))
}
