//! `testmesh run`, through the real binary: exit codes 0 / 1 / 2, Hurl-style failure output,
//! JUnit/JSON/HTML reports, variables, env files and secrets, `--fail-fast`, globs, and plugin
//! files with grants.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

struct Workspace {
    dir: tempfile::TempDir,
}

impl Workspace {
    fn new() -> Self {
        Workspace { dir: tempfile::tempdir().expect("temp dir") }
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("mkdir");
        }
        std::fs::write(&path, text).expect("write");
        path
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_testmesh"))
            .arg("run")
            .args(args)
            .current_dir(self.dir.path())
            .env("TESTMESH_DATA_DIR", data_dir())
            .env("NO_COLOR", "1")
            .output()
            .expect("testmesh runs")
    }
}

/// One data directory for every test, so that the built-ins are compiled into its cache once.
fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("cli-run-data")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

const PASSING: &str = r#"
name: passing
env:
  WHO: ${who:-nobody}
steps:
  - id: greet
    action: log
    config: { message: "hello ${WHO}" }
    assert:
      - message == "hello alice"
"#;

const FAILING: &str = r#"
name: failing
steps:
  - id: greet
    action: log
    config: { message: "hello bob" }
    assert:
      - message == "hello alice"
      - message.startsWith("hello")
teardown:
  - id: cleanup
    action: log
    config: { message: bye }
"#;

#[test]
fn a_passing_flow_exits_0_and_writes_reports() {
    let ws = Workspace::new();
    ws.write("flows/passing.yaml", PASSING);
    let output = ws.run(&[
        "flows/passing.yaml",
        "--var",
        "who=alice",
        "--junit",
        "junit.xml",
        "--json",
        "report.json",
        "--html",
        "html",
    ]);
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(0), "{err}");
    assert!(err.contains("✓ passing (flows/passing.yaml)"), "{err}");
    assert!(err.contains("Succeeded flows: 1 (100.0%)"), "{err}");
    let junit = std::fs::read_to_string(ws.path("junit.xml")).expect("junit written");
    assert!(junit.contains("<testsuite name=\"passing\"") && junit.contains("tests=\"1\""), "{junit}");
    let report: Value = serde_json::from_str(&std::fs::read_to_string(ws.path("report.json")).expect("json written"))
        .expect("json report parses");
    assert_eq!(report["runs"][0]["status"], "passed");
    assert_eq!(report["runs"][0]["steps"][0]["config"]["message"], "hello alice");
    assert!(ws.path("html/index.html").is_file());
}

#[test]
fn a_failing_flow_exits_1_and_shows_the_expression_and_actual_value_in_its_source() {
    let ws = Workspace::new();
    ws.write("failing.yaml", FAILING);
    let output = ws.run(&["failing.yaml", "--junit", "junit.xml"]);
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{err}");
    assert!(err.contains("failing.yaml:8:9"), "{err}");
    assert!(err.contains("      - message == \"hello alice\""), "{err}");
    assert!(err.contains("  ^^^^^^^^^^^^^^^^^^^^^^^^ expected"), "the whole expression is underlined: {err}");
    assert!(err.contains("hello bob"), "the actual value is shown: {err}");
    assert!(err.contains("Failed flows:    1"), "{err}");
    let junit = std::fs::read_to_string(ws.path("junit.xml")).expect("junit written");
    assert!(junit.contains("<failure"), "{junit}");
    assert!(junit.contains("teardown/cleanup"), "teardown ran and is reported: {junit}");
}

#[test]
fn an_invalid_flow_exits_2_and_nothing_runs() {
    let ws = Workspace::new();
    ws.write("good.yaml", PASSING);
    ws.write(
        "bad.yaml",
        "name: bad\nsteps:\n  - id: one\n    action: htp_request\n    config: { url: 'http://127.0.0.1/' }\n",
    );
    let output = ws.run(&["good.yaml", "bad.yaml", "--junit", "junit.xml"]);
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(2), "{err}");
    assert!(err.contains("bad.yaml:4:13"), "{err}");
    assert!(err.contains("did you mean `http_request`?"), "{err}");
    assert!(err.contains("nothing was run"), "{err}");
    assert!(!ws.path("junit.xml").exists(), "no report when nothing ran");
}

