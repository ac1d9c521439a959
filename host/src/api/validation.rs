//! Flow checks for the API — the same as `testmesh validate`: structure, expressions, templates and
//! captures; every plugin a flow names installed (built-in or by an admin); every config against
//! its plugin's schema; every `run_flow` naming a stored, valid flow.

use super::ApiState;
use super::error::{ApiError, ApiResult};
use crate::flow::{Diagnostics, Flow, check_flow};
use crate::platform::StoredFlows;
use crate::runner::{check_configs, check_plugins, check_sub_flows};

/// A checked flow document: the flow when it has no error, and every diagnostic either way.
pub(super) struct Checked {
    /// The flow, when valid.
    pub flow: Option<Flow>,
    /// Errors and warnings, in document order.
    pub diagnostics: Diagnostics,
}

impl Checked {
    /// The flow, or a 422 with every error found in `text`.
    pub fn into_flow(self, text: &str) -> ApiResult<Flow> {
        match self.flow {
            Some(flow) => Ok(flow),
            None => Err(ApiError::invalid_flow(&self.diagnostics, text)),
        }
    }
}

/// Checks the flow document `text`; `file` names it in messages.
pub(super) async fn check(state: &ApiState, text: &str, file: &str) -> ApiResult<Checked> {
    let (mut flow, mut diagnostics) = check_flow(text, file);
    if let Some(checked) = &flow {
        let registry = state.catalog.registry().await.map_err(ApiError::internal)?;
        let flows = StoredFlows::preload(&*state.store, checked).await?;
        let mut found = check_plugins(checked, &registry, text, file);
        found.extend(check_configs(checked, &registry, text, file).await);
        found.extend(check_sub_flows(checked, &flows, None, text, file));
        if !found.is_empty() {
            flow = None;
            found.extend(diagnostics.0);
            found.sort_by_key(|d| (d.line, d.column));
            diagnostics = Diagnostics(found);
        }
    }
    Ok(Checked { flow, diagnostics })
}
