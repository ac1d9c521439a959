//! Services the server's parts share — the API and the workers of `testmesh serve`, and the
//! workers of `testmesh worker`: the plugin [`catalog`] (built-ins plus installed plugins), the
//! in-process [`signals`] between the API and embedded workers, [`stored_flows`] (what
//! `run_flow` finds on a server) and the process's [`metrics`].

pub mod catalog;
pub mod metrics;
pub mod signals;
pub mod stored_flows;

pub use catalog::{CatalogError, PluginCatalog};
pub use metrics::Metrics;
pub use signals::RunSignals;
pub use stored_flows::StoredFlows;
