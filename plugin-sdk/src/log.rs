//! Log lines into the step's result (the `log` interface, available to every plugin).
//!
//! `println!` and `eprintln!` work too: the host captures stdout and stderr into the same log.

#[cfg(feature = "action")]
use crate::action::bindings::testmesh::plugin::{log as wit_log, types::Level};
#[cfg(all(feature = "assertion", not(feature = "action")))]
use crate::assertion::bindings::testmesh::plugin::{log as wit_log, types::Level};

/// Writes a `debug` line.
pub fn debug(message: &str) {
    wit_log::write(Level::Debug, message);
}

/// Writes an `info` line.
pub fn info(message: &str) {
    wit_log::write(Level::Info, message);
}

/// Writes a `warn` line.
pub fn warn(message: &str) {
    wit_log::write(Level::Warn, message);
}

/// Writes an `error` line.
pub fn error(message: &str) {
    wit_log::write(Level::Error, message);
}
