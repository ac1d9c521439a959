//! The scheduler's tick: every due schedule's fire times, each claimed once in storage with the run
//! it starts — or recorded `skipped` (overlap) or `missed` (outside the catch-up window) — then the
//! runs enqueued. Any number of replicas may tick at once; the claim decides.

use super::cron::{CatchUp, CronSpec, Overlap};
use crate::queue::Queue;
use crate::storage::{FlowRecord, NewRun, ScheduleRecord, Store, StoreError};
use chrono::{DateTime, Utc};
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// At most this many missed fire times of one schedule are recorded per tick.
const MAX_MISSED_RECORDED: usize = 100;

/// What one tick did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tick {
    /// Runs started (their ids).
    pub started: Vec<String>,
    /// Fires skipped because an earlier run was unfinished (overlap `forbid`) or the flow is gone.
    pub skipped: usize,
    /// Fire times given up (outside the catch-up window).
    pub missed: usize,
}

/// Fires the schedules of a store.
pub struct Scheduler {
    store: Arc<dyn Store>,
    queue: Arc<dyn Queue>,
}

impl Scheduler {
    /// A scheduler of `store`'s schedules, enqueueing runs on `queue`.
    pub fn new(store: Arc<dyn Store>, queue: Arc<dyn Queue>) -> Self {
        Scheduler { store, queue }
    }

    /// Ticks every second until `shutdown`.
    pub async fn run(self, shutdown: CancellationToken) {
        loop {
            if let Err(e) = self.tick(Utc::now()).await {
                tracing::warn!("scheduler: {e}");
            }
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                _ = shutdown.cancelled() => return,
            }
        }
    }

    /// Fires what is due at `now`.
    pub async fn tick(&self, now: DateTime<Utc>) -> Result<Tick, StoreError> {
        let mut tick = Tick::default();
        for schedule in self.store.due_schedules(now, 100).await? {
            self.fire_due(&schedule, now, &mut tick).await?;
        }
        Ok(tick)
    }

    async fn fire_due(&self, schedule: &ScheduleRecord, now: DateTime<Utc>, tick: &mut Tick) -> Result<(), StoreError> {
        let (spec, catch_up, overlap) = match policies(schedule) {
            Ok(policies) => policies,
            Err(reason) => {
                // Checked when stored; a schedule that no longer parses stops firing, loudly.
                tracing::error!(schedule = %schedule.id, "schedule cannot fire: {reason}");
                return self.store.advance_schedule(&schedule.id, None).await;
            }
        };
        let Some(next) = schedule.next_fire_at else { return Ok(()) };
        // `due` looks at (last, now]: start just before the next fire time not yet examined.
        let last = next - chrono::Duration::microseconds(1);
        let due = spec.due(last, now, catch_up);
        for missed in due.missed.iter().rev().take(MAX_MISSED_RECORDED) {
            if self.store.claim_fire(&schedule.id, *missed, "missed", None).await?.is_some() {
                tick.missed += 1;
            }
        }
        for fire_time in &due.fire {
            self.fire(schedule, *fire_time, overlap, tick).await?;
        }
        self.store.advance_schedule(&schedule.id, due.next).await
    }

    async fn fire(
        &self,
        schedule: &ScheduleRecord,
        fire_time: DateTime<Utc>,
        overlap: Overlap,
        tick: &mut Tick,
    ) -> Result<(), StoreError> {
        let flow = match self.store.get_flow(&schedule.flow_id).await {
            Ok(flow) => flow,
            Err(StoreError::NotFound) => {
                tracing::warn!(schedule = %schedule.id, "the schedule's flow was deleted; skipping");
                if self.store.claim_fire(&schedule.id, fire_time, "skipped", None).await?.is_some() {
                    tick.skipped += 1;
                }
                return Ok(());
            }
            Err(e) => return Err(e),
        };
        let unfinished = self.store.unfinished_schedule_runs(&schedule.id).await?;
        if !unfinished.is_empty() {
            match overlap {
                Overlap::Allow => {}
                Overlap::Forbid => {
                    if self.store.claim_fire(&schedule.id, fire_time, "skipped", None).await?.is_some() {
                        tracing::info!(schedule = %schedule.id, "skipped a fire: an earlier run is unfinished");
                        tick.skipped += 1;
                    }
                    return Ok(());
                }
                Overlap::Replace => {
                    for run_id in &unfinished {
                        match self.store.request_cancel(run_id).await {
                            Ok(_) | Err(StoreError::Conflict(_)) | Err(StoreError::NotFound) => {}
                            Err(e) => return Err(e),
                        }
                    }
                }
            }
        }
        let run = run_of(schedule, &flow);
        if let Some(Some(run)) = self.store.claim_fire(&schedule.id, fire_time, "started", Some(run)).await? {
            if let Err(e) = self.queue.enqueue(&run.id).await {
                tracing::warn!(run = %run.id, "cannot enqueue a scheduled run now, the reconciler will: {e}");
            }
            tick.started.push(run.id);
        }
        Ok(())
    }
}

/// The run a fire of `schedule` starts: the flow's current version, the schedule's variables and
/// environment.
pub fn run_of(schedule: &ScheduleRecord, flow: &FlowRecord) -> NewRun {
    NewRun {
        flow_id: Some(flow.id.clone()),
        flow_version: Some(flow.version),
        flow_name: flow.name.clone(),
        vars: Value::Object(schedule.vars.clone()),
        environment: schedule.environment.clone(),
        source: None,
        schedule_id: Some(schedule.id.clone()),
    }
}

/// A stored schedule's expression and policies.
pub(crate) fn policies(schedule: &ScheduleRecord) -> Result<(CronSpec, CatchUp, Overlap), String> {
    let spec = CronSpec::parse(&schedule.cron, &schedule.timezone).map_err(|e| e.to_string())?;
    let window = Duration::from_secs(u64::try_from(schedule.catch_up_window_seconds).unwrap_or(0));
    let catch_up = CatchUp::from_policy(&schedule.catch_up, window)?;
    let overlap = Overlap::parse(&schedule.overlap)?;
    Ok((spec, catch_up, overlap))
}
