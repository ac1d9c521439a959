//! Flows named by `run_flow` on the server, where there are no files: a stored flow's name (or its
//! `flw_…` id), resolved to its current version. The runner's [`FlowLoader`] is synchronous, so the
//! flows a run can reach are read from storage before it starts ([`StoredFlows::preload`]),
//! following `run_flow` references down to the runner's nesting cap.

use crate::flow::{Flow, Step, StepKind, parse_flow};
use crate::runner::{FlowLoader, LoadedFlow};
use crate::storage::{Store, StoreError};
use std::collections::HashMap;
use std::sync::Arc;

/// How deep `run_flow` references are followed (the runner refuses deeper nesting anyway).
const MAX_DEPTH: usize = 16;

/// The stored flows a run may call, by the reference written in `run_flow`.
#[derive(Debug, Clone, Default)]
pub struct StoredFlows {
    flows: HashMap<String, Result<LoadedFlow, String>>,
}

impl StoredFlows {
    /// Reads every flow reachable from `flow` through `run_flow` (templated references excepted:
    /// they are only known at run time and are not found).
    pub async fn preload(store: &dyn Store, flow: &Flow) -> Result<StoredFlows, StoreError> {
        let mut loaded = StoredFlows::default();
        let mut frontier = references(flow);
        for _ in 0..MAX_DEPTH {
            let mut next = Vec::new();
            for reference in frontier {
                if loaded.flows.contains_key(&reference) {
                    continue;
                }
                let found = if reference.starts_with("flw_") {
                    store.get_flow(&reference).await
                } else {
                    store.get_flow_by_name(&reference).await
                };
                let entry = match found {
                    Ok(record) => {
                        let origin = format!("flow:{}", record.id);
                        match parse_flow(&record.source, &record.name) {
                            Ok(parsed) => {
                                next.extend(references(&parsed));
                                Ok(LoadedFlow { flow: Arc::new(parsed), origin })
                            }
                            Err(diagnostics) => Err(format!(
                                "flow `{reference}` (stored, version {}) is invalid:\n{diagnostics}",
                                record.version
                            )),
                        }
                    }
                    Err(StoreError::NotFound) => Err(format!("no stored flow is named `{reference}`")),
                    Err(other) => return Err(other),
                };
                loaded.flows.insert(reference, entry);
            }
            if next.is_empty() {
                break;
            }
            frontier = next;
        }
        Ok(loaded)
    }
}

impl FlowLoader for StoredFlows {
    fn load_flow(&self, reference: &str, _from: Option<&str>) -> Result<LoadedFlow, String> {
        match self.flows.get(reference) {
            Some(found) => found.clone(),
            None => Err(format!("no stored flow is named `{reference}`")),
        }
    }

    fn read_env_file(&self, path: &str, _from: Option<&str>) -> Result<String, String> {
        Err(format!(
            "env_file `{path}` cannot be read on the server, which has no files: store the variables in an \
             environment and start the run with it"
        ))
    }
}

/// The literal `run_flow` references of a flow.
fn references(flow: &Flow) -> Vec<String> {
    fn walk(step: &Step, out: &mut Vec<String>) {
        match &step.kind {
            StepKind::RunFlow { flow, .. } if !flow.contains("${") && !flow.contains("{{") => out.push(flow.clone()),
            StepKind::RunFlow { .. } | StepKind::Action { .. } => {}
            StepKind::ForEach { steps, .. } => steps.iter().for_each(|s| walk(s, out)),
            StepKind::Parallel { branches, .. } => branches.iter().flatten().for_each(|s| walk(s, out)),
            StepKind::If { then_steps, else_steps, .. } => {
                then_steps.iter().chain(else_steps).for_each(|s| walk(s, out))
            }
        }
    }
    let mut out = Vec::new();
    for step in flow.setup.iter().chain(&flow.steps).chain(&flow.teardown) {
        walk(step, &mut out);
    }
    out
}
