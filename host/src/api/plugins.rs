//! `/plugins`: the built-in plugins and the ones admins install. An upload is checked before it is
//! stored — a component, of one of our worlds, whose `describe` answers, whose digest matches the
//! one the admin expected — and compiled once at install, so that no step pays for compiling it.
//! The admin grants its capabilities at install (`?grants=http:api.example.com,sql:*`).

use super::auth::{Admin, Auth, Viewer};
use super::error::{ApiError, ApiResult};
use super::extract::{Json, Path, Query};
use super::pages::{Page, PageParams};
use super::{ApiState, audit};
use crate::builtins;
use crate::flow::parse_flow;
use crate::runner::{plugin_references, version_matches};
use crate::sandbox::{Grants, LoadError, Plugin};
use crate::storage::{FlowFilter, NewPlugin, PluginPatch, PluginRecord, StoreError};
use axum::Router;
use axum::extract::{DefaultBodyLimit, FromRequest, Multipart, Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use bytes::Bytes;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::sync::Arc;
use utoipa::{IntoParams, ToSchema};

pub(super) fn routes(max_upload: usize) -> Router<Arc<ApiState>> {
    Router::new()
        .route("/plugins", post(install_plugin).layer(DefaultBodyLimit::max(max_upload)).get(list_plugins))
        .route("/plugins/{name}", get(get_plugin_versions))
        .route("/plugins/{name}/{version}", get(get_plugin).patch(patch_plugin).delete(delete_plugin))
}

/// A capability a plugin asks for.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CapabilityView {
    /// `http`, `sql`, `redis` or `env`.
    pub capability: String,
    /// Why the plugin says it needs it.
    pub reason: String,
    /// Whether a grant covers it.
    pub granted: bool,
}

/// A plugin version.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PluginView {
    /// The name flows use.
    pub name: String,
    /// Its version.
    pub version: String,
    /// `action` or `assertion`.
    pub kind: String,
    /// One line about it.
    pub summary: String,
    /// `sha256:<hex>` of the component.
    pub digest: String,
    /// The component's size in bytes.
    pub size: i64,
    /// Built into testmesh (not installed, not removable).
    pub builtin: bool,
    /// Whether flows may use this version.
    pub enabled: bool,
    /// Whether this is the version flows get (the newest enabled one).
    pub serving: bool,
    /// The capabilities it asked for, and whether each is granted.
    pub capabilities: Vec<CapabilityView>,
    /// The grants it has.
    pub grants: Vec<String>,
    /// Other names it answers to.
    pub aliases: Vec<String>,
    /// Its config's JSON Schema.
    #[schema(value_type = Object)]
    pub config_schema: Value,
    /// When it was installed (built-ins: when this server started).
    pub created_at: DateTime<Utc>,
}

/// A plugin just installed (or installed again).
#[derive(Debug, Serialize, ToSchema)]
pub struct InstalledPlugin {
    /// The plugin version.
    #[serde(flatten)]
    pub plugin: PluginView,
    /// What the component imports (`wasi:http/outgoing-handler@0.2.6`, …).
    pub imports: Vec<String>,
    /// `true` when this component was new; `false` when it was installed already (grants updated).
    pub created: bool,
}

/// A change to an installed plugin version.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PluginChange {
    /// Replaces its grants (`http:api.example.com`, `sql:*`, `redis:*`, `env:NAME`).
    #[serde(default)]
    pub grants: Option<Vec<String>>,
    /// Enables or disables the version.
    #[serde(default)]
    pub enabled: Option<bool>,
}

/// The parameters of `POST /plugins`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct InstallParams {
    /// Capabilities to grant, comma-separated: `http:api.example.com,sql:*`.
    pub grants: Option<String>,
    /// The component's expected sha256 (hex, optionally `sha256:`-prefixed); refused when it differs.
    pub sha256: Option<String>,
}

/// The parameters of `DELETE /plugins/{name}/{version}`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeleteParams {
    /// Remove it even though stored flows use it.
    pub force: Option<bool>,
}

