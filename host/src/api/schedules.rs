//! `/schedules`: cron schedules of stored flows — a five-field expression read in an IANA time zone,
//! the run's variables and environment, what a fire does while an earlier run is unfinished
//! (`overlap`), and what happens to fire times missed while no server ran (`catch_up`). Every
//! replica's scheduler fires them; each fire time is claimed once.

use super::auth::{Auth, Editor, Runner, Viewer};
use super::error::{ApiError, ApiResult};
use super::extract::{Json, Path, Query};
use super::pages::{Page, PageParams};
use super::runs::{RunAccepted, RunListItem};
use super::{ApiState, audit, flows};
use crate::scheduler::{CatchUp, CronSpec, Overlap};
use crate::storage::{FireRecord, NewSchedule, RunFilter, ScheduleRecord, StoreError};
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::sync::Arc;
use std::time::Duration;
use utoipa::ToSchema;

pub(super) fn routes() -> Router<Arc<ApiState>> {
    Router::new()
        .route("/schedules", post(create_schedule).get(list_schedules))
        .route("/schedules/{id}", get(get_schedule).put(put_schedule).delete(delete_schedule))
        .route("/schedules/{id}/trigger", post(trigger_schedule))
        .route("/schedules/{id}/runs", get(schedule_runs))
}

/// What a fire does while an earlier run of the schedule is unfinished.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum OverlapPolicy {
    /// Start another run.
    Allow,
    /// Skip the fire (the default).
    #[default]
    Forbid,
    /// Cancel the unfinished runs (their teardown runs), then start.
    Replace,
}

/// What happens to fire times missed while no scheduler ran.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum CatchUpPolicy {
    /// Fire the latest missed time, if within the window (the default).
    #[default]
    Latest,
    /// Fire every missed time within the window (at most 100).
    All,
    /// Never fire late.
    None,
}

impl OverlapPolicy {
    fn as_str(self) -> &'static str {
        match self {
            OverlapPolicy::Allow => "allow",
            OverlapPolicy::Forbid => "forbid",
            OverlapPolicy::Replace => "replace",
        }
    }
}

impl CatchUpPolicy {
    fn as_str(self) -> &'static str {
        match self {
            CatchUpPolicy::Latest => "latest",
            CatchUpPolicy::All => "all",
            CatchUpPolicy::None => "none",
        }
    }
}

fn default_timezone() -> String {
    "UTC".into()
}
fn default_window() -> i64 {
    3600
}
fn default_true() -> bool {
    true
}

/// A schedule as written by a client.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScheduleBody {
    /// The stored flow to run: its id or name.
    pub flow_id: String,
    /// Five fields (`*/15 9-17 * * 1-5`), or `@hourly`, `@daily`, `@weekly`, `@monthly`.
    pub cron: String,
    /// The IANA time zone the expression is read in (default `UTC`).
    #[serde(default = "default_timezone")]
    pub timezone: String,
    /// Variables of its runs.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub vars: Map<String, Value>,
    /// The stored environment of its runs.
    #[serde(default)]
    pub environment: Option<String>,
    /// What a fire does while an earlier run is unfinished (default `forbid`).
    #[serde(default)]
    pub overlap: OverlapPolicy,
    /// What happens to fire times missed while no server ran (default `latest`).
    #[serde(default)]
    pub catch_up: CatchUpPolicy,
    /// How late (seconds) a missed fire may still happen (default 3600).
    #[serde(default = "default_window")]
    #[schema(minimum = 0)]
    pub catch_up_window_seconds: i64,
    /// Whether it fires (default `true`).
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// Free text for people.
    #[serde(default)]
    pub description: String,
}

/// A claimed fire time.
#[derive(Debug, Serialize, ToSchema)]
pub struct FireView {
    /// The nominal fire time.
    pub fire_time: DateTime<Utc>,
    /// `started`, `skipped`, `missed` or `triggered`.
    pub outcome: String,
    /// The run it started.
    pub run_id: Option<String>,
}

impl From<FireRecord> for FireView {
    fn from(f: FireRecord) -> Self {
        FireView { fire_time: f.fire_time, outcome: f.outcome, run_id: f.run_id }
    }
}

/// A schedule.
#[derive(Debug, Serialize, ToSchema)]
pub struct ScheduleView {
    /// `sch_…`.
    pub id: String,
    /// The flow it runs.
    pub flow_id: String,
    /// Free text.
    pub description: String,
    /// Its cron expression.
    pub cron: String,
    /// Its time zone.
    pub timezone: String,
    /// Variables of its runs.
    #[schema(value_type = Object)]
    pub vars: Map<String, Value>,
    /// Environment of its runs.
    pub environment: Option<String>,
    /// Its overlap policy.
    pub overlap: String,
    /// Its catch-up policy.
    pub catch_up: String,
    /// Its catch-up window, in seconds.
    pub catch_up_window_seconds: i64,
    /// Whether it fires.
    pub enabled: bool,
    /// When it fires next (`null` when disabled).
    pub next_fire_at: Option<DateTime<Utc>>,
    /// The latest claimed fire times, newest first.
    pub recent_fires: Vec<FireView>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it was last changed.
    pub updated_at: DateTime<Utc>,
}

