//! The log of one plugin call: lines written through the `log` interface and captured stdout/stderr,
//! capped in size so that a chatty or hostile plugin cannot exhaust the host's memory.

use serde::{Deserialize, Serialize};
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};

/// Severity of a log line (mirrors the WIT `level`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogLevel {
    /// Very detailed diagnostics.
    Trace,
    /// Diagnostics.
    Debug,
    /// Normal progress.
    Info,
    /// Surprising but not failing.
    Warn,
    /// Failure.
    Error,
}

/// Where a log line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogSource {
    /// The `log` interface.
    Plugin,
    /// The guest's stdout.
    Stdout,
    /// The guest's stderr.
    Stderr,
    /// The host itself (a denied capability, a truncation note).
    Host,
}

/// One line of a call's log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogLine {
    /// Severity.
    pub level: LogLevel,
    /// Origin.
    pub source: LogSource,
    /// The text, without a trailing newline.
    pub message: String,
}

/// The growing log of the call in progress, shared by the `log` capability and the stdout/stderr
/// capture. Cleared at the start of every call on a reused instance.
#[derive(Debug, Clone, Default)]
pub(crate) struct CallLog {
    inner: Arc<Mutex<LogBuffer>>,
}

#[derive(Debug, Default)]
struct LogBuffer {
    lines: Vec<LogLine>,
    bytes: usize,
    cap: usize,
    truncated: bool,
    partial_stdout: Vec<u8>,
    partial_stderr: Vec<u8>,
}

impl CallLog {
    fn lock(&self) -> MutexGuard<'_, LogBuffer> {
        // A poisoned lock only means another call panicked while logging; the buffer is still usable.
        self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Starts a new call: forgets the previous call's lines and sets the size cap.
    pub(crate) fn reset(&self, cap: usize) {
        let mut buffer = self.lock();
        *buffer = LogBuffer { cap, ..LogBuffer::default() };
    }

    /// Appends one line, unless the cap is reached.
    pub(crate) fn push(&self, level: LogLevel, source: LogSource, message: String) {
        self.lock().push(LogLine { level, source, message });
    }

    /// Appends raw bytes written to stdout or stderr, splitting them into lines.
    fn write_stream(&self, source: LogSource, bytes: &[u8]) {
        let mut buffer = self.lock();
        let buffer = &mut *buffer;
        let level = if source == LogSource::Stderr { LogLevel::Warn } else { LogLevel::Info };
        let partial = if source == LogSource::Stderr { &mut buffer.partial_stderr } else { &mut buffer.partial_stdout };
        let mut completed = Vec::new();
        for &byte in bytes {
            if byte == b'\n' {
                completed.push(String::from_utf8_lossy(partial).into_owned());
                partial.clear();
            } else if partial.len() < buffer.cap {
                partial.push(byte);
            }
        }
        for message in completed {
            buffer.push(LogLine { level, source, message });
        }
    }

    /// Ends the call: flushes unterminated stdout/stderr lines and returns the log.
    pub(crate) fn take(&self) -> Vec<LogLine> {
        let mut buffer = self.lock();
        for source in [LogSource::Stdout, LogSource::Stderr] {
            let partial = if source == LogSource::Stderr {
                std::mem::take(&mut buffer.partial_stderr)
            } else {
                std::mem::take(&mut buffer.partial_stdout)
            };
            if !partial.is_empty() {
                let level = if source == LogSource::Stderr { LogLevel::Warn } else { LogLevel::Info };
                let message = String::from_utf8_lossy(&partial).into_owned();
                buffer.push(LogLine { level, source, message });
            }
        }
        buffer.bytes = 0;
        std::mem::take(&mut buffer.lines)
    }

    /// The last lines the guest wrote to stderr (a Rust panic message lands there), newest last.
    pub(crate) fn stderr_tail(&self, max_lines: usize) -> Vec<String> {
        let buffer = self.lock();
        let partial =
            (!buffer.partial_stderr.is_empty()).then(|| String::from_utf8_lossy(&buffer.partial_stderr).into_owned());
        let complete =
            buffer.lines.iter().rev().filter(|line| line.source == LogSource::Stderr).map(|line| line.message.clone());
        let mut tail: Vec<String> = partial.into_iter().chain(complete).take(max_lines).collect();
        tail.reverse();
        tail
    }

    /// A stdout or stderr stream for the guest's WASI context that writes into this log.
    pub(crate) fn stream(&self, source: LogSource) -> CapturedStream {
        CapturedStream { log: self.clone(), source }
    }
}

impl LogBuffer {
    fn push(&mut self, line: LogLine) {
        if self.truncated {
            return;
        }
        let size = line.message.len() + 16;
        if self.bytes + size > self.cap {
            self.truncated = true;
            self.lines.push(LogLine {
                level: LogLevel::Warn,
                source: LogSource::Host,
                message: format!("log truncated: more than {} written", super::human_bytes(self.cap as u64)),
            });
            return;
        }
        self.bytes += size;
        self.lines.push(line);
    }
}

/// The guest's stdout or stderr: every write succeeds (so a plugin never crashes because it printed
/// too much) and lands in the call's log up to its cap.
#[derive(Debug, Clone)]
pub(crate) struct CapturedStream {
    log: CallLog,
    source: LogSource,
}

impl wasmtime_wasi::cli::IsTerminal for CapturedStream {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl wasmtime_wasi::cli::StdoutStream for CapturedStream {
    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

impl tokio::io::AsyncWrite for CapturedStream {
    fn poll_write(self: Pin<&mut Self>, _cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        self.log.write_stream(self.source, buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_output_is_split_into_lines_and_capped() {
        let log = CallLog::default();
        log.reset(64);
        log.write_stream(LogSource::Stdout, b"hello\nwor");
        log.write_stream(LogSource::Stdout, b"ld\n");
        log.write_stream(LogSource::Stderr, &[b'x'; 200]);
        let lines = log.take();
        assert_eq!(lines[0].message, "hello");
        assert_eq!(lines[1].message, "world");
        assert!(lines.last().is_some_and(|l| l.message.starts_with("log truncated")), "{lines:?}");
    }

    #[test]
    fn stderr_tail_returns_newest_lines_last() {
        let log = CallLog::default();
        log.reset(1024);
        log.write_stream(LogSource::Stderr, b"one\ntwo\nthree");
        assert_eq!(log.stderr_tail(2), vec!["two".to_string(), "three".to_string()]);
    }
}
