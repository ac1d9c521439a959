//! The outgoing-HTTP capability: standard `wasi:http/outgoing-handler`, with every request checked
//! against the hosts granted to the plugin, and link-local addresses (cloud metadata endpoints) refused
//! unless a grant names them explicitly.
//!
//! The check happens twice: on the URL's host (cheap, before anything touches the network) and on the
//! addresses that host resolves to. The request then goes over a connection to one of exactly those
//! addresses ([`connect`]), so DNS rebinding cannot slip past.

mod connect;

use crate::sandbox::state::{Denials, HostState};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};
use wasmtime::component::Linker;
use wasmtime_wasi_http::{RequestOptions, WasiHttpCtxView, WasiHttpHooks, WasiHttpView};

/// Granted HTTP destinations: `*` (any host), `*.example.com` (sub-domains), `api.example.com`,
/// `127.0.0.1`, `[::1]`, each optionally with `:port`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HttpGrant {
    patterns: Vec<HostPattern>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct HostPattern {
    written: String,
    host: HostMatch,
    port: Option<u16>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum HostMatch {
    Any,
    SubdomainOf(String),
    Exact(String),
}

impl HttpGrant {
    pub(crate) fn add(&mut self, target: &str) -> Result<(), String> {
        let written = target.trim().trim_end_matches('/');
        let target = written.strip_prefix("http://").or_else(|| written.strip_prefix("https://")).unwrap_or(written);
        let (host, port) = split_host_port(target)?;
        let port = match port {
            None | Some("*") => None,
            Some(p) => Some(p.parse::<u16>().map_err(|_| format!("`{p}` is not a port number"))?),
        };
        let host = host.to_ascii_lowercase();
        let host = if host == "*" {
            HostMatch::Any
        } else if let Some(domain) = host.strip_prefix("*.") {
            HostMatch::SubdomainOf(domain.to_string())
        } else if host.is_empty() || host.contains('*') || host.contains('/') {
            return Err("expected `*`, `*.example.com`, `host` or `host:port`".into());
        } else {
            HostMatch::Exact(host)
        };
        self.patterns.push(HostPattern { written: written.to_string(), host, port });
        Ok(())
    }

    /// The grants as written.
    pub fn patterns(&self) -> impl Iterator<Item = &str> {
        self.patterns.iter().map(|p| p.written.as_str())
    }

    /// Whether a request to `host:port` is granted at all.
    fn allows(&self, host: &str, port: u16) -> bool {
        self.patterns.iter().any(|p| p.matches(host, port))
    }

    /// Whether a grant names `host` itself (no wildcard): only such a grant opens link-local addresses.
    fn names_explicitly(&self, host: &str, port: u16) -> bool {
        self.patterns.iter().any(|p| matches!(&p.host, HostMatch::Exact(h) if h == host) && p.matches(host, port))
    }
}

impl HostPattern {
    fn matches(&self, host: &str, port: u16) -> bool {
        let host_ok = match &self.host {
            HostMatch::Any => true,
            HostMatch::SubdomainOf(domain) => host.ends_with(&format!(".{domain}")),
            HostMatch::Exact(exact) => host == exact,
        };
        host_ok && self.port.is_none_or(|p| p == port)
    }
}

/// `host`, `host:port`, `[v6]`, `[v6]:port` → (host without brackets, port).
fn split_host_port(target: &str) -> Result<(&str, Option<&str>), String> {
    if let Some(rest) = target.strip_prefix('[') {
        let (host, after) = rest.split_once(']').ok_or("unclosed `[` in IPv6 address")?;
        let port = after.strip_prefix(':');
        if !after.is_empty() && port.is_none() {
            return Err("unexpected text after `]`".into());
        }
        return Ok((host, port));
    }
    match target.rsplit_once(':') {
        Some((host, port)) if !host.contains(':') => Ok((host, Some(port))),
        Some(_) => Err("write IPv6 addresses in brackets: `[::1]:8080`".into()),
        None => Ok((target, None)),
    }
}

/// Addresses a plugin may reach only with an explicit grant: link-local ranges, where cloud metadata
/// services live (169.254.169.254, fd00:ec2::254), and the unspecified address.
fn is_sensitive(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_link_local() || v4.is_unspecified(),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return v4.is_link_local() || v4.is_unspecified();
            }
            (v6.segments()[0] & 0xffc0) == 0xfe80
                || v6.is_unspecified()
                || v6.segments() == [0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254]
        }
    }
}

/// The per-store HTTP policy: wasmtime-wasi-http calls [`WasiHttpHooks::send_request`] for every
/// request the guest makes.
pub(crate) struct HttpGate {
    pub(crate) grant: Arc<HttpGrant>,
    pub(crate) plugin: Arc<str>,
    pub(crate) denials: Denials,
    pub(crate) deadline: Instant,
}

type SendFuture = Box<
    dyn Future<
            Output = wasmtime_wasi_http::Result<(
                http::Response<wasmtime_wasi_http::WasiBody>,
                Box<dyn Future<Output = Result<(), wasmtime_wasi_http::Error>> + Send>,
            )>,
        > + Send,
>;

