//! The plugin sandbox: loads WebAssembly components implementing the `testmesh:plugin` worlds and calls
//! them under limits, with only the capabilities they were granted.
//!
//! Everything wasmtime-specific in testmesh lives in this module (wasmtime's API changes every
//! release). The rest of the code sees [`Sandbox`], [`Plugin`], [`Session`] and plain data.
//!
//! - [`Sandbox::load`] checks and compiles a component (precompiled artifacts are cached on disk by
//!   sha256) and calls its `describe`.
//! - [`Sandbox::session`] starts the instance pool of one run: consecutive calls of a plugin reuse its
//!   instance, which is thrown away after any trap or limit hit and never shared across runs.
//! - [`Session::run_action`] and [`Session::check`] call a plugin with a deadline, memory and output
//!   limits, and return its output or a [`CallError`] naming the cause, plus the call's log.

mod bindings;
mod cache;
pub mod capabilities;
mod engine;
mod error;
mod limits;
mod logs;
mod session;
mod state;
mod world;

pub use cache::{CompileSource, digest};
pub use capabilities::{GrantError, Grants};
pub use error::{CallError, LoadError};
pub use limits::Limits;
pub use logs::{LogLevel, LogLine, LogSource};
pub use session::{ActionInput, AssertionInput, CallContext, CallOptions, CallReport, Session, Verdict};

use bindings::action::ActionPre;
use bindings::assertion::AssertionPre;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use state::{HostState, SharedCapabilities};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Instant;
use wasmtime::component::Component;

/// Settings of the sandbox as a whole (per-call limits are [`Limits`]).
#[derive(Debug, Clone)]
pub struct SandboxConfig {
    /// Directory for precompiled components; `None` keeps them in memory only.
    pub cache_dir: Option<PathBuf>,
    /// Most instances alive at once, idle ones included (sizes the pooling allocator); a call that
    /// needs a new instance when all are taken waits for one until its deadline.
    pub max_instances: u32,
    /// Largest memory any call may be given; per-call limits are clamped to it.
    pub max_memory_bytes: u64,
    /// The wasm stack of every call (wasmtime fixes it per engine).
    pub wasm_stack_bytes: usize,
    /// Use the pooling allocator (fast instantiation); off only for debugging.
    pub pooling: bool,
    /// Compile plugins with native debug information, so that a plugin author can step through one
    /// with gdb or lldb. Changes the generated code, so it has its own precompiled artifacts.
    pub debug_info: bool,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        SandboxConfig {
            cache_dir: None,
            max_instances: 256,
            max_memory_bytes: 1 << 30,
            wasm_stack_bytes: 1 << 20,
            pooling: true,
            debug_info: false,
        }
    }
}

/// Which world a plugin implements.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PluginKind {
    /// World `action`: `run` performs an operation.
    Action,
    /// World `assertion`: `check` judges a value.
    Assertion,
}

impl PluginKind {
    /// The WIT world's name.
    pub fn world(self) -> &'static str {
        match self {
            PluginKind::Action => "action",
            PluginKind::Assertion => "assertion",
        }
    }
}

/// A capability a plugin asks for in `describe`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CapabilityRequest {
    /// `http`, `sql`, `redis` or `env`.
    pub capability: String,
    /// Why the plugin needs it.
    pub reason: String,
}

/// What a plugin's `describe` said, with its JSON fields parsed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Descriptor {
    /// Name used in flows.
    pub name: String,
    /// The plugin's version.
    pub version: String,
    /// Its world.
    pub kind: PluginKind,
    /// One line for humans.
    pub summary: String,
    /// JSON Schema of a step's `config`.
    pub config_schema: Value,
    /// JSON Schema of the output.
    pub output_schema: Value,
    /// Other names.
    pub aliases: Vec<String>,
    /// Operations of the namespaced form `<name>.<operation>`.
    pub operations: Vec<String>,
    /// Capabilities asked for.
    pub capabilities: Vec<CapabilityRequest>,
}

