//! `cargo bench -p testmesh --bench plugin_call`: the cost of one plugin call through the sandbox, for
//! a no-op action (the `probe` fixture) and the `expr` assertion, on a fresh instance and on an
//! instance reused within a run — side by side with raw wasmtime (same engine settings, same
//! component, no testmesh code) instantiating and calling the same export. The ratio sandbox/raw is
//! the sandbox's overhead; see docs/benchmarks.md for the numbers.
//!
//! Group `language_assertion` compares one assertion call per plugin language, fresh and reused
//! instance: Rust (the built-in `json_schema`, a `contains` schema equivalent to the Python check),
//! JavaScript (`acme/sorted`, componentize-js) and Python (`acme/subset`, componentize-py), the latter
//! two from `target/examples/` (`scripts/build-examples.sh`; a missing one is skipped). Under
//! `cargo bench` it also prints, once, a markdown table of what each language costs besides its calls:
//! component size, compile time, precompiled load time and memory per live instance.
//!
//! The raw baseline is the one place outside `sandbox` that uses wasmtime directly: it has to, to be a
//! baseline.

use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::{Value, json};
use std::cell::OnceCell;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Once};
use std::time::{Duration, Instant};
use testmesh::sandbox::{
    ActionInput, AssertionInput, CallContext, CallOptions, CompileSource, Grants, Plugin, Sandbox, SandboxConfig,
    Session,
};

mod raw {
    //! A bare wasmtime host on the sandbox's own engine (same pooling and compiler settings): WASI with
    //! nothing granted, no limits, no deadlines, no logs, testmesh
    //! imports that do nothing (the benchmarked calls use none).

    wasmtime::component::bindgen!({ world: "action", path: "../wit", exports: { default: async } });
    pub mod assertion {
        wasmtime::component::bindgen!({ world: "assertion", path: "../wit", exports: { default: async } });
    }

    use wasmtime::component::{Component, Linker, ResourceTable};
    use wasmtime::{Engine, Store};
    use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

    pub struct State {
        wasi: WasiCtx,
        http: wasmtime_wasi_http::WasiHttpCtx,
        table: ResourceTable,
    }

    impl wasmtime_wasi_http::WasiHttpView for State {
        fn http(&mut self) -> wasmtime_wasi_http::WasiHttpCtxView<'_> {
            wasmtime_wasi_http::WasiHttpCtxView {
                ctx: &mut self.http,
                table: &mut self.table,
                hooks: wasmtime_wasi_http::default_hooks(),
            }
        }
    }

    impl WasiView for State {
        fn ctx(&mut self) -> WasiCtxView<'_> {
            WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
        }
    }

    impl testmesh::plugin::types::Host for State {}
    impl testmesh::plugin::action_types::Host for State {}
    impl testmesh::plugin::log::Host for State {
        fn write(&mut self, _level: testmesh::plugin::types::Level, _message: String) {}
    }
    impl testmesh::plugin::sql::Host for State {
        fn query(
            &mut self,
            _: String,
            _: String,
            _: String,
        ) -> Result<testmesh::plugin::sql::QueryResult, testmesh::plugin::sql::Error> {
            Err(testmesh::plugin::sql::Error::Denied("raw baseline".into()))
        }
    }
    impl testmesh::plugin::redis::Host for State {
        fn command(&mut self, _: String, _: Vec<String>) -> Result<String, testmesh::plugin::redis::Error> {
            Err(testmesh::plugin::redis::Error::Denied("raw baseline".into()))
        }
    }

    pub fn store(engine: &Engine) -> Store<State> {
        let mut store = Store::new(
            engine,
            State { wasi: WasiCtx::builder().build(), http: Default::default(), table: ResourceTable::new() },
        );
        // The shared engine has epoch interruption on; a raw host that ignores deadlines sets a far one.
        store.set_epoch_deadline(u64::MAX / 2);
        store
    }

    pub fn pre(engine: &Engine, bytes: &[u8]) -> wasmtime::component::InstancePre<State> {
        let component = Component::new(engine, bytes).expect("component");
        let mut linker = Linker::new(engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker).expect("wasi");
        wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker).expect("wasi-http");
        Action::add_to_linker::<State, wasmtime::component::HasSelf<State>>(&mut linker, |s| s).expect("testmesh");
        linker.instantiate_pre(&component).expect("instantiate_pre")
    }
}