impl WasiHttpHooks for HttpGate {
    fn send_request(
        &mut self,
        request: http::Request<wasmtime_wasi_http::WasiBody>,
        options: Option<RequestOptions>,
        _fut: Box<dyn Future<Output = Result<(), wasmtime_wasi_http::Error>> + Send>,
    ) -> SendFuture {
        use wasmtime_wasi_http::Error;
        let uri = request.uri();
        let tls = uri.scheme() == Some(&http::uri::Scheme::HTTPS);
        let Some(raw_host) = uri.host() else {
            return Box::new(async { Err(Error::HttpRequestUriInvalid) });
        };
        let host = raw_host.trim_start_matches('[').trim_end_matches(']').to_ascii_lowercase();
        let port = uri.port_u16().unwrap_or(if tls { 443 } else { 80 });
        if !self.grant.allows(&host, port) {
            let granted: Vec<&str> = self.grant.patterns().collect();
            let granted = if granted.is_empty() { "no HTTP destinations".to_string() } else { granted.join(", ") };
            self.denials
                .record(format!("http to {host}:{port} is not granted to plugin {} (granted: {granted})", self.plugin));
            // A guest that finishes its body only after the response would wait here, so the
            // wait is short.
            let remaining = self.deadline.saturating_duration_since(Instant::now()).min(DRAIN_REFUSED_BODY);
            let body = request.into_body();
            return Box::new(async move {
                discard_body(body, remaining).await;
                Err(Error::HttpRequestDenied)
            });
        }
        let explicit = self.grant.names_explicitly(&host, port);
        let denials = self.denials.clone();
        let plugin = self.plugin.clone();
        let remaining = self.deadline.saturating_duration_since(Instant::now()).max(Duration::from_millis(1));
        let options = clamp_timeouts(options, remaining);
        Box::new(async move {
            let addresses: Vec<SocketAddr> = match tokio::net::lookup_host((host.as_str(), port)).await {
                Ok(found) => found.collect(),
                Err(e) => return Err(Error::DnsError { rcode: Some(e.to_string()), info_code: None }),
            };
            if addresses.is_empty() {
                return Err(Error::DestinationNotFound);
            }
            if !explicit && let Some(bad) = addresses.iter().find(|a| is_sensitive(a.ip())) {
                denials.record(format!(
                    "http to {host}:{port} refused for plugin {plugin}: it resolves to the link-local address {} \
                     (cloud metadata endpoints live there); grant `http:{host}` explicitly to allow it",
                    bad.ip()
                ));
                return Err(Error::HttpRequestDenied);
            }
            let tls_host = tls.then_some(host.as_str());
            connect::send(request, &addresses, tls_host, options).await
        })
    }
}

/// The longest a refused request's body is read for before the refusal is answered.
const DRAIN_REFUSED_BODY: Duration = Duration::from_secs(1);

/// Reads a refused request's body to its end (bounded in size and time) before the refusal is
/// answered: a guest still writing the body when the request fails may not survive it
/// (componentize-js aborts with "event loop error" on a POST refused mid-body).
async fn discard_body<B: http_body::Body + Unpin>(mut body: B, within: Duration) {
    use http_body_util::BodyExt;
    const MOST: usize = 16 << 20;
    let drain = async {
        let mut seen = 0;
        while let Some(Ok(frame)) = body.frame().await {
            seen += frame.data_ref().map_or(0, bytes::Buf::remaining);
            if seen > MOST {
                return;
            }
        }
    };
    let _ = tokio::time::timeout(within, drain).await;
}

/// wasmtime-wasi-http waits up to 600 s by default; a plugin call never outlives its deadline.
fn clamp_timeouts(options: Option<RequestOptions>, remaining: Duration) -> RequestOptions {
    let options = options.unwrap_or_default();
    let clamp = |t: Option<Duration>| Some(t.map_or(remaining, |t| t.min(remaining)));
    RequestOptions {
        connect_timeout: clamp(options.connect_timeout),
        first_byte_timeout: clamp(options.first_byte_timeout),
        between_bytes_timeout: clamp(options.between_bytes_timeout),
    }
}

impl WasiHttpView for HostState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView { ctx: &mut self.http, table: &mut self.table, hooks: &mut self.http_gate }
    }
}

pub(crate) fn link(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    wasmtime_wasi_http::p2::add_only_http_to_linker_async(linker)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant(patterns: &[&str]) -> HttpGrant {
        let mut grant = HttpGrant::default();
        for p in patterns {
            grant.add(p).unwrap();
        }
        grant
    }

    #[test]
    fn host_patterns_match_as_documented() {
        let g = grant(&["api.example.com", "*.internal.test", "127.0.0.1:8080", "[::1]"]);
        assert!(g.allows("api.example.com", 443));
        assert!(g.allows("db.internal.test", 80));
        assert!(!g.allows("internal.test", 80));
        assert!(g.allows("127.0.0.1", 8080));
        assert!(!g.allows("127.0.0.1", 8081));
        assert!(g.allows("::1", 9000));
        assert!(!g.allows("example.com", 443));
        assert!(grant(&["*"]).allows("anything.at.all", 1));
    }

    #[test]
    fn only_exact_grants_open_link_local() {
        let g = grant(&["*", "169.254.169.254"]);
        assert!(g.names_explicitly("169.254.169.254", 80));
        assert!(!g.names_explicitly("metadata.internal", 80));
        assert!(is_sensitive("169.254.169.254".parse().unwrap()));
        assert!(is_sensitive("fe80::1".parse().unwrap()));
        assert!(is_sensitive("fd00:ec2::254".parse().unwrap()));
        assert!(!is_sensitive("127.0.0.1".parse().unwrap()));
        assert!(!is_sensitive("10.0.0.1".parse().unwrap()));
    }

    #[test]
    fn malformed_grants_are_refused() {
        assert!(HttpGrant::default().add("api.*.com").is_err());
        assert!(HttpGrant::default().add("host:notaport").is_err());
        assert!(HttpGrant::default().add("::1").is_err());
    }
}
