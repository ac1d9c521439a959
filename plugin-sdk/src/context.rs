//! The call context a plugin receives, independent of the world's generated types.

/// Where a call comes from: run, flow, step, attempt and the time left. Useful for log lines,
/// idempotency keys and sizing a plugin's own I/O timeouts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Context {
    /// The run this call belongs to.
    pub run_id: String,
    /// The flow's name.
    pub flow_name: String,
    /// The step's id.
    pub step_id: String,
    /// 1 for the first attempt, 2, 3, … on retries.
    pub attempt: u32,
    /// Milliseconds left before the host interrupts the call.
    pub deadline_ms: u64,
    /// The operation of `action: <plugin>.<operation>` (actions only).
    pub operation: Option<String>,
}

impl Context {
    /// The time left before the host interrupts the call, less a small margin so that a plugin that
    /// waits on I/O can still return a useful error of its own.
    pub fn time_left(&self) -> std::time::Duration {
        let margin = (self.deadline_ms / 20).clamp(5, 250);
        std::time::Duration::from_millis(self.deadline_ms.saturating_sub(margin).max(1))
    }
}
