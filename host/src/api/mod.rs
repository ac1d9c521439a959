//! The REST API (`design/API.md`): axum routers, one module per resource, each exposing its
//! `routes()`, merged here under `/api/v1`. Handlers return [`ApiResult`]; authentication is the
//! [`Auth`](auth::Auth) extractor naming the least role a handler needs; the OpenAPI 3.1 document is
//! generated from the handlers' annotations ([`openapi`]) and served at `/api/v1/openapi.json`.
//!
//! The API knows storage, the queue, the plugin catalog (to validate flows and uploads) and the
//! in-process signals of embedded workers; it never runs flows itself.

pub mod auth;
mod environments;
pub mod error;
mod events;
pub mod extract;
mod flows;
mod keys;
mod limits;
mod metrics;
pub mod openapi;
mod pages;
mod plugins;
mod runs;
mod schedules;
mod system;
mod validation;

pub use error::{ApiError, ApiResult, FieldError, Problem};

use crate::platform::{Metrics, PluginCatalog, RunSignals};
use crate::queue::Queue;
use crate::storage::Store;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use std::sync::Arc;
use std::time::Duration;

/// Limits and timings of the API.
#[derive(Debug, Clone)]
pub struct ApiConfig {
    /// Largest request body, plugin uploads excepted (default 1 MiB).
    pub max_body_bytes: usize,
    /// Largest plugin upload (default 64 MiB: JavaScript and Python components are 12–18 MB).
    pub max_plugin_bytes: usize,
    /// Longest `?wait=` a client may ask for.
    pub max_wait: Duration,
    /// How often a waiting request or an event stream looks at storage when no in-process signal
    /// comes (runs executed by workers in other processes).
    pub poll_interval: Duration,
}

impl Default for ApiConfig {
    fn default() -> Self {
        ApiConfig {
            max_body_bytes: 1 << 20,
            max_plugin_bytes: 64 << 20,
            max_wait: Duration::from_secs(300),
            poll_interval: Duration::from_millis(250),
        }
    }
}

/// What every handler can reach.
pub struct ApiState {
    /// Storage.
    pub store: Arc<dyn Store>,
    /// Where new runs are enqueued.
    pub queue: Arc<dyn Queue>,
    /// Built-in and installed plugins.
    pub catalog: Arc<PluginCatalog>,
    /// Signals from workers in this process (run news) and to them (cancel).
    pub signals: Arc<RunSignals>,
    /// The Prometheus metrics of this process.
    pub metrics: Arc<Metrics>,
    /// Limits.
    pub config: ApiConfig,
    /// When this server started (the "installed" time of built-in plugins).
    pub started_at: chrono::DateTime<chrono::Utc>,
}

/// Records what a caller did in the audit log; a failure to record is logged, not fatal.
pub(crate) async fn audit(
    state: &ApiState,
    caller: &auth::Caller,
    action: &str,
    target: &str,
    detail: serde_json::Value,
) {
    let entry = crate::storage::AuditEntry {
        actor_key_id: Some(caller.key_id.clone()),
        action: action.to_string(),
        target: target.to_string(),
        // Always an object, so that readers of the log can look into it.
        detail: if detail.is_null() { serde_json::Value::Object(Default::default()) } else { detail },
    };
    if let Err(e) = state.store.audit(entry).await {
        tracing::warn!(action, target, "cannot record an audit entry: {e}");
    }
}

/// The whole HTTP application: `/health`, `/ready`, `/metrics` and `/api/v1/…`.
pub fn router(state: Arc<ApiState>) -> Router {
    let max_body = state.config.max_body_bytes;
    let v1 = Router::new()
        .merge(system::routes())
        .merge(flows::routes())
        .merge(runs::routes())
        .merge(environments::routes())
        .merge(schedules::routes())
        .merge(keys::routes())
        .merge(plugins::routes(state.config.max_plugin_bytes));
    Router::new()
        .merge(system::root_routes())
        .nest("/api/v1", v1)
        .fallback(system::not_found)
        .method_not_allowed_fallback(system::method_not_allowed)
        .layer(DefaultBodyLimit::max(max_body))
        .layer(axum::middleware::from_fn_with_state(state.clone(), limits::refuse_oversized))
        .layer(axum::middleware::from_fn_with_state(state.clone(), metrics::track))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(system::panic_response))
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .with_state(state)
}
