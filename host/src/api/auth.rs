//! Authentication and roles: `Authorization: Bearer tm_<id>_<secret>` on every route but health,
//! checked against the stored key digests; each handler names the least role it needs in its
//! signature (`Auth<Editor>`), so that the role check cannot be forgotten and reads at a glance.

use super::ApiState;
use super::error::ApiError;
use crate::storage::Role;
use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use std::marker::PhantomData;
use std::sync::Arc;

/// Who is calling: the key and its role.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The key's id (safe to log and to record in the audit log).
    pub key_id: String,
    /// The key's role.
    pub role: Role,
}

/// A role a handler requires, as a type.
pub trait RequiredRole: Send + Sync {
    /// The least role that may call the handler.
    const ROLE: Role;
}

macro_rules! required_role {
    ($($name:ident => $role:expr),* $(,)?) => {$(
        #[doc = concat!("Requires at least the `", stringify!($name), "` role.")]
        #[derive(Debug)]
        pub struct $name;
        impl RequiredRole for $name {
            const ROLE: Role = $role;
        }
    )*};
}

required_role!(Viewer => Role::Viewer, Runner => Role::Runner, Editor => Role::Editor, Admin => Role::Admin);

/// The authenticated caller of a handler that requires role `R`: 401 without a valid key, 403 when
/// its role is below `R`.
#[derive(Debug)]
pub struct Auth<R>(pub Caller, pub PhantomData<R>);

impl<R: RequiredRole> FromRequestParts<Arc<ApiState>> for Auth<R> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &Arc<ApiState>) -> Result<Self, Self::Rejection> {
        let caller = authenticate(parts, state).await?;
        if caller.role < R::ROLE {
            return Err(ApiError::forbidden(format!(
                "this needs a key with the `{}` role or higher; this key has `{}`",
                R::ROLE,
                caller.role
            )));
        }
        Ok(Auth(caller, PhantomData))
    }
}

/// The caller named by the request's bearer key.
async fn authenticate(parts: &Parts, state: &ApiState) -> Result<Caller, ApiError> {
    let Some(header) = parts.headers.get(AUTHORIZATION) else {
        return Err(ApiError::unauthorized("send an API key: `Authorization: Bearer tm_…`"));
    };
    let key = header
        .to_str()
        .ok()
        .and_then(|value| {
            let (scheme, token) = value.trim().split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
        })
        .ok_or_else(|| ApiError::unauthorized("the Authorization header must be `Bearer <api key>`"))?;
    match state.store.verify_api_key(key).await? {
        Some(record) => Ok(Caller { key_id: record.id, role: record.role }),
        None => Err(ApiError::unauthorized("the API key is not valid (unknown, revoked or expired)")),
    }
}
