//! Jobs that finish after being polled a few times: the target of polling flows
//! (`retry: { until: body.status == "done" }`). Each `GET /jobs/{id}` advances the job by one step,
//! so a flow's number of attempts is deterministic, with no timing involved.

use crate::{ApiError, AppState, lock};
use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Mutex;

/// How many polls a job takes when the request does not say.
pub const DEFAULT_STEPS: u32 = 3;

/// The most polls a job may take.
pub const MAX_STEPS: u32 = 100;

/// Jobs by id.
#[derive(Debug, Default)]
pub struct Jobs(Mutex<HashMap<String, Job>>);

/// A job's progress.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    /// How many polls it takes to finish.
    pub steps: u32,
    /// How many times it was polled (at most `steps`).
    pub polls: u32,
}

/// The body of `POST /jobs`, which may be absent.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct NewJob {
    /// Polls until done; [`DEFAULT_STEPS`] when absent.
    pub steps: Option<u32>,
}

/// `POST /jobs {"steps": n}` → `202 {id, status: "pending", steps, polls: 0}`; `422` unless
/// `1 <= n <= 100`. The body is optional.
pub async fn create(
    State(state): State<AppState>,
    body: Result<Option<Json<NewJob>>, JsonRejection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let steps = body?.and_then(|Json(job)| job.steps).unwrap_or(DEFAULT_STEPS);
    if !(1..=MAX_STEPS).contains(&steps) {
        return Err(ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, format!("steps must be 1 to {MAX_STEPS}")));
    }
    let id = uuid::Uuid::new_v4().to_string();
    let job = Job { steps, polls: 0 };
    let view = view(&id, &job);
    lock(&state.jobs.0).insert(id, job);
    Ok((StatusCode::ACCEPTED, Json(view)))
}

/// `GET /jobs/{id}` → `200` with the job after advancing it by one poll: `"running"` until it has
/// been polled `steps` times, then `"done"` with `"result": {"answer": 42}`; `404` for an unknown id.
pub async fn poll(State(state): State<AppState>, Path(id): Path<String>) -> Result<Json<Value>, ApiError> {
    let mut jobs = lock(&state.jobs.0);
    let job = jobs.get_mut(&id).ok_or_else(ApiError::not_found)?;
    job.polls = (job.polls + 1).min(job.steps);
    Ok(Json(view(&id, job)))
}

/// What the API shows of a job.
fn view(id: &str, job: &Job) -> Value {
    let status = match job.polls {
        0 => "pending",
        polls if polls < job.steps => "running",
        _ => "done",
    };
    let mut view = json!({ "id": id, "status": status, "steps": job.steps, "polls": job.polls });
    if status == "done" {
        view["result"] = json!({ "answer": 42 });
    }
    view
}
