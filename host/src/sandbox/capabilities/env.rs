//! The `env` capability: environment variables a plugin may read through standard WASI
//! (`std::env::var` in Rust, `process.env` in JS, `os.environ` in Python). Only granted names are
//! copied into the guest's environment; everything else does not exist for it.

/// Granted variable names; a trailing `*` grants a prefix (`env:ACME_*`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EnvGrant {
    names: Vec<String>,
}

impl EnvGrant {
    pub(crate) fn add(&mut self, target: &str) -> Result<(), String> {
        let name = target.trim();
        let valid = !name.is_empty()
            && name.trim_end_matches('*').chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            && !name.trim_end_matches('*').is_empty();
        if !valid {
            return Err("expected a variable name such as `API_TOKEN` or a prefix such as `ACME_*`".into());
        }
        self.names.push(name.to_string());
        Ok(())
    }

    /// The granted names and prefixes.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.names.iter().map(String::as_str)
    }

    fn allows(&self, name: &str) -> bool {
        self.names.iter().any(|granted| match granted.strip_suffix('*') {
            Some(prefix) => name.starts_with(prefix),
            None => name == granted,
        })
    }

    /// The granted variables present in the host's environment, for the guest's WASI context.
    pub(crate) fn visible_vars(&self) -> Vec<(String, String)> {
        if self.names.is_empty() {
            return Vec::new();
        }
        std::env::vars().filter(|(name, _)| self.allows(name)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_granted_names_are_visible() {
        let mut grant = EnvGrant::default();
        grant.add("PATH").unwrap();
        let vars = grant.visible_vars();
        assert!(vars.iter().all(|(name, _)| name == "PATH"));
        assert!(EnvGrant::default().visible_vars().is_empty());
        assert!(grant.add("BAD-NAME").is_err());
    }
}
