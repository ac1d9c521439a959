//! Plugins written in JavaScript and Python (`plugins/examples/`, built from source by
//! `scripts/build-examples.sh` into `target/examples/`) used by flows through the real binary:
//! `testmesh run --plugin … --grant …` against the demo API and a fresh PostgreSQL database. Passing
//! flows pass; a refused login, an unsorted list and a missing row fail their step with the plugin's
//! reason; a capability the run did not grant is refused with a message naming plugin and target.
//!
//! A Python plugin installed through a server's API is compiled at install, never by the first step
//! that uses it.
//!
//! The components are large (12–18 MB) and take seconds to compile, so every test shares one data
//! directory and the disk cache compiles each once. Without the built components the tests skip,
//! unless `TESTMESH_REQUIRE_EXAMPLES=1` (set by `scripts/test.sh`, which builds them first).

mod common;

use common::server::{Backend, Body, TestServer};
use reqwest::Method;
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::Output;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The built component `name` (`acme_login`), or `None` (skip) when the examples were not built.
fn example(name: &str) -> Option<PathBuf> {
    let dir = std::env::var_os("TESTMESH_EXAMPLES_DIR").map_or_else(|| root().join("target/examples"), PathBuf::from);
    let path = dir.join(format!("{name}.wasm"));
    if path.exists() {
        return Some(path);
    }
    if std::env::var("TESTMESH_REQUIRE_EXAMPLES").is_ok_and(|v| v == "1" || v == "true") {
        panic!("{} is missing: run scripts/build-examples.sh (TESTMESH_REQUIRE_EXAMPLES=1)", path.display());
    }
    eprintln!("skipping: {} is missing; run scripts/build-examples.sh", path.display());
    None
}

fn flow(name: &str) -> PathBuf {
    root().join("plugins/examples/flows").join(name)
}

async fn start_demo_api() -> (String, u16) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address");
    tokio::spawn(async move { testmesh_demo_api::serve(listener).await.expect("demo api") });
    (format!("http://{address}"), address.port())
}

/// `testmesh run <args>` with the shared data directory (and so the shared compile cache).
async fn testmesh_run(args: Vec<String>) -> Output {
    tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_testmesh"))
            .arg("run")
            .args(args)
            .env("TESTMESH_DATA_DIR", Path::new(env!("CARGO_TARGET_TMPDIR")).join("plugin-languages-data"))
            .env("NO_COLOR", "1")
            .output()
            .expect("testmesh runs")
    })
    .await
    .expect("join")
}

