//! `testmesh plugin new` in every language and world: the generated project builds with the
//! commands it prints (cargo for Rust, npm + jco for JavaScript, componentize-py for Python) and
//! passes its own `test.yaml` through `testmesh run --plugin`; the same flow with a wrong expectation
//! fails (the generated test checks something).
//!
//! Needs npm and python3 (and the registries); without them the JavaScript and Python cases skip,
//! unless `TESTMESH_REQUIRE_EXAMPLES=1` (set by `scripts/test.sh`).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn testmesh(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_testmesh"))
        .args(args)
        .current_dir(dir)
        .env("TESTMESH_DATA_DIR", Path::new(env!("CARGO_TARGET_TMPDIR")).join("plugin-new-data"))
        .env("NO_COLOR", "1")
        .output()
        .expect("testmesh runs")
}

/// Runs a build command of a generated project; panics with its output when it fails.
fn build(dir: &Path, program: &str, args: &[&str]) {
    let mut command = Command::new(program);
    command.args(args).current_dir(dir);
    // The test's own cargo settings are for the host, not for the plugin's build.
    for var in
        ["RUSTFLAGS", "CARGO_ENCODED_RUSTFLAGS", "RUSTC_WRAPPER", "RUSTC_WORKSPACE_WRAPPER", "CARGO_BUILD_TARGET"]
    {
        command.env_remove(var);
    }
    // Rust projects share one target directory, so that a second run builds incrementally.
    command.env("CARGO_TARGET_DIR", Path::new(env!("CARGO_TARGET_TMPDIR")).join("plugin-new-target"));
    let output = command.output().unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    assert!(
        output.status.success(),
        "{program} {args:?} failed in {}:\n{}\n{}",
        dir.display(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Whether `program` can run here; when not, skip or (with TESTMESH_REQUIRE_EXAMPLES) fail.
fn available(program: &str) -> bool {
    if Command::new(program).arg("--version").output().is_ok_and(|o| o.status.success()) {
        return true;
    }
    if std::env::var("TESTMESH_REQUIRE_EXAMPLES").is_ok_and(|v| v == "1" || v == "true") {
        panic!("{program} is required (TESTMESH_REQUIRE_EXAMPLES=1) but cannot run");
    }
    eprintln!("skipping: {program} is not installed");
    false
}

/// Generates `name` in `lang` and `kind` under `parent`; returns the project directory.
fn generate(parent: &Path, name: &str, lang: &str, kind: &str) -> PathBuf {
    let output = testmesh(parent, &["plugin", "new", name, "--lang", lang, "--kind", kind]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}{}", String::from_utf8_lossy(&output.stderr));
    assert!(stdout.contains("testmesh run test.yaml --plugin"), "prints the next commands: {stdout}");
    parent.join(name.rsplit('/').next().expect("a name"))
}

/// Runs the project's `test.yaml` with its component: it passes; with its expectation changed, it fails.
fn passes_its_own_test(project: &Path, artifact: &Path, expectation: (&str, &str)) {
    let artifact = artifact.display().to_string();
    let output = testmesh(project, &["run", "test.yaml", "--plugin", &artifact]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{}: {stderr}", project.display());
    assert!(stderr.contains("Succeeded flows: 1"), "{stderr}");

    let test = project.join("test.yaml");
    let text = std::fs::read_to_string(&test).expect("test.yaml");
    assert!(text.contains(expectation.0), "{text}");
    std::fs::write(project.join("wrong.yaml"), text.replace(expectation.0, expectation.1)).expect("write");
    let output = testmesh(project, &["run", "wrong.yaml", "--plugin", &artifact]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "a wrong expectation fails: {stderr}");
}

const ACTION_EXPECTATION: (&str, &str) = ("\"hello, world\"", "\"hello, nobody\"");
const ASSERTION_EXPECTATION: (&str, &str) = ("equals: hello", "equals: goodbye");

#[test]
fn rust_projects_build_and_pass_their_test() {
    let parent = tempfile::tempdir().expect("temp dir");
    let target = Path::new(env!("CARGO_TARGET_TMPDIR")).join("plugin-new-target/wasm32-wasip2/release");
    for (name, kind, expectation) in
        [("acme/greet", "action", ACTION_EXPECTATION), ("acme/field_equals", "assertion", ASSERTION_EXPECTATION)]
    {
        let project = generate(parent.path(), name, "rust", kind);
        build(&project, "cargo", &["build", "--release", "--target", "wasm32-wasip2"]);
        let artifact = target.join(format!("{}.wasm", name.replace(['/', '-'], "_")));
        passes_its_own_test(&project, &artifact, expectation);
    }
}

#[test]
fn javascript_projects_build_and_pass_their_test() {
    if !available("npm") {
        return;
    }
    let parent = tempfile::tempdir().expect("temp dir");
    for (name, kind, expectation) in
        [("acme/greet", "action", ACTION_EXPECTATION), ("acme/field-equals", "assertion", ASSERTION_EXPECTATION)]
    {
        let project = generate(parent.path(), name, "js", kind);
        build(&project, "npm", &["install", "--no-audit", "--no-fund", "--loglevel=error"]);
        build(&project, "npm", &["run", "build"]);
        passes_its_own_test(&project, &project.join("plugin.wasm"), expectation);
    }
}

#[test]
fn python_projects_build_and_pass_their_test() {
    if !available("python3") {
        return;
    }
    let parent = tempfile::tempdir().expect("temp dir");
    for (name, kind, expectation) in
        [("acme/greet", "action", ACTION_EXPECTATION), ("acme/field_equals", "assertion", ASSERTION_EXPECTATION)]
    {
        let project = generate(parent.path(), name, "python", kind);
        build(&project, "./build.sh", &[]);
        passes_its_own_test(&project, &project.join("plugin.wasm"), expectation);
    }
}

#[test]
fn bad_names_and_occupied_directories_are_refused() {
    let parent = tempfile::tempdir().expect("temp dir");
    let output = testmesh(parent.path(), &["plugin", "new", "Acme/Greet", "--lang", "js"]);
    assert_eq!(output.status.code(), Some(2), "a usage error");
    assert!(String::from_utf8_lossy(&output.stderr).contains("is not a plugin name"));
    std::fs::create_dir(parent.path().join("greet")).expect("mkdir");
    std::fs::write(parent.path().join("greet/keep.txt"), "mine").expect("write");
    let output = testmesh(parent.path(), &["plugin", "new", "acme/greet", "--lang", "rust"]);
    assert_ne!(output.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&output.stderr).contains("already exists"));
    assert_eq!(std::fs::read_to_string(parent.path().join("greet/keep.txt")).expect("kept"), "mine", "nothing lost");
}
