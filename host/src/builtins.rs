//! The built-in plugins (`plugins/` in the repository), compiled to components by the build script and
//! embedded in the binary, so that `testmesh` needs no plugin files to start.

/// A built-in plugin's component.
#[derive(Debug, Clone, Copy)]
pub struct Builtin {
    /// The crate directory under `plugins/` it was built from (e.g. `http_request`).
    pub source: &'static str,
    /// Other names the plugin answers to (`http` for `http_request`), as its `describe` lists them
    /// and its `Cargo.toml` repeats them, so that a flow's plugin is found without loading them all.
    pub aliases: &'static [&'static str],
    /// The sha256 of `wasm` (lower-case hex), computed by the build script.
    pub digest: &'static str,
    /// The component's bytes.
    pub wasm: &'static [u8],
}

include!(concat!(env!("OUT_DIR"), "/builtins.rs"));

/// Every built-in plugin, actions first.
pub fn all() -> &'static [Builtin] {
    BUILTINS
}

/// Where the build script left the components it built, including the test fixtures under
/// `plugins/testing/`, which are not built in. Tests load fixtures from here.
pub const COMPONENT_DIR: &str = env!("TESTMESH_COMPONENT_DIR");
