//! The worker: the glue between a job and a finished run — claim the run in storage (with a fencing
//! attempt and a lease), load the flow it runs (the pinned stored version, or an ad-hoc run's
//! source) with the stored flows it calls and its environment, run it with the runner over the
//! plugin catalog, store each step's progress as it happens, store the final result, then
//! acknowledge the job. `ARCHITECTURE.md` "A run, end to end" and `research/queue.md` rules 2–7.
//!
//! A job delivered twice runs once: the second claim finds the run held or finished and the job is
//! acknowledged without running. A worker that loses its lease (another took the run over) has its
//! run cancelled, and its writes are fenced off by the attempt number. A run someone cancels stops
//! at once when this process runs it ([`RunSignals::cancel`]), else at the next lease renewal;
//! its teardown runs and it ends `cancelled`.

mod sink;

use crate::flow::{Flow, parse_flow};
use crate::platform::{CatalogError, Metrics, PluginCatalog, RunSignals, StoredFlows};
use crate::queue::{Job, Queue};
use crate::runner::{RunRequest, RunStatus, Runner, RunnerOptions};
use crate::storage::{LeaseState, RunRecord, Store, StoreError};
use serde_json::{Map, Value, json};
use sink::StoreSink;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;
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

/// How a worker runs: its identity, its lease, the runner's limits.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// This worker's name, unique per process start ([`crate::queue::consumer_name`]).
    pub owner: String,
    /// How long a claim holds a run without renewal; renewed every third of it.
    pub lease: Duration,
    /// How often a running run's row is checked for a cancellation request (at most a third of
    /// the lease).
    pub cancel_check: Duration,
    /// A job delivered more often than this is a dead letter: its run ends `error`.
    pub max_deliveries: u64,
    /// Limits of the runs.
    pub runner: RunnerOptions,
}

impl WorkerConfig {
    /// A worker named `owner` with a 30 s lease, checking for cancellation every second.
    pub fn new(owner: impl Into<String>) -> Self {
        WorkerConfig {
            owner: owner.into(),
            lease: Duration::from_secs(30),
            cancel_check: Duration::from_secs(1),
            max_deliveries: 5,
            runner: RunnerOptions::default(),
        }
    }
}

/// Executes jobs from a queue against a store.
pub struct Worker {
    store: Arc<dyn Store>,
    queue: Arc<dyn Queue>,
    catalog: Arc<PluginCatalog>,
    signals: Arc<RunSignals>,
    metrics: Arc<Metrics>,
    config: WorkerConfig,
}

/// The flow a run executes, ready to run.
struct Prepared {
    flow: Flow,
    origin: Option<String>,
    flows: StoredFlows,
}

impl Worker {
    /// A worker over `store` and `queue`, running flows with `catalog`'s plugins and telling
    /// `signals` of its progress.
    pub fn new(
        store: Arc<dyn Store>,
        queue: Arc<dyn Queue>,
        catalog: Arc<PluginCatalog>,
        signals: Arc<RunSignals>,
        config: WorkerConfig,
    ) -> Self {
        Worker { store, queue, catalog, signals, metrics: Arc::new(Metrics::new()), config }
    }

    /// Counts steps and runs in `metrics` (the process's, which `/metrics` shows).
    pub fn with_metrics(mut self, metrics: Arc<Metrics>) -> Self {
        self.metrics = metrics;
        self
    }

