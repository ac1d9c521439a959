//! The in-process queue of the embedded default (`testmesh serve` with no Redis): the same
//! contract as the Redis one — pending jobs per consumer, reclaim after idleness, dead letters —
//! within one process, so that the server's workers behave the same either way.

use super::{Job, Queue, QueueError, Reclaimed};
use futures::future::BoxFuture;
use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use tokio::sync::Notify;

#[derive(Debug)]
struct Pending {
    run_id: String,
    consumer: String,
    delivered_at: Instant,
    delivery: u64,
}

#[derive(Debug, Default)]
struct State {
    next_id: u64,
    ready: VecDeque<(u64, String)>,
    pending: BTreeMap<u64, Pending>,
    dead: Vec<String>,
}

#[derive(Debug, Default)]
struct Shared {
    state: Mutex<State>,
    notify: Notify,
}

/// A queue in this process. [`MemoryQueue::consumer`] gives another consumer of the same queue.
#[derive(Debug, Clone)]
pub struct MemoryQueue {
    shared: Arc<Shared>,
    consumer: String,
}

impl Default for MemoryQueue {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryQueue {
    /// A new, empty queue, seen by a consumer of its own.
    pub fn new() -> Self {
        MemoryQueue { shared: Arc::default(), consumer: super::consumer_name() }
    }

    /// Another consumer of the same queue (another worker).
    pub fn consumer(&self, name: &str) -> Self {
        MemoryQueue { shared: self.shared.clone(), consumer: name.to_string() }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.shared.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn take(&self, max: usize) -> Vec<Job> {
        let mut state = self.state();
        // First what this consumer holds and never acknowledged (it restarted), then new jobs.
        let mut jobs: Vec<Job> = state
            .pending
            .iter()
            .filter(|(_, p)| p.consumer == self.consumer)
            .take(max)
            .map(|(id, p)| Job { run_id: p.run_id.clone(), delivery: p.delivery, receipt: id.to_string() })
            .collect();
        while jobs.len() < max {
            let Some((id, run_id)) = state.ready.pop_front() else { break };
            let pending = Pending {
                run_id: run_id.clone(),
                consumer: self.consumer.clone(),
                delivered_at: Instant::now(),
                delivery: 1,
            };
            state.pending.insert(id, pending);
            jobs.push(Job { run_id, delivery: 1, receipt: id.to_string() });
        }
        jobs
    }
}

impl Queue for MemoryQueue {
    fn enqueue<'a>(&'a self, run_id: &'a str) -> BoxFuture<'a, Result<(), QueueError>> {
        Box::pin(async move {
            {
                let mut state = self.state();
                state.next_id += 1;
                let id = state.next_id;
                state.ready.push_back((id, run_id.to_string()));
            }
            self.shared.notify.notify_waiters();
            self.shared.notify.notify_one();
            Ok(())
        })
    }

    fn receive(&self, max: usize, wait: Duration) -> BoxFuture<'_, Result<Vec<Job>, QueueError>> {
        Box::pin(async move {
            let deadline = Instant::now() + wait;
            loop {
                let notified = self.shared.notify.notified();
                let jobs = self.take(max.max(1));
                if !jobs.is_empty() {
                    return Ok(jobs);
                }
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() || tokio::time::timeout(left, notified).await.is_err() {
                    return Ok(Vec::new());
                }
            }
        })
    }

    fn ack<'a>(&'a self, job: &'a Job) -> BoxFuture<'a, Result<(), QueueError>> {
        Box::pin(async move {
            if let Ok(id) = job.receipt.parse::<u64>() {
                self.state().pending.remove(&id);
            }
            Ok(())
        })
    }

    fn reclaim(&self, min_idle: Duration, max_deliveries: u64) -> BoxFuture<'_, Result<Reclaimed, QueueError>> {
        Box::pin(async move {
            let mut state = self.state();
            let now = Instant::now();
            let idle: Vec<u64> = state
                .pending
                .iter()
                .filter(|(_, p)| p.consumer != self.consumer && now.duration_since(p.delivered_at) >= min_idle)
                .map(|(id, _)| *id)
                .collect();
            let mut reclaimed = Reclaimed::default();
            for id in idle {
                let Some(pending) = state.pending.get_mut(&id) else { continue };
                pending.delivery += 1;
                if pending.delivery > max_deliveries {
                    let run_id = pending.run_id.clone();
                    state.pending.remove(&id);
                    state.dead.push(run_id.clone());
                    reclaimed.dead.push(run_id);
                    continue;
                }
                pending.consumer = self.consumer.clone();
                pending.delivered_at = now;
                reclaimed.jobs.push(Job {
                    run_id: pending.run_id.clone(),
                    delivery: pending.delivery,
                    receipt: id.to_string(),
                });
            }
            Ok(reclaimed)
        })
    }

    fn renew<'a>(&'a self, job: &'a Job) -> BoxFuture<'a, Result<bool, QueueError>> {
        Box::pin(async move {
            let Ok(id) = job.receipt.parse::<u64>() else { return Ok(false) };
            let mut state = self.state();
            match state.pending.get_mut(&id) {
                Some(pending) if pending.consumer == self.consumer => {
                    pending.delivered_at = Instant::now();
                    Ok(true)
                }
                _ => Ok(false),
            }
        })
    }

    fn dead_letters(&self) -> BoxFuture<'_, Result<Vec<String>, QueueError>> {
        Box::pin(async move { Ok(self.state().dead.clone()) })
    }
}
