//! Request-body extractors that answer in the API's error shape.
//!
//! - [`ApiJson`]: strict JSON: malformed → 400 `invalid_json`; wrong types,
//!   an array where an object is documented, unknown fields (request types
//!   use `deny_unknown_fields`), missing fields or text with a NUL → 422
//!   naming the field path (`settings.concurrency`).
//! - [`RawBody`]: bytes for CSV and component uploads.
//!
//! Both turn axum's body-limit rejection into 413 `payload_too_large`.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequest, Request};
use axum::http::header::CONTENT_TYPE;
use serde::de::DeserializeOwned;

use super::AppState;
use super::error::ApiError;

/// A JSON body of type `T`.
pub struct ApiJson<T>(pub T);

/// The raw body and its content type (lower-cased, parameters dropped).
pub struct RawBody {
    pub content_type: String,
    pub bytes: Bytes,
}

fn content_type(req: &Request) -> String {
    req.headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
        .unwrap_or_default()
}

/// The flags (and variables) that set the two body limits.
const BODY_LIMIT_SETTING: &str = "--body-limit (DIALPLANE_BODY_LIMIT)";
const PLUGIN_BODY_LIMIT_SETTING: &str = "--plugin-body-limit (DIALPLANE_PLUGIN_BODY_LIMIT)";

fn limit_error(e: BytesRejection, limit: usize, setting: &'static str) -> ApiError {
    if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::PayloadTooLarge { limit, setting }
    } else {
        ApiError::bad_request("unreadable_body", None, e.body_text())
    }
}

impl FromRequest<AppState> for RawBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, ApiError> {
        let content_type = content_type(&req);
        let (limit, setting) = if req.uri().path().starts_with("/api/plugins/")
            || req.uri().path().starts_with("/api/admin/dialers/")
        {
            (state.config.plugin_body_limit, PLUGIN_BODY_LIMIT_SETTING)
        } else {
            (state.config.body_limit, BODY_LIMIT_SETTING)
        };
        // The router's outer cap is the larger of the two limits; this
        // route's own limit is applied here, before buffering when the
        // client announced the length.
        let announced = req
            .headers()
            .get(axum::http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if announced.is_some_and(|n| n > limit as u64) {
            return Err(ApiError::PayloadTooLarge { limit, setting });
        }
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(|e| limit_error(e, limit, setting))?;
        if bytes.len() > limit {
            return Err(ApiError::PayloadTooLarge { limit, setting });
        }
        Ok(RawBody {
            content_type,
            bytes,
        })
    }
}

impl<T: DeserializeOwned> FromRequest<AppState> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, ApiError> {
        let ct = content_type(&req);
        if ct != "application/json" && !ct.is_empty() {
            return Err(ApiError::UnsupportedMediaType(format!(
                "expected Content-Type: application/json, got {ct}"
            )));
        }
        let raw = RawBody::from_request(req, state).await?;
        parse_json(&raw.bytes).map(ApiJson)
    }
}

/// Parses `bytes` as `T` with errors naming the field path, then refuses
/// text PostgreSQL cannot store ([`super::strict::find_nul`]).
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let v = parse_json_structure(bytes)?;
    // `\u0000` is the only way JSON text holds a NUL; skip the walk otherwise.
    if bytes.windows(6).any(|w| w == b"\\u0000") {
        let tree: serde_json::Value = serde_json::from_slice(bytes)
            .map_err(|e| ApiError::bad_request("invalid_json", None, e.to_string()))?;
        if let Some(path) = super::strict::find_nul(&tree) {
            let field = if path == "." { None } else { Some(path) };
            return Err(ApiError::Unprocessable {
                message: format!(
                    "{}: {}",
                    field.as_deref().unwrap_or("a key"),
                    super::strict::NUL_REASON
                ),
                field,
            });
        }
    }
    Ok(v)
}

/// The field a serde data error at `path` is about: the path, or for a
/// missing field (reported at its parent) the parent's path and its name.
pub fn error_field(path: &str, message: &str) -> Option<String> {
    let missing = message
        .strip_prefix("missing field `")
        .and_then(|m| m.split('`').next());
    match (path, missing) {
        (".", Some(name)) => Some(name.to_string()),
        (".", None) => None,
        (p, Some(name)) => Some(format!("{p}.{name}")),
        (p, None) => Some(p.to_string()),
    }
}

/// [`parse_json`] without the text check, for callers that check text
/// themselves (lead imports report it per row).
pub fn parse_json_structure<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    match serde_path_to_error::deserialize::<_, T>(super::strict::ObjectOnly(&mut *de)) {
        Ok(v) => {
            de.end().map_err(|e| {
                ApiError::bad_request("invalid_json", None, format!("malformed JSON: {e}"))
            })?;
            Ok(v)
        }
        Err(e) => {
            let path = e.path().to_string();
            let inner = e.into_inner();
            use serde_json::error::Category;
            match inner.classify() {
                Category::Syntax | Category::Eof | Category::Io => Err(ApiError::bad_request(
                    "invalid_json",
                    None,
                    format!("malformed JSON: {inner}"),
                )),
                Category::Data => {
                    let field = error_field(&path, &inner.to_string());
                    Err(ApiError::Unprocessable {
                        message: match &field {
                            Some(f) => format!("{f}: {inner}"),
                            None => inner.to_string(),
                        },
                        field,
                    })
                }
            }
        }
    }
}