fn plugin_args(plugins: &[&Path], grants: &[&str]) -> Vec<String> {
    let mut args = Vec::new();
    for plugin in plugins {
        args.extend(["--plugin".to_string(), plugin.display().to_string()]);
    }
    for grant in grants {
        args.extend(["--grant".to_string(), grant.to_string()]);
    }
    args
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// A copy of the example flow `name` with `replacements` applied, in `dir`.
fn edited_flow(dir: &Path, name: &str, replacements: &[(&str, &str)]) -> PathBuf {
    let mut text = std::fs::read_to_string(flow(name)).expect("example flow");
    for (from, to) in replacements {
        assert!(text.contains(from), "{name} contains {from:?}");
        text = text.replace(from, to);
    }
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write flow");
    path
}

/// A language's two example components, and the flow variable that points their flows at the
/// service they use.
struct Examples {
    plugins: [PathBuf; 2],
    variable: &'static str,
}

impl Examples {
    /// `acme/login` and `acme/sorted`; flows get the demo API in `BASE`.
    fn javascript() -> Option<Self> {
        Some(Examples { plugins: [example("acme_login")?, example("acme_sorted")?], variable: "BASE" })
    }

    /// `acme/fixtures` and `acme/subset`; flows get the database in `DATABASE_URL`.
    fn python() -> Option<Self> {
        Some(Examples { plugins: [example("acme_fixtures")?, example("acme_subset")?], variable: "DATABASE_URL" })
    }

    /// The `testmesh run` arguments that add both components with `grants`.
    fn plugin_args(&self, grants: &[&str]) -> Vec<String> {
        let [first, second] = &self.plugins;
        plugin_args(&[first, second], grants)
    }

    /// Runs `flow` with both components, `grants`, and the service at `value`.
    async fn run(&self, flow: &Path, value: &str, grants: &[&str]) -> Output {
        let mut args = vec![flow.display().to_string(), "--var".into(), format!("{}={value}", self.variable)];
        args.extend(self.plugin_args(grants));
        testmesh_run(args).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn javascript_action_and_assertion_pass_a_flow_against_the_demo_api() {
    let Some(js) = Examples::javascript() else { return };
    let (base, _) = start_demo_api().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let junit = dir.path().join("junit.xml");
    let mut args = vec![
        flow("js_login_products.yaml").display().to_string(),
        "--var".into(),
        format!("BASE={base}"),
        "--junit".into(),
        junit.display().to_string(),
    ];
    args.extend(js.plugin_args(&["http:127.0.0.1"]));
    let output = testmesh_run(args).await;
    let stderr = stderr(&output);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("3 passed, 0 failed"), "{stderr}");
    let report = std::fs::read_to_string(&junit).expect("junit");
    assert!(report.contains("name=\"steps/login\"") && report.contains("failures=\"0\""), "{report}");
    assert!(report.contains("logged in as alice in"), "the plugin's log line is in the report: {report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_the_api_refuses_fails_the_javascript_step_with_the_reason() {
    let Some(js) = Examples::javascript() else { return };
    let (base, _) = start_demo_api().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let wrong = edited_flow(dir.path(), "js_login_products.yaml", &[("password: secret", "password: guessed")]);
    let output = js.run(&wrong, &base, &["http:127.0.0.1"]).await;
    let stderr = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("login as alice was refused: HTTP 401"), "the plugin's own message: {stderr}");
    assert!(stderr.contains("invalid credentials"), "the API's answer: {stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unsorted_list_fails_the_javascript_assertion_naming_the_element() {
    let Some(js) = Examples::javascript() else { return };
    let (base, _) = start_demo_api().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let by_name =
        edited_flow(dir.path(), "js_login_products.yaml", &[("by: id, strict: true", "by: name, strict: true")]);
    let output = js.run(&by_name, &base, &["http:127.0.0.1"]).await;
    let stderr = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(
            "body.items by name is not strictly ascending: element 1 (\"Designing Data-Intensive Applications\")"
        ),
        "{stderr}"
    );
    assert!(stderr.contains("1 passed, 1 failed, 1 skipped"), "the login passed, the products step failed: {stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_the_run_did_not_grant_is_refused_to_the_javascript_action() {
    let Some(js) = Examples::javascript() else { return };
    let (base, port) = start_demo_api().await;
    for grants in [&[][..], &["http:api.example.com"][..]] {
        let output = js.run(&flow("js_login_products.yaml"), &base, grants).await;
        let stderr = stderr(&output);
        assert_eq!(output.status.code(), Some(1), "{grants:?}: {stderr}");
        // The plugin's own message (a POST refused mid-body must not crash the JavaScript engine),
        // with the host's reason.
        assert!(stderr.contains(&format!("cannot POST {base}/login")), "{grants:?}: {stderr}");
        assert!(
            stderr.contains(&format!("http to 127.0.0.1:{port} is not granted to plugin acme/login@0.1.0")),
            "{grants:?}: {stderr}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_config_the_javascript_schema_rejects_is_reported_before_anything_runs() {
    let Some(js) = Examples::javascript() else { return };
    let dir = tempfile::tempdir().expect("temp dir");
    let missing = edited_flow(dir.path(), "js_login_products.yaml", &[("      password: secret\n", "")]);
    let output = js.run(&missing, "http://127.0.0.1:9", &["http:127.0.0.1"]).await;
    let stderr = stderr(&output);
    assert_eq!(output.status.code(), Some(2), "an invalid flow is a usage error: {stderr}");
    assert!(stderr.contains("password"), "the schema names the missing property: {stderr}");
    assert!(stderr.contains("js_login_products.yaml:"), "with the flow's position: {stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_action_and_assertion_pass_a_flow_against_postgres() {
    let Some(py) = Examples::python() else { return };
    let Some(database) = common::TestDatabase::create().await else { return };
    let output = py.run(&flow("python_fixtures.yaml"), &database.url, &["sql:postgres://127.0.0.1:5432/*"]).await;
    let stderr = stderr(&output);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("4 passed, 0 failed"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_row_fails_the_python_assertion_naming_the_expected_element() {
    let Some(py) = Examples::python() else { return };
    let Some(database) = common::TestDatabase::create().await else { return };
    let dir = tempfile::tempdir().expect("temp dir");
    let wrong = edited_flow(
        dir.path(),
        "python_fixtures.yaml",
        &[("{ name: Cordless Drill, price: 89.9 }", "{ name: Cordless Drill, price: 99.9 }")],
    );
    let output = py.run(&wrong, &database.url, &["sql:postgres://127.0.0.1:5432/*"]).await;
    let stderr = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("rows: no element matches expected[1] {\"name\": \"Cordless Drill\", \"price\": 99.9}"),
        "{stderr}"
    );
    assert!(stderr.contains("1 failed"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sql_the_run_did_not_grant_is_refused_to_the_python_action() {
    let Some(py) = Examples::python() else { return };
    let Some(database) = common::TestDatabase::create().await else { return };
    let shown = database.url.replace("postgres@", "");
    for grants in [&[][..], &["sql:postgres://db.internal:5432/*"][..]] {
        let output = py.run(&flow("python_fixtures.yaml"), &database.url, grants).await;
        let stderr = stderr(&output);
        assert_eq!(output.status.code(), Some(1), "{grants:?}: {stderr}");
        assert!(
            stderr.contains(&format!("sql on {shown} is not granted to plugin acme/fixtures@0.1.0")),
            "{grants:?}: {stderr}"
        );
        assert!(
            stderr.contains("Steps:           2 passed, 1 failed, 1 skipped"),
            "setup and teardown still ran: {stderr}"
        );
    }
}

/// `name`'s value in an OpenMetrics exposition.
fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|line| line.strip_prefix(name).and_then(|rest| rest.strip_prefix(' ')))
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or_else(|| panic!("{name} in {text}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_python_plugin_installed_through_the_api_is_compiled_at_install_not_by_the_first_step() {
    let Some(subset) = example("acme_subset") else { return };
    let Some(server) = TestServer::start(Backend::Sqlite).await else { return };
    let admin = server.admin();
    let loads = |text: &str| {
        metric(text, "testmesh_plugin_compilations_total") + metric(text, "testmesh_plugin_precompiled_loads_total")
    };
    let before = admin.get("/metrics").await.text;

    let wasm = std::fs::read(&subset).expect("component");
    let installed = admin.call(Method::POST, "/plugins", Body::Raw("application/wasm", wasm)).await;
    assert_eq!(installed.status, 201, "{}", installed.text);
    assert_eq!(installed.json["name"], "acme/subset");
    let after_install = admin.get("/metrics").await.text;
    assert_eq!(loads(&after_install), loads(&before) + 1.0, "the install made the component ready: {after_install}");

    let flow = "name: first python step\nsteps:\n  - id: note\n    action: log\n    config: { message: hello }\n    assert:\n      - use: acme/subset\n        with: { expected: { logged: true, level: info } }\n";
    let run = admin.post("/runs?wait=60", json!({ "flow": flow })).await;
    assert_eq!(run.status, 200, "{}", run.text);
    assert_eq!(run.json["status"], "passed", "{}", run.text);
    let after_run = admin.get("/metrics").await.text;
    assert_eq!(
        loads(&after_run),
        loads(&after_install),
        "the run neither compiled nor loaded a component (step took {} ms): {after_run}",
        run.json["steps"][0]["duration_ms"]
    );
    assert_eq!(
        metric(&after_run, "testmesh_plugin_compile_seconds_total"),
        metric(&after_install, "testmesh_plugin_compile_seconds_total")
    );
}
