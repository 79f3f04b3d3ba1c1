//! Extractors whose rejections speak the envelope: malformed JSON → 400 naming the
//! problem, a body over the limit → 413, a bad query value → 400.

use axum::body::Bytes;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use http_body_util::BodyExt;
use serde::de::DeserializeOwned;

use super::error::ApiError;

/// Largest accepted JSON body.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;
/// The body limit of `POST /api/usage/record`: a busy proxy posts its reports twice a
/// second, a few megabytes each.
pub const MAX_RECORD_BYTES: usize = 16 * 1024 * 1024;

pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let JsonBytes(bytes) = JsonBytes::from_request(req, state).await?;
        decode(&bytes).map(Self)
    }
}

/// A JSON body not yet decoded (the `Content-Type` checked, the size limit applied):
/// for a handler that decodes it elsewhere, with [`decode`].
pub struct JsonBytes(pub Bytes);

impl<S: Send + Sync> FromRequest<S> for JsonBytes {
    type Rejection = ApiError;

    async fn from_request(req: Request, _: &S) -> Result<Self, Self::Rejection> {
        if !json_content_type(req.headers()) {
            return Err(json_rejection(JsonRejection::MissingJsonContentType(
                Default::default(),
            )));
        }
        // Read into room made for the whole body (its announced length, never past the
        // route's limit), a piece at a time as it arrives: gathered only at the end, a
        // proxy's batch of megabytes was copied in one run of up to 1.2 ms at the
        // daemon's priority (bench/README.md).
        let mut body = axum::RequestExt::into_limited_body(req);
        let room = hyper::body::Body::size_hint(&body).exact().unwrap_or(0);
        let mut bytes = Vec::with_capacity(usize::try_from(room).unwrap_or(0));
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| {
                if over_limit(&e) {
                    too_large()
                } else {
                    ApiError::bad_request(format!("Cannot read request body: {e}"))
                }
            })?;
            if let Ok(data) = frame.into_data() {
                bytes.extend_from_slice(&data);
            }
        }
        Ok(Self(Bytes::from(bytes)))
    }
}

/// Whether reading a body failed on its size limit (`DefaultBodyLimit`), however deep
/// in the errors that wrap it.
fn over_limit(e: &axum::Error) -> bool {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(c) = cause {
        if c.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        cause = c.source();
    }
    false
}

/// `application/json` or `application/*+json`, as axum's `Json` takes.
fn json_content_type(headers: &axum::http::HeaderMap) -> bool {
    let Some(ct) = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let essence = ct.split(';').next().unwrap_or_default().trim();
    let Some((ty, sub)) = essence.split_once('/') else {
        return false;
    };
    ty.eq_ignore_ascii_case("application")
        && (sub.eq_ignore_ascii_case("json")
            || sub
                .rsplit_once('+')
                .is_some_and(|(_, s)| s.eq_ignore_ascii_case("json")))
}

/// Decodes a JSON body: straight through when it is well formed (no path tracking), and
/// only a refused one again with the path of what is wrong in it, for the message.
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    match serde_json::from_slice(bytes) {
        Ok(v) => Ok(v),
        Err(_) => match axum::Json::<T>::from_bytes(bytes) {
            Ok(axum::Json(v)) => Ok(v),
            Err(rejection) => Err(json_rejection(rejection)),
        },
    }
}

fn json_rejection(r: JsonRejection) -> ApiError {
    match r {
        JsonRejection::JsonDataError(e) => {
            ApiError::bad_request(format!("Invalid request body: {}", e.body_text()))
        }
        JsonRejection::JsonSyntaxError(e) => {
            ApiError::bad_request(format!("Malformed JSON: {}", e.body_text()))
        }
        JsonRejection::MissingJsonContentType(_) => {
            ApiError::bad_request("Expected a JSON body with 'Content-Type: application/json'")
        }
        other if other.status() == StatusCode::PAYLOAD_TOO_LARGE => too_large(),
        other => ApiError::bad_request(format!("Cannot read request body: {}", other.body_text())),
    }
}

pub fn too_large() -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        format!(
            "Request body exceeds the limit of {MAX_BODY_BYTES} bytes ({MAX_RECORD_BYTES} on /api/usage/record)"
        ),
    )
}

pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(v)) => Ok(Self(v)),
            Err(QueryRejection::FailedToDeserializeQueryString(e)) => Err(ApiError::bad_request(
                format!("Invalid query parameters: {}", e.body_text()),
            )),
            Err(e) => Err(ApiError::bad_request(e.body_text())),
        }
    }
}

/// A terminal's size in a request body (both optional).
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SizeBody {
    pub cols: Option<serde_json::Value>,
    pub rows: Option<serde_json::Value>,
}

/// One terminal dimension: a whole number from 1 to `MAX_DIMENSION`, `default` when absent.
pub fn dimension(v: Option<&serde_json::Value>, name: &str, default: u16) -> Result<u16, ApiError> {
    use crate::pty::MAX_DIMENSION;
    match v {
        None | Some(serde_json::Value::Null) => Ok(default),
        Some(v) => v
            .as_u64()
            .filter(|n| (1..=u64::from(MAX_DIMENSION)).contains(n))
            .and_then(|n| u16::try_from(n).ok())
            .ok_or_else(|| {
                ApiError::bad_request(format!(
                    "{name} must be a whole number from 1 to {MAX_DIMENSION} (got {v})"
                ))
            }),
    }
}

/// (cols, rows) of a request, 80×24 by default.
pub fn terminal_size(
    cols: Option<&serde_json::Value>,
    rows: Option<&serde_json::Value>,
) -> Result<(u16, u16), ApiError> {
    Ok((dimension(cols, "cols", 80)?, dimension(rows, "rows", 24)?))
}
