//! `/flows`: stored flows and their versions. A flow is created and updated by sending the flow
//! document itself (YAML or JSON); it is checked like `testmesh validate` before it is stored, and
//! every update makes a new version (`If-Match: <version>` guards against lost updates).

use super::auth::{Auth, Editor, Viewer};
use super::error::{ApiError, ApiResult, FieldError};
use super::extract::{FlowDocument, Path, Query};
use super::pages::{Page, PageParams};
use super::{ApiState, audit, validation};
use crate::flow::Flow;
use crate::storage::{FlowFilter, FlowRecord, FlowVersion, NewFlow};
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use utoipa::{IntoParams, ToSchema};

pub(super) fn routes() -> Router<Arc<ApiState>> {
    Router::new()
        .route("/flows/validate", post(validate_flow))
        .route("/flows", post(create_flow).get(list_flows))
        .route("/flows/{id}", get(get_flow).put(update_flow).delete(delete_flow))
        .route("/flows/{id}/versions", get(list_versions))
        .route("/flows/{id}/versions/{version}", get(get_version))
}

/// A stored flow at its current version, with its document.
#[derive(Debug, Serialize, ToSchema)]
pub struct FlowView {
    /// What lists show of it.
    #[serde(flatten)]
    pub summary: FlowSummary,
    /// The document as submitted.
    pub source: String,
}

impl From<FlowRecord> for FlowView {
    fn from(mut r: FlowRecord) -> Self {
        let source = std::mem::take(&mut r.source);
        FlowView { summary: FlowSummary::from(r), source }
    }
}

/// A stored flow in a list (without its document).
#[derive(Debug, Serialize, ToSchema)]
pub struct FlowSummary {
    /// `flw_…`, stable across versions.
    pub id: String,
    /// The flow's `name` (unique among stored flows).
    pub name: String,
    /// The flow's `description`.
    pub description: String,
    /// The flow's `tags`.
    pub tags: Vec<String>,
    /// The flow's `suite`.
    pub suite: Option<String>,
    /// 1 at creation, +1 on every update; the `ETag`.
    pub version: i64,
    /// When the flow was created.
    pub created_at: DateTime<Utc>,
    /// When its current version was made.
    pub updated_at: DateTime<Utc>,
}

