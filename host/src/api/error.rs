//! The one error type every handler returns, rendered as `application/problem+json` (RFC 9457):
//! `{type, title, status, detail}`, plus `errors` with a path, line and column for invalid flows.
//! Internal failures are logged with their cause and answered with a generic 500, never with a
//! driver's message.

use crate::flow::{Diagnostic, Diagnostics};
use crate::storage::StoreError;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

/// An RFC 9457 problem document.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Problem {
    /// A URI naming the kind of problem (`urn:testmesh:problem:invalid-flow`, or `about:blank`).
    #[serde(rename = "type")]
    pub kind: String,
    /// The kind of problem, for people (the same for every problem of a kind).
    pub title: String,
    /// The HTTP status code.
    pub status: u16,
    /// What went wrong this time, for people.
    pub detail: String,
    /// For an invalid flow: every problem found, with its place in the document.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
}

/// One problem in a submitted document.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FieldError {
    /// Where in the document: `steps[1].config.url` (empty: the document itself).
    pub path: String,
    /// 1-based line, when the document is text with lines.
    pub line: Option<u32>,
    /// 1-based column.
    pub column: Option<u32>,
    /// What is wrong there (and how to fix it, when there is more to say).
    pub message: String,
}

impl FieldError {
    /// The field errors of a flow's error diagnostics (warnings left out), with the path of the node
    /// each points at in `text`.
    pub fn from_diagnostics(diagnostics: &Diagnostics, text: &str) -> Vec<FieldError> {
        diagnostics.0.iter().filter(|d| d.is_error()).map(|d| FieldError::from_diagnostic(d, text)).collect()
    }

    /// One diagnostic as a field error.
    pub fn from_diagnostic(diagnostic: &Diagnostic, text: &str) -> FieldError {
        let message = match &diagnostic.help {
            Some(help) => format!("{} ({help})", diagnostic.message),
            None => diagnostic.message.clone(),
        };
        FieldError {
            path: crate::flow::path_at(text, diagnostic.line, diagnostic.column).unwrap_or_default(),
            line: Some(diagnostic.line),
            column: Some(diagnostic.column),
            message,
        }
    }
}

/// A failed request: a status, a problem document, maybe a header.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    slug: &'static str,
    detail: String,
    errors: Vec<FieldError>,
}

impl ApiError {
    /// A problem with `status`, of the kind `slug` (`urn:testmesh:problem:<slug>`).
    pub fn new(status: StatusCode, slug: &'static str, detail: impl Into<String>) -> Self {
        ApiError { status, slug, detail: detail.into(), errors: Vec::new() }
    }

    /// 400: the request cannot be understood.
    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad-request", detail)
    }

    /// 401: no key, or not a valid one.
    pub fn unauthorized(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", detail)
    }

    /// 403: the key's role is too low.
    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", detail)
    }

    /// 404.
    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not-found", detail)
    }

    /// 409: the request conflicts with the current state.
    pub fn conflict(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "conflict", detail)
    }

    /// 413.
    pub fn too_large(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::PAYLOAD_TOO_LARGE, "too-large", detail)
    }

    /// 422 for an invalid flow, with every problem found.
    pub fn invalid_flow(diagnostics: &Diagnostics, text: &str) -> Self {
        let errors = FieldError::from_diagnostics(diagnostics, text);
        let count = errors.len();
        let detail = match errors.first() {
            Some(first) if count == 1 => format!(
                "the flow is invalid: {} (line {}, column {})",
                first.message,
                first.line.unwrap_or(0),
                first.column.unwrap_or(0)
            ),
            _ => format!("the flow is invalid: {count} problems"),
        };
        ApiError { errors, ..Self::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid-flow", detail) }
    }

    /// 422: understood but semantically invalid.
    pub fn unprocessable(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, "unprocessable", detail)
    }

    /// 500 for a failure that is ours: `cause` goes to the log, the client gets a generic detail.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        tracing::error!("internal error: {cause}");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "the server failed; the cause is in its log")
    }

    /// 503: a service the server needs is unavailable.
    pub fn unavailable(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", detail)
    }

    /// The status code.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The problem document.
    pub fn problem(&self) -> Problem {
        Problem {
            kind: format!("urn:testmesh:problem:{}", self.slug),
            title: self.status.canonical_reason().unwrap_or("Error").to_string(),
            status: self.status.as_u16(),
            detail: self.detail.clone(),
            errors: self.errors.clone(),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::NotFound => ApiError::not_found("no such resource"),
            StoreError::Conflict(detail) => ApiError::conflict(detail),
            StoreError::PreconditionFailed { current_version } => ApiError::new(
                StatusCode::PRECONDITION_FAILED,
                "stale-version",
                format!("If-Match names a version that is no longer current; the current version is {current_version}"),
            ),
            StoreError::Invalid(detail) => ApiError::bad_request(detail),
            StoreError::Database(cause) => ApiError::internal(format!("storage: {cause}")),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::to_vec(&self.problem()).unwrap_or_default();
        let mut response = (self.status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json"));
        if self.status == StatusCode::UNAUTHORIZED {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

/// The result type of handlers.
pub type ApiResult<T> = Result<T, ApiError>;
