//! The demo API: a small in-memory HTTP service that the example flows under `examples/` test, so
//! that every feature of the flow format (captures, polling, loops, parallel branches, sub-flows)
//! can be tried on one machine without a real system under test.
//!
//! Everything lives in memory and is lost when the process stops; nothing here is meant for
//! production. Routes, one module per resource:
//!
//! | route | module |
//! |---|---|
//! | `GET /health`, `GET /slow?ms=N`, `GET /echo`, `POST /echo` | [`misc`] |
//! | `POST /login` | [`auth`] |
//! | `POST /users`, `GET /users`, `GET`/`PUT`/`DELETE /users/{id}` (bearer token) | [`users`] |
//! | `POST /jobs`, `GET /jobs/{id}` | [`jobs`] |
//! | `GET /products?category=x`, `GET /products/{id}` | [`products`] |
//!
//! Errors are JSON, always `{"error": "…"}`, so that flows can assert on `body.error`.

pub mod auth;
pub mod jobs;
pub mod misc;
pub mod products;
pub mod users;

use axum::Json;
use axum::Router;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use tokio::net::TcpListener;

/// Serves the API on `listener` until the process stops (or the listener fails).
///
/// Taking a listener rather than an address lets tests bind `127.0.0.1:0` and learn the port
/// before the server starts.
pub async fn serve(listener: TcpListener) -> std::io::Result<()> {
    axum::serve(listener, router()).await
}

/// The API's routes, with fresh, empty state (no users, sessions or jobs).
///
/// Separate from [`serve`] so that the API can be mounted in another router or driven in-process.
pub fn router() -> Router {
    let state = AppState::default();
    Router::new()
        .route("/health", get(misc::health))
        .route("/slow", get(misc::slow))
        .route("/echo", get(misc::echo).post(misc::echo))
        .route("/login", axum::routing::post(auth::login))
        .route("/users", get(users::list).post(users::create))
        .route("/users/{id}", get(users::get).put(users::update).delete(users::delete))
        .route("/jobs", axum::routing::post(jobs::create))
        .route("/jobs/{id}", get(jobs::poll))
        .route("/products", get(products::list))
        .route("/products/{id}", get(products::get))
        .with_state(state)
}

/// The state shared by all handlers: one store per resource, each behind its own lock.
pub type AppState = Arc<Stores>;

/// The in-memory stores of the resources that change.
#[derive(Debug, Default)]
pub struct Stores {
    /// Login sessions: bearer token → user name.
    pub sessions: auth::Sessions,
    /// Users, in creation order.
    pub users: users::Users,
    /// Jobs by id.
    pub jobs: jobs::Jobs,
}

/// Locks a store. A handler that panicked while holding the lock cannot leave a store half-updated
/// in a way that matters for a demo, so a poisoned lock is simply taken over.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// An error response: a status and `{"error": message}`.
///
/// A 401 also carries `www-authenticate: Bearer`, as HTTP asks of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// The response status.
    pub status: StatusCode,
    /// The text of the `error` field.
    pub message: String,
}

impl ApiError {
    /// An error with `status` and `message`.
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError { status, message: message.into() }
    }

    /// `404 {"error": "not found"}`.
    pub fn not_found() -> Self {
        ApiError::new(StatusCode::NOT_FOUND, "not found")
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status, Json(serde_json::json!({ "error": self.message }))).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

/// A body that is not JSON, or not the expected JSON, is answered in JSON too.
impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        ApiError::new(rejection.status(), rejection.body_text())
    }
}

/// A query string that does not parse (`/slow?ms=soon`) is answered in JSON too.
impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        ApiError::new(rejection.status(), rejection.body_text())
    }
}

/// The current time as RFC 3339 UTC with milliseconds (`2024-05-01T12:34:56.789Z`), for
/// `created_at` and `updated_at`: the format JSON Schema's `date-time` checks.
pub fn now_rfc3339() -> String {
    let since_epoch = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    rfc3339(since_epoch)
}

/// Formats a time since the Unix epoch as RFC 3339 UTC with milliseconds. The calendar arithmetic is
/// Howard Hinnant's `civil_from_days`, which spares a date-time dependency.
fn rfc3339(since_epoch: std::time::Duration) -> String {
    let secs = since_epoch.as_secs();
    let millis = since_epoch.subsec_millis();
    let days = (secs / 86_400) as i64;
    let (hour, minute, second) = (secs % 86_400 / 3_600, secs % 3_600 / 60, secs % 60);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era = (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * shifted_month + 2) / 5 + 1;
    let month = if shifted_month < 10 { shifted_month + 3 } else { shifted_month - 9 };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}.{millis:03}Z")
}

#[cfg(test)]
mod tests;