fn view(record: ScheduleRecord, fires: Vec<FireRecord>) -> ScheduleView {
    ScheduleView {
        id: record.id,
        flow_id: record.flow_id,
        description: record.description,
        cron: record.cron,
        timezone: record.timezone,
        vars: record.vars,
        environment: record.environment,
        overlap: record.overlap,
        catch_up: record.catch_up,
        catch_up_window_seconds: record.catch_up_window_seconds,
        enabled: record.enabled,
        next_fire_at: if record.enabled { record.next_fire_at } else { None },
        recent_fires: fires.into_iter().map(FireView::from).collect(),
        created_at: record.created_at,
        updated_at: record.updated_at,
    }
}

/// The schedule a body describes, checked: expression, zone, flow, environment, window.
async fn checked(state: &ApiState, body: ScheduleBody) -> ApiResult<NewSchedule> {
    let spec = CronSpec::parse(&body.cron, &body.timezone).map_err(|e| ApiError::unprocessable(e.to_string()))?;
    if body.catch_up_window_seconds < 0 {
        return Err(ApiError::unprocessable("`catch_up_window_seconds` cannot be negative"));
    }
    let flow = match flows::resolve(state, &body.flow_id).await {
        Ok(flow) => flow,
        Err(e) if e.status() == StatusCode::NOT_FOUND => {
            return Err(ApiError::unprocessable(format!("no stored flow has the id or name `{}`", body.flow_id)));
        }
        Err(e) => return Err(e),
    };
    if let Some(name) = &body.environment {
        match state.store.get_environment(name).await {
            Ok(_) => {}
            Err(StoreError::NotFound) => {
                return Err(ApiError::unprocessable(format!("environment `{name}` does not exist")));
            }
            Err(other) => return Err(other.into()),
        }
    }
    // Parsing the policies here keeps the scheduler's reading of them and the API's the same.
    let window = Duration::from_secs(u64::try_from(body.catch_up_window_seconds).unwrap_or(0));
    CatchUp::from_policy(body.catch_up.as_str(), window).map_err(ApiError::unprocessable)?;
    Overlap::parse(body.overlap.as_str()).map_err(ApiError::unprocessable)?;
    Ok(NewSchedule {
        flow_id: flow.id,
        description: body.description,
        cron: spec.expression().to_string(),
        timezone: spec.zone().to_string(),
        vars: body.vars,
        environment: body.environment,
        overlap: body.overlap.as_str().into(),
        catch_up: body.catch_up.as_str().into(),
        catch_up_window_seconds: body.catch_up_window_seconds,
        enabled: body.enabled,
        // Fire times from now on; the past of a new or changed schedule is not "missed".
        next_fire_at: spec.next_after(Utc::now()),
    })
}

fn not_found(error: StoreError, id: &str) -> ApiError {
    match error {
        StoreError::NotFound => ApiError::not_found(format!("no schedule with id `{id}`")),
        other => other.into(),
    }
}

/// Creates a schedule.
#[utoipa::path(post, path = "/schedules", tag = "schedules", request_body = ScheduleBody,
    responses((status = 201, description = "Created", body = ScheduleView), super::openapi::Errors))]
pub(crate) async fn create_schedule(
    Auth(caller, ..): Auth<Editor>,
    State(state): State<Arc<ApiState>>,
    Json(body): Json<ScheduleBody>,
) -> ApiResult<Response> {
    let schedule = checked(&state, body).await?;
    let record = state.store.create_schedule(schedule).await?;
    audit(
        &state,
        &caller,
        "schedule.create",
        &record.id,
        serde_json::json!({"cron": record.cron, "flow": record.flow_id}),
    )
    .await;
    let mut response = (StatusCode::CREATED, axum::Json(view(record.clone(), Vec::new()))).into_response();
    if let Ok(location) = HeaderValue::from_str(&format!("/api/v1/schedules/{}", record.id)) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}

/// Every schedule, newest first.
#[utoipa::path(get, path = "/schedules", tag = "schedules", params(PageParams),
    responses((status = 200, description = "A page of schedules", body = Page<ScheduleView>), super::openapi::Errors))]
pub(crate) async fn list_schedules(
    _auth: Auth<Viewer>,
    State(state): State<Arc<ApiState>>,
    Query(params): Query<PageParams>,
) -> ApiResult<axum::Json<Page<ScheduleView>>> {
    let all = state.store.list_schedules().await?;
    Ok(axum::Json(params.page_of(all.into_iter().map(|s| view(s, Vec::new())).collect())?))
}