/// A loaded plugin: checked, compiled, described, ready to instantiate.
pub struct Plugin {
    /// sha256 of the component, hex: the plugin's identity.
    pub digest: String,
    /// What `describe` said.
    pub descriptor: Descriptor,
    /// Whether it was compiled now or loaded precompiled from disk.
    pub compile_source: CompileSource,
    /// The imports the component declares (`wasi:http/outgoing-handler@0.2.6`, …), for install reports.
    pub imports: Vec<String>,
    label: Arc<str>,
    pre: Pre,
}

impl std::fmt::Debug for Plugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Plugin").field("label", &self.label).field("digest", &self.digest).finish_non_exhaustive()
    }
}

impl Plugin {
    /// Its world.
    pub fn kind(&self) -> PluginKind {
        self.descriptor.kind
    }

    /// `name@version`, as messages show it.
    pub fn label(&self) -> &str {
        &self.label
    }
}

#[derive(Clone)]
enum Pre {
    Action(ActionPre<HostState>),
    Assertion(AssertionPre<HostState>),
}

/// Told of every plugin call that ran (for metrics): the plugin's name, how long the call took, and
/// whether it returned an output.
pub trait CallObserver: Send + Sync {
    /// One call finished.
    fn call_finished(&self, plugin: &str, duration: std::time::Duration, ok: bool);
}

/// The plugin runtime: one wasmtime engine, one linker, the component cache and the capabilities'
/// shared connection pools. Cheap to clone; clones share everything.
#[derive(Clone)]
pub struct Sandbox {
    inner: Arc<Inner>,
}

struct Inner {
    /// One permit per instance that may be alive at once (`max_instances`).
    slots: Arc<tokio::sync::Semaphore>,
    engine: wasmtime::Engine,
    linker: wasmtime::component::Linker<HostState>,
    config: SandboxConfig,
    disk: Option<cache::DiskCache>,
    loaded: Mutex<HashMap<String, Arc<Plugin>>>,
    shared: Arc<SharedCapabilities>,
    observer: std::sync::OnceLock<Arc<dyn CallObserver>>,
    compiles: CompileCounters,
}

#[derive(Default)]
struct CompileCounters {
    compiled: std::sync::atomic::AtomicU64,
    compile_micros: std::sync::atomic::AtomicU64,
    precompiled: std::sync::atomic::AtomicU64,
}

/// How many components this sandbox compiled, and how long that took, next to how many it loaded
/// precompiled: a compile is seconds for a JavaScript or Python component, so servers and workers
/// compile at install and start-up, and these counters (exported as metrics) show that no run paid
/// for one.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct CompileStats {
    /// Components compiled by Cranelift.
    pub compiled: u64,
    /// Time spent compiling them, in seconds.
    pub compile_seconds: f64,
    /// Components loaded from a precompiled artifact on disk.
    pub precompiled: u64,
}

/// A sandbox that could not be set up (engine, linker, cache directory).
#[derive(Debug, thiserror::Error)]
#[error("cannot set up the plugin sandbox: {0}")]
pub struct SetupError(String);

impl Sandbox {
    /// Builds the engine and linker and opens the disk cache.
    pub fn new(config: SandboxConfig) -> Result<Sandbox, SetupError> {
        let engine = engine::build(&config).map_err(|e| SetupError(format!("{e:#}")))?;
        engine::start_epoch_ticker(&engine);
        let linker = state::build_linker(&engine).map_err(|e| SetupError(format!("{e:#}")))?;
        let disk = match &config.cache_dir {
            Some(dir) => Some(
                cache::DiskCache::open(dir, &engine::fingerprint(&engine))
                    .map_err(|e| SetupError(format!("component cache {}: {e}", dir.display())))?,
            ),
            None => None,
        };
        Ok(Sandbox {
            inner: Arc::new(Inner {
                slots: Arc::new(tokio::sync::Semaphore::new(config.max_instances as usize)),
                engine,
                linker,
                config,
                disk,
                loaded: Mutex::default(),
                shared: Arc::default(),
                observer: std::sync::OnceLock::new(),
                compiles: CompileCounters::default(),
            }),
        })
    }