impl From<FlowRecord> for FlowSummary {
    fn from(r: FlowRecord) -> Self {
        FlowSummary {
            id: r.id,
            name: r.name,
            description: r.description,
            tags: r.tags,
            suite: r.suite,
            version: r.version,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

/// One version of a flow.
#[derive(Debug, Serialize, ToSchema)]
pub struct FlowVersionView {
    /// The version number, from 1.
    pub version: i64,
    /// The flow's name at that version.
    pub name: String,
    /// The document of that version.
    pub source: String,
    /// When that version was made.
    pub created_at: DateTime<Utc>,
}

impl From<FlowVersion> for FlowVersionView {
    fn from(v: FlowVersion) -> Self {
        FlowVersionView { version: v.version, name: v.name, source: v.source, created_at: v.created_at }
    }
}

/// What `POST /flows/validate` found.
#[derive(Debug, Serialize, ToSchema)]
pub struct ValidationReport {
    /// Whether the flow could be stored and run as it is.
    pub valid: bool,
    /// The flow's name, when it parsed.
    pub name: Option<String>,
    /// How many main steps it has, when valid.
    pub steps: Option<usize>,
    /// Every error, with its place.
    pub errors: Vec<FieldError>,
    /// Keys accepted but without effect, and other likely mistakes.
    pub warnings: Vec<FieldError>,
}

/// The filters of `GET /flows`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FlowListParams {
    /// Only flows with this tag.
    pub tag: Option<String>,
    /// Only flows of this suite.
    pub suite: Option<String>,
    /// Only flows whose name or description contains this text (any case).
    pub q: Option<String>,
    /// Items per page, 1 to 500 (default 50).
    #[param(minimum = 1)]
    pub limit: Option<i64>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// What a stored flow keeps from its document.
fn new_flow(flow: &Flow, source: String) -> NewFlow {
    NewFlow {
        name: flow.name.clone(),
        description: flow.description.clone().unwrap_or_default(),
        tags: flow.tags.clone(),
        suite: flow.suite.clone(),
        source,
    }
}

/// The `ETag` of a flow version.
fn etag(version: i64) -> HeaderValue {
    HeaderValue::from_str(&format!("\"{version}\"")).unwrap_or_else(|_| HeaderValue::from_static("\"0\""))
}

/// A flow with its `ETag` (and `Location` when just created).
fn flow_response(status: StatusCode, record: FlowRecord) -> Response {
    let mut headers = HeaderMap::new();
    headers.insert(header::ETAG, etag(record.version));
    if status == StatusCode::CREATED
        && let Ok(location) = HeaderValue::from_str(&format!("/api/v1/flows/{}", record.id))
    {
        headers.insert(header::LOCATION, location);
    }
    (status, headers, axum::Json(FlowView::from(record))).into_response()
}

/// The version an `If-Match` header names: `3`, `"3"` or `W/"3"`; `*` names none.
fn if_match(headers: &HeaderMap) -> ApiResult<Option<i64>> {
    let Some(value) = headers.get(header::IF_MATCH) else { return Ok(None) };
    let text = value.to_str().map_err(|_| ApiError::bad_request("If-Match is not text"))?.trim();
    if text == "*" {
        return Ok(None);
    }
    let bare = text.trim_start_matches("W/").trim_matches('"');
    bare.parse::<i64>()
        .map(Some)
        .map_err(|_| ApiError::bad_request(format!("If-Match must name a flow version such as \"3\", not `{text}`")))
}

/// Checks a flow document without storing it.
#[utoipa::path(post, path = "/flows/validate", tag = "flows",
    request_body(description = "The flow document", content(
        (String = "application/yaml"), (Object = "application/json"))),
    responses(
        (status = 200, description = "What the checks found", body = ValidationReport),
        super::openapi::Errors,
    ))]
pub(crate) async fn validate_flow(
    _auth: Auth<Viewer>,
    State(state): State<Arc<ApiState>>,
    FlowDocument(text): FlowDocument,
) -> ApiResult<axum::Json<ValidationReport>> {
    let checked = validation::check(&state, &text, "flow").await?;
    let warnings =
        checked.diagnostics.0.iter().filter(|d| !d.is_error()).map(|d| FieldError::from_diagnostic(d, &text)).collect();
    Ok(axum::Json(ValidationReport {
        valid: checked.flow.is_some(),
        name: checked.flow.as_ref().map(|f| f.name.clone()),
        steps: checked.flow.as_ref().map(|f| f.steps.len()),
        errors: FieldError::from_diagnostics(&checked.diagnostics, &text),
        warnings,
    }))
}

/// Stores a new flow (version 1) after checking it.
#[utoipa::path(post, path = "/flows", tag = "flows",
    request_body(description = "The flow document", content(
        (String = "application/yaml"), (Object = "application/json"))),
    responses(
        (status = 201, description = "Stored", body = FlowView),
        super::openapi::Errors,
    ))]
pub(crate) async fn create_flow(
    Auth(caller, ..): Auth<Editor>,
    State(state): State<Arc<ApiState>>,
    FlowDocument(text): FlowDocument,
) -> ApiResult<Response> {
    let flow = validation::check(&state, &text, "flow").await?.into_flow(&text)?;
    let record = state.store.create_flow(new_flow(&flow, text)).await?;
    audit(&state, &caller, "flow.create", &record.id, serde_json::json!({"name": record.name})).await;
    Ok(flow_response(StatusCode::CREATED, record))
}

/// Lists stored flows, newest first.
#[utoipa::path(get, path = "/flows", tag = "flows", params(FlowListParams),
    responses(
        (status = 200, description = "A page of flows", body = Page<FlowSummary>),
        super::openapi::Errors,
    ))]
pub(crate) async fn list_flows(
    _auth: Auth<Viewer>,
    State(state): State<Arc<ApiState>>,
    Query(params): Query<FlowListParams>,
) -> ApiResult<axum::Json<Page<FlowSummary>>> {
    let limit = PageParams { limit: params.limit, cursor: None }.limit()?;
    let filter = FlowFilter { tag: params.tag, suite: params.suite, q: params.q, limit, cursor: params.cursor };
    let page = state.store.list_flows(filter).await?;
    Ok(axum::Json(Page::of(page, FlowSummary::from)))
}

/// A stored flow at its current version.
#[utoipa::path(get, path = "/flows/{id}", tag = "flows", params(("id" = String, Path, description = "The flow's id (`flw_…`) or name")),
    responses(
        (status = 200, description = "The flow", body = FlowView),
        super::openapi::Errors,
    ))]
pub(crate) async fn get_flow(
    _auth: Auth<Viewer>,
    State(state): State<Arc<ApiState>>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let record = resolve(&state, &id).await?;
    Ok(flow_response(StatusCode::OK, record))
}