/// A schedule with its latest fires.
#[utoipa::path(get, path = "/schedules/{id}", tag = "schedules", params(("id" = String, Path, description = "The schedule's id")),
    responses((status = 200, description = "The schedule", body = ScheduleView), super::openapi::Errors))]
pub(crate) async fn get_schedule(
    _auth: Auth<Viewer>,
    State(state): State<Arc<ApiState>>,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<ScheduleView>> {
    let record = state.store.get_schedule(&id).await.map_err(|e| not_found(e, &id))?;
    let fires = state.store.schedule_fires(&id, 20).await?;
    Ok(axum::Json(view(record, fires)))
}

/// Replaces a schedule; it fires from now on by its new expression.
#[utoipa::path(put, path = "/schedules/{id}", tag = "schedules", params(("id" = String, Path, description = "The schedule's id")),
    request_body = ScheduleBody,
    responses((status = 200, description = "Replaced", body = ScheduleView), super::openapi::Errors))]
pub(crate) async fn put_schedule(
    Auth(caller, ..): Auth<Editor>,
    State(state): State<Arc<ApiState>>,
    Path(id): Path<String>,
    Json(body): Json<ScheduleBody>,
) -> ApiResult<axum::Json<ScheduleView>> {
    state.store.get_schedule(&id).await.map_err(|e| not_found(e, &id))?;
    let schedule = checked(&state, body).await?;
    let record = state.store.update_schedule(&id, schedule).await.map_err(|e| not_found(e, &id))?;
    audit(&state, &caller, "schedule.update", &id, serde_json::json!({"cron": record.cron, "enabled": record.enabled}))
        .await;
    let fires = state.store.schedule_fires(&id, 20).await?;
    Ok(axum::Json(view(record, fires)))
}

/// Deletes a schedule (its runs stay).
#[utoipa::path(delete, path = "/schedules/{id}", tag = "schedules", params(("id" = String, Path, description = "The schedule's id")),
    responses((status = 204, description = "Deleted"), super::openapi::Errors))]
pub(crate) async fn delete_schedule(
    Auth(caller, ..): Auth<Editor>,
    State(state): State<Arc<ApiState>>,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    state.store.delete_schedule(&id).await.map_err(|e| not_found(e, &id))?;
    audit(&state, &caller, "schedule.delete", &id, Value::Null).await;
    Ok(StatusCode::NO_CONTENT)
}

/// Fires a schedule now (recorded as a `triggered` fire), whatever its expression and overlap.
#[utoipa::path(post, path = "/schedules/{id}/trigger", tag = "schedules", params(("id" = String, Path, description = "The schedule's id")),
    responses((status = 202, description = "The run started", body = RunAccepted), super::openapi::Errors))]
pub(crate) async fn trigger_schedule(
    Auth(caller, ..): Auth<Runner>,
    State(state): State<Arc<ApiState>>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let schedule = state.store.get_schedule(&id).await.map_err(|e| not_found(e, &id))?;
    let flow = match state.store.get_flow(&schedule.flow_id).await {
        Ok(flow) => flow,
        Err(StoreError::NotFound) => return Err(ApiError::conflict("the schedule's flow was deleted")),
        Err(other) => return Err(other.into()),
    };
    let run = crate::scheduler::run_of(&schedule, &flow);
    let Some(Some(run)) = state.store.claim_fire(&id, Utc::now(), "triggered", Some(run)).await? else {
        return Err(ApiError::conflict("the schedule was triggered at this very instant already; try again"));
    };
    if let Err(e) = state.queue.enqueue(&run.id).await {
        tracing::warn!(run = %run.id, "cannot enqueue now, the reconciler will: {e}");
    }
    tracing::info!(run = %run.id, schedule = %id, key = %caller.key_id, "schedule triggered");
    let url = format!("/api/v1/runs/{}", run.id);
    let mut response =
        (StatusCode::ACCEPTED, axum::Json(RunAccepted { run_id: run.id, status: run.status, url: url.clone() }))
            .into_response();
    if let Ok(location) = HeaderValue::from_str(&url) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}

/// The schedule's runs, newest first.
#[utoipa::path(get, path = "/schedules/{id}/runs", tag = "schedules",
    params(("id" = String, Path, description = "The schedule's id"), PageParams),
    responses((status = 200, description = "A page of runs", body = Page<RunListItem>), super::openapi::Errors))]
pub(crate) async fn schedule_runs(
    _auth: Auth<Viewer>,
    State(state): State<Arc<ApiState>>,
    Path(id): Path<String>,
    Query(params): Query<PageParams>,
) -> ApiResult<axum::Json<Page<RunListItem>>> {
    state.store.get_schedule(&id).await.map_err(|e| not_found(e, &id))?;
    let filter =
        RunFilter { schedule_id: Some(id), limit: params.limit()?, cursor: params.cursor, ..RunFilter::default() };
    let page = state.store.list_runs(filter).await?;
    Ok(axum::Json(Page::of(page, RunListItem::from)))
}
