//! A builder for what `describe` returns.

use serde_json::Value;

/// Which world the plugin implements.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// World `action`.
    Action,
    /// World `assertion`.
    Assertion,
}

/// A host capability the plugin asks for, with the reason an administrator will read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Capability {
    /// `http`, `sql`, `redis` or `env`.
    pub capability: String,
    /// What the plugin uses it for.
    pub reason: String,
}

/// What a plugin says about itself: name, version, summary, the JSON Schema of its configuration and
/// the capabilities it needs. Built with [`Descriptor::new`] and the chained setters.
#[derive(Debug, Clone, PartialEq)]
pub struct Descriptor {
    /// The name flows use (`http_request`, `acme/kafka`).
    pub name: String,
    /// Semver version of the plugin.
    pub version: String,
    /// Set by the world's export glue; plugins do not choose it.
    pub kind: Kind,
    /// One line for humans.
    pub summary: String,
    /// JSON Schema of the step's `config`.
    pub config_schema: Value,
    /// JSON Schema of the output (actions) or of the actual values (assertions).
    pub output_schema: Value,
    /// Other names the plugin answers to.
    pub aliases: Vec<String>,
    /// Operations for the namespaced form `action: <name>.<operation>`.
    pub operations: Vec<String>,
    /// Capabilities the plugin needs.
    pub capabilities: Vec<Capability>,
}

impl Descriptor {
    /// A descriptor with an accept-anything config schema and no capabilities.
    pub fn new(name: &str, version: &str, summary: &str) -> Self {
        Descriptor {
            name: name.to_string(),
            version: version.to_string(),
            kind: Kind::Action,
            summary: summary.to_string(),
            config_schema: Value::Object(Default::default()),
            output_schema: Value::Object(Default::default()),
            aliases: Vec::new(),
            operations: Vec::new(),
            capabilities: Vec::new(),
        }
    }

    /// Sets the JSON Schema that a step's `config` must satisfy.
    pub fn config_schema(mut self, schema: Value) -> Self {
        self.config_schema = schema;
        self
    }

    /// Sets the JSON Schema describing the output.
    pub fn output_schema(mut self, schema: Value) -> Self {
        self.output_schema = schema;
        self
    }

    /// Adds another name the plugin answers to.
    pub fn alias(mut self, alias: &str) -> Self {
        self.aliases.push(alias.to_string());
        self
    }

    /// Declares the operations of the namespaced form `action: <name>.<operation>`.
    pub fn operations(mut self, operations: &[&str]) -> Self {
        self.operations = operations.iter().map(|s| s.to_string()).collect();
        self
    }

    /// Asks for a host capability (`http`, `sql`, `redis`, `env`) and says why.
    pub fn capability(mut self, capability: &str, reason: &str) -> Self {
        self.capabilities.push(Capability { capability: capability.to_string(), reason: reason.to_string() });
        self
    }
}
