//! The `action` world: the [`Action`] trait and the [`export_action!`](crate::export_action) macro.

use crate::{Context, Descriptor, Error, Kind};
use serde::de::DeserializeOwned;
use serde_json::Value;

/// The generated bindings of the `action` world. Plugins rarely need them directly.
#[allow(missing_docs, clippy::all)]
pub mod bindings {
    wit_bindgen::generate!({
        world: "action",
        path: "../wit",
        pub_export_macro: true,
        export_macro_name: "export_action_world",
        default_bindings_module: "::testmesh_plugin_sdk::action::bindings",
    });
}

wit_conversions!(bindings::testmesh::plugin::types);

/// An action plugin: a typed configuration in, a JSON object out.
///
/// ```ignore
/// struct Hello;
/// #[derive(serde::Deserialize)]
/// struct Config { name: String }
/// impl testmesh_plugin_sdk::Action for Hello {
///     type Config = Config;
///     fn describe() -> Descriptor { Descriptor::new("hello", "0.1.0", "Greets someone") }
///     fn run(_ctx: &Context, config: Config) -> Result<Value, Error> {
///         Ok(json!({ "greeting": format!("hello, {}", config.name) }))
///     }
/// }
/// testmesh_plugin_sdk::export_action!(Hello);
/// ```
pub trait Action {
    /// The step's `config`, deserialised with serde. Unknown or missing fields become an
    /// [`Error::InvalidConfig`] pointing at the field.
    type Config: DeserializeOwned;

    /// Name, version, summary, config schema and capabilities.
    fn describe() -> Descriptor;

    /// Performs the operation and returns the output object (`status`, `body`, …).
    fn run(ctx: &Context, config: Self::Config) -> Result<Value, Error>;
}

/// Glue called by [`export_action!`](crate::export_action): not for direct use.
#[doc(hidden)]
pub fn describe_for<A: Action>() -> wit::Descriptor {
    to_wit_descriptor(A::describe(), Kind::Action)
}

/// Glue called by [`export_action!`](crate::export_action): not for direct use.
#[doc(hidden)]
pub fn run_for<A: Action>(
    call: bindings::testmesh::plugin::action_types::ActionCall,
) -> Result<String, wit::PluginError> {
    let ctx = to_context(call.context, call.operation);
    let result = Error::parse_config::<A::Config>(&call.config).and_then(|config| A::run(&ctx, config));
    match result {
        Ok(output) => Ok(output.to_string()),
        Err(e) => Err(to_wit_error(e)),
    }
}

/// Exports a type implementing [`Action`] as the component's `action` world.
#[macro_export]
macro_rules! export_action {
    ($action:ty) => {
        #[doc(hidden)]
        pub struct __TestmeshActionExport;
        impl $crate::action::bindings::Guest for __TestmeshActionExport {
            fn describe() -> $crate::action::bindings::testmesh::plugin::types::Descriptor {
                $crate::action::describe_for::<$action>()
            }
            fn run(
                call: $crate::action::bindings::testmesh::plugin::action_types::ActionCall,
            ) -> ::core::result::Result<::std::string::String, $crate::action::bindings::testmesh::plugin::types::PluginError>
            {
                $crate::action::run_for::<$action>(call)
            }
        }
        $crate::action::bindings::export_action_world!(__TestmeshActionExport with_types_in $crate::action::bindings);
    };
}
