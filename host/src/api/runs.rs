//! `/runs` and `/flows/{id}/runs`: starting runs (of a stored flow, or of an inline document),
//! reading them with their step results, waiting for them (`?wait=N`, for CI), cancelling them,
//! their reports (JUnit, JSON) and their live events (Server-Sent Events, resumable).

use super::auth::{Auth, Runner, Viewer};
use super::error::{ApiError, ApiResult};
use super::extract::{Path, Query, is_flow_media_type};
use super::pages::{Page, PageParams};
use super::{ApiState, flows, validation};
use crate::report;
use crate::runner::{RunResult, RunStatus};
use crate::storage::{FINAL_RUN_STATUSES, NewRun, RunFilter, RunRecord, StoreError};
use axum::Router;
use axum::extract::{FromRequest, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use bytes::Bytes;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::sync::Arc;
use std::time::{Duration, Instant};
use utoipa::{IntoParams, ToSchema};

pub(super) fn routes() -> Router<Arc<ApiState>> {
    Router::new()
        .route("/flows/{id}/runs", post(start_flow_run))
        .route("/runs", post(start_inline_run).get(list_runs))
        .route("/runs/{id}", get(get_run))
        .route("/runs/{id}/cancel", post(cancel_run))
        .route("/runs/{id}/report", get(run_report))
        .route("/runs/{id}/events", get(super::events::run_events))
}

/// What starting a run of a stored flow takes; every field may be left out.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StartRun {
    /// Variables of the run, over the flow's `env` and the environment's variables.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub vars: Map<String, Value>,
    /// The stored environment to run with (its variables and secrets).
    #[serde(default)]
    pub environment: Option<String>,
    /// The flow version to run (default: the current one).
    #[serde(default)]
    pub version: Option<i64>,
}

/// An ad-hoc run: a flow document that is not stored as a flow.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InlineRun {
    /// The flow: its document as text (YAML or JSON), or as a JSON object.
    #[schema(value_type = Object)]
    pub flow: Value,
    /// Variables of the run.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub vars: Map<String, Value>,
    /// The stored environment to run with.
    #[serde(default)]
    pub environment: Option<String>,
}

/// `?wait=`: how long to wait for the run to finish.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct WaitParams {
    /// Wait up to this many seconds (0–300) for the run to finish, then answer with the run
    /// (200 when finished, 202 when not yet).
    #[param(minimum = 0, maximum = 300)]
    pub wait: Option<u64>,
}

/// A run that was accepted and has not finished yet.
#[derive(Debug, Serialize, ToSchema)]
pub struct RunAccepted {
    /// The run's id (`run_…`).
    pub run_id: String,
    /// `queued` or `running`.
    pub status: String,
    /// Where to read it.
    pub url: String,
}

/// Step counts of a run.
#[derive(Debug, Serialize, ToSchema)]
pub struct RunSummary {
    /// Steps that passed.
    pub passed: usize,
    /// Steps that failed, errored or timed out.
    pub failed: usize,
    /// Steps skipped or cancelled.
    pub skipped: usize,
}

/// A run with its step results.
#[derive(Debug, Serialize, ToSchema)]
pub struct RunView {
    /// What lists show of it.
    #[serde(flatten)]
    pub run: RunListItem,
    /// The variables the run was started with.
    #[schema(value_type = Object)]
    pub vars: Value,
    /// Whether someone asked to cancel it.
    pub cancel_requested: bool,
    /// How long it ran, teardown included, once finished.
    pub duration_ms: Option<f64>,
    /// Step counts.
    pub summary: RunSummary,
    /// The values its steps captured, once finished (secrets masked).
    #[schema(value_type = Object)]
    pub outputs: Map<String, Value>,
    /// Every step result so far, in the order they finished: status, attempts, timing, the
    /// interpolated config and the output (secrets masked), assertion verdicts, captures, logs.
    #[schema(value_type = Vec<Object>)]
    pub steps: Vec<Value>,
}