    /// The configuration it was built with.
    pub fn config(&self) -> &SandboxConfig {
        &self.inner.config
    }

    /// Tells `observer` of every call from now on (once per sandbox; a second observer is ignored).
    pub fn observe_calls(&self, observer: Arc<dyn CallObserver>) {
        let _ = self.inner.observer.set(observer);
    }

    /// The plugin already loaded with this digest, if any.
    pub fn get(&self, digest: &str) -> Option<Arc<Plugin>> {
        self.inner.loaded.lock().unwrap_or_else(|p| p.into_inner()).get(digest).cloned()
    }

    /// Checks, compiles (or loads precompiled) and describes a component. Loading the same bytes again
    /// returns the same plugin at once.
    pub async fn load(&self, bytes: &[u8]) -> Result<Arc<Plugin>, LoadError> {
        self.load_with_digest(bytes, cache::digest(bytes)).await
    }

    /// [`load`](Self::load) with the bytes' sha256 `digest` (lower-case hex) already known — for
    /// components whose digest was computed when they were built into the binary, so that start-up
    /// does not hash megabytes. A wrong digest would only mislabel the component and its cache
    /// entry; never pass one that comes from outside the binary.
    pub async fn load_with_digest(&self, bytes: &[u8], digest: String) -> Result<Arc<Plugin>, LoadError> {
        if let Some(plugin) = self.get(&digest) {
            return Ok(plugin);
        }
        check_header(bytes)?;
        let (component, compile_source) = self.compile(&digest, bytes).await?;
        let kind = world::check(&self.inner.engine, &component).map_err(LoadError::WrongWorld)?;
        let imports = component.component_type().imports(&self.inner.engine).map(|(n, _)| n.to_string()).collect();
        let instance_pre =
            self.inner.linker.instantiate_pre(&component).map_err(|e| LoadError::WrongWorld(format!("{e:#}")))?;
        let pre = match kind {
            PluginKind::Action => Pre::Action(ActionPre::new(instance_pre).map_err(|e| wrong_types(kind, e))?),
            PluginKind::Assertion => Pre::Assertion(AssertionPre::new(instance_pre).map_err(|e| wrong_types(kind, e))?),
        };
        let descriptor = session::describe(self, &pre, &digest).await?;
        if descriptor.kind != kind {
            return Err(LoadError::Describe(format!(
                "`describe` says kind `{}` but the component implements world `{}`",
                descriptor.kind.world(),
                kind.world()
            )));
        }
        check_name(&descriptor.name).map_err(LoadError::Describe)?;
        let label: Arc<str> = format!("{}@{}", descriptor.name, descriptor.version).into();
        let plugin = Arc::new(Plugin { digest: digest.clone(), descriptor, compile_source, imports, label, pre });
        let mut loaded = self.inner.loaded.lock().unwrap_or_else(|p| p.into_inner());
        Ok(loaded.entry(digest).or_insert(plugin).clone())
    }

    async fn compile(&self, digest: &str, bytes: &[u8]) -> Result<(Component, CompileSource), LoadError> {
        if let Some(disk) = &self.inner.disk
            && let Some(component) = disk.load(&self.inner.engine, digest)
        {
            self.inner.compiles.precompiled.fetch_add(1, Ordering::Relaxed);
            return Ok((component, CompileSource::Precompiled));
        }
        let engine = self.inner.engine.clone();
        let owned = bytes.to_vec();
        let started = Instant::now();
        let component = tokio::task::spawn_blocking(move || Component::new(&engine, &owned))
            .await
            .map_err(|e| LoadError::NotAComponent(format!("compiler task failed: {e}")))?
            .map_err(|e| LoadError::NotAComponent(format!("{e:#}")))?;
        let elapsed = started.elapsed();
        self.inner.compiles.compiled.fetch_add(1, Ordering::Relaxed);
        self.inner.compiles.compile_micros.fetch_add(elapsed.as_micros() as u64, Ordering::Relaxed);
        tracing::info!(digest, elapsed_ms = elapsed.as_millis() as u64, "compiled component");
        if let Some(disk) = &self.inner.disk {
            disk.store(digest, &component);
        }
        Ok((component, CompileSource::Compiled))
    }

