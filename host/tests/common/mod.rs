//! Shared helpers of the integration tests: a sandbox with a disk cache shared by the tests, the
//! components built from `plugins/`, and the machine's PostgreSQL and Redis.
//!
//! Service-backed tests skip with a message when a service is unreachable, unless
//! `TESTMESH_REQUIRE_SERVICES=1` (set by `.ci/run`), in which case they fail.

#![allow(dead_code)]

pub mod server;

use serde_json::Value;
use std::path::PathBuf;
use std::sync::Arc;
use testmesh::sandbox::{
    ActionInput, AssertionInput, CallContext, CallOptions, CallReport, Grants, Plugin, Sandbox, SandboxConfig, Session,
    Verdict,
};

/// A sandbox whose precompiled components are shared by all tests of this build.
pub fn sandbox() -> Sandbox {
    sandbox_with(SandboxConfig::default())
}

/// A sandbox with custom settings (the cache directory is filled in).
pub fn sandbox_with(config: SandboxConfig) -> Sandbox {
    let cache = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("component-cache");
    Sandbox::new(SandboxConfig { cache_dir: Some(cache), max_instances: 64, ..config }).expect("sandbox")
}

/// The bytes of a component built from `plugins/<dir>` (e.g. `probe`, `http_request`).
pub fn component(dir: &str) -> Vec<u8> {
    let file = format!("testmesh_plugin_{dir}.wasm");
    let path = PathBuf::from(testmesh::builtins::COMPONENT_DIR).join(&file);
    std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// Loads `plugins/<dir>` into `sandbox`.
pub async fn load(sandbox: &Sandbox, dir: &str) -> Arc<Plugin> {
    sandbox.load(&component(dir)).await.unwrap_or_else(|e| panic!("loading {dir}: {e}"))
}

/// The context tests pass to calls.
pub fn context() -> CallContext {
    CallContext { run_id: "test-run".into(), flow_name: "test flow".into(), step_id: "step".into(), attempt: 1 }
}

/// Parses grant strings.
pub fn grants(list: &[&str]) -> Arc<Grants> {
    Arc::new(Grants::parse(list).expect("grants"))
}

/// Calls an action with `config`.
pub async fn run(
    session: &Session,
    plugin: &Arc<Plugin>,
    grants: &Arc<Grants>,
    config: Value,
    options: &CallOptions,
) -> CallReport<Value> {
    let context = context();
    session
        .run_action(plugin, grants, ActionInput { context: &context, operation: None, config: &config }, options)
        .await
}

/// Calls an assertion with `checks` against `subject`.
pub async fn check(
    session: &Session,
    plugin: &Arc<Plugin>,
    subject: &Value,
    checks: &[Value],
) -> CallReport<Vec<Verdict>> {
    let context = context();
    let subject = subject.to_string();
    let input = AssertionInput { context: &context, subject: &subject, checks };
    session.check(plugin, &Arc::new(Grants::default()), input, &CallOptions::default()).await
}

fn services_required() -> bool {
    std::env::var("TESTMESH_REQUIRE_SERVICES").is_ok_and(|v| v == "1" || v == "true")
}

/// Skips (returns `None`) or fails, depending on `TESTMESH_REQUIRE_SERVICES`, when a service is down.
fn unavailable<T>(service: &str, error: String) -> Option<T> {
    if services_required() {
        panic!("{service} is required (TESTMESH_REQUIRE_SERVICES=1) but unreachable: {error}");
    }
    eprintln!("skipping: {service} unreachable ({error}); set TESTMESH_REQUIRE_SERVICES=1 to fail instead");
    None
}

/// A fresh PostgreSQL database for one test, dropped when the value is dropped.
pub struct TestDatabase {
    pub url: String,
    admin_url: String,
    name: String,
}

impl TestDatabase {
    /// Creates `testmesh_test_<random>` on `TESTMESH_TEST_POSTGRES_URL`
    /// (default `postgres://postgres@127.0.0.1:5432/postgres`).
    pub async fn create() -> Option<TestDatabase> {
        let admin_url = std::env::var("TESTMESH_TEST_POSTGRES_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
        let admin = match sqlx::PgPool::connect(&admin_url).await {
            Ok(pool) => pool,
            Err(e) => return unavailable("PostgreSQL", e.to_string()),
        };
        let name = format!("testmesh_test_{}", uuid::Uuid::new_v4().simple());
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&admin)
            .await
            .expect("create database");
        admin.close().await;
        let base = admin_url.rsplit_once('/').map_or(admin_url.as_str(), |(base, _)| base);
        Some(TestDatabase { url: format!("{base}/{name}"), admin_url, name })
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let admin_url = self.admin_url.clone();
        let name = self.name.clone();
        // Dropping runs outside the test's runtime, which may be shutting down: use a small one.
        let _ = std::thread::spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread().enable_all().build() else { return };
            runtime.block_on(async {
                if let Ok(admin) = sqlx::PgPool::connect(&admin_url).await {
                    let drop = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                    let _ = sqlx::query(sqlx::AssertSqlSafe(drop)).execute(&admin).await;
                }
            });
        })
        .join();
    }
}

/// The Redis URL to test against (`TESTMESH_TEST_REDIS_URL`, default `redis://127.0.0.1:6379`), if
/// it answers.
pub async fn redis_url() -> Option<String> {
    let url = std::env::var("TESTMESH_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let client = match redis::Client::open(url.as_str()) {
        Ok(client) => client,
        Err(e) => return unavailable("Redis", e.to_string()),
    };
    match client.get_multiplexed_async_connection().await {
        Ok(mut connection) => match redis::cmd("PING").query_async::<String>(&mut connection).await {
            Ok(_) => Some(url),
            Err(e) => unavailable("Redis", e.to_string()),
        },
        Err(e) => unavailable("Redis", e.to_string()),
    }
}
