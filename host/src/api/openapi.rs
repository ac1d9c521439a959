//! The OpenAPI 3.1 document, generated from the handlers' `#[utoipa::path]` annotations so that it
//! says what the server does; served at `/api/v1/openapi.json` and checked by a schema-driven
//! fuzzer in CI.

use super::error::{FieldError, Problem};
use std::collections::BTreeMap;
use std::sync::OnceLock;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "testmesh",
        description = "Integration tests as flows of sandboxed WebAssembly actions and assertions. Every route \
                       but health, readiness and this document needs `Authorization: Bearer <api key>`; roles: \
                       viewer < runner < editor < admin.",
        license(name = "Apache-2.0"),
    ),
    servers((url = "/api/v1")),
    paths(
        super::system::health, super::system::ready, super::system::metrics, super::system::openapi,
        super::flows::validate_flow, super::flows::create_flow, super::flows::list_flows, super::flows::get_flow,
        super::flows::update_flow, super::flows::delete_flow, super::flows::list_versions, super::flows::get_version,
        super::runs::start_flow_run, super::runs::start_inline_run, super::runs::list_runs, super::runs::get_run,
        super::runs::cancel_run, super::runs::run_report, super::events::run_events,
        super::environments::list_environments, super::environments::create_environment,
        super::environments::get_environment, super::environments::put_environment,
        super::environments::delete_environment,
        super::schedules::create_schedule, super::schedules::list_schedules, super::schedules::get_schedule,
        super::schedules::put_schedule, super::schedules::delete_schedule, super::schedules::trigger_schedule,
        super::schedules::schedule_runs,
        super::keys::create_key, super::keys::list_keys, super::keys::revoke_key, super::keys::list_audit,
        super::plugins::install_plugin, super::plugins::list_plugins, super::plugins::get_plugin_versions,
        super::plugins::get_plugin, super::plugins::patch_plugin, super::plugins::delete_plugin,
    ),
    components(schemas(Problem, FieldError, super::runs::ReportFormat)),
    modifiers(&BearerKey),
    security(("api_key" = [])),
    tags(
        (name = "system", description = "Health, readiness, metrics, this document"),
        (name = "flows", description = "Stored flows and their versions"),
        (name = "runs", description = "Runs: start, watch, cancel, reports"),
        (name = "environments", description = "Variables and write-only secrets for runs"),
        (name = "schedules", description = "Cron schedules of stored flows"),
        (name = "plugins", description = "Built-in and installed plugins"),
        (name = "keys", description = "API keys and the audit log"),
    ),
)]
struct ApiDoc;

/// Declares the bearer key scheme every operation uses (unless it says `security(())`).
struct BearerKey;

impl Modify for BearerKey {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_key",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("tm_<id>_<secret>")
                    .description(Some("An API key: `Authorization: Bearer tm_…`"))
                    .build(),
            ),
        );
    }
}

/// The error answers every authenticated operation may give, as problem documents.
pub(crate) struct Errors;

impl utoipa::IntoResponses for Errors {
    fn responses() -> BTreeMap<String, RefOr<utoipa::openapi::response::Response>> {
        let problem = |description: &str| {
            RefOr::T(
                ResponseBuilder::new()
                    .description(description)
                    .content(
                        "application/problem+json",
                        ContentBuilder::new().schema(Some(Ref::from_schema_name("Problem"))).build(),
                    )
                    .build(),
            )
        };
        [
            ("400", "The request cannot be understood (malformed body, parameter or cursor)"),
            ("401", "No API key, or not a valid one"),
            ("403", "The key's role is too low"),
            ("404", "No such resource"),
            ("405", "The route does not answer this method"),
            ("409", "The request conflicts with the current state"),
            ("412", "If-Match names a version that is no longer current"),
            ("413", "The body is larger than the server accepts"),
            ("415", "The body's media type is not one this operation takes"),
            ("422", "Understood but invalid (an invalid flow: every problem with its line and column)"),
            ("500", "The server failed (its log has the cause)"),
            ("503", "A service the server needs does not answer"),
        ]
        .into_iter()
        .map(|(status, description)| (status.to_string(), problem(description)))
        .collect()
    }
}

/// The OpenAPI document.
pub fn document() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

/// The document as JSON, built once.
pub(crate) fn document_json() -> String {
    static JSON: OnceLock<String> = OnceLock::new();
    JSON.get_or_init(|| document().to_json().unwrap_or_else(|_| "{}".into())).clone()
}