fn component(name: &str) -> Vec<u8> {
    let path = std::path::Path::new(testmesh::builtins::COMPONENT_DIR).join(format!("testmesh_plugin_{name}.wasm"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn context() -> CallContext {
    CallContext { run_id: "bench".into(), flow_name: "bench".into(), step_id: "step".into(), attempt: 1 }
}

/// Times `iters` sequential calls inside one `block_on`, so the runtime's entry cost is not measured.
fn timed<F: Future<Output = ()>>(
    runtime: &tokio::runtime::Runtime,
    iters: u64,
    mut call: impl FnMut() -> F,
) -> Duration {
    runtime.block_on(async {
        let started = Instant::now();
        for _ in 0..iters {
            call().await;
        }
        started.elapsed()
    })
}

/// The precompiled components shared by every run of the benchmarks.
fn bench_cache() -> PathBuf {
    std::env::temp_dir().join("testmesh-bench-cache")
}

/// A sandbox as the benchmarks use it: 64 instances, precompiled components in `cache_dir`.
fn bench_sandbox(cache_dir: Option<PathBuf>) -> Sandbox {
    Sandbox::new(SandboxConfig { cache_dir, max_instances: 64, ..SandboxConfig::default() }).expect("sandbox")
}

struct Fixture {
    runtime: tokio::runtime::Runtime,
    sandbox: Sandbox,
    probe: Arc<Plugin>,
    expr: Arc<Plugin>,
    grants: Arc<Grants>,
}

fn fixture() -> Fixture {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let sandbox = bench_sandbox(Some(bench_cache()));
    let (probe, expr) = runtime.block_on(async {
        (sandbox.load(&component("probe")).await.expect("probe"), sandbox.load(&component("expr")).await.expect("expr"))
    });
    Fixture { runtime, sandbox, probe, expr, grants: Arc::new(Grants::default()) }
}

async fn noop(session: &Session, f: &Fixture, options: &CallOptions, config: &Value, context: &CallContext) {
    let input = ActionInput { context, operation: None, config };
    let report = session.run_action(&f.probe, &f.grants, input, options).await;
    assert!(report.result.is_ok(), "{:?}", report.result);
}

fn noop_action(c: &mut Criterion) {
    let f = fixture();
    let config = json!({"mode": "noop"});
    let context = context();
    let mut group = c.benchmark_group("noop_action");

    let fresh = CallOptions { fresh_instance: true, ..CallOptions::default() };
    group.bench_function("sandbox_fresh_instance", |b| {
        let session = f.sandbox.session();
        b.iter_custom(|iters| timed(&f.runtime, iters, || noop(&session, &f, &fresh, &config, &context)))
    });
    let reuse = CallOptions::default();
    group.bench_function("sandbox_reused_instance", |b| {
        let session = f.sandbox.session();
        b.iter_custom(|iters| timed(&f.runtime, iters, || noop(&session, &f, &reuse, &config, &context)))
    });

    let engine = f.sandbox.engine_for_baseline().clone();
    let pre = raw::ActionPre::new(raw::pre(&engine, &component("probe"))).expect("action pre");
    let call = raw::testmesh::plugin::action_types::ActionCall {
        context: raw::testmesh::plugin::types::CallContext {
            run_id: "bench".into(),
            flow_name: "bench".into(),
            step_id: "step".into(),
            attempt: 1,
            deadline_ms: 30_000,
        },
        operation: None,
        config: config.to_string(),
    };
    group.bench_function("raw_wasmtime_fresh_instance", |b| {
        b.iter_custom(|iters| {
            timed(&f.runtime, iters, || async {
                let mut store = raw::store(&engine);
                let action = pre.instantiate_async(&mut store).await.expect("instantiate");
                let output = action.call_run(&mut store, &call).await.expect("call");
                assert!(output.is_ok());
            })
        })
    });
    group.bench_function("raw_wasmtime_reused_instance", |b| {
        let mut store = raw::store(&engine);
        let action = f.runtime.block_on(pre.instantiate_async(&mut store)).expect("instantiate");
        b.iter_custom(|iters| {
            f.runtime.block_on(async {
                let started = Instant::now();
                for _ in 0..iters {
                    let output = action.call_run(&mut store, &call).await.expect("call");
                    assert!(output.is_ok());
                }
                started.elapsed()
            })
        })
    });
    group.finish();
}

fn expr_assertion(c: &mut Criterion) {
    let f = fixture();
    let subject = json!({
        "status": 200,
        "headers": {"content-type": "application/json"},
        "body": {"id": 7, "email": "alice@example.com", "items": [1, 2, 3]},
        "duration_ms": 12,
    })
    .to_string();
    let checks = [json!({"expr": "status == 200"})];
    let context = context();
    let mut group = c.benchmark_group("expr_assertion");

    for (name, fresh_instance) in [("sandbox_fresh_instance", true), ("sandbox_reused_instance", false)] {
        let options = CallOptions { fresh_instance, ..CallOptions::default() };
        group.bench_function(name, |b| {
            let session = f.sandbox.session();
            b.iter_custom(|iters| {
                timed(&f.runtime, iters, || async {
                    let input = AssertionInput { context: &context, subject: &subject, checks: &checks };
                    let report = session.check(&f.expr, &f.grants, input, &options).await;
                    assert!(report.result.as_ref().is_ok_and(|v| v[0].passed), "{:?}", report.result);
                })
            })
        });
    }

    let engine = f.sandbox.engine_for_baseline().clone();
    let pre = raw::assertion::AssertionPre::new(raw::pre(&engine, &component("expr"))).expect("assertion pre");
    let call = raw::assertion::testmesh::plugin::assertion_types::AssertionCall {
        context: raw::assertion::testmesh::plugin::types::CallContext {
            run_id: "bench".into(),
            flow_name: "bench".into(),
            step_id: "step".into(),
            attempt: 1,
            deadline_ms: 30_000,
        },
        subject: subject.clone(),
        checks: checks.iter().map(Value::to_string).collect(),
    };
    group.bench_function("raw_wasmtime_fresh_instance", |b| {
        b.iter_custom(|iters| {
            timed(&f.runtime, iters, || async {
                let mut store = raw::store(&engine);
                let assertion = pre.instantiate_async(&mut store).await.expect("instantiate");
                let verdicts = assertion.call_check(&mut store, &call).await.expect("call");
                assert!(verdicts.is_ok());
            })
        })
    });
    group.bench_function("raw_wasmtime_reused_instance", |b| {
        let mut store = raw::store(&engine);
        let assertion = f.runtime.block_on(pre.instantiate_async(&mut store)).expect("instantiate");
        b.iter_custom(|iters| {
            f.runtime.block_on(async {
                let started = Instant::now();
                for _ in 0..iters {
                    let verdicts = assertion.call_check(&mut store, &call).await.expect("call");
                    assert!(verdicts.is_ok());
                }
                started.elapsed()
            })
        })
    });
    group.finish();
}

/// The subject every `language_assertion` check judges.
const LANGUAGE_SUBJECT: &str = r#"{"body":{"items":[{"id":1},{"id":2},{"id":3}]}}"#;

/// Sessions the memory measurement keeps alive, each holding the instance of its one call.
const LIVE_INSTANCES: usize = 20;

/// `/proc/self/statm` counts pages; 4 KiB on x86-64.
const PAGE_BYTES: u64 = 4096;

/// One language's assertion plugin in the `language_assertion` group.
struct Language {
    /// `rust`, `javascript` or `python`: the benchmarks' name prefix.
    name: &'static str,
    /// The plugin, as the table names it.
    plugin: &'static str,
    /// The component.
    bytes: Vec<u8>,
    /// One check that passes on [`LANGUAGE_SUBJECT`].
    checks: Vec<Value>,
    /// How many compiles the table takes the median of: a JavaScript or Python compile takes seconds.
    compiles: usize,
}

/// The languages whose component is available: the built-in `json_schema` always, the examples when
/// `scripts/build-examples.sh` built them.
fn languages() -> Vec<Language> {
    let json_schema =
        testmesh::builtins::all().iter().find(|b| b.source == "json_schema").expect("the built-in json_schema");
    let mut languages = vec![Language {
        name: "rust",
        plugin: "json_schema (built-in)",
        bytes: json_schema.wasm.to_vec(),
        checks: vec![json!({
            "path": "$.body.items",
            "schema": {"type": "array", "contains": {"required": ["id"], "properties": {"id": {"const": 2}}}},
        })],
        compiles: 3,
    }];
    if let Some(bytes) = example("javascript", "acme_sorted") {
        let checks = vec![json!({"path": "body.items", "by": "id"})];
        languages.push(Language { name: "javascript", plugin: "acme/sorted", bytes, checks, compiles: 2 });
    }
    if let Some(bytes) = example("python", "acme_subset") {
        let checks = vec![json!({"path": "body.items", "expected": [{"id": 2}]})];
        languages.push(Language { name: "python", plugin: "acme/subset", bytes, checks, compiles: 2 });
    }
    languages
}

/// `target/examples/<name>.wasm` (or `$TESTMESH_EXAMPLES_DIR/<name>.wasm`), or `None` with a message.
fn example(language: &str, name: &str) -> Option<Vec<u8>> {
    let dir = std::env::var_os("TESTMESH_EXAMPLES_DIR")
        .map_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/examples"), PathBuf::from);
    let path = dir.join(format!("{name}.wasm"));
    match std::fs::read(&path) {
        Ok(bytes) => Some(bytes),
        Err(e) => {
            eprintln!(
                "language_assertion: skipping {language}: {}: {e}; run scripts/build-examples.sh",
                path.display()
            );
            None
        }
    }
}

/// One `check` of `language`'s checks against [`LANGUAGE_SUBJECT`], which must pass.
async fn passing_check(
    session: &Session,
    plugin: &Arc<Plugin>,
    grants: &Arc<Grants>,
    language: &Language,
    context: &CallContext,
    options: &CallOptions,
) {
    let input = AssertionInput { context, subject: LANGUAGE_SUBJECT, checks: &language.checks };
    let report = session.check(plugin, grants, input, options).await;
    assert!(report.result.as_ref().is_ok_and(|v| v[0].passed), "{}: {:?}", language.plugin, report.result);
}

/// Under `cargo bench` (which passes `--bench`), not `cargo test --benches`, where every benchmark
/// runs once and the cost table would only slow the test down.
fn benchmarking() -> bool {
    std::env::args().any(|arg| arg == "--bench")
}

fn language_assertion(c: &mut Criterion) {
    let languages = languages();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let sandbox = bench_sandbox(Some(bench_cache()));
    let (context, grants) = (context(), Arc::new(Grants::default()));
    let table = Once::new();
    let mut group = c.benchmark_group("language_assertion");
    group.sample_size(20).measurement_time(Duration::from_secs(3));

    for language in &languages {
        // Loaded by the first benchmark that runs, so that a filter skipping the group loads nothing.
        let plugin = OnceCell::new();
        for (mode, fresh_instance) in [("fresh_instance", true), ("reused_instance", false)] {
            let options = CallOptions { fresh_instance, ..CallOptions::default() };
            group.bench_function(format!("{}_{mode}", language.name), |b| {
                if benchmarking() {
                    table.call_once(|| cost_table(&runtime, &languages));
                }
                let plugin = plugin.get_or_init(|| {
                    runtime
                        .block_on(sandbox.load(&language.bytes))
                        .unwrap_or_else(|e| panic!("{}: {e}", language.plugin))
                });
                let session = sandbox.session();
                b.iter_custom(|iters| {
                    timed(&runtime, iters, || passing_check(&session, plugin, &grants, language, &context, &options))
                })
            });
        }
    }
    group.finish();
}

/// What a language's plugin costs besides its calls.
struct Costs {
    /// Checking, compiling and describing it in a sandbox with no cache.
    compile: Duration,
    /// Loading it precompiled (from a cache a first load filled) in a new sandbox.
    precompiled: Duration,
    /// Growth of the process's memory per live instance (`None` without `/proc`).
    memory: Option<Memory>,
}

/// Prints, once, a markdown table of [`Costs`] per language.
fn cost_table(runtime: &tokio::runtime::Runtime, languages: &[Language]) {
    let mut rows = Vec::new();
    for language in languages {
        let costs = costs(runtime, language);
        let mib = |bytes: f64| format!("{:.2} MiB", bytes / f64::from(1 << 20));
        let (rss, pss) = costs.memory.map_or_else(|| ("n/a".into(), "n/a".into()), |m| (mib(m.rss), mib(m.pss)));
        rows.push(format!(
            "| {} | {} | {} | {:.1} ms | {:.1} ms | {rss} | {pss} |",
            language.name,
            language.plugin,
            mib(language.bytes.len() as f64),
            costs.compile.as_secs_f64() * 1e3,
            costs.precompiled.as_secs_f64() * 1e3,
        ));
    }
    eprintln!(
        "\nlanguage_assertion: what each plugin costs besides its calls (memory: {LIVE_INSTANCES} live instances)\n"
    );
    eprintln!(
        "| language | plugin | .wasm | compile | load precompiled | memory/instance (RSS) | memory/instance (PSS) |"
    );
    eprintln!("|---|---|---:|---:|---:|---:|---:|");
    for row in rows {
        eprintln!("{row}");
    }
    eprintln!();
}

fn costs(runtime: &tokio::runtime::Runtime, language: &Language) -> Costs {
    let compile = median((0..language.compiles).map(|_| time_load(runtime, None, language, CompileSource::Compiled)));
    let cache = tempfile::tempdir().expect("temporary cache directory");
    let dir = || Some(cache.path().to_path_buf());
    time_load(runtime, dir(), language, CompileSource::Compiled);
    let precompiled = median((0..3).map(|_| time_load(runtime, dir(), language, CompileSource::Precompiled)));
    let memory = runtime.block_on(memory_per_instance(&bench_sandbox(dir()), language));
    Costs { compile, precompiled, memory }
}

/// Times `Sandbox::load` (hash, compile or load precompiled, `describe`) in a new sandbox on
/// `cache_dir`, checking that the component was compiled or precompiled as `expected`.
fn time_load(
    runtime: &tokio::runtime::Runtime,
    cache_dir: Option<PathBuf>,
    language: &Language,
    expected: CompileSource,
) -> Duration {
    let sandbox = bench_sandbox(cache_dir);
    runtime.block_on(async {
        let started = Instant::now();
        let plugin = sandbox.load(&language.bytes).await.unwrap_or_else(|e| panic!("{}: {e}", language.plugin));
        let elapsed = started.elapsed();
        assert_eq!(plugin.compile_source, expected, "{}", language.plugin);
        elapsed
    })
}

fn median(samples: impl Iterator<Item = Duration>) -> Duration {
    let mut samples: Vec<Duration> = samples.collect();
    samples.sort();
    let middle = samples.len() / 2;
    if samples.len().is_multiple_of(2) { (samples[middle - 1] + samples[middle]) / 2 } else { samples[middle] }
}

/// Memory of the process, in bytes.
#[derive(Debug, Clone, Copy)]
struct Memory {
    /// Resident set (`/proc/self/statm`).
    rss: f64,
    /// Proportional set size (`/proc/self/smaps_rollup`): pages shared by instances (the component's
    /// memory image, mapped copy-on-write) are divided among them rather than counted by each.
    pss: f64,
}

impl Memory {
    fn now() -> Option<Memory> {
        let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
        let resident: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
        let rollup = std::fs::read_to_string("/proc/self/smaps_rollup").ok()?;
        let pss_kib: u64 =
            rollup.lines().find_map(|l| l.strip_prefix("Pss:"))?.trim().strip_suffix("kB")?.trim().parse().ok()?;
        Some(Memory { rss: (resident * PAGE_BYTES) as f64, pss: (pss_kib * 1024) as f64 })
    }
}

/// The memory one more live instance of `language` takes: [`LIVE_INSTANCES`] sessions each make one
/// call and keep its instance, after a first session has loaded the code and warmed the host.
async fn memory_per_instance(sandbox: &Sandbox, language: &Language) -> Option<Memory> {
    let plugin = sandbox.load(&language.bytes).await.unwrap_or_else(|e| panic!("{}: {e}", language.plugin));
    let (context, grants, options) = (context(), Arc::new(Grants::default()), CallOptions::default());
    let warm = sandbox.session();
    passing_check(&warm, &plugin, &grants, language, &context, &options).await;
    let before = Memory::now()?;
    let mut live = Vec::with_capacity(LIVE_INSTANCES);
    for _ in 0..LIVE_INSTANCES {
        let session = sandbox.session();
        passing_check(&session, &plugin, &grants, language, &context, &options).await;
        live.push(session);
    }
    let after = Memory::now()?;
    drop((live, warm));
    let per_instance = |after: f64, before: f64| (after - before) / LIVE_INSTANCES as f64;
    Some(Memory { rss: per_instance(after.rss, before.rss), pss: per_instance(after.pss, before.pss) })
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(4)).warm_up_time(Duration::from_secs(1)).sample_size(30);
    targets = noop_action, expr_assertion, language_assertion
}
criterion_main!(benches);
