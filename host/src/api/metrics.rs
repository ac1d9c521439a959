//! The middleware that counts every HTTP request in the process's metrics, by route template (not
//! by raw path, so that ids do not make a label per request).

use super::ApiState;
use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use std::sync::Arc;
use std::time::Instant;

/// Counts the request and its latency.
pub(super) async fn track(State(state): State<Arc<ApiState>>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().as_str().to_string();
    let route =
        request.extensions().get::<MatchedPath>().map(|p| p.as_str().to_string()).unwrap_or_else(|| "unmatched".into());
    let response = next.run(request).await;
    state.metrics.http_request(&method, &route, response.status().as_u16(), started.elapsed());
    response
}
