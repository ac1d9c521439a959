//! Oversized bodies: a request whose `Content-Length` is over the route's limit is answered 413
//! before any handler runs. The body is read and dropped first (up to a bound): a server that answers
//! and closes while the client is still sending makes the client's TCP stack see a reset instead of
//! the answer, and "connection reset" tells a user nothing.

use super::ApiState;
use super::error::ApiError;
use axum::extract::{Request, State};
use axum::http::{Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use std::sync::Arc;
use std::time::Duration;

/// The body limit of a request's route: plugin uploads have their own.
fn limit_of(request: &Request, state: &ApiState) -> usize {
    if request.method() == Method::POST && request.uri().path() == "/api/v1/plugins" {
        state.config.max_plugin_bytes
    } else {
        state.config.max_body_bytes
    }
}

/// Answers 413 to a declared length over the limit (the extractors still enforce the limit on
/// bodies without a length).
pub(super) async fn refuse_oversized(State(state): State<Arc<ApiState>>, request: Request, next: Next) -> Response {
    let limit = limit_of(&request, &state);
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    let Some(length) = declared.filter(|&length| length > limit as u64) else {
        return next.run(request).await;
    };
    // Read at most a few times the limit, for at most a few seconds; past that, close.
    let cap = (limit as u64).saturating_mul(4).max(16 << 20);
    if length <= cap {
        let mut body = request.into_body().into_data_stream();
        let drain = async {
            let mut read = 0u64;
            while let Some(Ok(chunk)) = body.next().await {
                read += chunk.len() as u64;
                if read > cap {
                    break;
                }
            }
        };
        let _ = tokio::time::timeout(Duration::from_secs(10), drain).await;
    }
    ApiError::too_large(format!("the body is {length} bytes; this route takes at most {limit}")).into_response()
}
