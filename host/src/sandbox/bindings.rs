//! Host-side bindings of the `testmesh:plugin` worlds, generated from `wit/` by wasmtime's bindgen.
//!
//! Everything version-specific about wasmtime's bindgen lives here: when wasmtime changes its macro
//! options, this is the only file to touch.

/// The `action` world. Its interfaces (`types`, `log`, `sql`, `redis`) are the ones every capability
/// module implements; the `assertion` world reuses them.
pub(crate) mod action {
    wasmtime::component::bindgen!({
        world: "action",
        path: "../wit",
        imports: { default: async | trappable },
        exports: { default: async },
    });
}

/// The `assertion` world, sharing the interface types of [`action`].
pub(crate) mod assertion {
    wasmtime::component::bindgen!({
        world: "assertion",
        path: "../wit",
        imports: { default: async | trappable },
        exports: { default: async },
        with: {
            "testmesh:plugin/types": super::action::testmesh::plugin::types,
            "testmesh:plugin/log": super::action::testmesh::plugin::log,
        },
    });
}

pub(crate) use action::testmesh::plugin::types as wit_types;
