//! The worker: the glue between a job and a finished run — claim the run in storage (with a fencing
//! attempt and a lease), load the flow version it pinned and its environment, run it with the
//! runner, store each step result as it finishes, store the final result, then acknowledge the job.
//! `ARCHITECTURE.md` "A run, end to end" and `research/queue.md` rules 2–7.
//!
//! A job delivered twice runs once: the second claim finds the run held or finished and the job is
//! acknowledged without running. A worker that loses its lease (another took the run over) has its
//! run cancelled, and its writes are fenced off by the attempt number.

use crate::flow::parse_flow;
use crate::queue::{Job, Queue};
use crate::runner::{EventSink, RunEvent, RunRequest, RunStatus, Runner};
use crate::storage::{StepRow, Store, StoreError};
use serde_json::{Map, Value, json};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// What happened to a job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The run was executed to this final status.
    Ran(RunStatus),
    /// The run was not claimable (another worker holds it, or it finished): nothing ran.
    Skipped,
    /// The run could not start (its flow is missing or invalid); it was ended `error`.
    Failed(String),
    /// This worker lost the run while executing it (its lease was taken over); nothing was stored.
    Lost,
}

/// Why a job could not be handled; the job stays unacknowledged and is delivered again.
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    /// Storage failed.
    #[error("storage: {0}")]
    Store(#[from] StoreError),
    /// The queue failed.
    #[error("queue: {0}")]
    Queue(#[from] crate::queue::QueueError),
}

/// Executes jobs from a queue against a store.
pub struct Worker {
    store: Arc<dyn Store>,
    queue: Arc<dyn Queue>,
    runner: Runner,
    owner: String,
    lease: Duration,
}

impl Worker {
    /// A worker named `owner` (unique per process start) holding runs for `lease` at a time,
    /// renewed every third of it.
    pub fn new(store: Arc<dyn Store>, queue: Arc<dyn Queue>, runner: Runner, owner: String, lease: Duration) -> Self {
        Worker { store, queue, runner, owner, lease }
    }

    /// Handles one job: claim, run, store, acknowledge.
    pub async fn handle(&self, job: &Job) -> Result<Outcome, WorkerError> {
        let run_id = job.run_id.as_str();
        let attempt = match self.store.claim_run(run_id, &self.owner, self.lease).await {
            Ok(Some(attempt)) => attempt,
            Ok(None) | Err(StoreError::NotFound) => {
                self.queue.ack(job).await?;
                return Ok(Outcome::Skipped);
            }
            Err(e) => return Err(e.into()),
        };
        let run = self.store.get_run(run_id).await?;
        let loaded = match (&run.flow_id, run.flow_version) {
            (Some(flow_id), Some(version)) => match self.store.flow_version(flow_id, version).await {
                Ok(stored) => parse_flow(&stored.source, &format!("{}@{version}", stored.name))
                    .map(|flow| (flow, format!("flow:{flow_id}@{version}")))
                    .map_err(|diagnostics| format!("flow version {version} is invalid:\n{diagnostics}")),
                Err(StoreError::NotFound) => Err(format!("flow {flow_id} version {version} does not exist")),
                Err(e) => return Err(e.into()),
            },
            _ => Err("the run names no stored flow version".to_string()),
        };
        let (flow, origin) = match loaded {
            Ok(loaded) => loaded,
            Err(reason) => {
                let result = json!({"run_id": run_id, "status": "error", "error": reason});
                self.store.finish_claimed_run(run_id, attempt, "error", result).await?;
                self.queue.ack(job).await?;
                return Ok(Outcome::Failed(reason));
            }
        };
        let (environment, secrets) = match &run.environment {
            Some(name) => {
                let record = self.store.get_environment(name).await?;
                (record.vars, self.store.environment_secrets(name).await?)
            }
            None => (Map::new(), Default::default()),
        };
        let cancel = CancellationToken::new();
        let request = RunRequest {
            run_id: run_id.to_string(),
            origin: Some(origin),
            environment,
            vars: match run.vars {
                Value::Object(vars) => vars,
                _ => Map::new(),
            },
            secrets,
            allow_process_env: false,
            cancel: cancel.clone(),
        };

        // Step results go to storage as they finish, through a writer task: the sink must not block.
        let (sender, mut receiver) = mpsc::unbounded_channel::<StepRow>();
        let store = self.store.clone();
        let writer_run = run_id.to_string();
        let writer = tokio::spawn(async move {
            while let Some(row) = receiver.recv().await {
                if let Err(e) = store.put_step_result(&writer_run, row).await {
                    tracing::warn!(run = %writer_run, "cannot store a step result: {e}");
                }
            }
        });
        let lost = CancellationToken::new();
        let renewer = self.renew_while_running(run_id, attempt, job, cancel.clone(), lost.clone());
        let sink = StoreSink { sender };
        let result = tokio::select! {
            result = self.runner.run(&flow, request, &sink) => result,
            // Never ends on its own; it cancels the run when the lease is lost.
            never = renewer => match never {},
        };
        drop(sink);
        let _ = writer.await;
        if lost.is_cancelled() {
            return Ok(Outcome::Lost);
        }
        let status = result.status;
        let stored = self
            .store
            .finish_claimed_run(run_id, attempt, status.as_str(), serde_json::to_value(&result).unwrap_or(Value::Null))
            .await?;
        self.queue.ack(job).await?;
        Ok(if stored { Outcome::Ran(status) } else { Outcome::Lost })
    }

    /// Renews the run's lease and the job every third of the lease; when the run is no longer
    /// ours, cancels it and marks it lost. Runs until dropped.
    async fn renew_while_running(
        &self,
        run_id: &str,
        attempt: i64,
        job: &Job,
        cancel: CancellationToken,
        lost: CancellationToken,
    ) -> std::convert::Infallible {
        let every = (self.lease / 3).max(Duration::from_millis(10));
        loop {
            tokio::time::sleep(every).await;
            match self.store.renew_run_lease(run_id, attempt, self.lease).await {
                Ok(true) => {
                    let _ = self.queue.renew(job).await;
                }
                Ok(false) => {
                    lost.cancel();
                    cancel.cancel();
                }
                Err(e) => tracing::warn!(run = %run_id, "cannot renew the lease: {e}"),
            }
        }
    }

    /// Takes over jobs of workers that stopped answering and ends the runs of jobs that failed too
    /// often (the dead letters) as `error`. Call it every few seconds.
    pub async fn reclaim(&self, max_deliveries: u64) -> Result<Vec<Job>, WorkerError> {
        let reclaimed = self.queue.reclaim(self.lease, max_deliveries).await?;
        for run_id in &reclaimed.dead {
            let reason =
                format!("the run's job was delivered more than {max_deliveries} times; its workers kept dying");
            if let Ok(Some(attempt)) = self.store.claim_run(run_id, &self.owner, self.lease).await {
                let result = json!({"run_id": run_id, "status": "error", "error": reason});
                self.store.finish_claimed_run(run_id, attempt, "error", result).await?;
            }
        }
        Ok(reclaimed.jobs)
    }

    /// Receives and handles jobs until `shutdown`, reclaiming abandoned ones between reads.
    pub async fn run(&self, shutdown: CancellationToken) {
        while !shutdown.is_cancelled() {
            let mut jobs = match self.queue.receive(4, Duration::from_secs(2)).await {
                Ok(jobs) => jobs,
                Err(e) => {
                    tracing::warn!("queue: {e}; retrying");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            };
            match self.reclaim(5).await {
                Ok(reclaimed) => jobs.extend(reclaimed),
                Err(e) => tracing::warn!("reclaim: {e}"),
            }
            for job in jobs {
                if let Err(e) = self.handle(&job).await {
                    tracing::warn!(run = %job.run_id, "job not handled, it will be delivered again: {e}");
                }
            }
        }
    }
}

/// Sends finished steps to the writer task.
struct StoreSink {
    sender: mpsc::UnboundedSender<StepRow>,
}

impl EventSink for StoreSink {
    fn event(&self, event: RunEvent<'_>) {
        if let RunEvent::StepFinished { result, .. } = event {
            let row = StepRow {
                path: format!("{}/{}", result.phase.as_str(), result.path),
                attempt: i64::from(result.attempts.max(1)),
                phase: result.phase.as_str().to_string(),
                status: result.status.as_str().to_string(),
                result: serde_json::to_value(result).unwrap_or(Value::Null),
            };
            let _ = self.sender.send(row);
        }
    }
}
