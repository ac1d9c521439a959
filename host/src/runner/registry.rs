//! The plugins a run may use, by name: the built-ins embedded in the binary and any component the
//! caller adds (`testmesh run --plugin file.wasm`, the server's installed plugins), each with the
//! capabilities it was granted.
//!
//! Plugins are loaded on first use, not when the registry is built, so that a run of a one-step flow
//! pays for the one plugin it uses (loading means hashing, reading the precompiled artifact and
//! calling `describe`).

use crate::builtins::{self, Builtin};
use crate::flow::PluginRef;
use crate::sandbox::{Grants, LoadError, Plugin, PluginKind, Sandbox};
use std::collections::BTreeMap;
use std::sync::Arc;
use tokio::sync::OnceCell;

/// A plugin the registry can hand out, with its grants.
#[derive(Clone)]
pub struct Resolved {
    /// The loaded plugin.
    pub plugin: Arc<Plugin>,
    /// What it may reach.
    pub grants: Arc<Grants>,
}

/// Why a plugin reference cannot be served.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegistryError {
    /// No plugin of that name (the message lists the closest ones).
    #[error("plugin `{name}` is not installed{}", suggestion(.closest))]
    NotInstalled {
        /// The name asked for.
        name: String,
        /// Installed names close to it.
        closest: Vec<String>,
    },
    /// The plugin is installed but not in the version asked for.
    #[error("plugin `{name}` is installed in version {installed}, not {wanted}")]
    Version {
        /// The plugin.
        name: String,
        /// The version pinned by the flow.
        wanted: String,
        /// The version installed.
        installed: String,
    },
    /// The plugin is of the other kind (an assertion used as `action`, or the reverse).
    #[error("plugin `{name}` is an {actual} plugin; it cannot be used as an {wanted}")]
    Kind {
        /// The plugin.
        name: String,
        /// What it is.
        actual: &'static str,
        /// What the flow uses it as.
        wanted: &'static str,
    },
    /// Its component failed to load.
    #[error("plugin `{name}` cannot be loaded: {error}")]
    Load {
        /// The plugin.
        name: String,
        /// Why.
        error: LoadError,
    },
}

fn suggestion(closest: &[String]) -> String {
    match closest {
        [] => String::new(),
        [one] => format!(" (did you mean `{one}`?)"),
        many => {
            format!(" (did you mean one of {}?)", many.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", "))
        }
    }
}

enum Component {
    Builtin(&'static Builtin),
    Loaded(Arc<Plugin>),
}

struct Entry {
    name: String,
    component: Component,
    grants: Arc<Grants>,
    loaded: OnceCell<Result<Arc<Plugin>, LoadError>>,
}

/// Plugins by name and alias. Cheap to share: clone the `Arc` it comes in.
pub struct Registry {
    sandbox: Sandbox,
    by_name: BTreeMap<String, Arc<Entry>>,
}

impl Registry {
    /// An empty registry over `sandbox`.
    pub fn new(sandbox: Sandbox) -> Self {
        Registry { sandbox, by_name: BTreeMap::new() }
    }

    /// The built-in plugins with `grants` (a laptop run grants them local development access; a
    /// server grants what its admin configured).
    pub fn with_builtins(sandbox: Sandbox, grants: Grants) -> Self {
        let mut registry = Registry::new(sandbox);
        let grants = Arc::new(grants);
        for builtin in builtins::all() {
            let entry = Arc::new(Entry {
                name: builtin.source.to_string(),
                component: Component::Builtin(builtin),
                grants: grants.clone(),
                loaded: OnceCell::new(),
            });
            for name in std::iter::once(builtin.source).chain(builtin.aliases.iter().copied()) {
                registry.by_name.insert(name.to_string(), entry.clone());
            }
        }
        registry
    }

    /// Adds a loaded plugin under its name and aliases, replacing a built-in of the same name.
    pub fn add(&mut self, plugin: Arc<Plugin>, grants: Grants) {
        let descriptor = &plugin.descriptor;
        let names: Vec<String> =
            std::iter::once(descriptor.name.clone()).chain(descriptor.aliases.iter().cloned()).collect();
        let entry = Arc::new(Entry {
            name: descriptor.name.clone(),
            component: Component::Loaded(plugin.clone()),
            grants: Arc::new(grants),
            loaded: OnceCell::new_with(Some(Ok(plugin.clone()))),
        });
        for name in names {
            self.by_name.insert(name, entry.clone());
        }
    }