/// The view of a stored plugin version.
fn view_of(record: &PluginRecord, serving: bool) -> PluginView {
    let descriptor = &record.descriptor;
    let grants = Grants::parse(&record.grants).unwrap_or_default();
    let capabilities = capabilities_of(descriptor, &grants);
    PluginView {
        name: record.name.clone(),
        version: record.version.clone(),
        kind: record.kind.clone(),
        summary: descriptor.get("summary").and_then(Value::as_str).unwrap_or_default().to_string(),
        digest: format!("sha256:{}", record.digest),
        size: record.size,
        builtin: false,
        enabled: record.enabled,
        serving,
        capabilities,
        grants: record.grants.clone(),
        aliases: string_list(descriptor.get("aliases")),
        config_schema: descriptor.get("config_schema").cloned().unwrap_or(Value::Null),
        created_at: record.created_at,
    }
}

/// The view of a built-in plugin.
fn builtin_view(plugin: &Plugin, state: &ApiState, size: usize) -> PluginView {
    let descriptor = serde_json::to_value(&plugin.descriptor).unwrap_or(Value::Null);
    let grants = state.catalog.builtin_grants();
    PluginView {
        name: plugin.descriptor.name.clone(),
        version: plugin.descriptor.version.clone(),
        kind: plugin.kind().world().to_string(),
        summary: plugin.descriptor.summary.clone(),
        digest: format!("sha256:{}", plugin.digest),
        size: i64::try_from(size).unwrap_or(i64::MAX),
        builtin: true,
        enabled: true,
        serving: true,
        capabilities: capabilities_of(&descriptor, grants),
        grants: grants.to_strings(),
        aliases: plugin.descriptor.aliases.clone(),
        config_schema: plugin.descriptor.config_schema.clone(),
        created_at: state.started_at,
    }
}

fn string_list(value: Option<&Value>) -> Vec<String> {
    value
        .and_then(Value::as_array)
        .map(|items| items.iter().filter_map(Value::as_str).map(str::to_string).collect())
        .unwrap_or_default()
}

/// The capabilities a descriptor asks for, each marked granted or not.
fn capabilities_of(descriptor: &Value, grants: &Grants) -> Vec<CapabilityView> {
    let granted = grants.to_strings();
    descriptor
        .get("capabilities")
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .map(|item| {
                    let capability = item.get("capability").and_then(Value::as_str).unwrap_or_default().to_string();
                    let prefix = format!("{capability}:");
                    CapabilityView {
                        granted: granted.iter().any(|g| g.starts_with(&prefix) || *g == capability),
                        reason: item.get("reason").and_then(Value::as_str).unwrap_or_default().to_string(),
                        capability,
                    }
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Every built-in plugin, loaded (from the precompiled cache after the first time).
async fn builtin_views(state: &ApiState) -> ApiResult<Vec<PluginView>> {
    let mut views = Vec::new();
    for builtin in builtins::all() {
        let plugin = state
            .catalog
            .sandbox()
            .load_with_digest(builtin.wasm, builtin.digest.to_string())
            .await
            .map_err(|e| ApiError::internal(format!("built-in {}: {e}", builtin.source)))?;
        views.push(builtin_view(&plugin, state, builtin.wasm.len()));
    }
    Ok(views)
}

/// Every stored version, with which of them serve.
async fn installed_views(state: &ApiState) -> ApiResult<Vec<PluginView>> {
    let installed = state.store.list_plugins().await?;
    let serving: Vec<(String, String)> = crate::platform::catalog::serving_versions(&installed)
        .into_iter()
        .map(|r| (r.name.clone(), r.version.clone()))
        .collect();
    Ok(installed.iter().map(|r| view_of(r, serving.iter().any(|(n, v)| *n == r.name && *v == r.version))).collect())
}

/// One stored version, with whether it serves.
async fn installed_view(state: &ApiState, name: &str, version: &str) -> ApiResult<PluginView> {
    installed_views(state)
        .await?
        .into_iter()
        .find(|v| v.name == name && v.version == version)
        .ok_or_else(|| ApiError::not_found(format!("no plugin `{name}` version {version}")))
}

/// The component and the install parameters of an upload: `application/wasm` (or
/// `application/octet-stream`) with `?grants=` and `?sha256=`, or `multipart/form-data` with
/// parts `component`, `grants` and `sha256`.
async fn read_upload(request: Request, params: InstallParams) -> ApiResult<(Bytes, Vec<String>, Option<String>)> {
    let media = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or("").trim().to_ascii_lowercase())
        .unwrap_or_default();
    let mut grants = split_grants(params.grants.as_deref().unwrap_or(""));
    let mut sha256 = params.sha256;
    let too_large = |status: StatusCode, text: String| {
        if status == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::too_large(format!("the component is larger than this server accepts: {text}"))
        } else {
            ApiError::bad_request(text)
        }
    };
    match media.as_str() {
        "application/wasm" | "application/octet-stream" => {
            let bytes = Bytes::from_request(request, &()).await.map_err(|r| too_large(r.status(), r.body_text()))?;
            Ok((bytes, grants, sha256))
        }
        "multipart/form-data" => {
            let mut multipart =
                Multipart::from_request(request, &()).await.map_err(|r| too_large(r.status(), r.body_text()))?;
            let mut component = None;
            while let Some(field) = multipart.next_field().await.map_err(|r| too_large(r.status(), r.body_text()))? {
                match field.name().unwrap_or_default() {
                    "component" => {
                        component = Some(field.bytes().await.map_err(|r| too_large(r.status(), r.body_text()))?)
                    }
                    "grants" => {
                        let text = field.text().await.map_err(|r| too_large(r.status(), r.body_text()))?;
                        grants.extend(split_grants(&text));
                    }
                    "sha256" => sha256 = Some(field.text().await.map_err(|r| too_large(r.status(), r.body_text()))?),
                    other => {
                        return Err(ApiError::bad_request(format!(
                            "unknown form part `{other}` (expected component, grants, sha256)"
                        )));
                    }
                }
            }
            let component = component.ok_or_else(|| ApiError::bad_request("the form has no `component` part"))?;
            Ok((component, grants, sha256))
        }
        _ => Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported-media-type",
            "send the component as `application/wasm`, or as the `component` part of `multipart/form-data`",
        )),
    }
}

