//! The data a wasmtime `Store` carries for one plugin instance: WASI context, resource table, the
//! HTTP gate, the memory limiter, and the scope of the call in progress.

use super::capabilities::http::HttpGate;
use super::capabilities::redis::RedisConnections;
use super::capabilities::sql::SqlPools;
use super::capabilities::{self, Grants};
use super::limits::Limiter;
use super::logs::{CallLog, LogLevel, LogSource};
use std::sync::{Arc, Mutex};
use std::time::Instant;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::WasiHttpCtx;

/// State shared by every store of a sandbox: connection pools of the capabilities.
#[derive(Default)]
pub(crate) struct SharedCapabilities {
    pub(crate) sql: SqlPools,
    pub(crate) redis: RedisConnections,
}

/// Capability requests refused during the current call, so that the step's error can say why even when
/// the guest's own error message is vague (`wasi:http`'s `HTTP-request-denied` carries no text).
#[derive(Debug, Clone, Default)]
pub(crate) struct Denials {
    inner: Arc<Mutex<Vec<String>>>,
    log: CallLog,
}

impl Denials {
    fn new(log: CallLog) -> Self {
        Denials { inner: Arc::default(), log }
    }

    /// Records a refusal and writes it to the call's log.
    pub(crate) fn record(&self, reason: String) {
        self.log.push(LogLevel::Warn, LogSource::Host, reason.clone());
        self.inner.lock().unwrap_or_else(|p| p.into_inner()).push(reason);
    }

    pub(crate) fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.inner.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

/// What belongs to the plugin and to the call in progress.
pub(crate) struct CallScope {
    /// `name@version` of the plugin, for messages.
    pub(crate) plugin: Arc<str>,
    pub(crate) grants: Arc<Grants>,
    pub(crate) log: CallLog,
    pub(crate) denials: Denials,
    /// When the current call must be over; the epoch callback interrupts the guest after it.
    pub(crate) deadline: Instant,
}

/// The `T` of `Store<T>` for plugin instances.
pub(crate) struct HostState {
    pub(crate) wasi: WasiCtx,
    pub(crate) table: ResourceTable,
    pub(crate) http: WasiHttpCtx,
    pub(crate) http_gate: HttpGate,
    pub(crate) limiter: Limiter,
    pub(crate) scope: CallScope,
    pub(crate) shared: Arc<SharedCapabilities>,
}

impl HostState {
    /// A fresh state for a new instance of `plugin`: no files, no arguments, no sockets, only the
    /// granted environment variables, stdout/stderr into the call log.
    pub(crate) fn new(
        plugin: Arc<str>,
        grants: Arc<Grants>,
        shared: Arc<SharedCapabilities>,
        memory_bytes: u64,
    ) -> Self {
        let log = CallLog::default();
        let denials = Denials::new(log.clone());
        let mut builder = WasiCtx::builder();
        builder
            .stdout(log.stream(LogSource::Stdout))
            .stderr(log.stream(LogSource::Stderr))
            .envs(&grants.env.visible_vars())
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false);
        let http_gate = HttpGate {
            grant: Arc::new(grants.http.clone()),
            plugin: plugin.clone(),
            denials: denials.clone(),
            deadline: Instant::now(),
        };
        HostState {
            wasi: builder.build(),
            table: ResourceTable::new(),
            http: WasiHttpCtx::new(),
            http_gate,
            limiter: Limiter::new(memory_bytes),
            scope: CallScope { plugin, grants, log, denials, deadline: Instant::now() },
            shared,
        }
    }

    /// Prepares a (possibly reused) instance for the next call.
    pub(crate) fn begin_call(&mut self, deadline: Instant, memory_bytes: u64, log_bytes: usize) {
        self.scope.log.reset(log_bytes);
        self.scope.denials.take();
        self.scope.deadline = deadline;
        self.http_gate.deadline = deadline;
        self.limiter.memory_bytes = memory_bytes;
        self.limiter.hit = None;
    }
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

/// Builds the linker every plugin is instantiated with: WASI (p2) plus every capability.
pub(crate) fn build_linker(engine: &wasmtime::Engine) -> wasmtime::Result<wasmtime::component::Linker<HostState>> {
    let mut linker = wasmtime::component::Linker::new(engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
    capabilities::link_all(&mut linker)?;
    Ok(linker)
}
