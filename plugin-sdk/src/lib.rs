//! The Rust SDK for testmesh plugins.
//!
//! A testmesh plugin is a WebAssembly component implementing the `action` or the `assertion` world of
//! the `testmesh:plugin` WIT package. This crate hides the generated bindings behind two traits,
//! [`Action`] and [`Assertion`], deserialises the step's configuration into your own serde type, and
//! offers helpers for the host capabilities: [`log`], [`http`], [`sql`] and [`redis`].
//!
//! Enable exactly one of the features `action` or `assertion` (a component implements one world), build
//! with `cargo build --target wasm32-wasip2 --release`, and the `.wasm` file is the plugin.
//!
//! The README below is compiled as a doctest, so its example stays true.
#![cfg_attr(all(feature = "action", not(target_arch = "wasm32")), doc = include_str!("../README.md"))]

/// The conversions between the SDK's types and one world's generated WIT types. Each world's bindings
/// have their own copy of the shared `types` interface, so the conversions are stamped out per world.
macro_rules! wit_conversions {
    ($wit:path) => {
        use $wit as wit;

        fn to_wit_error(e: $crate::Error) -> wit::PluginError {
            match e {
                $crate::Error::InvalidConfig { path, message } => {
                    wit::PluginError::InvalidConfig(wit::ConfigProblem { path, message })
                }
                $crate::Error::Failed(message) => wit::PluginError::Failed(message),
            }
        }

        fn to_wit_descriptor(d: $crate::Descriptor, kind: $crate::Kind) -> wit::Descriptor {
            wit::Descriptor {
                name: d.name,
                version: d.version,
                kind: match kind {
                    $crate::Kind::Action => wit::PluginKind::Action,
                    $crate::Kind::Assertion => wit::PluginKind::Assertion,
                },
                summary: d.summary,
                config_schema: d.config_schema.to_string(),
                output_schema: d.output_schema.to_string(),
                aliases: d.aliases,
                operations: d.operations,
                capabilities: d
                    .capabilities
                    .into_iter()
                    .map(|c| wit::CapabilityRequest { capability: c.capability, reason: c.reason })
                    .collect(),
            }
        }

        fn to_context(context: wit::CallContext, operation: Option<String>) -> $crate::Context {
            $crate::Context {
                run_id: context.run_id,
                flow_name: context.flow_name,
                step_id: context.step_id,
                attempt: context.attempt,
                deadline_ms: context.deadline_ms,
                operation,
            }
        }
    };
}

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

#[cfg(all(target_arch = "wasm32", not(any(feature = "action", feature = "assertion"))))]
compile_error!("enable the `action` or the `assertion` feature of testmesh-plugin-sdk");