/// Makes a new version of a flow. With `If-Match: "<version>"`, only if that is still the current
/// version (412 otherwise).
#[utoipa::path(put, path = "/flows/{id}", tag = "flows",
    params(("id" = String, Path, description = "The flow's id (`flw_…`) or name"),
        ("If-Match" = Option<String>, Header, description = "The version this update is based on, e.g. \"3\"")),
    request_body(description = "The new flow document", content(
        (String = "application/yaml"), (Object = "application/json"))),
    responses(
        (status = 200, description = "The new version", body = FlowView),
        super::openapi::Errors,
    ))]
pub(crate) async fn update_flow(
    Auth(caller, ..): Auth<Editor>,
    State(state): State<Arc<ApiState>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    FlowDocument(text): FlowDocument,
) -> ApiResult<Response> {
    let expected = if_match(&headers)?;
    let id = resolve(&state, &id).await?.id;
    let flow = validation::check(&state, &text, "flow").await?.into_flow(&text)?;
    let record = state.store.update_flow(&id, expected, new_flow(&flow, text)).await.map_err(|e| not_found(e, &id))?;
    audit(&state, &caller, "flow.update", &record.id, serde_json::json!({"version": record.version})).await;
    Ok(flow_response(StatusCode::OK, record))
}

/// Deletes a flow. Its versions stay, so that its runs still read and queued runs still run.
#[utoipa::path(delete, path = "/flows/{id}", tag = "flows", params(("id" = String, Path, description = "The flow's id (`flw_…`) or name")),
    responses(
        (status = 204, description = "Deleted"),
        super::openapi::Errors,
    ))]
pub(crate) async fn delete_flow(
    Auth(caller, ..): Auth<Editor>,
    State(state): State<Arc<ApiState>>,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let id = resolve(&state, &id).await?.id;
    state.store.delete_flow(&id).await.map_err(|e| not_found(e, &id))?;
    audit(&state, &caller, "flow.delete", &id, serde_json::Value::Null).await;
    Ok(StatusCode::NO_CONTENT)
}

/// Every version of a flow, newest first.
#[utoipa::path(get, path = "/flows/{id}/versions", tag = "flows",
    params(("id" = String, Path, description = "The flow's id (`flw_…`) or name"), PageParams),
    responses(
        (status = 200, description = "A page of versions", body = Page<FlowVersionView>),
        super::openapi::Errors,
    ))]
pub(crate) async fn list_versions(
    _auth: Auth<Viewer>,
    State(state): State<Arc<ApiState>>,
    Path(id): Path<String>,
    Query(params): Query<PageParams>,
) -> ApiResult<axum::Json<Page<FlowVersionView>>> {
    let id = match state.store.get_flow_by_name(&id).await {
        Ok(record) if !id.starts_with("flw_") => record.id,
        _ => id,
    };
    let versions = state.store.flow_versions(&id).await.map_err(|e| not_found(e, &id))?;
    Ok(axum::Json(params.page_of(versions.into_iter().map(FlowVersionView::from).collect())?))
}

/// One version of a flow (also of a deleted flow: runs pin versions).
#[utoipa::path(get, path = "/flows/{id}/versions/{version}", tag = "flows",
    params(("id" = String, Path, description = "The flow's id (`flw_…`) or name"), ("version" = i64, Path, description = "The version")),
    responses(
        (status = 200, description = "The version", body = FlowVersionView),
        super::openapi::Errors,
    ))]
pub(crate) async fn get_version(
    _auth: Auth<Viewer>,
    State(state): State<Arc<ApiState>>,
    Path((id, version)): Path<(String, i64)>,
) -> ApiResult<axum::Json<FlowVersionView>> {
    let stored = state.store.flow_version(&id, version).await.map_err(|e| match e {
        crate::storage::StoreError::NotFound => ApiError::not_found(format!("flow {id} has no version {version}")),
        other => other.into(),
    })?;
    Ok(axum::Json(FlowVersionView::from(stored)))
}

/// The live flow `key` names: its id (`flw_…`) or its name.
pub(super) async fn resolve(state: &ApiState, key: &str) -> ApiResult<FlowRecord> {
    let found =
        if key.starts_with("flw_") { state.store.get_flow(key).await } else { state.store.get_flow_by_name(key).await };
    found.map_err(|e| not_found(e, key))
}

/// A storage error, with "not found" said for the flow `id`.
fn not_found(error: crate::storage::StoreError, id: &str) -> ApiError {
    match error {
        crate::storage::StoreError::NotFound => ApiError::not_found(format!("no flow with id or name `{id}`")),
        other => other.into(),
    }
}
