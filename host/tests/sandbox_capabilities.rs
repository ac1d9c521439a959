//! Plugins get nothing they were not granted: no files, no environment, no network, no databases; a
//! denial is a clear error naming the target and the plugin.

mod common;

use common::{TestDatabase, grants, load, run, sandbox};
use serde_json::json;
use testmesh::sandbox::{CallError, CallOptions};

async fn http_server() -> String {
    let app = axum::Router::new().route("/hello", axum::routing::get(|| async { "hello from the test server" }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address");
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{address}")
}

#[tokio::test]
async fn no_environment_and_no_files_by_default() {
    let sandbox = sandbox();
    let plugin = load(&sandbox, "probe").await;
    let session = sandbox.session();
    let output =
        run(&session, &plugin, &grants(&[]), json!({"mode": "env"}), &CallOptions::default()).await.result.unwrap();
    assert_eq!(output["vars"], json!({}), "the host's environment leaked");
    let error = run(
        &session,
        &plugin,
        &grants(&[]),
        json!({"mode": "read_file", "path": "/etc/passwd"}),
        &CallOptions::default(),
    )
    .await
    .result
    .unwrap_err();
    assert!(error.to_string().contains("cannot read file"), "{error}");
}

#[tokio::test]
async fn granted_environment_variables_are_visible_and_only_those() {
    // SAFETY: set before any thread of this test reads the environment; the name is unique to it.
    unsafe { std::env::set_var("TESTMESH_CAPABILITY_TEST_TOKEN", "s3cret") };
    let sandbox = sandbox();
    let plugin = load(&sandbox, "probe").await;
    let output = run(
        &sandbox.session(),
        &plugin,
        &grants(&["env:TESTMESH_CAPABILITY_TEST_TOKEN"]),
        json!({"mode": "env"}),
        &CallOptions::default(),
    )
    .await
    .result
    .unwrap();
    assert_eq!(output["vars"], json!({"TESTMESH_CAPABILITY_TEST_TOKEN": "s3cret"}));
}

#[tokio::test]
async fn http_to_a_granted_host_works() {
    let base = http_server().await;
    let sandbox = sandbox();
    let plugin = load(&sandbox, "probe").await;
    let output = run(
        &sandbox.session(),
        &plugin,
        &grants(&["http:127.0.0.1"]),
        json!({"mode": "http_get", "url": format!("{base}/hello")}),
        &CallOptions::default(),
    )
    .await
    .result
    .unwrap();
    assert_eq!(output["status"], 200);
    assert_eq!(output["body"], "hello from the test server");
}

#[tokio::test]
async fn http_to_an_ungranted_host_is_denied_with_the_reason() {
    let base = http_server().await;
    let sandbox = sandbox();
    let plugin = load(&sandbox, "probe").await;
    let report = run(
        &sandbox.session(),
        &plugin,
        &grants(&["http:api.example.com"]),
        json!({"mode": "http_get", "url": format!("{base}/hello")}),
        &CallOptions::default(),
    )
    .await;
    let error = report.result.unwrap_err();
    let text = error.to_string();
    assert!(matches!(error, CallError::Failed(_)), "{error:?}");
    assert!(text.contains("http to 127.0.0.1:") && text.contains("is not granted to plugin probe@0.1.0"), "{text}");
    assert!(text.contains("granted: api.example.com"), "{text}");
    assert!(report.logs.iter().any(|l| l.message.contains("not granted")), "denial not logged");
}

#[tokio::test]
async fn no_http_at_all_without_a_grant() {
    let base = http_server().await;
    let sandbox = sandbox();
    let plugin = load(&sandbox, "probe").await;
    let error = run(
        &sandbox.session(),
        &plugin,
        &grants(&[]),
        json!({"mode": "http_get", "url": format!("{base}/hello")}),
        &CallOptions::default(),
    )
    .await
    .result
    .unwrap_err();
    assert!(error.to_string().contains("granted: no HTTP destinations"), "{error}");
}

#[tokio::test]
async fn link_local_addresses_are_refused_even_with_a_wildcard_grant() {
    let sandbox = sandbox();
    let plugin = load(&sandbox, "probe").await;
    let error = run(
        &sandbox.session(),
        &plugin,
        &grants(&["http:*"]),
        json!({"mode": "http_get", "url": "http://169.254.169.254/latest/meta-data/"}),
        &CallOptions::default(),
    )
    .await
    .result
    .unwrap_err();
    let text = error.to_string();
    assert!(text.contains("link-local") && text.contains("169.254.169.254"), "{text}");
}

#[tokio::test]
async fn sql_without_a_grant_is_denied() {
    let sandbox = sandbox();
    let plugin = load(&sandbox, "probe").await;
    let config =
        json!({"mode": "sql", "connection": "postgres://app:secret@db.internal:5432/orders", "query": "SELECT 1"});
    let error = run(&sandbox.session(), &plugin, &grants(&["http:*"]), config, &CallOptions::default())
        .await
        .result
        .unwrap_err();
    let text = error.to_string();
    assert!(text.contains("sql on postgres://db.internal:5432/orders is not granted to plugin probe@0.1.0"), "{text}");
    assert!(!text.contains("secret"), "the password leaked into the message: {text}");
}

#[tokio::test]
async fn sql_with_a_grant_reaches_postgres() {
    let Some(database) = TestDatabase::create().await else { return };
    let sandbox = sandbox();
    let plugin = load(&sandbox, "probe").await;
    let config =
        json!({"mode": "sql", "connection": database.url, "query": "SELECT 1 + $1::int AS answer", "params": [41]});
    let output = run(&sandbox.session(), &plugin, &grants(&["sql:postgres://*"]), config, &CallOptions::default())
        .await
        .result
        .unwrap();
    assert_eq!(output["rows"], json!([{"answer": 42}]));
}

#[tokio::test]
async fn https_to_a_server_that_does_not_speak_tls_fails_cleanly() {
    let base = http_server().await;
    let sandbox = sandbox();
    let plugin = load(&sandbox, "probe").await;
    let session = sandbox.session();
    let url = format!("{}/hello", base.replace("http://", "https://"));
    let error = run(
        &session,
        &plugin,
        &grants(&["http:127.0.0.1"]),
        json!({"mode": "http_get", "url": url}),
        &CallOptions::default(),
    )
    .await
    .result
    .unwrap_err();
    assert!(matches!(error, CallError::Failed(_)), "{error:?}");
    let works = run(
        &session,
        &plugin,
        &grants(&["http:127.0.0.1"]),
        json!({"mode": "http_get", "url": format!("{base}/hello")}),
        &CallOptions::default(),
    )
    .await;
    assert_eq!(works.result.unwrap()["status"], 200);
}
