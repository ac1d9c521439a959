//! `/environments`: named sets of variables and secrets that runs start with. Secrets are
//! write-only: no answer ever carries their values, only their names.

use super::auth::{Auth, Editor, Viewer};
use super::error::{ApiError, ApiResult};
use super::extract::{Json, Path, Query};
use super::pages::{Page, PageParams};
use super::{ApiState, audit};
use crate::storage::{EnvironmentRecord, StoreError};
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::sync::Arc;
use utoipa::ToSchema;

pub(super) fn routes() -> Router<Arc<ApiState>> {
    Router::new()
        .route("/environments", get(list_environments).post(create_environment))
        .route("/environments/{name}", get(get_environment).put(put_environment).delete(delete_environment))
}

/// An environment, with the names of its secrets.
#[derive(Debug, Serialize, ToSchema)]
pub struct EnvironmentView {
    /// Its name.
    pub name: String,
    /// Its variables.
    #[schema(value_type = Object)]
    pub vars: Map<String, Value>,
    /// The names of its secrets (never their values).
    pub secrets: Vec<String>,
    /// When it was last written.
    pub updated_at: DateTime<Utc>,
}

impl From<EnvironmentRecord> for EnvironmentView {
    fn from(r: EnvironmentRecord) -> Self {
        EnvironmentView { name: r.name, vars: r.vars, secrets: r.secret_names, updated_at: r.updated_at }
    }
}

/// A new environment.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewEnvironment {
    /// Letters, digits, `_`, `-` and `.`, at most 128 characters.
    pub name: String,
    /// Its variables.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub vars: Map<String, Value>,
    /// Its secrets: `${secret.NAME}` in flows, masked in every result, log and event.
    #[serde(default)]
    pub secrets: BTreeMap<String, String>,
}

/// The new content of an environment.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EnvironmentUpdate {
    /// Its variables (replaced).
    #[serde(default)]
    #[schema(value_type = Object)]
    pub vars: Map<String, Value>,
    /// Its secrets (all replaced); leave it out to keep the secrets it has.
    #[serde(default)]
    pub secrets: Option<BTreeMap<String, String>>,
}

/// Environment names are path segments and appear in logs: keep them plain.
fn check_name(name: &str) -> ApiResult<()> {
    let plain = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.');
    if name.is_empty() || name.chars().count() > 128 || !name.chars().all(plain) {
        return Err(ApiError::unprocessable(format!(
            "environment name `{name}` must be 1–128 letters, digits, `_`, `-` or `.`"
        )));
    }
    Ok(())
}

/// Secret names are what flows write after `${secret.`.
fn check_secret_names(secrets: &BTreeMap<String, String>) -> ApiResult<()> {
    for name in secrets.keys() {
        let ok = !name.is_empty()
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            && !name.starts_with(|c: char| c.is_ascii_digit());
        if !ok {
            return Err(ApiError::unprocessable(format!(
                "secret name `{name}` must be letters, digits and `_`, not starting with a digit"
            )));
        }
    }
    Ok(())
}

fn not_found(error: StoreError, name: &str) -> ApiError {
    match error {
        StoreError::NotFound => ApiError::not_found(format!("no environment named `{name}`")),
        other => other.into(),
    }
}

/// Lists environments by name.
#[utoipa::path(get, path = "/environments", tag = "environments", params(PageParams),
    responses((status = 200, description = "A page of environments", body = Page<EnvironmentView>), super::openapi::Errors))]
pub(crate) async fn list_environments(
    _auth: Auth<Viewer>,
    State(state): State<Arc<ApiState>>,
    Query(params): Query<PageParams>,
) -> ApiResult<axum::Json<Page<EnvironmentView>>> {
    let all = state.store.list_environments().await?;
    Ok(axum::Json(params.page_of(all.into_iter().map(EnvironmentView::from).collect())?))
}

/// Creates an environment (409 if the name is taken).
#[utoipa::path(post, path = "/environments", tag = "environments", request_body = NewEnvironment,
    responses((status = 201, description = "Created", body = EnvironmentView), super::openapi::Errors))]
pub(crate) async fn create_environment(
    Auth(caller, ..): Auth<Editor>,
    State(state): State<Arc<ApiState>>,
    Json(body): Json<NewEnvironment>,
) -> ApiResult<Response> {
    check_name(&body.name)?;
    check_secret_names(&body.secrets)?;
    match state.store.get_environment(&body.name).await {
        Ok(_) => {
            return Err(ApiError::conflict(format!("an environment named `{}` exists; PUT replaces it", body.name)));
        }
        Err(StoreError::NotFound) => {}
        Err(other) => return Err(other.into()),
    }
    let record = state.store.put_environment(&body.name, body.vars, body.secrets).await?;
    audit(&state, &caller, "environment.create", &record.name, serde_json::json!({"secrets": record.secret_names}))
        .await;
    let mut response = (StatusCode::CREATED, axum::Json(EnvironmentView::from(record.clone()))).into_response();
    if let Ok(location) = HeaderValue::from_str(&format!("/api/v1/environments/{}", record.name)) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}

/// An environment.
#[utoipa::path(get, path = "/environments/{name}", tag = "environments",
    params(("name" = String, Path, description = "The environment's name")),
    responses((status = 200, description = "The environment", body = EnvironmentView), super::openapi::Errors))]
pub(crate) async fn get_environment(
    _auth: Auth<Viewer>,
    State(state): State<Arc<ApiState>>,
    Path(name): Path<String>,
) -> ApiResult<axum::Json<EnvironmentView>> {
    let record = state.store.get_environment(&name).await.map_err(|e| not_found(e, &name))?;
    Ok(axum::Json(EnvironmentView::from(record)))
}

/// Creates or replaces an environment; without `secrets` its secrets stay as they are.
#[utoipa::path(put, path = "/environments/{name}", tag = "environments",
    params(("name" = String, Path, description = "The environment's name")), request_body = EnvironmentUpdate,
    responses((status = 200, description = "Written", body = EnvironmentView), super::openapi::Errors))]
pub(crate) async fn put_environment(
    Auth(caller, ..): Auth<Editor>,
    State(state): State<Arc<ApiState>>,
    Path(name): Path<String>,
    Json(body): Json<EnvironmentUpdate>,
) -> ApiResult<axum::Json<EnvironmentView>> {
    check_name(&name)?;
    let secrets = match body.secrets {
        Some(secrets) => {
            check_secret_names(&secrets)?;
            secrets
        }
        None => match state.store.environment_secrets(&name).await {
            Ok(kept) => kept,
            Err(StoreError::NotFound) => BTreeMap::new(),
            Err(other) => return Err(other.into()),
        },
    };
    let record = state.store.put_environment(&name, body.vars, secrets).await?;
    audit(&state, &caller, "environment.update", &record.name, serde_json::json!({"secrets": record.secret_names}))
        .await;
    Ok(axum::Json(EnvironmentView::from(record)))
}

/// Deletes an environment and its secrets.
#[utoipa::path(delete, path = "/environments/{name}", tag = "environments",
    params(("name" = String, Path, description = "The environment's name")),
    responses((status = 204, description = "Deleted"), super::openapi::Errors))]
pub(crate) async fn delete_environment(
    Auth(caller, ..): Auth<Editor>,
    State(state): State<Arc<ApiState>>,
    Path(name): Path<String>,
) -> ApiResult<StatusCode> {
    state.store.delete_environment(&name).await.map_err(|e| not_found(e, &name))?;
    audit(&state, &caller, "environment.delete", &name, Value::Null).await;
    Ok(StatusCode::NO_CONTENT)
}
