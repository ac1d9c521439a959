//! Loading: only components of our worlds are accepted, with the reason when not; compiled components
//! are cached on disk and the cache follows the engine's configuration.

mod common;

use common::{component, sandbox, sandbox_with};
use testmesh::sandbox::{CompileSource, LoadError, PluginKind, Sandbox, SandboxConfig};

fn wat(text: &str) -> Vec<u8> {
    wat::parse_str(text).expect("valid WAT")
}

#[tokio::test]
async fn probe_loads_as_an_action_with_its_descriptor() {
    let plugin = sandbox().load(&component("probe")).await.expect("probe loads");
    assert_eq!(plugin.kind(), PluginKind::Action);
    assert_eq!(plugin.label(), "probe@0.1.0");
    assert_eq!(plugin.digest.len(), 64);
    assert!(plugin.imports.iter().any(|i| i.starts_with("wasi:http/outgoing-handler")), "{:?}", plugin.imports);
}

#[tokio::test]
async fn garbage_and_core_modules_are_refused() {
    let sandbox = sandbox();
    let error = sandbox.load(b"definitely not wasm").await.unwrap_err();
    assert!(matches!(error, LoadError::NotAComponent(_)), "{error:?}");
    let error = sandbox.load(&wat("(module)")).await.unwrap_err();
    assert!(error.to_string().contains("core WebAssembly module, not a component"), "{error}");
    let mut truncated = component("probe");
    truncated.truncate(truncated.len() / 2);
    assert!(matches!(sandbox.load(&truncated).await.unwrap_err(), LoadError::NotAComponent(_)));
}

#[tokio::test]
async fn a_component_without_our_exports_names_what_is_missing() {
    let error = sandbox().load(&wat("(component)")).await.unwrap_err();
    assert!(matches!(error, LoadError::WrongWorld(_)), "{error:?}");
    assert!(
        error.to_string().contains("missing export `run` (world `action`) or `check` (world `assertion`)"),
        "{error}"
    );
}

const LIFTED_FUNCS: &str = r#"
  (core module $m (func (export "f")))
  (core instance $i (instantiate $m))
"#;

#[tokio::test]
async fn a_foreign_import_is_named() {
    let text = format!(
        r#"(component (import "acme:kafka/producer@1.0.0" (instance)) {LIFTED_FUNCS}
            (func (export "run") (canon lift (core func $i "f")))
            (func (export "describe") (canon lift (core func $i "f"))))"#
    );
    let error = sandbox().load(&wat(&text)).await.unwrap_err();
    assert!(
        error.to_string().contains("imports `acme:kafka/producer@1.0.0`, which world `action` does not offer"),
        "{error}"
    );
}

#[tokio::test]
async fn exports_of_the_wrong_type_are_refused() {
    let text = format!(
        r#"(component {LIFTED_FUNCS}
            (func (export "check") (canon lift (core func $i "f")))
            (func (export "describe") (canon lift (core func $i "f"))))"#
    );
    let error = sandbox().load(&wat(&text)).await.unwrap_err();
    let text = error.to_string();
    assert!(text.contains("do not match world `assertion`"), "{text}");
}

#[tokio::test]
async fn a_missing_describe_is_named() {
    let text = format!(r#"(component {LIFTED_FUNCS} (func (export "run") (canon lift (core func $i "f"))))"#);
    let error = sandbox().load(&wat(&text)).await.unwrap_err();
    assert!(error.to_string().contains("missing export `describe`"), "{error}");
}

#[tokio::test]
async fn precompiled_components_survive_restarts_and_follow_the_engine_configuration() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = |debug_info: bool| SandboxConfig {
        cache_dir: Some(dir.path().to_path_buf()),
        debug_info,
        max_instances: 8,
        ..SandboxConfig::default()
    };
    let bytes = component("probe");

    let first = Sandbox::new(config(false)).unwrap().load(&bytes).await.unwrap();
    assert_eq!(first.compile_source, CompileSource::Compiled);
    // A new process (a new sandbox) with the same configuration loads the artifact from disk.
    let again = Sandbox::new(config(false)).unwrap().load(&bytes).await.unwrap();
    assert_eq!(again.compile_source, CompileSource::Precompiled);
    let dirs = std::fs::read_dir(dir.path()).unwrap().count();
    assert_eq!(dirs, 1);

    // Another engine configuration cannot use those artifacts: it compiles again and removes them.
    let other = Sandbox::new(config(true)).unwrap().load(&bytes).await.unwrap();
    assert_eq!(other.compile_source, CompileSource::Compiled);
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "stale artifacts were not cleaned up");

    // A corrupt artifact is discarded and recompiled, never trusted.
    let fingerprint_dir = std::fs::read_dir(dir.path()).unwrap().next().unwrap().unwrap().path();
    for artifact in std::fs::read_dir(&fingerprint_dir).unwrap() {
        std::fs::write(artifact.unwrap().path(), b"corrupt").unwrap();
    }
    let recovered = Sandbox::new(config(true)).unwrap().load(&bytes).await.unwrap();
    assert_eq!(recovered.compile_source, CompileSource::Compiled);
}

#[tokio::test]
async fn every_builtin_loads_and_describes_itself() {
    let sandbox = sandbox_with(SandboxConfig::default());
    let mut names = Vec::new();
    for builtin in testmesh::builtins::all() {
        let plugin = sandbox.load(builtin.wasm).await.unwrap_or_else(|e| panic!("{}: {e}", builtin.source));
        assert!(!plugin.descriptor.summary.is_empty(), "{} has no summary", builtin.source);
        assert!(plugin.descriptor.config_schema.is_object(), "{} has no config schema", builtin.source);
        names.push(plugin.descriptor.name.clone());
    }
    for expected in ["http_request", "database_query", "redis", "delay", "log", "transform", "expr", "json_schema"] {
        assert!(names.iter().any(|n| n == expected), "built-in {expected} missing from {names:?}");
    }
}
