//! `testmesh validate`, through the real binary: valid flows pass, every problem of an invalid one is
//! printed with file:line:column, exit codes 0 / 2.

use std::process::Command;

fn validate(args: &[&std::path::Path]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_testmesh")).arg("validate").args(args).output().expect("testmesh runs")
}

#[test]
fn a_directory_of_valid_flows_passes() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("login.yaml"),
        "flow:\n  name: login\n  steps:\n    - id: get\n      action: http_request\n      config: { url: 'http://127.0.0.1/' }\n      assert: [status == 200]\n",
    )
    .unwrap();
    std::fs::create_dir(dir.path().join("nested")).unwrap();
    std::fs::write(
        dir.path().join("nested/ping.json"),
        r#"{"name": "ping", "steps": [{"action": "log", "config": {"message": "hi"}}]}"#,
    )
    .unwrap();
    std::fs::write(dir.path().join("notes.txt"), "not a flow").unwrap();
    let output = validate(&[dir.path()]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}{}", String::from_utf8_lossy(&output.stderr));
    assert!(stdout.contains("2 files, 2 valid, 0 invalid"), "{stdout}");
}

#[test]
fn every_problem_is_reported_with_its_position_and_exit_code_2() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.yaml");
    std::fs::write(
        &file,
        "name: bad\nsteps:\n  - id: one\n    action: log\n    timout: 5s\n  - id: one\n    action: log\n",
    )
    .unwrap();
    let output = validate(&[&file]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("bad.yaml:5:5"), "{stderr}");
    assert!(stderr.contains("did you mean `timeout`?"), "{stderr}");
    assert!(stderr.contains("bad.yaml:6:"), "the duplicate id is reported too: {stderr}");
}

#[test]
fn configs_are_checked_against_their_plugins_schemas_leniently_for_templates() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("configs.yaml");
    std::fs::write(
        &file,
        r#"name: configs
steps:
  - id: call
    action: http_request
    config: { url: "${BASE}/x", timeout: "${TIMEOUT}", bogus: 1 }
    assert:
      - use: json_schema
        with: { shema: { type: object } }
  - id: typo
    action: htp_request
    config: { url: x }
"#,
    )
    .unwrap();
    let output = validate(&[&file]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("config of `http_request` at `/bogus`"), "{stderr}");
    assert!(stderr.contains("configs.yaml:5:63"), "points at the unknown key's value: {stderr}");
    assert!(!stderr.contains("/timeout"), "a templated value is only known at run time: {stderr}");
    assert!(stderr.contains("config of `json_schema`: \"schema\" is a required property"), "{stderr}");
    assert!(stderr.contains("plugin `htp_request` is not installed"), "{stderr}");
    assert!(stderr.contains("did you mean `http_request`?"), "{stderr}");
}

#[test]
fn a_run_flow_that_cannot_be_found_is_reported_at_its_step() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("lib")).unwrap();
    std::fs::write(
        dir.path().join("lib/login.yaml"),
        "name: login\nsteps:\n  - { id: a, action: log, config: { message: hi } }\n",
    )
    .unwrap();
    let file = dir.path().join("main.yaml");
    std::fs::write(
        &file,
        "name: main\nsteps:\n  - id: ok\n    run_flow: lib/login\n  - id: missing\n    run_flow: lib/logout\n",
    )
    .unwrap();
    let output = validate(&[&file]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("main.yaml:5:5"), "{stderr}");
    assert!(stderr.contains("run_flow: flow `lib/logout` not found"), "{stderr}");
    assert!(!stderr.contains("lib/login`"), "{stderr}");
}