/// A run in a list (without step results).
#[derive(Debug, Serialize, ToSchema)]
pub struct RunListItem {
    /// `run_…`.
    pub id: String,
    /// The stored flow, if any.
    pub flow_id: Option<String>,
    /// Its version.
    pub flow_version: Option<i64>,
    /// The flow's name.
    pub flow_name: String,
    /// `queued`, `running`, `passed`, `failed`, `error`, `cancelled` or `timeout`.
    pub status: String,
    /// The environment it runs with.
    pub environment: Option<String>,
    /// The schedule that fired it, if one did.
    pub schedule_id: Option<String>,
    /// When it was asked for.
    pub created_at: DateTime<Utc>,
    /// When a worker started it.
    pub started_at: Option<DateTime<Utc>>,
    /// When it finished.
    pub finished_at: Option<DateTime<Utc>>,
    /// Why it did not pass, when the steps do not say it (an error, a timeout, a cancellation).
    pub error: Option<String>,
}

impl From<RunRecord> for RunListItem {
    fn from(r: RunRecord) -> Self {
        RunListItem {
            id: r.id,
            flow_id: r.flow_id,
            flow_version: r.flow_version,
            flow_name: r.flow_name,
            status: r.status,
            environment: r.environment,
            schedule_id: r.schedule_id,
            created_at: r.created_at,
            started_at: r.started_at,
            finished_at: r.finished_at,
            error: r.error,
        }
    }
}

/// The filters of `GET /runs`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RunListParams {
    /// Only runs of this flow (its id).
    pub flow_id: Option<String>,
    /// Only runs with this status.
    pub status: Option<String>,
    /// Only runs created at or after this time (RFC 3339).
    pub since: Option<DateTime<Utc>>,
    /// Items per page, 1 to 500 (default 50).
    #[param(minimum = 1)]
    pub limit: Option<i64>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// `?format=` of a report.
#[derive(Debug, Clone, Copy, Default, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ReportFormat {
    /// JUnit XML, as CI systems read it.
    Junit,
    /// testmesh's JSON report.
    #[default]
    Json,
}

/// The parameters of `GET /runs/{id}/report`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReportParams {
    /// `junit` or `json` (default).
    pub format: Option<ReportFormat>,
}

/// A JSON body that may be empty (then `T::default()`), so that `curl -X POST …/runs` works.
pub(crate) struct OptionalJson<T>(pub T);

impl<T: serde::de::DeserializeOwned + Default, S: Send + Sync> FromRequest<S> for OptionalJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let is_json = media_type(req.headers()).is_none_or(|media| media == "application/json");
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            let status = rejection.status();
            ApiError::new(
                status,
                if status == StatusCode::PAYLOAD_TOO_LARGE { "too-large" } else { "bad-request" },
                rejection.body_text(),
            )
        })?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(OptionalJson(T::default()));
        }
        if !is_json {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported-media-type",
                "send the body as `application/json`",
            ));
        }
        serde_json::from_slice(&bytes)
            .map(OptionalJson)
            .map_err(|e| ApiError::bad_request(format!("the body is not a valid JSON object for this request: {e}")))
    }
}

fn media_type(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::CONTENT_TYPE)?.to_str().ok()?;
    Some(value.split(';').next().unwrap_or("").trim().to_ascii_lowercase())
}

/// Starts a run of a stored flow (its current version, or `version`). With `?wait=N`, answers
/// once the run finished (200 with the run) or after N seconds (202).
#[utoipa::path(post, path = "/flows/{id}/runs", tag = "runs",
    params(("id" = String, Path, description = "The flow's id (`flw_…`) or name"), WaitParams),
    request_body(content = StartRun, description = "Variables, environment, version (all optional)"),
    responses(
        (status = 200, description = "Finished within `wait`", body = RunView),
        (status = 202, description = "Queued (or still running after `wait`)", body = RunAccepted),
        super::openapi::Errors,
    ))]
