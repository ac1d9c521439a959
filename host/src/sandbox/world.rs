//! Checks a component against our worlds before anything runs it: which world it implements (from its
//! exports), and that it imports nothing the world does not offer. The errors name the missing export
//! or the foreign import, so a plugin author knows what to fix.

use super::PluginKind;
use wasmtime::Engine;
use wasmtime::component::Component;
use wasmtime::component::types::ComponentItem;

/// The `testmesh:plugin` package version this host implements.
pub(crate) const PACKAGE_VERSION: (u64, u64, u64) = (0, 1, 0);

/// Decides the component's world and checks its imports; `Err` is a sentence for the plugin author.
pub(crate) fn check(engine: &Engine, component: &Component) -> Result<PluginKind, String> {
    let ty = component.component_type();
    let exported_funcs: Vec<String> = ty
        .exports(engine)
        .filter(|(_, item)| matches!(item.ty, ComponentItem::ComponentFunc(_)))
        .map(|(name, _)| name.to_string())
        .collect();
    let has = |name: &str| exported_funcs.iter().any(|f| f == name);
    let kind = match (has("run"), has("check")) {
        (true, false) => PluginKind::Action,
        (false, true) => PluginKind::Assertion,
        (true, true) => {
            return Err("exports both `run` (world `action`) and `check` (world `assertion`); a plugin \
                        implements exactly one world"
                .into());
        }
        (false, false) => {
            let found = if exported_funcs.is_empty() { "none".to_string() } else { exported_funcs.join(", ") };
            return Err(format!(
                "missing export `run` (world `action`) or `check` (world `assertion`) of \
                 testmesh:plugin@{}; exported functions: {found}",
                version_text()
            ));
        }
    };
    if !has("describe") {
        return Err(format!("missing export `describe` required by world `{}`", kind.world()));
    }
    for (name, _) in ty.imports(engine) {
        check_import(kind, name)?;
    }
    Ok(kind)
}

fn check_import(kind: PluginKind, name: &str) -> Result<(), String> {
    if name.starts_with("wasi:") {
        // WASI interfaces are provided by the host and checked by the linker; none of them grants
        // anything by itself (no files, no sockets, HTTP only to granted hosts).
        return Ok(());
    }
    let Some(rest) = name.strip_prefix("testmesh:plugin/") else {
        return Err(format!(
            "imports `{name}`, which world `{}` does not offer (it offers testmesh:plugin interfaces and WASI)",
            kind.world()
        ));
    };
    let (interface, version) = rest.split_once('@').unwrap_or((rest, ""));
    if !version.is_empty() && !compatible(version) {
        return Err(format!(
            "imports `{name}`, but this host implements testmesh:plugin@{}; rebuild the plugin against it",
            version_text()
        ));
    }
    let offered: &[&str] = match kind {
        PluginKind::Action => &["types", "log", "sql", "redis", "action-types"],
        PluginKind::Assertion => &["types", "log", "assertion-types"],
    };
    if offered.contains(&interface) {
        Ok(())
    } else {
        Err(format!(
            "imports `{name}`, which world `{}` does not offer (it imports only {})",
            kind.world(),
            offered.join(", ")
        ))
    }
}

/// Semver compatibility with [`PACKAGE_VERSION`]: same major, and for 0.x the same minor; the
/// plugin's minor/patch must not be newer than ours.
fn compatible(version: &str) -> bool {
    let mut parts = version.split(['.', '-', '+']).map(|p| p.parse::<u64>().ok());
    let (Some(Some(major)), Some(Some(minor)), Some(Some(patch))) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    let (our_major, our_minor, our_patch) = PACKAGE_VERSION;
    if major != our_major {
        return false;
    }
    if major == 0 {
        return minor == our_minor && patch <= our_patch;
    }
    (minor, patch) <= (our_minor, our_patch)
}

fn version_text() -> String {
    let (a, b, c) = PACKAGE_VERSION;
    format!("{a}.{b}.{c}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn foreign_and_out_of_world_imports_are_named() {
        assert!(check_import(PluginKind::Action, "wasi:http/outgoing-handler@0.2.6").is_ok());
        assert!(check_import(PluginKind::Action, "testmesh:plugin/sql@0.1.0").is_ok());
        let err = check_import(PluginKind::Assertion, "testmesh:plugin/sql@0.1.0").unwrap_err();
        assert!(err.contains("`testmesh:plugin/sql@0.1.0`") && err.contains("assertion"), "{err}");
        let err = check_import(PluginKind::Action, "acme:kafka/producer@1.0.0").unwrap_err();
        assert!(err.contains("acme:kafka/producer"), "{err}");
        let err = check_import(PluginKind::Action, "testmesh:plugin/log@0.2.0").unwrap_err();
        assert!(err.contains("rebuild"), "{err}");
    }
}
