//! In-process signals between the API and the workers embedded in the same `testmesh serve`: "run X
//! has news" (new events or a final status are in storage), and "cancel run X now".
//!
//! Storage stays the source of truth — a waiter re-reads the run, an SSE stream re-reads the event
//! log — so a signal only saves the wait until the next poll. Workers in other processes cannot
//! signal; the API then notices within its poll interval, and cancellation reaches them through the
//! run row at their next lease renewal.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

/// The signals of one process. Share it as an `Arc`.
#[derive(Debug, Default)]
pub struct RunSignals {
    watchers: Mutex<HashMap<String, watch::Sender<u64>>>,
    running: Mutex<HashMap<String, CancellationToken>>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl RunSignals {
    /// A new set of signals.
    pub fn new() -> Arc<RunSignals> {
        Arc::new(RunSignals::default())
    }

    /// Tells whoever watches `run_id` that storage has news about it.
    pub fn notify(&self, run_id: &str) {
        if let Some(sender) = lock(&self.watchers).get(run_id) {
            sender.send_modify(|count| *count = count.wrapping_add(1));
        }
    }

    /// Starts watching `run_id`. Subscribe before reading storage, then wait: a notification
    /// between the read and the wait is not lost.
    pub fn subscribe(self: &Arc<Self>, run_id: &str) -> Subscription {
        let receiver =
            lock(&self.watchers).entry(run_id.to_string()).or_insert_with(|| watch::channel(0).0).subscribe();
        Subscription { signals: self.clone(), run_id: run_id.to_string(), receiver }
    }

    /// Registers the cancellation token of a run this process is executing, until the guard drops.
    pub fn register_running(self: &Arc<Self>, run_id: &str, token: CancellationToken) -> RunningGuard {
        lock(&self.running).insert(run_id.to_string(), token);
        RunningGuard { signals: self.clone(), run_id: run_id.to_string() }
    }

    /// Cancels `run_id` if this process is executing it; `false` when it is not.
    pub fn cancel(&self, run_id: &str) -> bool {
        match lock(&self.running).get(run_id) {
            Some(token) => {
                token.cancel();
                true
            }
            None => false,
        }
    }

    /// Cancels every run this process is executing (it is shutting down).
    pub fn cancel_all(&self) {
        for token in lock(&self.running).values() {
            token.cancel();
        }
    }

    /// How many runs this process is executing, for `/metrics`.
    pub fn running_count(&self) -> usize {
        lock(&self.running).len()
    }
}

/// A watch on one run's news; unwatches when dropped.
#[derive(Debug)]
pub struct Subscription {
    signals: Arc<RunSignals>,
    run_id: String,
    receiver: watch::Receiver<u64>,
}

impl Subscription {
    /// Waits until the run has news or `timeout` passes (then the caller polls storage anyway).
    pub async fn wait(&mut self, timeout: Duration) {
        let _ = tokio::time::timeout(timeout, self.receiver.changed()).await;
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        let mut watchers = lock(&self.signals.watchers);
        // This subscription's receiver is still alive here: it is the last one when the count is 1.
        if watchers.get(&self.run_id).is_some_and(|sender| sender.receiver_count() <= 1) {
            watchers.remove(&self.run_id);
        }
    }
}

/// Keeps a run's cancellation token registered while the run executes.
#[derive(Debug)]
pub struct RunningGuard {
    signals: Arc<RunSignals>,
    run_id: String,
}

impl Drop for RunningGuard {
    fn drop(&mut self) {
        lock(&self.signals.running).remove(&self.run_id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_notification_wakes_a_waiter_and_watchers_are_forgotten() {
        let signals = RunSignals::new();
        let mut subscription = signals.subscribe("run_1");
        signals.notify("run_1");
        let started = std::time::Instant::now();
        subscription.wait(Duration::from_secs(5)).await;
        assert!(started.elapsed() < Duration::from_secs(4), "woken by the notification");
        drop(subscription);
        assert!(lock(&signals.watchers).is_empty());
    }

    #[test]
    fn cancel_reaches_registered_runs_only() {
        let signals = RunSignals::new();
        let token = CancellationToken::new();
        let guard = signals.register_running("run_1", token.clone());
        assert!(!signals.cancel("run_2"));
        assert!(signals.cancel("run_1") && token.is_cancelled());
        drop(guard);
        assert!(!signals.cancel("run_1"));
    }
}
