//! `POST /login` and the bearer-token check of the users routes: the flows' setup logs in and
//! captures the token, which is what most real APIs make a test do first.

use crate::{ApiError, AppState, lock};
use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Mutex;

/// The one password every user name is accepted with.
pub const PASSWORD: &str = "secret";

/// Login sessions: bearer token → user name. Tokens never expire.
#[derive(Debug, Default)]
pub struct Sessions(Mutex<HashMap<String, String>>);

/// The body of `POST /login`. Missing fields are empty, so that they get the same 401 as a wrong
/// password rather than a deserialisation error.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Credentials {
    /// Any non-empty name.
    pub username: String,
    /// Must be [`PASSWORD`].
    pub password: String,
}

/// `POST /login {username, password}` → `200 {"token", "user"}`, or `401 {"error": "invalid
/// credentials"}` unless the password is [`PASSWORD`] and the user name is not empty.
pub async fn login(
    State(state): State<AppState>,
    body: Result<Json<Credentials>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    let Json(credentials) = body?;
    if credentials.username.trim().is_empty() || credentials.password != PASSWORD {
        return Err(ApiError::new(StatusCode::UNAUTHORIZED, "invalid credentials"));
    }
    let token = uuid::Uuid::new_v4().simple().to_string();
    lock(&state.sessions.0).insert(token.clone(), credentials.username.clone());
    Ok(Json(json!({ "token": token, "user": credentials.username })))
}

/// The user a request is made as: an extractor that answers 401 unless the request carries
/// `Authorization: Bearer <token>` with a token from `POST /login`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authenticated {
    /// The user name the token was issued to.
    pub user: String,
}

impl FromRequestParts<AppState> for Authenticated {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.strip_prefix("Bearer ").or_else(|| value.strip_prefix("bearer ")))
            .map(str::trim)
            .ok_or_else(|| ApiError::new(StatusCode::UNAUTHORIZED, "missing bearer token: log in with POST /login"))?;
        match lock(&state.sessions.0).get(token) {
            Some(user) => Ok(Authenticated { user: user.clone() }),
            None => Err(ApiError::new(StatusCode::UNAUTHORIZED, "invalid bearer token")),
        }
    }
}
