//! The `testmesh plugin` commands, through the real binary.

use std::process::{Command, Output};

fn testmesh(data_dir: &std::path::Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_testmesh"))
        .args(args)
        .env("TESTMESH_DATA_DIR", data_dir)
        .output()
        .expect("the testmesh binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn plugin_list_shows_every_builtin_and_caches_them() {
    let data = tempfile::tempdir().unwrap();
    let first = testmesh(data.path(), &["plugin", "list"]);
    assert!(first.status.success(), "{}", text(&first.stderr));
    let listing = text(&first.stdout);
    for name in ["http_request", "database_query", "redis", "delay", "log", "transform", "expr", "json_schema"] {
        assert!(listing.lines().any(|l| l.starts_with(name)), "{name} missing from:\n{listing}");
    }
    assert!(listing.contains("(Compiled)"), "{listing}");
    let second = testmesh(data.path(), &["plugin", "list"]);
    let listing = text(&second.stdout);
    assert!(!listing.contains("(Compiled)") && listing.contains("(Precompiled)"), "not cached:\n{listing}");
}

#[test]
fn plugin_call_runs_an_assertion_and_shows_the_verdict() {
    let data = tempfile::tempdir().unwrap();
    let output = testmesh(
        data.path(),
        &["plugin", "call", "expr", "--subject", r#"{"status": 404}"#, "--config", r#"{"expr": "status == 200"}"#],
    );
    assert!(output.status.success(), "{}", text(&output.stderr));
    let verdicts: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON verdicts");
    assert_eq!(verdicts[0]["passed"], false);
    assert!(verdicts[0]["message"].as_str().unwrap().contains("404"), "{verdicts}");
}

#[test]
fn plugin_call_of_a_file_gets_no_grants_unless_given() {
    let data = tempfile::tempdir().unwrap();
    let probe = format!("{}/testmesh_plugin_probe.wasm", testmesh::builtins::COMPONENT_DIR);
    let config = r#"{"mode": "http_get", "url": "http://127.0.0.1:9/"}"#;
    let denied = testmesh(data.path(), &["plugin", "call", &probe, "--config", config]);
    assert_eq!(denied.status.code(), Some(1));
    assert!(text(&denied.stderr).contains("is not granted to plugin probe@0.1.0"), "{}", text(&denied.stderr));

    let bad_grant = testmesh(data.path(), &["plugin", "call", &probe, "--grant", "disk:/", "--config", "{}"]);
    assert_eq!(bad_grant.status.code(), Some(2));
    assert!(text(&bad_grant.stderr).contains("unknown capability `disk`"), "{}", text(&bad_grant.stderr));
}

#[test]
fn plugin_inspect_prints_digest_world_and_imports() {
    let data = tempfile::tempdir().unwrap();
    let probe = format!("{}/testmesh_plugin_probe.wasm", testmesh::builtins::COMPONENT_DIR);
    let output = testmesh(data.path(), &["plugin", "inspect", &probe]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON report");
    assert_eq!(report["descriptor"]["kind"], "action");
    assert!(report["digest"].as_str().unwrap().starts_with("sha256:"));
    assert!(report["imports"].as_array().unwrap().iter().any(|i| i.as_str().unwrap().starts_with("wasi:")));
}

#[test]
fn plugin_inspect_explains_a_file_that_is_not_a_component() {
    let data = tempfile::tempdir().unwrap();
    let file = data.path().join("module.wasm");
    std::fs::write(&file, wat::parse_str("(module)").unwrap()).unwrap();
    let output = testmesh(data.path(), &["plugin", "inspect", file.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2));
    assert!(text(&output.stderr).contains("core WebAssembly module, not a component"), "{}", text(&output.stderr));
}