    /// The sandbox the plugins run in.
    pub fn sandbox(&self) -> &Sandbox {
        &self.sandbox
    }

    /// Every name a flow may use (names and aliases), sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.by_name.keys().map(String::as_str)
    }

    /// Whether a plugin answers to `name`.
    pub fn contains(&self, name: &str) -> bool {
        self.by_name.contains_key(name)
    }

    /// The plugin `reference` names, loaded, checked to be of `kind` and of the pinned version.
    pub async fn resolve(&self, reference: &PluginRef, kind: PluginKind) -> Result<Resolved, RegistryError> {
        let entry = self.by_name.get(&reference.name).ok_or_else(|| RegistryError::NotInstalled {
            name: reference.name.clone(),
            closest: self.closest(&reference.name),
        })?;
        let plugin = self.load(entry).await?;
        if plugin.kind() != kind {
            return Err(RegistryError::Kind {
                name: reference.name.clone(),
                actual: plugin.kind().world(),
                wanted: kind.world(),
            });
        }
        if let Some(wanted) = &reference.version
            && !version_matches(wanted, &plugin.descriptor.version)
        {
            return Err(RegistryError::Version {
                name: reference.name.clone(),
                wanted: wanted.clone(),
                installed: plugin.descriptor.version.clone(),
            });
        }
        Ok(Resolved { plugin, grants: entry.grants.clone() })
    }

    /// The plugin named `name` regardless of kind and version (for listing and schema checks).
    pub async fn get(&self, name: &str) -> Result<Arc<Plugin>, RegistryError> {
        let entry = self
            .by_name
            .get(name)
            .ok_or_else(|| RegistryError::NotInstalled { name: name.to_string(), closest: self.closest(name) })?;
        self.load(entry).await
    }

    async fn load(&self, entry: &Entry) -> Result<Arc<Plugin>, RegistryError> {
        let loaded = entry
            .loaded
            .get_or_init(|| async {
                match &entry.component {
                    Component::Builtin(builtin) => {
                        self.sandbox.load_with_digest(builtin.wasm, builtin.digest.to_string()).await
                    }
                    Component::Loaded(plugin) => Ok(plugin.clone()),
                }
            })
            .await;
        loaded.clone().map_err(|error| RegistryError::Load { name: entry.name.clone(), error })
    }

    /// Installed names close to a misspelt one, best first.
    pub fn closest(&self, name: &str) -> Vec<String> {
        let mut scored: Vec<(f64, &String)> = self
            .by_name
            .keys()
            .map(|candidate| (strsim::jaro_winkler(name, candidate), candidate))
            .filter(|(score, _)| *score >= 0.75)
            .collect();
        scored.sort_by(|a, b| b.0.total_cmp(&a.0));
        scored.into_iter().take(3).map(|(_, n)| n.clone()).collect()
    }
}

/// Whether an installed version satisfies a pin: `1` matches `1.x.y`, `0.3` matches `0.3.x`,
/// `0.3.2` only itself.
pub(crate) fn version_matches(wanted: &str, installed: &str) -> bool {
    let wanted: Vec<&str> = wanted.trim_start_matches('v').split('.').collect();
    let installed: Vec<&str> = installed.split('.').collect();
    wanted.len() <= installed.len() && wanted.iter().zip(&installed).all(|(w, i)| w == i)
}

#[cfg(test)]
mod tests {
    use super::version_matches;

    #[test]
    fn version_pins_match_by_prefix_of_components() {
        assert!(version_matches("1", "1.2.3"));
        assert!(version_matches("1.2", "1.2.3"));
        assert!(version_matches("1.2.3", "1.2.3"));
        assert!(version_matches("v1", "1.0.0"));
        assert!(!version_matches("1.2", "1.20.0"));
        assert!(!version_matches("2", "1.2.3"));
        assert!(!version_matches("1.2.3.4", "1.2.3"));
    }
}
