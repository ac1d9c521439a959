//! `GET /runs/{id}/events`: a run's events as Server-Sent Events, read from the run's event log in
//! storage — so a stream works the same whichever process runs the flow — woken by the in-process
//! signals of embedded workers, and resumable after any event (`Last-Event-ID`).

use super::ApiState;
use super::auth::{Auth, Viewer};
use super::error::{ApiError, ApiResult};
use super::extract::{Path, Query};
use super::runs::{find_run, is_final};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::Arc;
use utoipa::{IntoParams, ToSchema};

/// One Server-Sent Event of `GET /runs/{id}/events`, as the stream frames it.
#[derive(Debug, Serialize, ToSchema)]
pub struct RunEventMessage {
    /// The event's sequence number: send it back as `Last-Event-ID` to resume after it.
    pub id: String,
    /// `run.started`, `step.started`, `step.finished` or `run.finished`.
    #[schema(pattern = "^(run|step)\\.(started|finished)$")]
    pub event: String,
    /// The event's payload, a JSON object: the run or step it is about, and for `step.finished`
    /// the step result.
    pub data: String,
}

/// The parameters of `GET /runs/{id}/events`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventParams {
    /// Send only the events after this one (as `Last-Event-ID`, for clients that cannot set it).
    #[param(minimum = 0)]
    pub after: Option<i64>,
}

/// The run's events as Server-Sent Events: `run.started`, `step.started`, `step.finished`,
/// `run.finished` (then the stream ends). Each event's id is its sequence number: reconnect with
/// `Last-Event-ID` (or `?after=`) to resume after it.
#[utoipa::path(get, path = "/runs/{id}/events", tag = "runs",
    params(("id" = String, Path, description = "The run's id"), EventParams,
        ("Last-Event-ID" = Option<String>, Header, description = "Resume after this event")),
    responses(
        (status = 200, description = "The event stream", body = RunEventMessage, content_type = "text/event-stream"),
        super::openapi::Errors,
    ))]
pub(crate) async fn run_events(
    _auth: Auth<Viewer>,
    State(state): State<Arc<ApiState>>,
    Path(id): Path<String>,
    Query(params): Query<EventParams>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    find_run(&state, &id).await?;
    let last_event_id = match headers.get("last-event-id") {
        Some(value) => Some(
            value
                .to_str()
                .ok()
                .and_then(|v| v.trim().parse::<i64>().ok())
                .ok_or_else(|| ApiError::bad_request("Last-Event-ID must be an event id sent by this stream"))?,
        ),
        None => None,
    };
    let after = last_event_id.or(params.after).unwrap_or(0).max(0);
    let stream = EventStream {
        subscription: state.signals.subscribe(&id),
        state: state.clone(),
        run_id: id,
        after,
        buffered: VecDeque::new(),
        done: false,
    };
    let events = futures::stream::unfold(stream, |mut stream| async move {
        stream.next().await.map(|event| (Ok::<Event, Infallible>(event), stream))
    });
    let mut response = Sse::new(events).keep_alive(KeepAlive::default()).into_response();
    // Proxies must not buffer the stream.
    response.headers_mut().insert("x-accel-buffering", HeaderValue::from_static("no"));
    Ok(response)
}

/// Where a run's event stream stands.
struct EventStream {
    state: Arc<ApiState>,
    subscription: crate::platform::signals::Subscription,
    run_id: String,
    after: i64,
    buffered: VecDeque<crate::storage::RunEventRecord>,
    done: bool,
}

impl EventStream {
    /// The next event; `None` once `run.finished` was sent (or storage failed).
    async fn next(&mut self) -> Option<Event> {
        loop {
            if let Some(record) = self.buffered.pop_front() {
                if record.kind == "run.finished" {
                    self.done = true;
                }
                return Some(
                    Event::default().id(record.seq.to_string()).event(record.kind).data(record.data.to_string()),
                );
            }
            if self.done {
                return None;
            }
            match self.state.store.run_events(&self.run_id, self.after, 500).await {
                Ok(records) if !records.is_empty() => {
                    self.after = records.last().map_or(self.after, |r| r.seq);
                    self.buffered.extend(records);
                }
                Ok(_) => {
                    // Nothing new. A run that has finished has nothing more to say (the client
                    // resumed after its last event) — once a last read finds nothing either: the
                    // run may have finished between the two reads.
                    match self.state.store.get_run(&self.run_id).await {
                        Ok(run) if is_final(&run.status) => {
                            match self.state.store.run_events(&self.run_id, self.after, 500).await {
                                Ok(records) if !records.is_empty() => {
                                    self.after = records.last().map_or(self.after, |r| r.seq);
                                    self.buffered.extend(records);
                                }
                                _ => return None,
                            }
                        }
                        Ok(_) => self.subscription.wait(self.state.config.poll_interval).await,
                        Err(_) => return None,
                    }
                }
                Err(e) => {
                    tracing::warn!(run = %self.run_id, "event stream: {e}");
                    return None;
                }
            }
        }
    }
}
