//! Per-call resource limits and the memory limiter that enforces them and remembers which one tripped.

use std::time::Duration;

/// Limits applied to one plugin call. Defaults follow PLUGINS.md; a server may lower or raise them per
/// plugin within the maxima of [`SandboxConfig`](super::SandboxConfig).
///
/// The wasm stack size is not here: wasmtime fixes it per engine, so it is
/// [`SandboxConfig::wasm_stack_bytes`](super::SandboxConfig::wasm_stack_bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Linear memory the instance may grow to (all its memories together).
    pub memory_bytes: u64,
    /// Wall-clock deadline for the call; the running guest is interrupted when it passes.
    pub deadline: Duration,
    /// Largest output (action JSON, or all verdicts together) accepted from the plugin.
    pub output_bytes: usize,
    /// Largest log (log lines plus captured stdout/stderr) kept per call; the rest is dropped with a
    /// note that it was truncated.
    pub log_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { memory_bytes: 64 << 20, deadline: Duration::from_secs(30), output_bytes: 16 << 20, log_bytes: 1 << 20 }
    }
}

/// The limit a call ran into, recorded by the limiter so that the trap that follows can be named.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LimitHit {
    /// Memory growth beyond `limit` was refused.
    Memory { limit: u64, desired: u64 },
    /// Table growth beyond the fixed element cap was refused.
    Table { limit: u64, desired: u64 },
}

/// Most table elements an instance may have. Interpreter guests (Python) need tens of thousands.
const MAX_TABLE_ELEMENTS: usize = 200_000;

/// wasmtime's `ResourceLimiter` for one store: refuses growth beyond the call's memory limit and
/// records what it refused.
#[derive(Debug)]
pub(crate) struct Limiter {
    pub(crate) memory_bytes: u64,
    pub(crate) hit: Option<LimitHit>,
}

impl Limiter {
    pub(crate) fn new(memory_bytes: u64) -> Self {
        Limiter { memory_bytes, hit: None }
    }
}

impl wasmtime::ResourceLimiter for Limiter {
    fn memory_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        if desired as u64 > self.memory_bytes {
            self.hit = Some(LimitHit::Memory { limit: self.memory_bytes, desired: desired as u64 });
            return Err(wasmtime::format_err!("memory limit of {} exceeded", super::human_bytes(self.memory_bytes)));
        }
        Ok(true)
    }

    fn table_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        if desired > MAX_TABLE_ELEMENTS {
            self.hit = Some(LimitHit::Table { limit: MAX_TABLE_ELEMENTS as u64, desired: desired as u64 });
            return Err(wasmtime::format_err!("table limit of {MAX_TABLE_ELEMENTS} elements exceeded"));
        }
        Ok(true)
    }
}
