//! The `assertion` world: the [`Assertion`] trait, [`Verdict`] and the
//! [`export_assertion!`](crate::export_assertion) macro.

use crate::{Context, Descriptor, Error, Kind};
use serde::de::DeserializeOwned;
use serde_json::Value;

/// The generated bindings of the `assertion` world. Plugins rarely need them directly.
#[allow(missing_docs, clippy::all)]
pub mod bindings {
    wit_bindgen::generate!({
        world: "assertion",
        path: "../wit",
        pub_export_macro: true,
        export_macro_name: "export_assertion_world",
        default_bindings_module: "::testmesh_plugin_sdk::assertion::bindings",
    });
}

wit_conversions!(bindings::testmesh::plugin::types);

/// The judgement on one check.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    /// Whether the check held.
    pub passed: bool,
    /// On failure, what was expected and what was found; on success, a short confirmation.
    pub message: String,
    /// The actual value(s) the check looked at.
    pub actual: Value,
}

impl Verdict {
    /// A passing verdict.
    pub fn pass(message: impl Into<String>, actual: Value) -> Self {
        Verdict { passed: true, message: message.into(), actual }
    }

    /// A failing verdict.
    pub fn fail(message: impl Into<String>, actual: Value) -> Self {
        Verdict { passed: false, message: message.into(), actual }
    }
}

/// An assertion plugin: judges a subject (the step's output) once per check configuration.
pub trait Assertion {
    /// One check's configuration, deserialised with serde.
    type Config: DeserializeOwned;

    /// Name, version, summary, config schema.
    fn describe() -> Descriptor;

    /// Judges `subject` against one check.
    fn check(ctx: &Context, subject: &Value, config: Self::Config) -> Result<Verdict, Error>;

    /// Judges `subject` against every check of a step. Override it to share work between checks (the
    /// `expr` plugin caches compiled programs here); the default calls [`Assertion::check`] in turn.
    fn check_all(ctx: &Context, subject: &Value, configs: Vec<Self::Config>) -> Result<Vec<Verdict>, Error> {
        configs.into_iter().map(|config| Self::check(ctx, subject, config)).collect()
    }
}

/// Glue called by [`export_assertion!`](crate::export_assertion): not for direct use.
#[doc(hidden)]
pub fn describe_for<A: Assertion>() -> wit::Descriptor {
    to_wit_descriptor(A::describe(), Kind::Assertion)
}

/// Glue called by [`export_assertion!`](crate::export_assertion): not for direct use.
#[doc(hidden)]
pub fn check_for<A: Assertion>(
    call: bindings::testmesh::plugin::assertion_types::AssertionCall,
) -> Result<Vec<bindings::testmesh::plugin::assertion_types::Verdict>, wit::PluginError> {
    let ctx = to_context(call.context, None);
    let run = || -> Result<Vec<Verdict>, Error> {
        let subject: Value =
            serde_json::from_str(&call.subject).map_err(|e| Error::failed(format!("subject is not JSON: {e}")))?;
        let mut configs = Vec::with_capacity(call.checks.len());
        for (index, check) in call.checks.iter().enumerate() {
            let config = Error::parse_config::<A::Config>(check).map_err(|e| match e {
                Error::InvalidConfig { path, message } => Error::config(format!("/{index}{path}"), message),
                other => other,
            })?;
            configs.push(config);
        }
        A::check_all(&ctx, &subject, configs)
    };
    match run() {
        Ok(verdicts) => Ok(verdicts
            .into_iter()
            .map(|v| bindings::testmesh::plugin::assertion_types::Verdict {
                passed: v.passed,
                message: v.message,
                actual: v.actual.to_string(),
            })
            .collect()),
        Err(e) => Err(to_wit_error(e)),
    }
}

/// Exports a type implementing [`Assertion`] as the component's `assertion` world.
#[macro_export]
macro_rules! export_assertion {
    ($assertion:ty) => {
        #[doc(hidden)]
        pub struct __TestmeshAssertionExport;
        impl $crate::assertion::bindings::Guest for __TestmeshAssertionExport {
            fn describe() -> $crate::assertion::bindings::testmesh::plugin::types::Descriptor {
                $crate::assertion::describe_for::<$assertion>()
            }
            fn check(
                call: $crate::assertion::bindings::testmesh::plugin::assertion_types::AssertionCall,
            ) -> ::core::result::Result<
                ::std::vec::Vec<$crate::assertion::bindings::testmesh::plugin::assertion_types::Verdict>,
                $crate::assertion::bindings::testmesh::plugin::types::PluginError,
            > {
                $crate::assertion::check_for::<$assertion>(call)
            }
        }
        $crate::assertion::bindings::export_assertion_world!(__TestmeshAssertionExport with_types_in $crate::assertion::bindings);
    };
}
