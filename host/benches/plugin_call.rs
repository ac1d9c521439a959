//! `cargo bench -p testmesh --bench plugin_call`: the cost of one plugin call through the sandbox, for
//! a no-op action (the `probe` fixture) and the `expr` assertion, on a fresh instance and on an
//! instance reused within a run — side by side with raw wasmtime (same engine settings, same
//! component, no testmesh code) instantiating and calling the same export. The ratio sandbox/raw is
//! the sandbox's overhead; see docs/benchmarks.md for the numbers.
//!
//! The raw baseline is the one place outside `sandbox` that uses wasmtime directly: it has to, to be a
//! baseline.

use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::{Duration, Instant};
use testmesh::sandbox::{
    ActionInput, AssertionInput, CallContext, CallOptions, Grants, Plugin, Sandbox, SandboxConfig, Session,
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

struct Fixture {
    runtime: tokio::runtime::Runtime,
    sandbox: Sandbox,
    probe: Arc<Plugin>,
    expr: Arc<Plugin>,
    grants: Arc<Grants>,
}

fn fixture() -> Fixture {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let cache = std::env::temp_dir().join("testmesh-bench-cache");
    let sandbox = Sandbox::new(SandboxConfig { cache_dir: Some(cache), max_instances: 64, ..SandboxConfig::default() })
        .expect("sandbox");
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

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(4)).warm_up_time(Duration::from_secs(1)).sample_size(30);
    targets = noop_action, expr_assertion
}
criterion_main!(benches);