    /// Handles one job: claim, run, store, acknowledge.
    pub async fn handle(&self, job: &Job) -> Result<Outcome, WorkerError> {
        let run_id = job.run_id.as_str();
        let attempt = match self.store.claim_run(run_id, &self.config.owner, self.config.lease).await {
            Ok(Some(attempt)) => attempt,
            Ok(None) | Err(StoreError::NotFound) => {
                self.queue.ack(job).await?;
                return Ok(Outcome::Skipped);
            }
            Err(e) => return Err(e.into()),
        };
        self.signals.notify(run_id);
        let run = self.store.get_run(run_id).await?;
        let prepared = match self.prepare(&run).await? {
            Ok(prepared) => prepared,
            Err(reason) => return self.fail_start(job, attempt, reason).await,
        };
        let registry = match self.catalog.registry().await {
            Ok(registry) => registry,
            Err(CatalogError::Store(e)) => return Err(e.into()),
            Err(other) => return self.fail_start(job, attempt, other.to_string()).await,
        };
        let (environment, secrets) = match &run.environment {
            Some(name) => match self.store.get_environment(name).await {
                Ok(record) => (record.vars, self.store.environment_secrets(name).await?),
                Err(StoreError::NotFound) => {
                    return self.fail_start(job, attempt, format!("environment `{name}` does not exist")).await;
                }
                Err(e) => return Err(e.into()),
            },
            None => (Map::new(), Default::default()),
        };
        let cancel = CancellationToken::new();
        if run.cancel_requested_at.is_some() {
            cancel.cancel();
        }
        let _running = self.signals.register_running(run_id, cancel.clone());
        let request = RunRequest {
            run_id: run_id.to_string(),
            origin: prepared.origin,
            environment,
            vars: match run.vars {
                Value::Object(vars) => vars,
                _ => Map::new(),
            },
            secrets,
            allow_process_env: false,
            cancel: cancel.clone(),
        };
        let runner = Runner::new(registry, Arc::new(prepared.flows), self.config.runner.clone());

        let (sink, writer) = StoreSink::start(self.store.clone(), self.signals.clone(), self.metrics.clone(), run_id);
        let lost = CancellationToken::new();
        let renewer = self.renew_while_running(run_id, attempt, job, cancel.clone(), lost.clone());
        let result = tokio::select! {
            result = runner.run(&prepared.flow, request, &sink) => result,
            // Never ends on its own; it cancels the run when the lease is lost or a cancel is asked.
            never = renewer => match never {},
        };
        drop(sink);
        let _ = writer.await;
        if lost.is_cancelled() {
            return Ok(Outcome::Lost);
        }
        self.metrics.run_finished(&result);
        let status = result.status;
        let stored = self
            .store
            .finish_claimed_run(run_id, attempt, status.as_str(), serde_json::to_value(&result).unwrap_or(Value::Null))
            .await?;
        self.signals.notify(run_id);
        self.queue.ack(job).await?;
        Ok(if stored { Outcome::Ran(status) } else { Outcome::Lost })
    }

    /// The flow of a run and the stored flows it calls; `Ok(Err(reason))` when it cannot run.
    async fn prepare(&self, run: &RunRecord) -> Result<Result<Prepared, String>, WorkerError> {
        let (flow, origin) = match (&run.flow_id, run.flow_version, &run.source) {
            (Some(flow_id), Some(version), _) => match self.store.flow_version(flow_id, version).await {
                Ok(stored) => match parse_flow(&stored.source, &format!("{}@{version}", stored.name)) {
                    Ok(flow) => (flow, Some(format!("flow:{flow_id}"))),
                    Err(diagnostics) => return Ok(Err(format!("flow version {version} is invalid:\n{diagnostics}"))),
                },
                Err(StoreError::NotFound) => {
                    return Ok(Err(format!("flow {flow_id} version {version} does not exist")));
                }
                Err(e) => return Err(e.into()),
            },
            (None, _, Some(source)) => match parse_flow(source, &run.flow_name) {
                Ok(flow) => (flow, None),
                Err(diagnostics) => return Ok(Err(format!("the run's flow is invalid:\n{diagnostics}"))),
            },
            _ => return Ok(Err("the run names no stored flow version and carries no flow".to_string())),
        };
        let flows = StoredFlows::preload(&*self.store, &flow).await?;
        Ok(Ok(Prepared { flow, origin, flows }))
    }

    /// Ends a claimed run `error` before it started, and acknowledges its job.
    async fn fail_start(&self, job: &Job, attempt: i64, reason: String) -> Result<Outcome, WorkerError> {
        let result = json!({"run_id": job.run_id, "status": "error", "error": reason});
        self.store.finish_claimed_run(&job.run_id, attempt, "error", result).await?;
        self.signals.notify(&job.run_id);
        self.queue.ack(job).await?;
        Ok(Outcome::Failed(reason))
    }