fn split_grants(text: &str) -> Vec<String> {
    text.split([',', '\n']).map(str::trim).filter(|g| !g.is_empty()).map(str::to_string).collect()
}

/// Installs a plugin component: checked, compiled and described now, stored by digest, with the
/// grants given. Installing the same component again updates its grants (200).
#[utoipa::path(post, path = "/plugins", tag = "plugins", params(InstallParams),
    request_body(description = "The component", content(
        (String = "application/wasm"), (Object = "multipart/form-data"))),
    responses(
        (status = 201, description = "Installed", body = InstalledPlugin),
        (status = 200, description = "Already installed; grants updated", body = InstalledPlugin),
        super::openapi::Errors,
    ))]
pub(crate) async fn install_plugin(
    Auth(caller, ..): Auth<Admin>,
    State(state): State<Arc<ApiState>>,
    Query(params): Query<InstallParams>,
    request: Request,
) -> ApiResult<Response> {
    let (bytes, grant_list, expected) = read_upload(request, params).await?;
    let digest = crate::sandbox::digest(&bytes);
    if let Some(expected) = expected {
        let expected = expected.trim().trim_start_matches("sha256:").to_ascii_lowercase();
        if expected != digest {
            return Err(ApiError::unprocessable(format!(
                "the component's sha256 is {digest}, not the expected {expected}; it was not installed"
            )));
        }
    }
    let grants = Grants::parse(&grant_list).map_err(|e| ApiError::unprocessable(format!("invalid grant: {e}")))?;
    let plugin = state.catalog.sandbox().load(&bytes).await.map_err(|error| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            match error {
                LoadError::NotAComponent(_) => "not-a-component",
                LoadError::WrongWorld(_) => "wrong-world",
                LoadError::Describe(_) => "describe-failed",
            },
            error.to_string(),
        )
    })?;
    let descriptor = &plugin.descriptor;
    let builtin_names = builtin_views(&state).await?;
    if let Some(clash) = builtin_names.iter().find(|b| {
        b.name == descriptor.name || b.aliases.contains(&descriptor.name) || descriptor.aliases.contains(&b.name)
    }) {
        return Err(ApiError::conflict(format!(
            "`{}` is the name (or an alias) of the built-in plugin `{}`; give the plugin another name",
            descriptor.name, clash.name
        )));
    }
    let record = NewPlugin {
        name: descriptor.name.clone(),
        version: descriptor.version.clone(),
        kind: plugin.kind().world().to_string(),
        digest: digest.clone(),
        component: bytes.to_vec(),
        descriptor: serde_json::to_value(descriptor).map_err(ApiError::internal)?,
        grants: grants.to_strings(),
    };
    let (mut stored, created) = state.store.install_plugin(record).await?;
    if !created && stored.grants != grants.to_strings() {
        let patch = PluginPatch { grants: Some(grants.to_strings()), enabled: None };
        stored = state.store.update_plugin(&stored.name, &stored.version, patch).await?;
    }
    state.catalog.invalidate().await;
    let serving = installed_view(&state, &stored.name, &stored.version).await?.serving;
    audit(
        &state,
        &caller,
        "plugin.install",
        &format!("{}@{}", stored.name, stored.version),
        serde_json::json!({"digest": stored.digest, "size": stored.size, "grants": stored.grants, "created": created}),
    )
    .await;
    let body = InstalledPlugin { plugin: view_of(&stored, serving), imports: plugin.imports.clone(), created };
    let status = if created { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, axum::Json(body)).into_response())
}