    /// What this sandbox compiled so far.
    pub fn compile_stats(&self) -> CompileStats {
        let counters = &self.inner.compiles;
        CompileStats {
            compiled: counters.compiled.load(Ordering::Relaxed),
            compile_seconds: counters.compile_micros.load(Ordering::Relaxed) as f64 / 1e6,
            precompiled: counters.precompiled.load(Ordering::Relaxed),
        }
    }

    /// The wasmtime engine, for the `plugin_call` benchmark's raw-wasmtime baseline only: comparing
    /// against the very same engine settings isolates what the sandbox itself costs. Product code never
    /// uses it (wasmtime stays behind this module).
    #[doc(hidden)]
    pub fn engine_for_baseline(&self) -> &wasmtime::Engine {
        &self.inner.engine
    }

    /// Starts the instance pool of one run. Drop it when the run ends.
    pub fn session(&self) -> Session {
        Session::new(self.clone())
    }
}

fn check_header(bytes: &[u8]) -> Result<(), LoadError> {
    if bytes.len() < 8 || &bytes[..4] != b"\0asm" {
        return Err(LoadError::NotAComponent("the file does not start with the WebAssembly magic `\\0asm`".into()));
    }
    match bytes[4..8] {
        [0x0d, 0x00, 0x01, 0x00] => Ok(()),
        [0x01, 0x00, 0x00, 0x00] => Err(LoadError::NotAComponent(
            "this is a core WebAssembly module, not a component; build for `wasm32-wasip2` (Rust), use \
             `jco componentize` (JS) or `componentize-py` (Python), or wrap it with `wasm-tools component new`"
                .into(),
        )),
        _ => Err(LoadError::NotAComponent("unknown WebAssembly version or layer".into())),
    }
}

fn wrong_types(kind: PluginKind, e: wasmtime::Error) -> LoadError {
    LoadError::WrongWorld(format!("its exports do not match world `{}` of testmesh:plugin@0.1.0: {e:#}", kind.world()))
}

/// Plugin names: `[a-z0-9_-]`, with at most one `namespace/` prefix.
fn check_name(name: &str) -> Result<(), String> {
    let valid_part = |p: &str| {
        !p.is_empty()
            && p.len() <= 64
            && p.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
    };
    let ok = match name.split_once('/') {
        Some((ns, rest)) => valid_part(ns) && valid_part(rest),
        None => valid_part(name),
    };
    if ok {
        Ok(())
    } else {
        Err(format!(
            "plugin name `{name}` must be lower-case letters, digits, `_` or `-`, with an optional `namespace/`"
        ))
    }
}

/// `64 MiB`, `1.5 KiB`: sizes in messages.
pub(crate) fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["bytes", "KiB", "MiB", "GiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} bytes")
    } else if value.fract() == 0.0 {
        format!("{value:.0} {}", UNITS[unit])
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn core_modules_are_refused_with_advice() {
        let err = check_header(b"\0asm\x01\0\0\0rest").unwrap_err();
        assert!(err.to_string().contains("core WebAssembly module"), "{err}");
        assert!(check_header(b"not wasm at all").is_err());
        assert!(check_header(b"\0asm\x0d\0\x01\0").is_ok());
    }

    #[test]
    fn sizes_read_naturally() {
        assert_eq!(human_bytes(512), "512 bytes");
        assert_eq!(human_bytes(64 << 20), "64 MiB");
        assert_eq!(human_bytes(1536), "1.5 KiB");
    }

    #[test]
    fn plugin_names_are_checked() {
        assert!(check_name("http_request").is_ok());
        assert!(check_name("acme/kafka-v2").is_ok());
        assert!(check_name("Bad Name").is_err());
        assert!(check_name("a/b/c").is_err());
    }
}
