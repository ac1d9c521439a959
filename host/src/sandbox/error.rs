//! Errors of loading a plugin and of calling one, each naming its cause in words a flow author or a
//! plugin author can act on.

use super::human_bytes;
use super::limits::LimitHit;
use super::logs::CallLog;
use std::time::Duration;

/// Why a component could not be loaded as a plugin.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LoadError {
    /// Not WebAssembly, or a core module rather than a component, or invalid.
    #[error("not a valid WebAssembly component: {0}")]
    NotAComponent(String),
    /// A component, but not of one of our worlds (the message names the export or import at fault).
    #[error("not a testmesh plugin: {0}")]
    WrongWorld(String),
    /// `describe` trapped, failed or returned something unusable.
    #[error("the plugin's `describe` failed: {0}")]
    Describe(String),
}

/// Why a plugin call failed. Every variant fails only the call; the host goes on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallError {
    /// The plugin rejected the step's configuration.
    #[error("invalid config{}: {message}", if path.is_empty() { String::new() } else { format!(" at {path}") })]
    InvalidConfig {
        /// JSON Pointer into the configuration.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// The plugin reported that its operation failed.
    #[error("{0}")]
    Failed(String),
    /// The plugin tried to use more memory than its limit.
    #[error("plugin exceeded its memory limit of {} (it tried to grow to {})", human_bytes(*limit), human_bytes(*desired))]
    MemoryLimit {
        /// The limit in bytes.
        limit: u64,
        /// The size it asked for.
        desired: u64,
    },
    /// The plugin recursed past the wasm stack limit.
    #[error("plugin overflowed its stack (wasm stack limit {})", human_bytes(*limit))]
    StackOverflow {
        /// The stack limit in bytes.
        limit: u64,
    },
    /// The plugin ran past its deadline and was interrupted.
    #[error("plugin did not finish within its deadline of {} and was interrupted", humantime(*deadline))]
    Timeout {
        /// The deadline it had.
        deadline: Duration,
    },
    /// The call was cancelled (the run was cancelled).
    #[error("plugin call cancelled")]
    Cancelled,
    /// The plugin's output was larger than allowed.
    #[error("plugin output of {} exceeds the limit of {}", human_bytes(*size), human_bytes(*limit))]
    OutputLimit {
        /// Output size in bytes.
        size: u64,
        /// The limit in bytes.
        limit: u64,
    },
    /// The plugin's output was not what the contract requires (JSON object, one verdict per check).
    #[error("plugin returned invalid output: {0}")]
    InvalidOutput(String),
    /// The plugin crashed: a panic, an `unreachable`, an out-of-bounds access.
    #[error("plugin crashed: {0}")]
    Crashed(String),
    /// The instance could not be created (pool exhausted, start function trapped).
    #[error("cannot start plugin instance: {0}")]
    Instantiate(String),
}

impl CallError {
    /// Whether the instance must be thrown away after this error: anything but an error the plugin
    /// returned itself (or a result the host rejected) leaves it in an unknown state.
    pub(crate) fn poisons_instance(&self) -> bool {
        // An instance that produced an oversized output also holds that much memory: drop it too.
        !matches!(self, CallError::InvalidConfig { .. } | CallError::Failed(_) | CallError::InvalidOutput(_))
    }

    /// Turns a wasmtime error from a call into the cause a user can act on.
    pub(crate) fn from_trap(
        error: wasmtime::Error,
        hit: Option<LimitHit>,
        log: &CallLog,
        stack: u64,
        deadline: Duration,
    ) -> Self {
        if let Some(LimitHit::Memory { limit, desired }) = hit {
            return CallError::MemoryLimit { limit, desired };
        }
        if let Some(LimitHit::Table { limit, desired }) = hit {
            return CallError::Crashed(format!("table limit of {limit} elements exceeded (wanted {desired})"));
        }
        match error.downcast_ref::<wasmtime::Trap>() {
            Some(wasmtime::Trap::StackOverflow) => CallError::StackOverflow { limit: stack },
            Some(wasmtime::Trap::Interrupt) => CallError::Timeout { deadline },
            Some(wasmtime::Trap::UnreachableCodeReached) => {
                let panic: Vec<String> =
                    log.stderr_tail(6).into_iter().filter(|l| !l.starts_with("note: run with")).collect();
                if panic.iter().any(|l| l.contains("panicked")) {
                    CallError::Crashed(format!("panic: {}", panic.join(" | ")))
                } else if !panic.is_empty() {
                    CallError::Crashed(format!("it aborted (unreachable code); stderr: {}", panic.join(" | ")))
                } else {
                    CallError::Crashed("it aborted (wasm `unreachable`, usually a panic or abort)".into())
                }
            }
            Some(wasmtime::Trap::MemoryOutOfBounds) => CallError::Crashed(
                "out of bounds memory access (in Rust and C guests this is also how deep recursion ends: \
                 their own stack lives in linear memory and overflowed it)"
                    .into(),
            ),
            Some(trap) => CallError::Crashed(trap.to_string()),
            None => CallError::Crashed(format!("{error:#}")),
        }
    }
}

/// `1.5s`, `250ms`: durations in messages.
pub(crate) fn humantime(d: Duration) -> String {
    if d.as_millis() < 1000 {
        format!("{}ms", d.as_millis())
    } else if d.subsec_millis() == 0 {
        format!("{}s", d.as_secs())
    } else {
        format!("{:.1}s", d.as_secs_f64())
    }
}