pub(crate) async fn start_flow_run(
    Auth(caller, ..): Auth<Runner>,
    State(state): State<Arc<ApiState>>,
    Path(id): Path<String>,
    Query(wait): Query<WaitParams>,
    OptionalJson(body): OptionalJson<StartRun>,
) -> ApiResult<Response> {
    let wait = wait_duration(&state, &wait)?;
    let flow = flows::resolve(&state, &id).await?;
    let version = match body.version {
        Some(version) => match state.store.flow_version(&flow.id, version).await {
            Ok(found) => found.version,
            Err(StoreError::NotFound) => {
                return Err(ApiError::unprocessable(format!("flow `{}` has no version {version}", flow.name)));
            }
            Err(other) => return Err(other.into()),
        },
        None => flow.version,
    };
    check_environment(&state, body.environment.as_deref()).await?;
    let run = NewRun {
        flow_id: Some(flow.id.clone()),
        flow_version: Some(version),
        flow_name: flow.name.clone(),
        vars: Value::Object(body.vars),
        environment: body.environment,
        source: None,
        schedule_id: None,
    };
    let run = enqueue(&state, run).await?;
    tracing::info!(run = %run.id, flow = %flow.id, key = %caller.key_id, "run started");
    respond_after(&state, run, wait).await
}

/// Starts an ad-hoc run of a flow document that is not stored: JSON `{flow, vars, environment}`, or
/// the document itself as `application/yaml`. `?wait=N` as for stored flows.
#[utoipa::path(post, path = "/runs", tag = "runs", params(WaitParams),
    request_body(description = "The flow inline", content(
        (InlineRun = "application/json"), (String = "application/yaml"))),
    responses(
        (status = 200, description = "Finished within `wait`", body = RunView),
        (status = 202, description = "Queued (or still running after `wait`)", body = RunAccepted),
        super::openapi::Errors,
    ))]
pub(crate) async fn start_inline_run(
    Auth(caller, ..): Auth<Runner>,
    State(state): State<Arc<ApiState>>,
    Query(wait): Query<WaitParams>,
    request: Request,
) -> ApiResult<Response> {
    let wait = wait_duration(&state, &wait)?;
    let media = media_type(request.headers()).unwrap_or_default();
    let bytes = Bytes::from_request(request, &()).await.map_err(|rejection| {
        let status = rejection.status();
        ApiError::new(
            status,
            if status == StatusCode::PAYLOAD_TOO_LARGE { "too-large" } else { "bad-request" },
            rejection.body_text(),
        )
    })?;
    let inline = if media == "application/json" {
        serde_json::from_slice::<InlineRun>(&bytes).map_err(|e| {
            ApiError::bad_request(format!("expected {{\"flow\": …, \"vars\": {{…}}, \"environment\": …}}: {e}"))
        })?
    } else if is_flow_media_type(&media) {
        let text =
            String::from_utf8(bytes.to_vec()).map_err(|_| ApiError::bad_request("the flow document is not UTF-8"))?;
        InlineRun { flow: Value::String(text), vars: Map::new(), environment: None }
    } else {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported-media-type",
            "send `application/json` ({\"flow\": …}) or the flow document as `application/yaml`",
        ));
    };
    let text = match inline.flow {
        Value::String(text) => text,
        object @ Value::Object(_) => serde_json::to_string_pretty(&object).map_err(ApiError::internal)?,
        _ => return Err(ApiError::bad_request("`flow` must be the flow document as text, or as an object")),
    };
    let flow = validation::check(&state, &text, "flow").await?.into_flow(&text)?;
    check_environment(&state, inline.environment.as_deref()).await?;
    let run = NewRun {
        flow_id: None,
        flow_version: None,
        flow_name: flow.name.clone(),
        vars: Value::Object(inline.vars),
        environment: inline.environment,
        source: Some(text),
        schedule_id: None,
    };
    let run = enqueue(&state, run).await?;
    tracing::info!(run = %run.id, key = %caller.key_id, "ad-hoc run started");
    respond_after(&state, run, wait).await
}

/// Lists runs, newest first.
#[utoipa::path(get, path = "/runs", tag = "runs", params(RunListParams),
    responses(
        (status = 200, description = "A page of runs", body = Page<RunListItem>),
        super::openapi::Errors,
    ))]
