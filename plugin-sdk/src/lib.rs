//! The Rust SDK for testmesh plugins.
//!
//! A testmesh plugin is a WebAssembly component implementing the `action` or the `assertion` world of
//! the `testmesh:plugin` WIT package. This crate hides the generated bindings behind two traits,
//! [`Action`] and [`Assertion`], deserialises the step's configuration into your own serde type, and
//! offers helpers for the host capabilities: [`log`], [`http`], [`sql`] and [`redis`].
//!
//! Enable exactly one of the features `action` or `assertion` (a component implements one world), build
//! with `cargo build --target wasm32-wasip2 --release`, and the `.wasm` file is the plugin. See the
//! crate README for a complete example.

#[cfg(feature = "action")]
pub mod action;
#[cfg(feature = "assertion")]
pub mod assertion;
mod context;
mod descriptor;
pub mod duration;
mod error;
pub mod http;
pub mod log;
pub mod redact;
#[cfg(feature = "action")]
pub mod redis;
#[cfg(feature = "action")]
pub mod sql;

#[cfg(feature = "action")]
pub use action::Action;
#[cfg(feature = "assertion")]
pub use assertion::{Assertion, Verdict};
pub use context::Context;
pub use descriptor::{Capability, Descriptor, Kind};
pub use error::Error;
/// Re-exported so that plugins build `serde_json::Value`s and schemas with the same version.
pub use serde_json::{self, Value, json};

#[cfg(not(any(feature = "action", feature = "assertion")))]
compile_error!("enable the `action` or the `assertion` feature of testmesh-plugin-sdk");
