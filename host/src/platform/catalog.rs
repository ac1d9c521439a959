//! The plugins a server offers its flows: the built-ins embedded in the binary, with the grants the
//! server gives them, plus the plugin versions an admin installed (from storage, with their grants).
//!
//! The API (flow validation) and the workers (execution) ask for the current [`Registry`]; it is
//! rebuilt when the installed set changes. A worker in another process learns of an install within
//! [`PluginCatalog::RECHECK`]; the process that installed it invalidates its catalog at once.
//! Components are fetched from storage by digest only when their digest is not loaded yet, and the
//! sandbox's disk cache keeps them precompiled, so a rebuild costs a query, not a compile.

use crate::runner::Registry;
use crate::sandbox::{Grants, LoadError, Sandbox};
use crate::storage::{PluginRecord, Store, StoreError};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Mutex;

/// Why the catalog could not be brought up to date.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    /// Storage failed.
    #[error("storage: {0}")]
    Store(#[from] StoreError),
    /// An installed component no longer loads (e.g. storage corruption).
    #[error("installed plugin {name}@{version} cannot be loaded: {error}")]
    Load {
        /// The plugin.
        name: String,
        /// Its version.
        version: String,
        /// Why.
        error: LoadError,
    },
    /// Stored grants no longer parse.
    #[error("installed plugin {name}@{version} has invalid grants: {error}")]
    Grants {
        /// The plugin.
        name: String,
        /// Its version.
        version: String,
        /// Why.
        error: String,
    },
}

struct State {
    fingerprint: Option<String>,
    registry: Arc<Registry>,
    checked_at: Option<Instant>,
}

/// Built-in and installed plugins, as one registry kept up to date.
pub struct PluginCatalog {
    sandbox: Sandbox,
    store: Arc<dyn Store>,
    builtin_grants: Grants,
    state: Mutex<State>,
}

impl PluginCatalog {
    /// How long a registry is used before storage is asked again whether plugins changed.
    pub const RECHECK: Duration = Duration::from_secs(1);

    /// A catalog over `store`'s installed plugins; built-ins get `builtin_grants`.
    pub fn new(sandbox: Sandbox, store: Arc<dyn Store>, builtin_grants: Grants) -> Self {
        let registry = Arc::new(Registry::with_builtins(sandbox.clone(), builtin_grants.clone()));
        PluginCatalog {
            sandbox,
            store,
            builtin_grants,
            state: Mutex::new(State { fingerprint: None, registry, checked_at: None }),
        }
    }

    /// The sandbox plugins run in.
    pub fn sandbox(&self) -> &Sandbox {
        &self.sandbox
    }

    /// The grants the built-in plugins get.
    pub fn builtin_grants(&self) -> &Grants {
        &self.builtin_grants
    }

    /// Makes the next [`registry`](Self::registry) call look at storage (after an install here).
    pub async fn invalidate(&self) {
        self.state.lock().await.checked_at = None;
    }

    /// Refreshes the registry in the background every [`RECHECK`](Self::RECHECK) for as long as the
    /// catalog lives, so that a plugin installed through another process is fetched and compiled
    /// here before a run needs it, not during that run's first step.
    pub fn keep_current(self: &Arc<Self>) {
        let catalog = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut last_error = None;
            loop {
                tokio::time::sleep(Self::RECHECK).await;
                let Some(catalog) = catalog.upgrade() else { return };
                // Compiling first, outside the lock, keeps runs that ask for the registry meanwhile
                // from waiting on a multi-second compile.
                let refreshed = match catalog.load_missing().await {
                    Ok(()) => catalog.registry().await.map(|_| ()),
                    Err(e) => Err(e),
                };
                let error = refreshed.err().map(|e| e.to_string());
                if error.is_some() && error != last_error {
                    tracing::warn!("refreshing the installed plugins: {}", error.as_deref().unwrap_or_default());
                }
                last_error = error;
            }
        });
    }

    /// The registry of the plugins installed now.
    pub async fn registry(&self) -> Result<Arc<Registry>, CatalogError> {
        let mut state = self.state.lock().await;
        if state.checked_at.is_some_and(|at| at.elapsed() < Self::RECHECK) {
            return Ok(state.registry.clone());
        }
        let installed = self.store.list_plugins().await?;
        let serving = serving_versions(&installed);
        let fingerprint = fingerprint(&serving);
        if state.fingerprint.as_deref() != Some(fingerprint.as_str()) {
            let mut registry = Registry::with_builtins(self.sandbox.clone(), self.builtin_grants.clone());
            for record in serving {
                let plugin = self.load(record).await?;
                let grants = Grants::parse(&record.grants).map_err(|e| CatalogError::Grants {
                    name: record.name.clone(),
                    version: record.version.clone(),
                    error: e.to_string(),
                })?;
                registry.add(plugin, grants);
            }
            state.registry = Arc::new(registry);
            state.fingerprint = Some(fingerprint);
        }
        state.checked_at = Some(Instant::now());
        Ok(state.registry.clone())
    }
}

impl PluginCatalog {
    /// Makes every serving plugin ready in the sandbox (compiled or loaded precompiled), without
    /// touching the registry.
    async fn load_missing(&self) -> Result<(), CatalogError> {
        let installed = self.store.list_plugins().await?;
        for record in serving_versions(&installed) {
            self.load(record).await?;
        }
        Ok(())
    }

    /// The sandbox's plugin for `record`, fetched from storage and loaded when it has none yet.
    async fn load(&self, record: &PluginRecord) -> Result<Arc<crate::sandbox::Plugin>, CatalogError> {
        if let Some(plugin) = self.sandbox.get(&record.digest) {
            return Ok(plugin);
        }
        let bytes = self.store.plugin_component(&record.digest).await?;
        self.sandbox.load(&bytes).await.map_err(|error| CatalogError::Load {
            name: record.name.clone(),
            version: record.version.clone(),
            error,
        })
    }
}

/// The version of each installed plugin that flows get: the newest enabled one (listings come
/// newest first within a name).
pub fn serving_versions(installed: &[PluginRecord]) -> Vec<&PluginRecord> {
    let mut by_name: BTreeMap<&str, &PluginRecord> = BTreeMap::new();
    for record in installed.iter().filter(|r| r.enabled) {
        by_name.entry(record.name.as_str()).or_insert(record);
    }
    by_name.into_values().collect()
}

/// What identifies a set of serving versions: names, digests and grants.
fn fingerprint(serving: &[&PluginRecord]) -> String {
    serving
        .iter()
        .map(|r| format!("{}@{}#{}[{}]", r.name, r.version, r.digest, r.grants.join(",")))
        .collect::<Vec<_>>()
        .join(";")
}