    /// Renews the run's lease and the job every third of the lease, and looks for a cancellation
    /// request every `cancel_check`; cancels the run when one is made, and also marks it lost when
    /// the run is no longer ours. Runs until dropped.
    async fn renew_while_running(
        &self,
        run_id: &str,
        attempt: i64,
        job: &Job,
        cancel: CancellationToken,
        lost: CancellationToken,
    ) -> std::convert::Infallible {
        let renew_every = (self.config.lease / 3).max(Duration::from_millis(10));
        let tick = self.config.cancel_check.min(renew_every).max(Duration::from_millis(10));
        let mut last_queue_renewal = Instant::now();
        loop {
            tokio::time::sleep(tick).await;
            match self.store.renew_run_lease(run_id, attempt, self.config.lease).await {
                Ok(LeaseState::Held) => {}
                Ok(LeaseState::CancelRequested) => cancel.cancel(),
                Ok(LeaseState::Lost) => {
                    lost.cancel();
                    cancel.cancel();
                }
                Err(e) => tracing::warn!(run = %run_id, "cannot renew the lease: {e}"),
            }
            if last_queue_renewal.elapsed() >= renew_every {
                let _ = self.queue.renew(job).await;
                last_queue_renewal = Instant::now();
            }
        }
    }

    /// Takes over jobs of workers that stopped answering and ends the runs of jobs that failed too
    /// often (the dead letters) as `error`. Call it every few seconds.
    pub async fn reclaim(&self) -> Result<Vec<Job>, WorkerError> {
        let max_deliveries = self.config.max_deliveries;
        let reclaimed = self.queue.reclaim(self.config.lease, max_deliveries).await?;
        for run_id in &reclaimed.dead {
            let reason =
                format!("the run's job was delivered more than {max_deliveries} times; its workers kept dying");
            if let Ok(Some(attempt)) = self.store.claim_run(run_id, &self.config.owner, self.config.lease).await {
                let result = json!({"run_id": run_id, "status": "error", "error": reason});
                self.store.finish_claimed_run(run_id, attempt, "error", result).await?;
                self.signals.notify(run_id);
            }
        }
        Ok(reclaimed.jobs)
    }

    /// Receives and handles jobs, up to `concurrency` at once, until `shutdown`; reclaims abandoned
    /// jobs every few seconds. On shutdown it stops receiving and waits up to `grace` for the runs
    /// in progress, then cancels them (their teardown runs).
    pub async fn run(self: Arc<Self>, concurrency: usize, shutdown: CancellationToken, grace: Duration) {
        let concurrency = concurrency.max(1);
        let slots = Arc::new(Semaphore::new(concurrency));
        let in_flight = tokio_util::task::TaskTracker::new();
        let mut last_reclaim: Option<Instant> = None;
        while !shutdown.is_cancelled() {
            // Wait for a free slot first: jobs taken from the queue are this consumer's until acked.
            let first = tokio::select! {
                permit = slots.clone().acquire_owned() => match permit { Ok(p) => p, Err(_) => break },
                _ = shutdown.cancelled() => break,
            };
            let mut permits = vec![first];
            while let Ok(permit) = slots.clone().try_acquire_owned() {
                permits.push(permit);
            }
            let mut jobs = tokio::select! {
                received = self.queue.receive(permits.len(), Duration::from_secs(2)) => match received {
                    Ok(jobs) => jobs,
                    Err(e) => {
                        tracing::warn!("queue: {e}; retrying");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                        continue;
                    }
                },
                _ = shutdown.cancelled() => break,
            };
            if last_reclaim.is_none_or(|at| at.elapsed() >= Duration::from_secs(5)) {
                last_reclaim = Some(Instant::now());
                match self.reclaim().await {
                    Ok(reclaimed) => jobs.extend(reclaimed),
                    Err(e) => tracing::warn!("reclaim: {e}"),
                }
            }
            for job in jobs {
                // More jobs than permits (reclaimed ones): wait for a slot for each.
                let permit = match permits.pop() {
                    Some(permit) => permit,
                    None => match slots.clone().acquire_owned().await {
                        Ok(permit) => permit,
                        Err(_) => break,
                    },
                };
                let worker = self.clone();
                in_flight.spawn(async move {
                    if let Err(e) = worker.handle(&job).await {
                        tracing::warn!(run = %job.run_id, "job not handled, it will be delivered again: {e}");
                    }
                    drop(permit);
                });
            }
        }
        in_flight.close();
        if tokio::time::timeout(grace, in_flight.wait()).await.is_err() {
            tracing::warn!("shutting down: cancelling {} runs still in progress", in_flight.len());
            self.signals.cancel_all();
            in_flight.wait().await;
        }
    }
}