/// The built-in plugins, then the installed versions (by name, newest first).
#[utoipa::path(get, path = "/plugins", tag = "plugins", params(PageParams),
    responses((status = 200, description = "A page of plugin versions", body = Page<PluginView>), super::openapi::Errors))]
pub(crate) async fn list_plugins(
    _auth: Auth<Viewer>,
    State(state): State<Arc<ApiState>>,
    Query(params): Query<PageParams>,
) -> ApiResult<axum::Json<Page<PluginView>>> {
    let mut all = builtin_views(&state).await?;
    all.extend(installed_views(&state).await?);
    Ok(axum::Json(params.page_of(all)?))
}

/// Every version of one plugin (a built-in has one).
#[utoipa::path(get, path = "/plugins/{name}", tag = "plugins",
    params(("name" = String, Path, description = "The plugin's name (`owner/name` as `owner%2Fname`)")),
    responses((status = 200, description = "Its versions, newest first", body = Vec<PluginView>), super::openapi::Errors))]
pub(crate) async fn get_plugin_versions(
    _auth: Auth<Viewer>,
    State(state): State<Arc<ApiState>>,
    Path(name): Path<String>,
) -> ApiResult<axum::Json<Vec<PluginView>>> {
    let mut versions: Vec<PluginView> =
        builtin_views(&state).await?.into_iter().filter(|v| v.name == name || v.aliases.contains(&name)).collect();
    versions.extend(installed_views(&state).await?.into_iter().filter(|v| v.name == name));
    if versions.is_empty() {
        return Err(ApiError::not_found(format!("no plugin named `{name}`")));
    }
    Ok(axum::Json(versions))
}

/// One plugin version.
#[utoipa::path(get, path = "/plugins/{name}/{version}", tag = "plugins",
    params(("name" = String, Path, description = "The plugin's name"), ("version" = String, Path, description = "Its version")),
    responses((status = 200, description = "The version", body = PluginView), super::openapi::Errors))]
pub(crate) async fn get_plugin(
    _auth: Auth<Viewer>,
    State(state): State<Arc<ApiState>>,
    Path((name, version)): Path<(String, String)>,
) -> ApiResult<axum::Json<PluginView>> {
    if let Some(builtin) = builtin_views(&state)
        .await?
        .into_iter()
        .find(|v| (v.name == name || v.aliases.contains(&name)) && v.version == version)
    {
        return Ok(axum::Json(builtin));
    }
    installed_view(&state, &name, &version).await.map(axum::Json)
}

/// Changes an installed version's grants or enables/disables it.
#[utoipa::path(patch, path = "/plugins/{name}/{version}", tag = "plugins",
    params(("name" = String, Path, description = "The plugin's name"), ("version" = String, Path, description = "Its version")),
    request_body = PluginChange,
    responses((status = 200, description = "Changed", body = PluginView), super::openapi::Errors))]
