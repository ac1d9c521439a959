//! The worker's [`EventSink`]: step progress goes to storage as it happens, through a writer task
//! (the sink must not block the run), in batches — whatever arrived while the previous batch was
//! being written goes in one transaction — and each stored batch signals the run's watchers.

use crate::platform::{Metrics, RunSignals};
use crate::runner::{EventSink, RunEvent};
use crate::storage::{StepEvent, StepRow, Store};
use serde_json::Value;
use std::sync::Arc;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// Sends a run's step events to its writer task.
pub(super) struct StoreSink {
    sender: mpsc::UnboundedSender<StepEvent>,
    metrics: Arc<Metrics>,
}

/// At most this many events go in one transaction.
const MAX_BATCH: usize = 256;

impl StoreSink {
    /// A sink for `run_id` and the writer task storing what it receives; the task ends once the
    /// sink is dropped and everything sent is stored.
    pub(super) fn start(
        store: Arc<dyn Store>,
        signals: Arc<RunSignals>,
        metrics: Arc<Metrics>,
        run_id: &str,
    ) -> (StoreSink, JoinHandle<()>) {
        let (sender, mut receiver) = mpsc::unbounded_channel::<StepEvent>();
        let run_id = run_id.to_string();
        let writer = tokio::spawn(async move {
            let mut batch = Vec::new();
            while receiver.recv_many(&mut batch, MAX_BATCH).await > 0 {
                if let Err(e) = store.record_step_events(&run_id, std::mem::take(&mut batch)).await {
                    tracing::warn!(run = %run_id, "cannot store step progress: {e}");
                }
                signals.notify(&run_id);
            }
        });
        (StoreSink { sender, metrics }, writer)
    }
}

impl EventSink for StoreSink {
    fn event(&self, event: RunEvent<'_>) {
        let event = match event {
            RunEvent::StepStarted { path, id, phase, .. } => StepEvent::Started {
                path: format!("{}/{path}", phase.as_str()),
                id: id.to_string(),
                phase: phase.as_str().to_string(),
            },
            RunEvent::StepFinished { result, .. } => {
                self.metrics.step_finished(result);
                StepEvent::Finished(StepRow {
                    path: format!("{}/{}", result.phase.as_str(), result.path),
                    attempt: i64::from(result.attempts.max(1)),
                    phase: result.phase.as_str().to_string(),
                    status: result.status.as_str().to_string(),
                    result: serde_json::to_value(result).unwrap_or(Value::Null),
                })
            }
            RunEvent::RunStarted { .. } | RunEvent::RunFinished { .. } => return,
        };
        let _ = self.sender.send(event);
    }
}
