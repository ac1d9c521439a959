//! Users CRUD behind a bearer token: the journey most example flows test (create, read, update,
//! list, delete), with the validation (422) and conflict (409) errors flows assert on.

use crate::auth::Authenticated;
use crate::{ApiError, AppState, lock, now_rfc3339};
use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::sync::Mutex;

/// Users in creation order (a list keeps `GET /users` stable; there are never many).
#[derive(Debug, Default)]
pub struct Users(Mutex<Vec<User>>);

/// A user as the API returns it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct User {
    /// A v4 UUID given by the server.
    pub id: String,
    /// Not empty.
    pub name: String,
    /// Contains `@`; unique among users, ignoring ASCII case.
    pub email: String,
    /// RFC 3339 UTC.
    pub created_at: String,
    /// RFC 3339 UTC; equal to `created_at` until the first update.
    pub updated_at: String,
}

/// The body of `POST /users` and `PUT /users/{id}`. Missing fields are `None`, so that a create
/// without a name gets the API's own 422 message rather than a deserialisation error.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct UserInput {
    /// The new name.
    pub name: Option<String>,
    /// The new email address.
    pub email: Option<String>,
}

/// `POST /users {name, email}` → `201` with the user and a `location` header; `422` when the name
/// is empty or the email has no `@`; `409` when another user has the email.
pub async fn create(
    _: Authenticated,
    State(state): State<AppState>,
    body: Result<Json<UserInput>, JsonRejection>,
) -> Result<(StatusCode, HeaderMap, Json<User>), ApiError> {
    let Json(input) = body?;
    let (name, email) = validate(input.name.unwrap_or_default(), input.email.unwrap_or_default())?;
    let mut users = lock(&state.users.0);
    check_unique(&users, &email, None)?;
    let now = now_rfc3339();
    let user = User { id: uuid::Uuid::new_v4().to_string(), name, email, created_at: now.clone(), updated_at: now };
    users.push(user.clone());
    let mut headers = HeaderMap::new();
    if let Ok(location) = HeaderValue::from_str(&format!("/users/{}", user.id)) {
        headers.insert(header::LOCATION, location);
    }
    Ok((StatusCode::CREATED, headers, Json(user)))
}

/// `GET /users` → `200 {"items": [users in creation order], "count": n}`.
pub async fn list(_: Authenticated, State(state): State<AppState>) -> Json<Value> {
    let users = lock(&state.users.0);
    Json(json!({ "items": *users, "count": users.len() }))
}

/// `GET /users/{id}` → `200` with the user, or `404 {"error": "not found"}`.
pub async fn get(
    _: Authenticated,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<User>, ApiError> {
    let users = lock(&state.users.0);
    users.iter().find(|u| u.id == id).cloned().map(Json).ok_or_else(ApiError::not_found)
}

/// `PUT /users/{id} {name?, email?}` → `200` with the updated user; the fields given replace the
/// stored ones, and the result is validated as a create is (`422`, `409`); `404` for an unknown id.
pub async fn update(
    _: Authenticated,
    State(state): State<AppState>,
    Path(id): Path<String>,
    body: Result<Json<UserInput>, JsonRejection>,
) -> Result<Json<User>, ApiError> {
    let Json(input) = body?;
    let mut users = lock(&state.users.0);
    let index = users.iter().position(|u| u.id == id).ok_or_else(ApiError::not_found)?;
    let current = &users[index];
    let (name, email) = validate(
        input.name.unwrap_or_else(|| current.name.clone()),
        input.email.unwrap_or_else(|| current.email.clone()),
    )?;
    check_unique(&users, &email, Some(&id))?;
    let user = &mut users[index];
    user.name = name;
    user.email = email;
    user.updated_at = now_rfc3339();
    Ok(Json(user.clone()))
}

/// `DELETE /users/{id}` → `204`, or `404` when there is no such user (any more).
pub async fn delete(
    _: Authenticated,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let mut users = lock(&state.users.0);
    let index = users.iter().position(|u| u.id == id).ok_or_else(ApiError::not_found)?;
    users.remove(index);
    Ok(StatusCode::NO_CONTENT)
}

/// The trimmed name and email, or a 422 saying which one is wrong.
fn validate(name: String, email: String) -> Result<(String, String), ApiError> {
    let (name, email) = (name.trim().to_string(), email.trim().to_string());
    if name.is_empty() {
        return Err(ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "name must not be empty"));
    }
    if !email.contains('@') {
        return Err(ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, format!("email `{email}` has no `@`")));
    }
    Ok((name, email))
}

/// A 409 when a user other than `except` has `email`.
fn check_unique(users: &[User], email: &str, except: Option<&str>) -> Result<(), ApiError> {
    let taken = users.iter().any(|u| u.email.eq_ignore_ascii_case(email) && Some(u.id.as_str()) != except);
    if taken {
        return Err(ApiError::new(StatusCode::CONFLICT, format!("a user with email `{email}` already exists")));
    }
    Ok(())
}
