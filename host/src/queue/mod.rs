//! Dispatch of runs to workers: a [`Queue`] of run ids with at-least-once delivery — in process for
//! the embedded default ([`MemoryQueue`]), Redis Streams with a consumer group for the distributed
//! set-up ([`RedisQueue`]). See `../shared/research/queue.md` for the rules this follows.
//!
//! The database is the source of truth: a job carries only a run id, and a worker claims the run in
//! the database (with a fencing attempt number) before running it, so a job delivered twice runs
//! once. The queue's part is to hand every job to some worker, to hand a dead worker's jobs to
//! another ([`Queue::reclaim`]), and to set aside a job that keeps killing its workers (the
//! dead-letter list) instead of retrying it forever.

mod memory;
mod redis_streams;

pub use memory::MemoryQueue;
pub use redis_streams::{RedisQueue, RedisQueueConfig};

use futures::future::BoxFuture;
use std::time::Duration;

/// A job handed to a worker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    /// The run to execute.
    pub run_id: String,
    /// How many times the job has been handed out, this time included (1 the first time).
    pub delivery: u64,
    /// The queue's handle on this delivery (the stream entry id), for [`Queue::ack`].
    pub receipt: String,
}

/// What [`Queue::reclaim`] took over from workers that stopped answering.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reclaimed {
    /// Jobs now delivered to this consumer, to run again.
    pub jobs: Vec<Job>,
    /// Run ids moved to the dead-letter list: delivered more than the maximum. Their runs should
    /// end `error` with the reason.
    pub dead: Vec<String>,
}

/// Why the queue could not do something. Workers treat every error as transient: back off, retry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueueError {
    /// The queue's backend could not be reached or answered with an error.
    #[error("queue unavailable: {0}")]
    Unavailable(String),
}

/// A queue of run ids with at-least-once delivery to competing consumers. Each value is one
/// consumer (one worker incarnation); clones of a [`MemoryQueue`] share the queue.
pub trait Queue: Send + Sync {
    /// Adds a job for `run_id`.
    fn enqueue<'a>(&'a self, run_id: &'a str) -> BoxFuture<'a, Result<(), QueueError>>;

    /// Up to `max` jobs for this consumer, waiting up to `wait` for one: first the jobs this
    /// consumer was given before and never acknowledged (a restart), then new ones.
    fn receive(&self, max: usize, wait: Duration) -> BoxFuture<'_, Result<Vec<Job>, QueueError>>;

    /// Acknowledges a job: it is done (its final state is in the database) and is never delivered
    /// again.
    fn ack<'a>(&'a self, job: &'a Job) -> BoxFuture<'a, Result<(), QueueError>>;

    /// Takes over the jobs of other consumers that have not been acknowledged or renewed for
    /// `min_idle`; a job delivered more than `max_deliveries` times goes to the dead-letter list
    /// instead (and is acknowledged).
    fn reclaim(&self, min_idle: Duration, max_deliveries: u64) -> BoxFuture<'_, Result<Reclaimed, QueueError>>;

    /// Tells the queue this consumer is still working on `job` (a long run), so that it is not
    /// reclaimed; `false` when the job is no longer this consumer's (another took it over).
    fn renew<'a>(&'a self, job: &'a Job) -> BoxFuture<'a, Result<bool, QueueError>>;

    /// The run ids in the dead-letter list, oldest first (for operators and tests).
    fn dead_letters(&self) -> BoxFuture<'_, Result<Vec<String>, QueueError>>;

    /// Checks that the queue's backend answers (for `/ready`); an in-process queue always does.
    fn ping(&self) -> BoxFuture<'_, Result<(), QueueError>> {
        Box::pin(async { Ok(()) })
    }
}

/// A consumer name that is unique to this process start (`host-pid-uuid`): reusing a name across
/// restarts would hide a dead worker's unacknowledged jobs behind a live one.
pub fn consumer_name() -> String {
    let host = std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok().map(|h| h.trim().to_string()))
        .unwrap_or_else(|| "worker".into());
    format!("{host}-{}-{}", std::process::id(), uuid::Uuid::new_v4().simple())
}
