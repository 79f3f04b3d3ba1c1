//! `ApiError`: every failure a handler can answer, mapped to a status and the envelope
//! `{"success":false,"error":"…"}`. A 500 logs the full cause and answers a short message.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::json;

use crate::profiles::ProfileError;

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, message)
    }

    /// Logs `cause` with its chain; the client sees only a generic message.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        tracing::error!("internal error: {cause:#}");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "Internal server error")
    }
}

impl From<crate::store::StoreError> for ApiError {
    fn from(e: crate::store::StoreError) -> Self {
        Self::internal(e)
    }
}

impl From<ProfileError> for ApiError {
    fn from(e: ProfileError) -> Self {
        match e {
            ProfileError::Invalid(m) => Self::bad_request(m),
            ProfileError::NotFound(_) | ProfileError::Missing(_) => Self::not_found(e.to_string()),
            ProfileError::Exists(_) | ProfileError::Conflict(_) => Self::conflict(e.to_string()),
            ProfileError::ShuttingDown => Self::new(StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
            ProfileError::Store(e) => Self::internal(e),
            ProfileError::Internal(m) => Self::internal(m),
        }
    }
}

impl From<crate::setup::SetupError> for ApiError {
    fn from(e: crate::setup::SetupError) -> Self {
        use crate::setup::SetupError as E;
        match e {
            E::Invalid(m) => Self::bad_request(m),
            E::NotFound(m) => Self::not_found(m),
            E::File(f @ crate::agents::prepare::files::FileError::Unreadable { .. }) => {
                Self::conflict(f.to_string())
            }
            E::File(f) => Self::internal(f),
            E::Store(e) => Self::internal(e),
            E::Internal(m) => Self::internal(m),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        envelope_error(self.status, &self.message)
    }
}

/// The error envelope with `status`.
pub fn envelope_error(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({"success": false, "error": message}))).into_response()
}

/// The success envelope around `data`.
pub fn ok<T: Serialize>(data: T) -> Response {
    Json(json!({"success": true, "data": data})).into_response()
}

/// `{"success":true}` with no data, as the reference answers some actions.
pub fn ok_empty() -> Response {
    Json(json!({"success": true})).into_response()
}

pub type ApiResult = Result<Response, ApiError>;