pub(crate) async fn patch_plugin(
    Auth(caller, ..): Auth<Admin>,
    State(state): State<Arc<ApiState>>,
    Path((name, version)): Path<(String, String)>,
    Json(change): Json<PluginChange>,
) -> ApiResult<axum::Json<PluginView>> {
    refuse_builtin(&state, &name).await?;
    let grants = match &change.grants {
        Some(list) => {
            Some(Grants::parse(list).map_err(|e| ApiError::unprocessable(format!("invalid grant: {e}")))?.to_strings())
        }
        None => None,
    };
    let patch = PluginPatch { grants, enabled: change.enabled };
    state.store.update_plugin(&name, &version, patch).await.map_err(|e| not_found(e, &name, &version))?;
    state.catalog.invalidate().await;
    audit(
        &state,
        &caller,
        "plugin.update",
        &format!("{name}@{version}"),
        serde_json::json!({"grants": change.grants, "enabled": change.enabled}),
    )
    .await;
    installed_view(&state, &name, &version).await.map(axum::Json)
}

/// Removes an installed version — refused (409) while a stored flow needs it, unless `?force=true`.
#[utoipa::path(delete, path = "/plugins/{name}/{version}", tag = "plugins",
    params(("name" = String, Path, description = "The plugin's name"), ("version" = String, Path, description = "Its version"), DeleteParams),
    responses((status = 204, description = "Removed"), super::openapi::Errors))]
pub(crate) async fn delete_plugin(
    Auth(caller, ..): Auth<Admin>,
    State(state): State<Arc<ApiState>>,
    Path((name, version)): Path<(String, String)>,
    Query(params): Query<DeleteParams>,
) -> ApiResult<StatusCode> {
    refuse_builtin(&state, &name).await?;
    let record = state.store.get_plugin(&name, &version).await.map_err(|e| not_found(e, &name, &version))?;
    if !params.force.unwrap_or(false) {
        let installed = state.store.list_plugins().await?;
        let others = installed.iter().filter(|r| r.name == name && r.version != version && r.enabled).count();
        let users = flows_needing(&state, &record, others).await?;
        if !users.is_empty() {
            return Err(ApiError::conflict(format!(
                "stored flows use plugin `{name}` version {version}: {}; change them first, or remove it with ?force=true",
                users.join(", ")
            )));
        }
    }
    state.store.delete_plugin(&name, &version).await.map_err(|e| not_found(e, &name, &version))?;
    state.catalog.invalidate().await;
    audit(
        &state,
        &caller,
        "plugin.delete",
        &format!("{name}@{version}"),
        serde_json::json!({"force": params.force.unwrap_or(false)}),
    )
    .await;
    Ok(StatusCode::NO_CONTENT)
}

/// The names of live stored flows that need `record`: they pin its version, or name the plugin
/// unpinned while no other enabled version would take its place.
async fn flows_needing(state: &ApiState, record: &PluginRecord, other_versions: usize) -> ApiResult<Vec<String>> {
    let aliases = string_list(record.descriptor.get("aliases"));
    let mut users = Vec::new();
    let mut cursor = None;
    loop {
        let page = state
            .store
            .list_flows(FlowFilter { limit: Some(crate::storage::MAX_PAGE_LIMIT), cursor, ..FlowFilter::default() })
            .await?;
        for flow in &page.items {
            let Ok(parsed) = parse_flow(&flow.source, &flow.name) else { continue };
            let needs = plugin_references(&parsed).iter().any(|reference| {
                (reference.name == record.name || aliases.contains(&reference.name))
                    && match &reference.version {
                        Some(pin) => version_matches(pin, &record.version),
                        None => other_versions == 0,
                    }
            });
            if needs {
                users.push(format!("`{}`", flow.name));
            }
        }
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    Ok(users)
}

async fn refuse_builtin(state: &ApiState, name: &str) -> ApiResult<()> {
    if builtin_views(state).await?.iter().any(|b| b.name == name || b.aliases.iter().any(|a| a == name)) {
        return Err(ApiError::conflict(format!(
            "`{name}` is built in; its grants are the server's (`testmesh serve --builtin-grant`)"
        )));
    }
    Ok(())
}

fn not_found(error: StoreError, name: &str, version: &str) -> ApiError {
    match error {
        StoreError::NotFound => ApiError::not_found(format!("no plugin `{name}` version {version}")),
        other => other.into(),
    }
}
