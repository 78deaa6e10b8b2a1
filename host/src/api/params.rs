//! Path and query extractors that answer in the API's error shape, naming
//! the parameter: a bad path parameter (invalid UTF-8, wrong type, a NUL)
//! → 400 `invalid_path`; a bad query string (a duplicate or mistyped
//! parameter, a NUL) → 400 `invalid_query`. axum's own `Path`/`Query`
//! would answer text/plain.
//!
//! [`error_shape`] is the safety net for what no extractor of ours sees
//! (axum's 405, a rejection of a plain extractor): any error response that
//! is not JSON is re-rendered as `{"error": {code, message, field}}`.

use axum::extract::{FromRequestParts, Path, Request};
use axum::http::header::CONTENT_TYPE;
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;

use super::error::ApiError;
use super::strict::NUL_REASON;

/// Path parameters of type `T` (`String`, `(String, String)`, ...).
pub struct ApiPath<T>(pub T);

/// Query parameters of type `T`.
pub struct ApiQuery<T>(pub T);

fn path_error(e: axum::extract::rejection::PathRejection) -> ApiError {
    use axum::extract::path::ErrorKind;
    use axum::extract::rejection::PathRejection;
    let key = match &e {
        PathRejection::FailedToDeserializePathParams(d) => match d.kind() {
            ErrorKind::ParseErrorAtKey { key, .. }
            | ErrorKind::InvalidUtf8InPathParam { key }
            | ErrorKind::DeserializeError { key, .. } => Some(key.clone()),
            _ => None,
        },
        _ => None,
    };
    ApiError::bad_request("invalid_path", key.as_deref(), e.body_text())
}

impl<T, S> FromRequestParts<S> for ApiPath<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let Path(raw) = Path::<Vec<(String, String)>>::from_request_parts(parts, state)
            .await
            .map_err(path_error)?;
        if let Some((key, _)) = raw.iter().find(|(_, v)| v.contains('\0')) {
            return Err(ApiError::bad_request(
                "invalid_path",
                Some(key),
                format!("{key}: {NUL_REASON}"),
            ));
        }
        let Path(v) = Path::<T>::from_request_parts(parts, state)
            .await
            .map_err(path_error)?;
        Ok(ApiPath(v))
    }
}

impl<T, S> FromRequestParts<S> for ApiQuery<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let query = parts.uri.query().unwrap_or_default().as_bytes();
        if let Some((key, _)) =
            form_urlencoded::parse(query).find(|(k, v)| k.contains('\0') || v.contains('\0'))
        {
            return Err(ApiError::bad_request(
                "invalid_query",
                Some(&key.replace('\0', "")),
                format!("{}: {NUL_REASON}", key.replace('\0', "")),
            ));
        }
        let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query));
        serde_path_to_error::deserialize::<_, T>(de)
            .map(ApiQuery)
            .map_err(|e| {
                let path = e.path().to_string();
                let field = (path != ".").then_some(path);
                let message = match &field {
                    Some(f) => format!("{f}: {}", e.inner()),
                    None => format!("query string: {}", e.inner()),
                };
                ApiError::BadRequest {
                    code: "invalid_query",
                    message,
                    field,
                }
            })
    }
}

/// Largest non-JSON error body read back to become the message.
const REWRITTEN_BODY_MAX: usize = 4096;

/// Middleware: an error response (4xx/5xx) that is not JSON gets the one
/// error shape; its headers (e.g. `Allow` on 405) are kept.
pub async fn error_shape(req: Request, next: Next) -> Response {
    let res = next.run(req).await;
    let status = res.status();
    let is_json = res
        .headers()
        .get(CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return res;
    }
    let (mut parts, body) = res.into_parts();
    let text = axum::body::to_bytes(body, REWRITTEN_BODY_MAX)
        .await
        .ok()
        .and_then(|b| String::from_utf8(b.to_vec()).ok())
        .filter(|t| !t.trim().is_empty());
    let message = text.unwrap_or_else(|| {
        status
            .canonical_reason()
            .unwrap_or("request refused")
            .to_string()
    });
    let code = match status {
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        StatusCode::PAYLOAD_TOO_LARGE => "payload_too_large",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        StatusCode::NOT_FOUND => "not_found",
        StatusCode::UNPROCESSABLE_ENTITY => "invalid_value",
        s if s.is_server_error() => "internal",
        _ => "bad_request",
    };
    let message = if status == StatusCode::METHOD_NOT_ALLOWED {
        "this method is not allowed on this path (see the Allow header)".to_string()
    } else if status.is_server_error() {
        // The detail of a 500 is only logged, as for ApiError::Internal.
        tracing::error!(detail = %message, "request failed");
        "internal error".to_string()
    } else {
        message
    };
    let body = serde_json::json!({"error": {"code": code, "message": message, "field": null}});
    parts
        .headers
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    parts.headers.remove(axum::http::header::CONTENT_LENGTH);
    (parts, axum::Json(body)).into_response()
}