pub(crate) async fn list_runs(
    _auth: Auth<Viewer>,
    State(state): State<Arc<ApiState>>,
    Query(params): Query<RunListParams>,
) -> ApiResult<axum::Json<Page<RunListItem>>> {
    let limit = PageParams { limit: params.limit, cursor: None }.limit()?;
    let filter = RunFilter {
        flow_id: params.flow_id,
        status: params.status,
        since: params.since,
        limit,
        cursor: params.cursor,
        schedule_id: None,
    };
    let page = state.store.list_runs(filter).await?;
    Ok(axum::Json(Page::of(page, RunListItem::from)))
}

/// A run with its step results so far.
#[utoipa::path(get, path = "/runs/{id}", tag = "runs", params(("id" = String, Path, description = "The run's id")),
    responses(
        (status = 200, description = "The run", body = RunView),
        super::openapi::Errors,
    ))]
pub(crate) async fn get_run(
    _auth: Auth<Viewer>,
    State(state): State<Arc<ApiState>>,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<RunView>> {
    let run = find_run(&state, &id).await?;
    Ok(axum::Json(run_view(&state, run).await?))
}

/// Cancels a run: a queued run ends at once; a running one stops its current plugin call, runs
/// its teardown and ends `cancelled`.
#[utoipa::path(post, path = "/runs/{id}/cancel", tag = "runs", params(("id" = String, Path, description = "The run's id")),
    responses(
        (status = 202, description = "Cancelled, or being cancelled", body = RunView),
        super::openapi::Errors,
    ))]
pub(crate) async fn cancel_run(
    Auth(caller, ..): Auth<Runner>,
    State(state): State<Arc<ApiState>>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let run = state.store.request_cancel(&id).await.map_err(|e| match e {
        StoreError::NotFound => ApiError::not_found(format!("no run with id `{id}`")),
        StoreError::Conflict(_) => ApiError::conflict(format!("run `{id}` has already finished")),
        other => other.into(),
    })?;
    state.signals.cancel(&id);
    state.signals.notify(&id);
    tracing::info!(run = %id, key = %caller.key_id, "cancel requested");
    Ok((StatusCode::ACCEPTED, axum::Json(run_view(&state, run).await?)).into_response())
}

/// A finished run's report: JUnit XML (`?format=junit`) or JSON.
#[utoipa::path(get, path = "/runs/{id}/report", tag = "runs",
    params(("id" = String, Path, description = "The run's id"), ReportParams),
    responses(
        (status = 200, description = "The report", content(
            (Object = "application/json"), (String = "application/xml"))),
        super::openapi::Errors,
    ))]
pub(crate) async fn run_report(
    _auth: Auth<Viewer>,
    State(state): State<Arc<ApiState>>,
    Path(id): Path<String>,
    Query(params): Query<ReportParams>,
) -> ApiResult<Response> {
    let run = find_run(&state, &id).await?;
    if !is_final(&run.status) {
        return Err(ApiError::conflict(format!("run `{id}` has not finished yet (it is {})", run.status)));
    }
    let result = run_result_of(&run);
    Ok(match params.format.unwrap_or_default() {
        ReportFormat::Junit => {
            ([(header::CONTENT_TYPE, "application/xml; charset=utf-8")], report::junit(&[result])).into_response()
        }
        ReportFormat::Json => ([(header::CONTENT_TYPE, "application/json")], report::json(&[result])).into_response(),
    })
}

/// The checked `?wait=`.
fn wait_duration(state: &ApiState, params: &WaitParams) -> ApiResult<Option<Duration>> {
    match params.wait {
        None | Some(0) => Ok(None),
        Some(seconds) if Duration::from_secs(seconds) > state.config.max_wait => {
            Err(ApiError::bad_request(format!("`wait` is at most {} seconds", state.config.max_wait.as_secs())))
        }
        Some(seconds) => Ok(Some(Duration::from_secs(seconds))),
    }
}

/// 422 unless `environment` is absent or stored.
async fn check_environment(state: &ApiState, environment: Option<&str>) -> ApiResult<()> {
    let Some(name) = environment else { return Ok(()) };
    match state.store.get_environment(name).await {
        Ok(_) => Ok(()),
        Err(StoreError::NotFound) => Err(ApiError::unprocessable(format!("environment `{name}` does not exist"))),
        Err(other) => Err(other.into()),
    }
}

