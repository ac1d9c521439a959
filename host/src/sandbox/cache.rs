//! Compiled components, cached in memory and precompiled on disk.
//!
//! Compiling a component with Cranelift costs 80 ms for a small Rust plugin and 6–9 s for a JS or
//! Python one; loading a precompiled artifact costs well under a millisecond to a few. Artifacts are
//! stored as `<dir>/<engine fingerprint>/<sha256 of the component>.cwasm`, so they survive restarts and
//! are ignored (and cleaned up) when the engine's configuration or version changes.

use std::path::{Path, PathBuf};
use wasmtime::Engine;
use wasmtime::component::Component;

/// Where precompiled artifacts for one engine live.
pub(crate) struct DiskCache {
    dir: PathBuf,
}

/// Whether a component was compiled now or loaded precompiled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompileSource {
    /// Compiled from the `.wasm` (and, with a disk cache, stored for next time).
    Compiled,
    /// Loaded from a precompiled artifact on disk.
    Precompiled,
}

impl DiskCache {
    /// Opens (creating it if needed) the cache for `engine` under `root`, removing artifacts of other
    /// engine configurations.
    pub(crate) fn open(root: &Path, fingerprint: &str) -> std::io::Result<DiskCache> {
        let dir = root.join(fingerprint);
        std::fs::create_dir_all(&dir)?;
        if let Ok(entries) = std::fs::read_dir(root) {
            for entry in entries.flatten() {
                let name = entry.file_name();
                let stale = name.to_str().is_some_and(|n| n != fingerprint && is_fingerprint(n));
                if stale && let Err(e) = std::fs::remove_dir_all(entry.path()) {
                    tracing::warn!("cannot remove stale component cache {}: {e}", entry.path().display());
                }
            }
        }
        Ok(DiskCache { dir })
    }

    fn path(&self, digest: &str) -> PathBuf {
        self.dir.join(format!("{digest}.cwasm"))
    }

    /// Loads the precompiled artifact for `digest`, if there is a usable one.
    pub(crate) fn load(&self, engine: &Engine, digest: &str) -> Option<Component> {
        let path = self.path(digest);
        if !path.exists() {
            return None;
        }
        // SAFETY: `deserialize_file` trusts its input to be an artifact wasmtime produced. Only this
        // module writes into the cache directory, always from `Component::serialize` of the component
        // whose sha256 names the file, and writes are atomic (temporary file + rename). wasmtime also
        // checks the artifact's header against the engine and refuses a mismatch, which lands in the
        // `Err` arm and triggers a recompile.
        match unsafe { Component::deserialize_file(engine, &path) } {
            Ok(component) => Some(component),
            Err(e) => {
                tracing::warn!("discarding unusable precompiled component {}: {e}", path.display());
                let _ = std::fs::remove_file(&path);
                None
            }
        }
    }

    /// Stores the precompiled form of `component`. Failure only costs a recompile next time.
    pub(crate) fn store(&self, digest: &str, component: &Component) {
        let result = component.serialize().map_err(|e| e.to_string()).and_then(|bytes| {
            let tmp = self.dir.join(format!("{digest}.{}.tmp", std::process::id()));
            std::fs::write(&tmp, bytes).map_err(|e| e.to_string())?;
            std::fs::rename(&tmp, self.path(digest)).map_err(|e| e.to_string())
        });
        if let Err(e) = result {
            tracing::warn!("cannot store precompiled component {digest}: {e}");
        }
    }
}

fn is_fingerprint(name: &str) -> bool {
    name.len() == 16 && name.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The sha256 of `bytes`, lower-case hex: a plugin's identity.
pub fn digest(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}
