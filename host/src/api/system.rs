//! Liveness, readiness, metrics, the OpenAPI document, and the answers for unknown routes, wrong
//! methods and panics — all as problem documents where they are errors.

use super::ApiState;
use super::auth::{Auth, Viewer};
use super::error::{ApiError, ApiResult, Problem};
use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Serialize;
use std::any::Any;
use std::sync::Arc;
use utoipa::ToSchema;

/// Routes under `/api/v1`.
pub(super) fn routes() -> Router<Arc<ApiState>> {
    Router::new()
        .route("/health", get(health))
        .route("/ready", get(ready))
        .route("/metrics", get(metrics))
        .route("/openapi.json", get(openapi))
}

/// Routes at the root, where load balancers and Prometheus look by default.
pub(super) fn root_routes() -> Router<Arc<ApiState>> {
    Router::new().route("/health", get(health)).route("/ready", get(ready)).route("/metrics", get(metrics))
}

/// The answer of `/health`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// Always `ok`: the process answers.
    pub status: String,
    /// The server's version.
    pub version: String,
}

/// The answer of `/ready`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Ready {
    /// `ready`.
    pub status: String,
    /// `postgres` or `sqlite`.
    pub database: String,
}

/// Liveness: the process answers. No key needed.
#[utoipa::path(get, path = "/health", tag = "system", security(()),
    responses((status = 200, description = "The server is up", body = Health)))]
pub(crate) async fn health() -> axum::Json<Health> {
    axum::Json(Health { status: "ok".into(), version: env!("CARGO_PKG_VERSION").into() })
}

/// Readiness: the database and the queue answer. No key needed.
#[utoipa::path(get, path = "/ready", tag = "system", security(()),
    responses(
        (status = 200, description = "Database and queue answer", body = Ready),
        (status = 503, description = "The database or the queue does not answer", body = Problem,
            content_type = "application/problem+json"),
    ))]
pub(crate) async fn ready(
    axum::extract::State(state): axum::extract::State<Arc<ApiState>>,
) -> ApiResult<axum::Json<Ready>> {
    if let Err(e) = state.store.ping().await {
        tracing::warn!("readiness: database: {e}");
        return Err(ApiError::unavailable("the database does not answer"));
    }
    if let Err(e) = state.queue.ping().await {
        tracing::warn!("readiness: queue: {e}");
        return Err(ApiError::unavailable("the queue does not answer"));
    }
    Ok(axum::Json(Ready { status: "ready".into(), database: state.store.backend().into() }))
}

/// Prometheus metrics (OpenMetrics text).
#[utoipa::path(get, path = "/metrics", tag = "system",
    responses(
        (status = 200, description = "OpenMetrics text", body = String,
            content_type = "application/openmetrics-text"),
        super::openapi::Errors,
    ))]
pub(crate) async fn metrics(
    _auth: Auth<Viewer>,
    axum::extract::State(state): axum::extract::State<Arc<ApiState>>,
) -> ApiResult<Response> {
    let counts = state.store.run_counts().await?;
    let text = state.metrics.render(&counts, state.signals.running_count(), state.catalog.sandbox().compile_stats());
    Ok(([(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")], text).into_response())
}

/// The OpenAPI 3.1 document of this API. No key needed.
#[utoipa::path(get, path = "/openapi.json", tag = "system", security(()),
    responses((status = 200, description = "The OpenAPI document", body = Object)))]
pub(crate) async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], super::openapi::document_json()).into_response()
}

/// 404 for routes that do not exist.
pub(super) async fn not_found() -> ApiError {
    ApiError::not_found("no such route; the API is under /api/v1 (see /api/v1/openapi.json)")
}

/// 405 for a method a route does not have.
pub(super) async fn method_not_allowed() -> ApiError {
    ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "method-not-allowed", "this route does not answer this method")
}

/// A handler that panicked: 500, logged, the process goes on.
pub(super) fn panic_response(panic: Box<dyn Any + Send + 'static>) -> Response {
    let message = panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "a handler panicked".into());
    ApiError::internal(format!("panic: {message}")).into_response()
}