/// Records a run and hands it to the workers. If the queue is down the run stays `queued` in
/// storage, where the reconciler finds it.
async fn enqueue(state: &ApiState, run: NewRun) -> ApiResult<RunRecord> {
    let run = state.store.create_run(run).await?;
    if let Err(e) = state.queue.enqueue(&run.id).await {
        tracing::warn!(run = %run.id, "cannot enqueue now, the reconciler will: {e}");
    }
    Ok(run)
}

/// The answer to a started run: at once (202), or once it finished within `wait` (200).
async fn respond_after(state: &ApiState, run: RunRecord, wait: Option<Duration>) -> ApiResult<Response> {
    let Some(wait) = wait else { return Ok(accepted(run)) };
    let deadline = Instant::now() + wait;
    let mut subscription = state.signals.subscribe(&run.id);
    loop {
        let current = state.store.get_run(&run.id).await?;
        if is_final(&current.status) {
            return Ok((StatusCode::OK, axum::Json(run_view(state, current).await?)).into_response());
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(accepted(current));
        }
        subscription.wait(left.min(state.config.poll_interval)).await;
    }
}

/// 202 with the run's id, status and address.
fn accepted(run: RunRecord) -> Response {
    let url = format!("/api/v1/runs/{}", run.id);
    let mut response =
        (StatusCode::ACCEPTED, axum::Json(RunAccepted { run_id: run.id, status: run.status, url: url.clone() }))
            .into_response();
    if let Ok(location) = HeaderValue::from_str(&url) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    response
}

/// The run `id`, or 404.
pub(super) async fn find_run(state: &ApiState, id: &str) -> ApiResult<RunRecord> {
    state.store.get_run(id).await.map_err(|e| match e {
        StoreError::NotFound => ApiError::not_found(format!("no run with id `{id}`")),
        other => other.into(),
    })
}

pub(super) fn is_final(status: &str) -> bool {
    FINAL_RUN_STATUSES.contains(&status)
}

/// The run as the API shows it, with its stored step results.
async fn run_view(state: &ApiState, mut run: RunRecord) -> ApiResult<RunView> {
    let rows = state.store.step_results(&run.id).await?;
    let steps: Vec<Value> = rows.into_iter().map(|row| row.result).collect();
    let mut summary = RunSummary { passed: 0, failed: 0, skipped: 0 };
    for step in &steps {
        match step.get("status").and_then(Value::as_str) {
            Some("passed") => summary.passed += 1,
            Some("failed" | "error" | "timeout") => summary.failed += 1,
            Some(_) => summary.skipped += 1,
            None => {}
        }
    }
    let result = run.result.take();
    let field = |name: &str| result.as_ref().and_then(|r| r.get(name));
    let outputs = field("outputs").and_then(Value::as_object).cloned().unwrap_or_default();
    let duration_ms = field("duration_ms").and_then(Value::as_f64);
    if run.error.is_none() {
        run.error = field("error").and_then(Value::as_str).map(str::to_string);
    }
    let cancel_requested = run.cancel_requested_at.is_some();
    let vars = std::mem::take(&mut run.vars);
    Ok(RunView { run: RunListItem::from(run), vars, cancel_requested, duration_ms, summary, outputs, steps })
}

/// The runner's result of a finished run, for reports; a run that ended before it started (an
/// invalid flow, a missing environment) reads as a result without steps.
pub(crate) fn run_result_of(run: &RunRecord) -> RunResult {
    if let Some(result) = run.result.clone().and_then(|value| serde_json::from_value::<RunResult>(value).ok()) {
        return result;
    }
    let status = serde_json::from_value::<RunStatus>(Value::String(run.status.clone())).unwrap_or(RunStatus::Error);
    let error = run
        .error
        .clone()
        .or_else(|| run.result.as_ref().and_then(|r| r.get("error")).and_then(Value::as_str).map(str::to_string));
    RunResult {
        run_id: run.id.clone(),
        flow: run.flow_name.clone(),
        source: run.flow_id.clone(),
        status,
        started_at: run.started_at.unwrap_or(run.created_at),
        duration_ms: 0.0,
        steps: Vec::new(),
        outputs: Map::new(),
        error,
    }
}
