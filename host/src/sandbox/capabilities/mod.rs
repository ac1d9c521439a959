//! Host capabilities a plugin can import, one module each. Every module owns three things: the parsing
//! of its grants (`http:api.example.com`, `sql:postgres://db/*`, …), the check of a request against them,
//! and its binding into the linker. The engine, store and call code know none of them by name beyond
//! [`link_all`] and the [`Grants`] bundle.

pub(crate) mod env;
pub(crate) mod http;
pub(crate) mod log;
pub(crate) mod redis;
pub(crate) mod sql;

use super::state::HostState;
use std::fmt;

/// Everything a plugin was granted, parsed from grant strings such as `http:api.example.com:443`,
/// `sql:postgres://127.0.0.1:5432/app`, `redis:redis://127.0.0.1:6379`, `env:API_TOKEN`.
/// The default grants nothing: no network, no databases, no environment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Grants {
    /// Outgoing HTTP destinations.
    pub http: http::HttpGrant,
    /// SQL connections.
    pub sql: sql::SqlGrant,
    /// Redis servers.
    pub redis: redis::RedisGrant,
    /// Environment variable names.
    pub env: env::EnvGrant,
}

/// A grant string that could not be understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid grant `{grant}`: {reason}")]
pub struct GrantError {
    /// The grant as written.
    pub grant: String,
    /// What is wrong with it.
    pub reason: String,
}

impl Grants {
    /// Parses grant strings of the form `<capability>:<target>`.
    pub fn parse<S: AsRef<str>>(grants: &[S]) -> Result<Grants, GrantError> {
        let mut parsed = Grants::default();
        for grant in grants {
            let grant = grant.as_ref().trim();
            let error = |reason: String| GrantError { grant: grant.to_string(), reason };
            let (capability, target) = grant
                .split_once(':')
                .ok_or_else(|| error("expected `<capability>:<target>`, e.g. `http:api.example.com`".into()))?;
            match capability {
                "http" => parsed.http.add(target).map_err(error)?,
                "sql" => parsed.sql.add(target).map_err(error)?,
                "redis" => parsed.redis.add(target).map_err(error)?,
                "env" => parsed.env.add(target).map_err(error)?,
                other => {
                    return Err(error(format!("unknown capability `{other}` (known: http, sql, redis, env)")));
                }
            }
        }
        Ok(parsed)
    }

    /// Grants every HTTP destination (except link-local addresses), every SQL connection and every
    /// Redis server: what a developer's local `testmesh run` gives the built-in plugins.
    pub fn local_development() -> Grants {
        Grants::parse(&["http:*", "sql:*", "redis:*"]).unwrap_or_default()
    }

    /// The grants as strings, in the syntax [`Grants::parse`] reads.
    pub fn to_strings(&self) -> Vec<String> {
        let mut out = Vec::new();
        out.extend(self.http.patterns().map(|p| format!("http:{p}")));
        out.extend(self.sql.patterns().map(|p| format!("sql:{p}")));
        out.extend(self.redis.patterns().map(|p| format!("redis:{p}")));
        out.extend(self.env.names().map(|p| format!("env:{p}")));
        out
    }
}

impl fmt::Display for Grants {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let all = self.to_strings();
        if all.is_empty() { f.write_str("nothing") } else { f.write_str(&all.join(", ")) }
    }
}

/// The grants of a URL-addressed capability (`sql`, `redis`): a list of [`UrlPattern`]s such as
/// `postgres://db:5432/*`. Credentials in URLs take no part in matching.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UrlGrant {
    patterns: Vec<UrlPattern>,
}

impl UrlGrant {
    pub(crate) fn add(&mut self, target: &str) -> Result<(), String> {
        self.patterns.push(UrlPattern::parse(target)?);
        Ok(())
    }

    /// The granted patterns, as written (without credentials).
    pub fn patterns(&self) -> impl Iterator<Item = &str> {
        self.patterns.iter().map(UrlPattern::as_str)
    }

    pub(crate) fn allows(&self, url: &str) -> bool {
        self.patterns.iter().any(|p| p.matches(url))
    }
}

/// A target pattern shared by the URL-addressed capabilities (`sql`, `redis`): `*` matches everything,
/// a trailing `*` matches by prefix, anything else must be equal. Credentials never take part in the
/// comparison, so a grant need not (and should not) contain a password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct UrlPattern(String);

impl UrlPattern {
    pub(crate) fn parse(target: &str) -> Result<UrlPattern, String> {
        let target = target.trim();
        if target.is_empty() {
            return Err("empty target".into());
        }
        Ok(UrlPattern(without_credentials(target)))
    }

    pub(crate) fn matches(&self, url: &str) -> bool {
        let url = without_credentials(url);
        match self.0.strip_suffix('*') {
            Some(prefix) => url.starts_with(prefix),
            None => url == self.0,
        }
    }

    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }
}

/// `postgres://user:secret@host/db?x=1` → `postgres://host/db`: what grants compare and errors show.
pub(crate) fn without_credentials(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.split('?').next().unwrap_or(url).to_string();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let (authority, path) = rest.split_at(authority_end);
    let host = authority.rsplit_once('@').map_or(authority, |(_, host)| host);
    let path = path.split('?').next().unwrap_or(path);
    format!("{scheme}://{host}{path}")
}

/// Adds every capability's interface to the linker.
pub(crate) fn link_all(linker: &mut wasmtime::component::Linker<HostState>) -> wasmtime::Result<()> {
    log::link(linker)?;
    http::link(linker)?;
    sql::link(linker)?;
    redis::link(linker)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grants_parse_each_capability_and_print_back() {
        let grants =
            Grants::parse(&["http:api.example.com", "sql:postgres://db:5432/*", "redis:*", "env:TOKEN"]).unwrap();
        assert_eq!(
            grants.to_strings(),
            vec!["http:api.example.com", "sql:postgres://db:5432/*", "redis:*", "env:TOKEN"]
        );
    }

    #[test]
    fn unknown_capability_is_named() {
        let err = Grants::parse(&["disk:/tmp"]).unwrap_err();
        assert!(err.to_string().contains("unknown capability `disk`"), "{err}");
    }

    #[test]
    fn url_patterns_ignore_credentials() {
        let pattern = UrlPattern::parse("postgres://db:5432/*").unwrap();
        assert!(pattern.matches("postgres://app:secret@db:5432/orders?sslmode=disable"));
        assert!(!pattern.matches("postgres://other:5432/orders"));
        assert_eq!(without_credentials("redis://:pw@127.0.0.1:6379/0"), "redis://127.0.0.1:6379/0");
    }
}
