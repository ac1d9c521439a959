//! Request extractors whose rejections are problem documents (axum's own answer in plain text):
//! JSON bodies, query strings, path parameters, and flow documents in YAML or JSON.

use super::error::ApiError;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header::CONTENT_TYPE;
use axum::http::request::Parts;
use bytes::Bytes;
use serde::de::DeserializeOwned;

/// A JSON body (`application/json`).
#[derive(Debug, Clone, Copy, Default)]
pub struct Json<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Json<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(value)) => Ok(Json(value)),
            Err(rejection) => Err(json_rejection(rejection)),
        }
    }
}

fn json_rejection(rejection: JsonRejection) -> ApiError {
    let status = rejection.status();
    let detail = match &rejection {
        JsonRejection::MissingJsonContentType(_) => "expected a body with `Content-Type: application/json`".into(),
        _ => rejection.body_text(),
    };
    ApiError::new(status, slug_of(status), detail)
}

/// The problem kind for a rejection's status.
fn slug_of(status: axum::http::StatusCode) -> &'static str {
    match status.as_u16() {
        413 => "too-large",
        415 => "unsupported-media-type",
        422 => "unprocessable",
        _ => "bad-request",
    }
}

/// A query string.
#[derive(Debug, Clone, Copy, Default)]
pub struct Query<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Query<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Query(value)| Query(value))
            .map_err(|rejection: QueryRejection| ApiError::bad_request(rejection.body_text()))
    }
}

/// Path parameters.
#[derive(Debug, Clone, Copy, Default)]
pub struct Path<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for Path<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(value)| Path(value))
            .map_err(|rejection: PathRejection| ApiError::bad_request(rejection.body_text()))
    }
}

/// A flow document as submitted: YAML (`application/yaml`, `application/x-yaml`, `text/yaml`) or
/// JSON (`application/json`), kept as text so that positions in errors are the client's own.
#[derive(Debug, Clone)]
pub struct FlowDocument(pub String);

impl<S: Send + Sync> FromRequest<S> for FlowDocument {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let content_type = req.headers().get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
        let media = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
        if !is_flow_media_type(&media) {
            return Err(ApiError::new(
                axum::http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported-media-type",
                "send the flow document as `application/yaml` or `application/json`",
            ));
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            let status = rejection.status();
            ApiError::new(status, slug_of(status), rejection.body_text())
        })?;
        let text = String::from_utf8(bytes.to_vec())
            .map_err(|e| ApiError::bad_request(format!("the flow document is not UTF-8: {e}")))?;
        Ok(FlowDocument(text))
    }
}

/// Whether a media type is one a flow document may be sent as.
pub fn is_flow_media_type(media: &str) -> bool {
    matches!(media, "application/yaml" | "application/x-yaml" | "text/yaml" | "text/x-yaml" | "application/json")
}
