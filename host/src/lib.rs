//! testmesh: a self-hosted integration-test platform. Flows of steps run sandboxed WebAssembly
//! actions and assertions; this crate is the host (library and `testmesh` binary).
//!
//! Modules follow `design/ARCHITECTURE.md`: [`sandbox`] runs plugins and knows nothing of flows;
//! [`builtins`] carries the built-in plugins compiled from `plugins/`.

pub mod api;
pub mod builtins;
pub mod cli;
pub mod flow;
pub mod platform;
pub mod queue;
pub mod report;
pub mod runner;
pub mod sandbox;
pub mod scheduler;
pub mod server;
pub mod storage;
pub mod worker;
