//! `/keys` and `/audit`: API keys (admin) — made with a role, shown once, revocable — and the
//! audit log of what keys did.

use super::auth::{Admin, Auth};
use super::error::{ApiError, ApiResult};
use super::extract::{Json, Path, Query};
use super::pages::{Page, PageParams};
use super::{ApiState, audit};
use crate::storage::{ApiKeyRecord, AuditRecord, NewKey, Role, StoreError};
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::sync::Arc;
use utoipa::ToSchema;

pub(super) fn routes() -> Router<Arc<ApiState>> {
    Router::new()
        .route("/keys", get(list_keys).post(create_key))
        .route("/keys/{id}", delete(revoke_key))
        .route("/audit", get(list_audit))
}

/// What a key may do; each role includes the ones before it.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum RoleName {
    /// Read anything but secrets.
    Viewer,
    /// Start and cancel runs (what CI gets).
    Runner,
    /// Write flows, schedules and environments.
    Editor,
    /// Install plugins, manage keys.
    Admin,
}

impl From<RoleName> for Role {
    fn from(role: RoleName) -> Self {
        match role {
            RoleName::Viewer => Role::Viewer,
            RoleName::Runner => Role::Runner,
            RoleName::Editor => Role::Editor,
            RoleName::Admin => Role::Admin,
        }
    }
}

impl From<Role> for RoleName {
    fn from(role: Role) -> Self {
        match role {
            Role::Viewer => RoleName::Viewer,
            Role::Runner => RoleName::Runner,
            Role::Editor => RoleName::Editor,
            Role::Admin => RoleName::Admin,
        }
    }
}

/// A new key.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateKey {
    /// Its role.
    pub role: RoleName,
    /// Who or what uses it.
    #[serde(default)]
    pub description: String,
    /// After this time it no longer works.
    #[serde(default)]
    pub expires_at: Option<DateTime<Utc>>,
}

/// A key, without its secret.
#[derive(Debug, Serialize, ToSchema)]
pub struct KeyView {
    /// The key's id: the middle of `tm_<id>_<secret>`.
    pub id: String,
    /// Its role.
    pub role: RoleName,
    /// Who or what uses it.
    pub description: String,
    /// When it was made.
    pub created_at: DateTime<Utc>,
    /// When it stops working.
    pub expires_at: Option<DateTime<Utc>>,
    /// When it was revoked.
    pub revoked_at: Option<DateTime<Utc>>,
}

impl From<ApiKeyRecord> for KeyView {
    fn from(r: ApiKeyRecord) -> Self {
        KeyView {
            id: r.id,
            role: r.role.into(),
            description: r.description,
            created_at: r.created_at,
            expires_at: r.expires_at,
            revoked_at: r.revoked_at,
        }
    }
}

/// A key just made: the only time its secret is shown.
#[derive(Debug, Serialize, ToSchema)]
pub struct KeyCreated {
    /// The key to send as `Authorization: Bearer …`. Store it now: it is not kept.
    pub key: String,
    /// The key's record.
    #[serde(flatten)]
    pub record: KeyView,
}

/// An entry of the audit log.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditView {
    /// Increasing with time.
    pub seq: i64,
    /// When.
    pub at: DateTime<Utc>,
    /// The key that acted.
    pub actor_key_id: Option<String>,
    /// What it did (`flow.create`, `plugin.install`, `key.revoke`, …).
    pub action: String,
    /// To what.
    pub target: String,
    /// More about it (never secrets).
    #[schema(value_type = Object)]
    pub detail: Value,
}

impl From<AuditRecord> for AuditView {
    fn from(r: AuditRecord) -> Self {
        AuditView {
            seq: r.seq,
            at: r.at,
            actor_key_id: r.actor_key_id,
            action: r.action,
            target: r.target,
            detail: if r.detail.is_null() { Value::Object(Default::default()) } else { r.detail },
        }
    }
}

/// Makes a key. The answer holds its secret, shown this once.
#[utoipa::path(post, path = "/keys", tag = "keys", request_body = CreateKey,
    responses((status = 201, description = "Made", body = KeyCreated), super::openapi::Errors))]
pub(crate) async fn create_key(
    Auth(caller, ..): Auth<Admin>,
    State(state): State<Arc<ApiState>>,
    Json(body): Json<CreateKey>,
) -> ApiResult<Response> {
    if body.expires_at.is_some_and(|at| at <= Utc::now()) {
        return Err(ApiError::unprocessable("`expires_at` is in the past"));
    }
    let role: Role = body.role.into();
    let (record, key) =
        state.store.create_api_key(NewKey { role, description: body.description, expires_at: body.expires_at }).await?;
    audit(&state, &caller, "key.create", &record.id, serde_json::json!({"role": role.as_str()})).await;
    Ok((StatusCode::CREATED, axum::Json(KeyCreated { key, record: KeyView::from(record) })).into_response())
}

/// Every key, revoked ones too, newest first.
#[utoipa::path(get, path = "/keys", tag = "keys", params(PageParams),
    responses((status = 200, description = "A page of keys", body = Page<KeyView>), super::openapi::Errors))]
pub(crate) async fn list_keys(
    _auth: Auth<Admin>,
    State(state): State<Arc<ApiState>>,
    Query(params): Query<PageParams>,
) -> ApiResult<axum::Json<Page<KeyView>>> {
    let keys = state.store.list_api_keys().await?;
    Ok(axum::Json(params.page_of(keys.into_iter().map(KeyView::from).collect())?))
}

/// Revokes a key: it stops working at once.
#[utoipa::path(delete, path = "/keys/{id}", tag = "keys", params(("id" = String, Path, description = "The key's id")),
    responses((status = 204, description = "Revoked"), super::openapi::Errors))]
pub(crate) async fn revoke_key(
    Auth(caller, ..): Auth<Admin>,
    State(state): State<Arc<ApiState>>,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    state.store.revoke_api_key(&id).await.map_err(|e| match e {
        StoreError::NotFound => ApiError::not_found(format!("no key with id `{id}`")),
        other => other.into(),
    })?;
    audit(&state, &caller, "key.revoke", &id, Value::Null).await;
    Ok(StatusCode::NO_CONTENT)
}

/// The latest audit entries, newest first.
#[utoipa::path(get, path = "/audit", tag = "keys", params(PageParams),
    responses((status = 200, description = "A page of audit entries", body = Page<AuditView>), super::openapi::Errors))]
pub(crate) async fn list_audit(
    _auth: Auth<Admin>,
    State(state): State<Arc<ApiState>>,
    Query(params): Query<PageParams>,
) -> ApiResult<axum::Json<Page<AuditView>>> {
    let entries = state.store.list_audit(Some(crate::storage::MAX_PAGE_LIMIT)).await?;
    Ok(axum::Json(params.page_of(entries.into_iter().map(AuditView::from).collect())?))
}