#[test]
fn a_config_its_plugin_rejects_is_invalid_input() {
    let ws = Workspace::new();
    ws.write("bad.yaml", "name: bad\nsteps:\n  - id: one\n    action: log\n    config: { mesage: hi }\n");
    let output = ws.run(&["bad.yaml"]);
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(2), "{err}");
    assert!(err.contains("config of `log`"), "{err}");
    assert!(err.contains("\"message\" is a required property"), "{err}");
}

#[test]
fn fail_fast_stops_starting_flows_after_the_first_failure() {
    let ws = Workspace::new();
    ws.write("a_failing.yaml", FAILING);
    ws.write("b_passing.yaml", PASSING);
    let output = ws.run(&[".", "--fail-fast", "--var", "who=alice"]);
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{err}");
    assert!(err.contains("Executed flows:  1"), "{err}");
    let output = ws.run(&["*.yaml", "--var", "who=alice"]);
    let err = stderr(&output);
    assert!(err.contains("Executed flows:  2"), "a glob finds both: {err}");
}

#[test]
fn env_files_and_secrets_feed_the_flow_and_secrets_never_show() {
    let ws = Workspace::new();
    ws.write("vars.env", "who=alice\n");
    ws.write(
        "secret.yaml",
        r#"
name: secret
steps:
  - id: use
    action: log
    config: { message: "token ${secret.API_TOKEN} for ${who}" }
    assert: [ message == "nope" ]
"#,
    );
    let output =
        ws.run(&["secret.yaml", "--env-file", "vars.env", "--secret", "API_TOKEN=tok-12345", "--json", "r.json"]);
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{err}");
    assert!(err.contains("token *** for alice"), "{err}");
    assert!(!err.contains("tok-12345"), "{err}");
    let report = std::fs::read_to_string(ws.path("r.json")).expect("report");
    assert!(!report.contains("tok-12345"), "{report}");
}

fn probe() -> Vec<u8> {
    let path = Path::new(testmesh::builtins::COMPONENT_DIR).join("testmesh_plugin_probe.wasm");
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn plugin_files_run_with_only_the_capabilities_granted() {
    let ws = Workspace::new();
    std::fs::write(ws.path("probe.wasm"), probe()).expect("write");
    ws.write(
        "probe.yaml",
        r#"
name: probe env
steps:
  - id: read
    action: probe
    config: { mode: env }
"#,
    );
    let denied = Command::new(env!("CARGO_BIN_EXE_testmesh"))
        .args(["run", "probe.yaml", "--plugin", "probe.wasm", "--json", "denied.json"])
        .current_dir(ws.dir.path())
        .env("TESTMESH_DATA_DIR", data_dir())
        .env("PROBE_SECRET", "visible")
        .output()
        .expect("runs");
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(ws.path("denied.json")).expect("report")).expect("json");
    let output = &report["runs"][0]["steps"][0]["output"];
    assert_eq!(
        output["vars"]["PROBE_SECRET"],
        Value::Null,
        "no grant, no environment: {report:#}\n{}",
        stderr(&denied)
    );
    assert_eq!(report["runs"][0]["status"], "passed");

    let granted = Command::new(env!("CARGO_BIN_EXE_testmesh"))
        .args(["run", "probe.yaml", "--plugin", "probe.wasm", "--grant", "env:PROBE_SECRET", "--json", "granted.json"])
        .current_dir(ws.dir.path())
        .env("TESTMESH_DATA_DIR", data_dir())
        .env("PROBE_SECRET", "visible")
        .output()
        .expect("runs");
    assert_eq!(granted.status.code(), Some(0), "{}", stderr(&granted));
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(ws.path("granted.json")).expect("report")).expect("json");
    assert_eq!(report["runs"][0]["steps"][0]["output"]["vars"]["PROBE_SECRET"], "visible", "{report:#}");
}

#[test]
fn tags_select_the_flows_to_run() {
    let ws = Workspace::new();
    ws.write("smoke.yaml", &PASSING.replace("name: passing", "name: smoke\ntags: [smoke]"));
    ws.write("slow.yaml", &FAILING.replace("name: failing", "name: slow\ntags: [slow]"));
    let output = ws.run(&[".", "--tag", "smoke", "--var", "who=alice"]);
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(0), "{err}");
    assert!(err.contains("Executed flows:  1"), "{err}");
    assert!(err.contains("✓ smoke"), "{err}");
}
